"""Reading SQLite's stored ``CREATE TABLE`` / ``CREATE INDEX`` / ``CREATE TRIGGER`` texts:
what a table rebuild must carry over, and what a dropped column takes with it.

A rebuild creates the new table from the models. A table umbral did not create (adopted by
``inspectdb``, or created by hand before the project used umbral) may hold more than its models
say: CHECK constraints, a collation, a foreign key the models keep as a plain column. Writing
the new table from the models alone would drop them silently. ``carry`` compares the stored
definition with the one umbral renders for the table's state before the change, and adds
what only the stored one has to the new table: CHECK constraints (as table constraints, which
SQLite treats exactly as column ones), collations, and foreign keys (as table constraints). A
CHECK or foreign key that names a column the rebuild removes goes with the column, as
PostgreSQL's ``DROP COLUMN`` does. A foreign key on a column the models give one is theirs,
however it is written (inline, or a named ``CONSTRAINT … FOREIGN KEY``): the new table has the
models' one, with their actions, once, and ``DEFERRABLE`` as the stored one was.

What cannot be carried stops the migration before anything changes (``CannotCarry``):
generated columns, ``STRICT`` and ``WITHOUT ROWID`` tables (their rules differ from the tables
umbral writes), and stored columns the models do not declare, whose values the copy would
leave behind.

Uniqueness, the primary key, NOT NULL and defaults follow the models: they are what the
models describe, and ``inspectdb`` adopts them. A default the models do not carry at all (an
expression ``inspectdb`` leaves out, ``DEFAULT (lower(hex(randomblob(4))))``) is carried onto
the new column while the models give it none.

``without_constraints_on`` is the definition without the CHECK constraints and foreign keys
that name a column (SQLite's ``DROP COLUMN`` refuses them, PostgreSQL's drops them);
``index_columns`` and ``trigger_event`` read what an index uses and what fires a trigger.
"""

from __future__ import annotations

import re
from dataclasses import field

from umbral.values import frozen, record

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<blob>[xX]'[0-9A-Fa-f]*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
  | (?P<word>[^\W\d]\w*)
  | (?P<number>0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<other>.)
    """,
    re.DOTALL | re.VERBOSE,
)

#: Words that open a column constraint (SQLite's ``column-constraint``).
_COLUMN_CONSTRAINT = frozenset(
    {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE",
     "REFERENCES", "GENERATED", "AS"}
)  # fmt: skip
#: Words that open a table constraint.
_TABLE_CONSTRAINT = frozenset({"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"})


class CannotCarry(Exception):
    """The stored table holds something a rebuild from the models would lose."""


@frozen
class Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        """Upper-cased keyword, or '' for anything but a bare word."""
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str | None:
        """The identifier this token spells (bare or quoted), or None."""
        if self.kind == "word":
            return self.text
        if self.kind == "ident":
            inner = self.text[1:-1]
            return inner.replace(self.text[0] * 2, self.text[0]) if self.text[0] != "[" else inner
        return None


@record
class Clause:
    """One constraint of a column or of the table, as written."""

    kind: str  # CHECK, COLLATE, REFERENCES, GENERATED, FOREIGN, PRIMARY, UNIQUE, ...
    #: ``CONSTRAINT <name>`` when the constraint is named, else ''.
    label: str
    body: str
    tokens: list[Token]
    #: Where the clause, its label included, starts in the parsed text.
    start: int = 0

    @property
    def text(self) -> str:
        return f"{self.label} {self.body}" if self.label else self.body

    @property
    def key(self) -> tuple[str, ...]:
        """Compares two clauses regardless of spacing, case and identifier quoting."""
        return tuple(_norm(t) for t in self.tokens)

    def names(self) -> set[str]:
        """The names the clause uses, lower-cased (column names among them)."""
        return _names(self.tokens)


@record
class ColumnDef:
    name: str
    text: str
    clauses: list[Clause] = field(default_factory=list)
    #: The definition's tokens, its name first.
    tokens: list[Token] = field(default_factory=list)

    def of(self, kind: str) -> list[Clause]:
        return [c for c in self.clauses if c.kind == kind]


@record
class TableDef:
    head: str
    columns: list[ColumnDef]
    constraints: list[Clause]
    options: str

    def column(self, name: str) -> ColumnDef | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


def tokenize(sql: str) -> list[Token]:
    return [
        Token(m.lastgroup or "other", m.group(), m.start(), m.end())
        for m in _TOKEN.finditer(sql)
        if m.lastgroup != "space"
    ]


def parse(sql: str) -> TableDef:
    """Split a stored ``CREATE TABLE name (...) options`` into its parts."""
    tokens = tokenize(sql)
    open_at = next((i for i, t in enumerate(tokens) if t.text == "("), None)
    if open_at is None:
        raise ValueError("not a CREATE TABLE with a column list")
    items, close = _items(tokens, open_at)
    columns: list[ColumnDef] = []
    constraints: list[Clause] = []
    for item in items:
        if not item:
            continue
        if item[0].word in _TABLE_CONSTRAINT:
            constraints.extend(_clauses(sql, item, table=True))
            continue
        name = item[0].name or item[0].text
        text = sql[item[0].start : item[-1].end]
        columns.append(ColumnDef(name, text, _clauses(sql, item[1:], table=False), item))
    return TableDef(
        head=sql[: tokens[open_at].start].rstrip(),
        columns=columns,
        constraints=constraints,
        options=sql[tokens[close].end :].strip(),
    )


def _items(tokens: list[Token], open_at: int) -> tuple[list[list[Token]], int]:
    """The comma-separated items of the list opened at ``tokens[open_at]``, and where it
    closes."""
    items: list[list[Token]] = [[]]
    depth = 0
    for i in range(open_at + 1, len(tokens)):
        t = tokens[i]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            if depth == 0:
                return items, i
            depth -= 1
        elif t.text == "," and depth == 0:
            items.append([])
            continue
        items[-1].append(t)
    raise ValueError("unbalanced parentheses")


def _clauses(sql: str, tokens: list[Token], *, table: bool) -> list[Clause]:
    """Cut a column's constraint list (after its name and type) or one table constraint."""
    starts = _TABLE_CONSTRAINT if table else _COLUMN_CONSTRAINT
    groups: list[list[Token]] = []
    depth = 0
    named = 0  # tokens left of a ``CONSTRAINT <name>`` prefix, which opens no new clause
    prev = ""
    for i, t in enumerate(tokens):
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        after = tokens[i + 1].word if i + 1 < len(tokens) else ""
        opens = (
            depth == 0 and t.word in starts and not named and not _continues(prev, t.word, after)
        )
        if table and groups:
            opens = False  # a table constraint is one clause
        if opens:
            groups.append([])
            named = 2 if t.word == "CONSTRAINT" else 0
        elif named:
            named -= 1
        if groups:
            groups[-1].append(t)
        prev = t.word
    out = []
    for group in groups:
        label = ""
        body = group
        if group[0].word == "CONSTRAINT" and len(group) > 2:
            label = " ".join(sql[group[0].start : group[1].end].split())
            body = group[2:]
        kind = {"AS": "GENERATED", "NOT": "NOT NULL"}.get(body[0].word, body[0].word)
        text = sql[body[0].start : body[-1].end]
        out.append(Clause(kind, label, text, body, group[0].start))
    return out


def _continues(prev: str, word: str, after: str) -> bool:
    """Keywords that go on the clause before instead of opening one: NOT NULL, DEFAULT NULL,
    ON DELETE SET NULL / SET DEFAULT, NOT DEFERRABLE, GENERATED ALWAYS AS."""
    return (
        (word == "NULL" and prev in ("NOT", "DEFAULT", "SET"))
        or (word == "DEFAULT" and prev == "SET")
        or (word == "AS" and prev == "ALWAYS")
        or (word == "NOT" and after == "DEFERRABLE")
    )


#: Words of SQL expressions that are not names unless quoted.
_KEYWORDS = frozenset(
    {"ABORT", "AND", "AS", "ASC", "BETWEEN", "BY", "CASCADE", "CASE", "CAST", "CHECK",
     "COLLATE", "CONSTRAINT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "DEFAULT",
     "DEFERRABLE", "DEFERRED", "DELETE", "DESC", "DISTINCT", "ELSE", "END", "ESCAPE", "EXISTS",
     "FAIL", "FALSE", "FOREIGN", "FROM", "GLOB", "IGNORE", "IMMEDIATE", "IN", "INITIALLY", "IS",
     "ISNULL", "KEY", "LIKE", "MATCH", "NO", "NOT", "NOTNULL", "NULL", "ON", "OR", "REFERENCES",
     "REGEXP", "REPLACE", "RESTRICT", "ROLLBACK", "SELECT", "SET", "THEN", "TRUE", "UPDATE",
     "WHEN", "WHERE"}
)  # fmt: skip


def _names(tokens: list[Token]) -> set[str]:
    """The names among ``tokens``, lower-cased: quoted identifiers, and bare words that are not
    SQL keywords (a column named like a keyword must be quoted to be one)."""
    return {
        n.lower()
        for t in tokens
        if (n := t.name) is not None and (t.kind != "word" or t.word not in _KEYWORDS)
    }


def _norm(t: Token) -> str:
    name = t.name
    return name.lower() if name is not None else t.text


def carry(stored: str, expected: str, new: str) -> str | None:
    """The rebuild's ``CREATE TABLE`` (``new``, rendered from the models) with what the stored
    definition has beyond ``expected`` (what umbral renders for the table's state before the
    change) added; None when there is nothing to add. Raises CannotCarry."""
    s, e, n = parse(stored), parse(expected), parse(new)
    _refuse_uncarried(s, e)
    found = _Carried(
        gone={c.name.lower() for c in s.columns if n.column(c.name) is None},
        # A foreign key on a column the models give one is the models' foreign key, whatever
        # its name or form (inline, or a table constraint): the new table has the models'
        # one, with its actions, made deferrable when the stored one was (which a model
        # cannot say).
        described={c.name.lower() for c in e.columns if c.of("REFERENCES")},
    )
    for col in s.columns:
        mine = e.column(col.name)
        assert mine is not None  # _refuse_uncarried: every stored column is expected
        found.column(col, mine)
    theirs = {c.key for c in e.constraints}
    for clause in s.constraints:
        if clause.key not in theirs:
            found.table_constraint(clause)
    return found.onto(n)


def _refuse_uncarried(s: TableDef, e: TableDef) -> None:
    """Raise CannotCarry for what a rebuild from the models would lose: table options
    (STRICT, WITHOUT ROWID), columns the models do not declare, generated columns."""
    if s.options:
        raise CannotCarry(f"it is a {' '.join(s.options.upper().split())} table")
    unknown = [c.name for c in s.columns if e.column(c.name) is None]
    if unknown:
        listed = ", ".join(f"`{c}`" for c in unknown)
        raise CannotCarry(
            f"it has column(s) {listed} that its models do not declare, and the copy would "
            "leave their values behind; declare them in the models or drop them first"
        )
    generated = [c.name for c in s.columns if c.of("GENERATED")]
    if generated:
        listed = ", ".join(f"`{c}`" for c in generated)
        raise CannotCarry(f"generated column(s) {listed} cannot be copied")


@record
class _Carried:
    """What the stored definition holds beyond the expected one, gathered clause by clause."""

    #: Lower-cased names of the columns the rebuild removes.
    gone: set[str]
    #: Lower-cased names of the columns whose foreign key the models describe.
    described: set[str]
    #: ``[NOT] DEFERRABLE ...`` of a described foreign key, by column.
    deferrals: dict[str, str] = field(default_factory=dict)
    collations: dict[str, str] = field(default_factory=dict)
    #: Defaults the models do not carry, by column.
    defaults: dict[str, str] = field(default_factory=dict)
    #: Table constraints to add (CHECKs, foreign keys the models keep as plain columns).
    constraints: list[str] = field(default_factory=list)

    def column(self, col: ColumnDef, mine: ColumnDef) -> None:
        """The clauses of a stored column beyond ``mine`` (the expected column)."""
        theirs = {c.key for c in mine.clauses}
        low = col.name.lower()
        kept = low not in self.gone
        for clause in col.clauses:
            if clause.kind == "REFERENCES" and low in self.described:
                if kept and (deferral := _deferral(clause)):
                    self.deferrals[low] = deferral
            elif clause.key not in theirs:
                self._extra(col, mine, clause, kept=kept)

    def _extra(self, col: ColumnDef, mine: ColumnDef, clause: Clause, *, kept: bool) -> None:
        if clause.kind == "CHECK" and not clause.names() & self.gone:
            self.constraints.append(clause.text)  # a column CHECK is a table CHECK to SQLite
        elif clause.kind == "COLLATE" and kept and not mine.of("COLLATE"):
            self.collations[col.name.lower()] = clause.text
        elif clause.kind == "DEFAULT" and kept and not mine.of("DEFAULT"):
            self.defaults[col.name.lower()] = clause.text
        elif clause.kind == "REFERENCES" and kept and not mine.of("REFERENCES"):
            column = '"' + col.name.replace('"', '""') + '"'
            fk = f"FOREIGN KEY ({column}) {clause.body}"
            self.constraints.append(f"{clause.label} {fk}" if clause.label else fk)

    def table_constraint(self, clause: Clause) -> None:
        """A stored table constraint the expected definition does not have."""
        if clause.kind == "CHECK":
            if not clause.names() & self.gone:
                self.constraints.append(clause.text)
            return
        if clause.kind != "FOREIGN":
            return
        local = _fk_columns(clause)
        if local & self.gone:
            return
        if len(local) == 1 and local <= self.described:
            if deferral := _deferral(clause):
                self.deferrals[next(iter(local))] = deferral
            return
        self.constraints.append(clause.text)

    def onto(self, n: TableDef) -> str | None:
        """``n`` (the new table) with what was gathered; None when nothing was."""
        # Only onto a new foreign key that ends its column's definition (umbral writes it
        # last).
        deferrals = {
            name: text
            for name, text in self.deferrals.items()
            if (col := n.column(name)) is not None
            and col.clauses
            and col.clauses[-1].kind == "REFERENCES"
        }
        # Only while the models still give the column no default.
        defaults = {
            name: text
            for name, text in self.defaults.items()
            if (col := n.column(name)) is not None and not col.of("DEFAULT")
        }
        if not self.collations and not self.constraints and not deferrals and not defaults:
            return None
        items = []
        for col in n.columns:
            low = col.name.lower()
            extra = (deferrals.get(low), self.collations.get(low), defaults.get(low))
            items.append(" ".join(x for x in (col.text, *extra) if x))
        items += [c.text for c in n.constraints] + self.constraints
        return f"{n.head} ({', '.join(items)})"


def _deferral(clause: Clause) -> str:
    """The ``[NOT] DEFERRABLE [INITIALLY DEFERRED|IMMEDIATE]`` ending a foreign-key clause, as
    written; '' when it has none."""
    tokens = clause.tokens
    at = next((i for i, t in enumerate(tokens) if t.word == "DEFERRABLE"), None)
    if at is None:
        return ""
    if at and tokens[at - 1].word == "NOT":
        at -= 1
    return " ".join(t.text for t in tokens[at:])


def _fk_columns(clause: Clause) -> set[str]:
    """The local columns of ``FOREIGN KEY (a, b) REFERENCES ...``."""
    out: set[str] = set()
    inside = False
    for t in clause.tokens:
        if t.text == "(":
            inside = True
        elif t.text == ")":
            break
        elif inside and (name := t.name) is not None:
            out.add(name.lower())
    return out


def index_columns(sql: str) -> set[str]:
    """Every name an index's stored ``CREATE INDEX ... ON t (...) [WHERE ...]`` uses after its
    table, lower-cased: its columns, and those its expressions and WHERE clause name."""
    tokens = tokenize(sql)
    start = next((i for i, t in enumerate(tokens) if t.text == "("), len(tokens))
    return _names(tokens[start:])


def trigger_event(sql: str) -> str:
    """What fires a stored ``CREATE TRIGGER``: INSERT, UPDATE or DELETE."""
    for t in tokenize(sql):
        if t.word in ("INSERT", "UPDATE", "DELETE"):
            return t.word
    return "UPDATE"


def without_constraints_on(stored: str, column: str) -> tuple[str, list[str]] | None:
    """The stored definition without the CHECK constraints and foreign keys that name
    ``column`` apart from its own (table constraints, other columns' CHECKs), which SQLite's
    ``DROP COLUMN`` refuses and PostgreSQL's drops with the column; and those constraints.
    None when there are none."""
    t = parse(stored)
    low = column.lower()
    removed: list[str] = []
    items: list[str] = []
    for col in t.columns:
        own = col.name.lower() == low  # its own CHECKs go with it
        cut = [c for c in col.clauses if c.kind == "CHECK" and low in c.names() and not own]
        removed += [c.text for c in cut]
        # The definition without those clauses, from the text between the tokens that stay (a
        # comment among them stays too, and none can end the text and swallow what follows).
        gone = {id(k) for c in cut for k in col.tokens if c.start <= k.start < c.tokens[-1].end}
        runs: list[list[Token]] = [[]]
        for tok in col.tokens:
            if id(tok) in gone:
                runs.append([])
            else:
                runs[-1].append(tok)
        items.append(" ".join(stored[r[0].start : r[-1].end] for r in runs if r))
    for clause in t.constraints:
        names = _fk_columns(clause) if clause.kind == "FOREIGN" else clause.names()
        if clause.kind in ("CHECK", "FOREIGN") and low in names:
            removed.append(clause.text)
        else:
            items.append(clause.text)
    if not removed:
        return None
    options = f" {t.options}" if t.options else ""
    return f"{t.head} ({', '.join(items)}){options}", removed
