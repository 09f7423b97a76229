"""The MySQL backend's run-time steps (``umbral.steps``): what a migration looks up in the
catalog as it runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from umbral.database import driver_cursor
from umbral.errors import UnsupportedChange
from umbral.steps import Note, RunTimeStep
from umbral.values import frozen

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class _Resolved(RunTimeStep):
    """A step that reads what to do, then runs it: ``run`` executes what ``resolve`` says."""

    RESOLVES: ClassVar[bool] = True

    def run(self, conn: Connection, note: Note) -> bool:
        if str(self):
            note(str(self))  # what a failure of the look-up names
        statements = self.resolve(conn)
        for statement in statements:
            note(statement)
            driver_cursor(conn).execute(statement)
        return bool(statements)


def _rows(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A catalog read through the driver's cursor (SQLAlchemy's per-statement machinery costs
    more than these small reads)."""
    cur = driver_cursor(conn)
    cur.execute(sql, params or None)
    return list(cur.fetchall())


@frozen
class DropForeignKeys(_Resolved):
    """Drop the foreign keys of ``table`` on ``column`` by what they are, not by name: the
    names come from the catalog at run time (``statements`` shows umbral's own name)."""

    table: str
    column: str
    sql: str
    quote: Callable[[str], str]

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,)

    def alternatives(self) -> list[str]:
        return [
            "DropForeignKeys (drop every foreign key on the column, whatever its name, "
            "as information_schema lists them)"
        ]

    def resolve(self, conn: Connection) -> list[str]:
        # A foreign key's key columns are the ones with a referenced table (joining
        # TABLE_CONSTRAINTS to say so costs MariaDB ~4 ms a look-up, this ~0.1 ms).
        rows = _rows(
            conn,
            "SELECT DISTINCT CONSTRAINT_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s "
            "AND REFERENCED_TABLE_NAME IS NOT NULL",
            (self.table, self.column),
        )
        q = self.quote
        return [f"ALTER TABLE {q(self.table)} DROP FOREIGN KEY {q(str(name))}" for (name,) in rows]


def _has_checks(conn: Connection, table: str) -> bool:
    """Whether ``table`` has any CHECK (its definition says so, ~0.05 ms; information_schema's
    CHECK_CONSTRAINTS costs several times that, and most tables have none)."""
    rows = _rows(conn, f"SHOW CREATE TABLE `{table.replace('`', '``')}`")
    return bool(rows) and " CHECK (" in str(rows[0][1])


def _indexes(conn: Connection, table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """``name -> (columns in order, unique)`` for every index of ``table`` but its primary
    key, as ``information_schema`` lists them."""
    rows = _rows(
        conn,
        "SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND INDEX_NAME <> 'PRIMARY' "
        "ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (table,),
    )
    found: dict[str, tuple[list[str], bool]] = {}
    for name, column, non_unique in rows:
        found.setdefault(str(name), ([], not int(non_unique)))[0].append(str(column))
    return {name: (tuple(cols), unique) for name, (cols, unique) in found.items()}


@frozen
class DropIndexes(_Resolved):
    """Drop the indexes of ``table`` that a change removes by what they are, not by name: on
    exactly ``columns`` with that uniqueness, or, with ``containing``, every index of several
    columns that holds that column (a dropped column takes them with it, as on PostgreSQL;
    MySQL would narrow them). ``statements`` shows umbral's own name; an adopted table names
    its indexes its own way."""

    table: str
    sql: str
    quote: Callable[[str], str]
    columns: tuple[str, ...] = ()
    unique: bool = False
    containing: str = ""
    #: umbral's name of a plain index on some columns of ``table`` (``index_name``): the
    #: index a foreign key gets when the one dropped was the only one that served it.
    index_name: Callable[[tuple[str, ...]], str] | None = None

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,) if self.sql else ()

    def alternatives(self) -> list[str]:
        served = (
            "; first makes a foreign key's own index where the dropped one was the only index "
            "that started with its columns, as the server refuses to drop that one"
        )
        if self.containing:
            return [
                f"DropIndexes (drop every index of several columns holding `{self.containing}`, "
                f"whatever its name, as information_schema lists them{served})"
            ]
        return [
            "DropIndexes (drop the index on these columns whatever its name, as "
            f"information_schema lists it{served})"
        ]

    def resolve(self, conn: Connection) -> list[str]:
        q = self.quote
        out = []
        found = _indexes(conn, self.table)
        dropped: list[tuple[str, ...]] = []
        gone: set[str] = set()
        for name, (columns, unique) in found.items():
            if self.containing:
                hit = len(columns) > 1 and self.containing in columns
            else:
                hit = columns == self.columns and unique == self.unique
            if hit:
                dropped.append(columns)
                gone.add(name)
                out.append(f"DROP INDEX {q(name)} ON {q(self.table)}")
        if not dropped or self.index_name is None:
            return out
        # An adopted table's foreign key may have no index of its own where an index starts
        # with its columns (UNIQUE (author_id, slug)): the server refuses to drop that one
        # while the key needs it (1553). The key gets the index the models give it first.
        kept = [c for name, c in found.items() if name not in gone]
        names = set(found)
        for key in _foreign_key_columns(conn, self.table):
            n = len(key)
            if key in dropped or not any(c[:n] == key for c in dropped):
                continue  # the key's own index, or one that never served it: as asked
            if any(c[:n] == key for c, _unique in kept) or self.index_name(key) in names:
                continue
            columns = ", ".join(q(c) for c in key)
            out.insert(0, f"CREATE INDEX {q(self.index_name(key))} ON {q(self.table)} ({columns})")
            kept.append((key, False))
        return out


def _foreign_key_columns(conn: Connection, table: str) -> list[tuple[str, ...]]:
    """Each foreign key of ``table`` as its columns in order."""
    rows = _rows(
        conn,
        "SELECT CONSTRAINT_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
        "AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION",
        (table,),
    )
    keys: dict[str, list[str]] = {}
    for name, column in rows:
        keys.setdefault(str(name), []).append(str(column))
    return list(dict.fromkeys(tuple(c) for c in keys.values()))


@frozen
class DropChecks(_Resolved):
    """Drop the table CHECKs of ``table`` that name ``column`` before the column is dropped:
    both servers refuse to drop a column a CHECK uses, and PostgreSQL drops such CHECKs with
    the column. Found in the catalog at run time (an adopted table has its own); a CHECK on
    the column alone goes with it."""

    table: str
    column: str
    quote: Callable[[str], str]

    @property
    def statements(self) -> tuple[str, ...]:
        return ()

    def alternatives(self) -> list[str]:
        return [
            f"DropChecks (drop every table CHECK that names `{self.column}`, as "
            "information_schema lists them)"
        ]

    def resolve(self, conn: Connection) -> list[str]:
        if not _has_checks(conn, self.table):
            return []
        if getattr(conn.dialect, "is_mariadb", False):
            sql = (
                "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = %s AND LEVEL = 'Table'"
            )
        else:
            sql = (
                "SELECT c.CONSTRAINT_NAME, c.CHECK_CLAUSE "
                "FROM information_schema.CHECK_CONSTRAINTS c "
                "JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = "
                "c.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME "
                "WHERE t.CONSTRAINT_TYPE = 'CHECK' AND t.TABLE_SCHEMA = DATABASE() "
                "AND t.TABLE_NAME = %s"
            )
        # Both servers write the clause with every identifier in backquotes.
        used = f"`{self.column}`"
        q = self.quote
        return [
            f"ALTER TABLE {q(self.table)} DROP CONSTRAINT {q(str(name))}"
            for name, clause in _rows(conn, sql, (self.table,))
            if used in str(clause)
        ]


@frozen
class RenameIndexes(_Resolved):
    """Rename the indexes of ``table`` that have umbral's old names (``renames``: old, new) to
    umbral's new ones; an index under another name (adopted) keeps it, as on PostgreSQL."""

    table: str
    renames: tuple[tuple[str, str], ...]
    quote: Callable[[str], str]

    @property
    def statements(self) -> tuple[str, ...]:
        q = self.quote
        parts = ", ".join(f"RENAME INDEX {q(old)} TO {q(new)}" for old, new in self.renames)
        return (f"ALTER TABLE {q(self.table)} {parts}",)

    def alternatives(self) -> list[str]:
        return ["RenameIndexes (only the indexes that have umbral's names; others keep theirs)"]

    def resolve(self, conn: Connection) -> list[str]:
        q = self.quote
        present = _indexes(conn, self.table)
        parts = [
            f"RENAME INDEX {q(old)} TO {q(new)}" for old, new in self.renames if old in present
        ]
        return [f"ALTER TABLE {q(self.table)} {', '.join(parts)}"] if parts else []


@frozen
class ModifyColumn(_Resolved):
    """``ALTER TABLE … MODIFY COLUMN`` that keeps what the column has and the models do not
    say. MODIFY restates the whole definition, so what it leaves out is lost:

    - the CHECK written on the column itself: MariaDB keeps such a CHECK in the column's
      definition (``information_schema`` lists it at ``LEVEL = 'Column'``, named after the
      column); an adopted table has them (``qty INT CHECK (qty >= 0)``). MySQL keeps every
      CHECK as a table constraint, which a MODIFY leaves alone. A JSON column's
      ``json_valid`` check is MariaDB's own for the type: the new definition decides it. A
      change between text and another type (``retyped``) stops instead, as PostgreSQL's
      does: the CHECK was written for the old type (``qty >= 0`` would refuse every text but
      a number);
    - the character set and collation of a text column that stays text: a column without
      them takes the table's default (an adopted ``utf8mb4_bin`` column made case-blind, a
      ``latin1`` one converted), and umbral's models carry none."""

    table: str
    column: str
    sql: str
    retyped: bool = False
    #: The models give the column no default, before or after the change, and its type stays
    #: or keeps its kind (text stays text, a number a number): a default the database has (an
    #: expression ``inspectdb`` could not adopt, ``uuid()``) and its ``ON UPDATE`` are
    #: repeated, as the MODIFY would drop them.
    keep_default: bool = False
    #: The change leaves the column's type alone: the type the database has replaces the
    #: models' (``type_sql``). An adopted column's type says more than the models can
    #: (``DECIMAL(10,2)``, ``CHAR(2)``, ``INT UNSIGNED``); MODIFY repeats the whole
    #: definition, so it would otherwise become the models' (``DECIMAL(65,30)``) on a change
    #: of nullability, default or comment.
    keep_type: bool = False
    #: ``sql`` is ``{head} {type_sql}`` and the rest of the definition: where the run time
    #: puts the type the database has and the column's character set and collation.
    head: str = ""
    type_sql: str = ""
    #: The models' new type is text (``VARCHAR``, ``LONGTEXT``, ``CHAR(36)``): the character
    #: set and collation the column has are repeated after it.
    collates: bool = False

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,)

    def alternatives(self) -> list[str]:
        out = [
            "ModifyColumn (on MariaDB, repeats the CHECK the column's definition holds, as "
            "information_schema lists it)"
        ]
        if self.keep_type:
            out.append(
                "ModifyColumn (keeps the column's type, and its ON UPDATE, as the database has "
                "them, where they differ from the models')"
            )
        if self.keep_type or self.collates:
            out.append(
                "ModifyColumn (repeats the CHARACTER SET and COLLATE the text column has, as "
                "information_schema lists them)"
            )
        if self.keep_default:
            out.append(
                "ModifyColumn (repeats the default and ON UPDATE the database holds and the "
                "models do not say)"
            )
        out.append(
            "ModifyColumn (restates a generated column's AS (...) VIRTUAL or STORED, as "
            "information_schema lists it; refuses a default, or NOT NULL on MariaDB)"
        )
        return out

    PRECHECKS: ClassVar[bool] = True

    def precheck(self, conn: Connection) -> None:
        """Refuse, before the migration's first statement, a default (or, on MariaDB, NOT
        NULL) for a generated column: one look-up, made only when the statement has one."""
        start = f"{self.head} {self.type_sql}"
        if not self.head or not self.sql.startswith(start):
            return
        rest = self.sql[len(start) :]
        mariadb = getattr(conn.dialect, "is_mariadb", False)
        if " DEFAULT " not in rest and not (mariadb and rest.startswith(" NOT NULL")):
            return
        facts = _column_facts(conn, self.table, self.column)
        if facts is not None and facts.generated:
            self._generated_rest(conn, rest, facts)

    def resolve(self, conn: Connection) -> list[str]:
        facts = _column_facts(conn, self.table, self.column)
        statement = self.sql
        kept = False  # the database's type, which its own CHECK goes with
        start = f"{self.head} {self.type_sql}"
        if self.head and statement.startswith(start) and facts is not None:
            column_type, rest = self.type_sql, statement[len(start) :]
            if self.keep_type and facts.type:
                column_type, kept = facts.type, True
            if facts.charset and (kept or self.collates):
                # Restated, or the column takes the table's default (another comparison).
                column_type += f" CHARACTER SET {facts.charset} COLLATE {facts.collation}"
            if facts.generated:
                column_type += f" AS ({facts.expression}) {facts.generated}"
                rest = self._generated_rest(conn, rest, facts)
            statement = f"{self.head} {column_type}{rest}"
        if self.keep_default and facts is not None:
            statement += _default_clause(conn, facts.default, facts.extra)
        elif kept and facts is not None and "ON UPDATE" not in statement.upper():
            # The models give a default of their own; an ON UPDATE they cannot say stays.
            statement += _on_update_clause(facts.extra)
        if getattr(conn.dialect, "is_mariadb", False) and _has_checks(conn, self.table):
            # By the column its clause names: the CHECK keeps the name of the column it was
            # written on, and MariaDB does not rename it with the column.
            rows = _rows(
                conn,
                "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = %s AND LEVEL = 'Column'",
                (self.table,),
            )
            own = f"`{self.column.replace('`', '``')}`"
            mine = [(str(n), c) for n, c in rows if own in str(c)]
            mine.sort(key=lambda row: row[0] != self.column)
            clause = mine[0][1] if mine else None
            # A JSON column's own check: the new definition says whether the column is JSON,
            # unless it repeats the type the database has (MariaDB's JSON is LONGTEXT).
            json = str(clause).lower() == f"json_valid(`{self.column}`)"
            if clause is not None and (kept or not json):
                if self.retyped:
                    raise UnsupportedChange(
                        f"cannot change the type of `{self.table}.{self.column}`: its own CHECK "
                        f"({clause}) was written for the old type; drop or rewrite the CHECK "
                        "(a RunSql migration before this one), then run migrate again"
                    )
                statement += f" CHECK ({clause})"
        return [statement]

    def _generated_rest(self, conn: Connection, rest: str, facts: _Facts) -> str:
        """The definition after a generated column's ``AS (…) VIRTUAL|STORED``: the server
        refuses a MODIFY that leaves the clause out (1907), a default on such a column, and
        on MariaDB any NULL / NOT NULL (its generated columns are always nullable)."""
        what = f"the generated column `{self.table}.{self.column}` (AS ({facts.expression}))"
        mariadb = getattr(conn.dialect, "is_mariadb", False)
        null = " NOT NULL" if rest.startswith(" NOT NULL") else " NULL"
        body = rest.removeprefix(null)
        if body.startswith(" DEFAULT "):
            raise UnsupportedChange(
                f"cannot give {what} a default: the database computes its value; remove the "
                f"field's default and {_REMAKE}"
            )
        if mariadb and rest.startswith(" NOT NULL"):
            raise UnsupportedChange(
                f"cannot make {what} NOT NULL: MariaDB's generated columns are always "
                f"nullable; keep the field nullable=True and {_REMAKE}"
            )
        return body if mariadb else rest


#: What a refusal of a generated column's change asks for: the migration file holds the change
#: too, so fixing the model alone changes nothing.
_REMAKE = (
    "make the migration again (the file holds the change too: delete it and run "
    "makemigrations, or edit it), then run migrate"
)


class _Facts(NamedTuple):
    """What ``information_schema.COLUMNS`` says of a column that a MODIFY must restate."""

    type: str
    charset: str | None
    collation: str | None
    default: Any
    extra: str
    #: ``VIRTUAL`` or ``STORED`` for a generated column, else ''.
    generated: str
    expression: str


def _column_facts(conn: Connection, table: str, column: str) -> _Facts | None:
    """The column as the database has it (one look-up), or None if there is none."""
    found = _rows(
        conn,
        "SELECT COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_DEFAULT, EXTRA, "
        "GENERATION_EXPRESSION FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
        (table, column),
    )
    if not found:
        return None
    kind, charset, collation, default, extra, expression = found[0]
    # Both servers say ``VIRTUAL GENERATED`` / ``STORED GENERATED`` (MySQL's
    # ``DEFAULT_GENERATED`` is an expression default, not a generated column).
    words = str(extra or "").upper().split()
    generated = words[0] if words[1:2] == ["GENERATED"] and words[0] in _KINDS else ""
    return _Facts(
        str(kind or ""),
        str(charset) if charset else None,
        str(collation) if collation else None,
        None if generated else default,  # MariaDB lists a generated column's as NULL
        str(extra or ""),
        generated,
        str(expression or ""),
    )


#: How a generated column is kept, as ``EXTRA`` says and a definition writes it.
_KINDS = frozenset({"VIRTUAL", "STORED"})


@frozen
class Backfill(_Resolved):
    """``UPDATE … SET column = fill WHERE column IS NULL`` before a column becomes NOT NULL,
    which keeps the ``ON UPDATE CURRENT_TIMESTAMP`` columns of the rows it fills: each is set
    to itself (the server then leaves it), as the catalog lists them at run time (an adopted
    table has its own ``changed_at``; the models carry no ``ON UPDATE``). A generated column
    cannot be filled: refused, naming it, before anything of the change runs."""

    table: str
    column: str
    sql: str
    quote: Callable[[str], str]

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,)

    def alternatives(self) -> list[str]:
        return [
            "Backfill (also sets each ON UPDATE column of the table to itself, as "
            "information_schema lists them, so the filled rows keep their timestamps)"
        ]

    PRECHECKS: ClassVar[bool] = True

    def precheck(self, conn: Connection) -> None:
        facts = _column_facts(conn, self.table, self.column)
        if facts is not None and facts.generated:
            raise self._refusal()

    def _refusal(self) -> UnsupportedChange:
        return UnsupportedChange(
            f"cannot fill the NULLs of the generated column `{self.table}.{self.column}` "
            "to make it NOT NULL: the database computes its value; keep the field "
            f"nullable=True and {_REMAKE}"
        )

    def resolve(self, conn: Connection) -> list[str]:
        found = _rows(
            conn,
            "SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (self.table,),
        )
        extras = {str(name): str(extra or "").lower() for name, extra in found}
        if extras.get(self.column, "").endswith(("virtual generated", "stored generated")):
            raise self._refusal()
        q = self.quote
        kept = "".join(
            f", {q(name)} = {q(name)}"
            for name, extra in extras.items()
            if "on update " in extra and name != self.column
        )
        where = f" WHERE {q(self.column)} IS NULL"
        if not kept or not self.sql.endswith(where):
            return [self.sql]
        return [self.sql.removesuffix(where) + kept + where]


@frozen
class RetypeReferenced(_Resolved):
    """A type change of a column foreign keys reference (a primary key widened from INT to
    BIGINT). MySQL and MariaDB refuse to change such a column (error 1833, even with the
    checks off), and a key between two integer types (error 150): every key referencing it
    is dropped, whatever its name, the column changed, and each key of the models added back
    whose column has the new type already. A key whose column the migration changes later is
    added back by that change. ``children``: the keys of the migration's models on the
    column, as (table, column, key name, ADD statement, the column's MODIFY to the new type
    for a script). A key of another table (a junction's,
    another plugin's, a table of no model) has its column take the new type, and comes back."""

    table: str
    column: str
    modify: ModifyColumn
    children: tuple[tuple[str, str, str, str, str], ...]
    #: The column's new type, as the models give it (``BIGINT``).
    new_type: str
    quote: Callable[[str], str]

    @property
    def statements(self) -> tuple[str, ...]:
        # As a script (sqlmigrate): the keys of the models by umbral's names.
        q = self.quote
        drops = tuple(
            f"ALTER TABLE {q(t)} DROP FOREIGN KEY IF EXISTS {q(name)}"
            for t, _, name, _, _ in self.children
        )
        # Each key column takes the new type before its key comes back (its own change, later
        # in the script, then finds it done).
        modifies = tuple(modify for *_, modify in self.children)
        adds = tuple(add for _, _, _, add, _ in self.children)
        return (*drops, *self.modify.statements, *modifies, *adds)

    def alternatives(self) -> list[str]:
        return [
            "RetypeReferenced (drops the foreign keys that reference the column, as "
            "information_schema lists them, and adds back each one whose column has the "
            "new type)",
            *self.modify.alternatives(),
        ]

    def resolve(self, conn: Connection) -> list[str]:
        q = self.quote
        keys = [
            (str(t), str(c), str(name), str(on_delete), str(on_update))
            for t, c, name, on_delete, on_update in _rows(
                conn,
                "SELECT k.TABLE_NAME, k.COLUMN_NAME, k.CONSTRAINT_NAME, r.DELETE_RULE, "
                "r.UPDATE_RULE FROM information_schema.KEY_COLUMN_USAGE k "
                "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
                "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA "
                "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME "
                "WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_SCHEMA = DATABASE() "
                "AND k.REFERENCED_TABLE_NAME = %s AND k.REFERENCED_COLUMN_NAME = %s "
                "ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME",
                (self.table, self.column),
            )
        ]
        models = {(t, c): add for t, c, _, add, _ in self.children}
        out = [f"ALTER TABLE {q(t)} DROP FOREIGN KEY {q(name)}" for t, _, name, _, _ in keys]
        out += self.modify.resolve(conn)
        new = _bare_type(self.new_type)
        for t, c, name, on_delete, on_update in keys:
            if (t, c) in models:
                continue
            # A key the migration's models do not hold (a junction's, another plugin's, a
            # table of no model): its column takes the key's new type, as Django's related
            # columns do, or the key could not come back.
            if _bare_type(_column_type(conn, t, c)) != new:
                nullable = _rows(
                    conn,
                    "SELECT IS_NULLABLE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
                    (t, c),
                )
                null = "NULL" if nullable and str(nullable[0][0]) == "YES" else "NOT NULL"
                out.append(
                    f"ALTER TABLE {q(t)} MODIFY COLUMN {q(c)} {self.new_type} {null}"
                    + _database_default(conn, t, c)
                )
            out.append(
                f"ALTER TABLE {q(t)} ADD CONSTRAINT {q(name)} FOREIGN KEY ({q(c)}) "
                f"REFERENCES {q(self.table)} ({q(self.column)}) ON DELETE {on_delete} "
                f"ON UPDATE {on_update}"
            )
        for (t, c), add in sorted(models.items()):
            if _bare_type(_column_type(conn, t, c)) == new:
                out.append(add)
        return out


@frozen
class FollowTarget(_Resolved):
    """A foreign key column of another plugin's table taking its target's new type (the
    target's primary key widened, or narrowed back): drop the key, change the column, add the
    key back (``steps``), when the target's column has the new type. When it does not, the
    target's own change is still to come (un-applying, the migration that references it goes
    back first): the column keeps its type and its key, and the target's change carries both
    (``RetypeReferenced`` retypes the key columns of other tables and adds their keys back).
    Adding the key now would fail (error 150: a key between two integer types) and leave the
    migration part way."""

    table: str
    column: str
    target: str
    target_column: str
    #: The column's new type, as the models give it (``INT``).
    new_type: str
    steps: tuple[Any, ...]

    @property
    def statements(self) -> tuple[str, ...]:
        out: list[str] = []
        for step in self.steps:
            out.extend(step.statements if isinstance(step, RunTimeStep) else (step,))
        return tuple(out)

    def __str__(self) -> str:
        return self.statements[0]

    def alternatives(self) -> list[str]:
        inner = [a for s in self.steps if isinstance(s, RunTimeStep) for a in s.alternatives()]
        return [
            "FollowTarget (leaves the column and its foreign key as they are while the "
            "referenced column, as information_schema lists it, has another type: its own "
            "change carries them)",
            *inner,
        ]

    def _now(self, conn: Connection) -> bool:
        """Whether the target's column has the new type (or is not there to say)."""
        found = _column_type(conn, self.target, self.target_column)
        return not found or _bare_type(found) == _bare_type(self.new_type)

    PRECHECKS: ClassVar[bool] = True

    def precheck(self, conn: Connection) -> None:
        if not self._now(conn):
            return
        for step in self.steps:
            if isinstance(step, RunTimeStep) and step.PRECHECKS:
                step.precheck(conn)

    def resolve(self, conn: Connection) -> list[str]:
        if not self._now(conn):
            return []
        out: list[str] = []
        for step in self.steps:
            out.extend(step.resolve(conn) if isinstance(step, RunTimeStep) else (step,))
        return out


def _column_type(conn: Connection, table: str, column: str) -> str:
    """The column's type as the database has it (``int(10) unsigned``), or '' if none."""
    found = _rows(
        conn,
        "SELECT COLUMN_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
        (table, column),
    )
    return str(found[0][0]) if found else ""


@frozen
class ReindexAround(_Resolved):
    """A column becoming unbounded text (``LONGTEXT``, a ``Text`` without ``max_length``)
    while indexes hold it: the server refuses to keep a key of several columns over it
    (error 1071), so each index on the column is dropped, the column changed, and the index
    made again as it was, the column's key part with the prefix a key of it takes (a unique
    one whole: MariaDB's hash-backed long unique)."""

    table: str
    column: str
    modify: ModifyColumn
    prefix: int
    quote: Callable[[str], str]
    #: The indexes of the models that hold the column, as (DROP, CREATE) statements with
    #: umbral's names: what a script (sqlmigrate) runs around the change.
    around: tuple[tuple[str, str], ...] = ()

    @property
    def statements(self) -> tuple[str, ...]:
        drops = tuple(drop for drop, _ in self.around)
        creates = tuple(create for _, create in self.around)
        return (*drops, *self.modify.statements, *creates)

    def alternatives(self) -> list[str]:
        return [
            "ReindexAround (drops the indexes that hold the column, as information_schema "
            "lists them, and makes them again over the new type)",
            *self.modify.alternatives(),
        ]

    def resolve(self, conn: Connection) -> list[str]:
        q = self.quote
        parts: dict[str, list[tuple[str, Any]]] = {}
        unique: dict[str, bool] = {}
        for name, column, sub_part, non_unique in _rows(
            conn,
            "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART, NON_UNIQUE "
            "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (self.table,),
        ):
            parts.setdefault(str(name), []).append((str(column), sub_part))
            unique[str(name)] = not int(non_unique)
        held = {n: cols for n, cols in parts.items() if any(c == self.column for c, _ in cols)}
        out = [f"DROP INDEX {q(n)} ON {q(self.table)}" for n in held]
        out += self.modify.resolve(conn)
        for name, cols in held.items():
            keys = []
            for column, sub_part in cols:
                if column == self.column:
                    size = None if unique[name] else self.prefix
                else:
                    size = sub_part
                keys.append(q(column) + (f"({size})" if size else ""))
            kind = "UNIQUE INDEX" if unique[name] else "INDEX"
            out.append(f"CREATE {kind} {q(name)} ON {q(self.table)} ({', '.join(keys)})")
        return out


def _bare_type(column_type: str) -> str:
    """A column type without an integer's display width (MariaDB lists ``bigint(20)``)."""
    return re.sub(r"^(tinyint|smallint|mediumint|int|bigint)\(\d+\)", r"\1", column_type.lower())


@frozen
class PrefixedIndex(_Resolved):
    """``CREATE INDEX`` on an existing table whose key parts give unbounded text columns a
    prefix (``Backend.TEXT_INDEX_PREFIX``). Models written by hand for an existing table may
    call an ``ENUM``, ``SET`` or ``CHAR(2)`` column text: the server refuses a prefix on
    those, or one longer than the column (error 1089), so the prefix goes where the column
    the database has takes none."""

    table: str
    sql: str
    #: The key parts with a prefix, as ``sql`` writes them, by column.
    parts: tuple[tuple[str, str], ...]
    prefix: int

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,)

    def alternatives(self) -> list[str]:
        return [
            "PrefixedIndex (leaves out the prefix of a column the database has as ENUM, SET, "
            f"or text of {self.prefix} characters or fewer)"
        ]

    def resolve(self, conn: Connection) -> list[str]:
        names = [column for column, _ in self.parts]
        marks = ", ".join(["%s"] * len(names))
        found = {
            str(name): (str(kind).lower(), length)
            for name, kind, length in _rows(
                conn,
                "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                f"AND TABLE_NAME = %s AND COLUMN_NAME IN ({marks})",
                (self.table, *names),
            )
        }
        statement = self.sql
        for column, part in self.parts:
            kind, length = found.get(column, ("longtext", None))
            takes_prefix = kind in _PREFIXED and (length is None or int(length) > self.prefix)
            if not takes_prefix:
                statement = statement.replace(part, part.removesuffix(f"({self.prefix})"), 1)
        return [statement]


#: Column types a key part may give a prefix to.
_PREFIXED = frozenset(
    ("char", "varchar", "binary", "varbinary", "tinytext", "text", "mediumtext", "longtext",
     "tinyblob", "blob", "mediumblob", "longblob")
)  # fmt: skip


def _database_default(conn: Connection, table: str, column: str) -> str:
    """`` DEFAULT … [ON UPDATE …]`` as the column has them now, or ''."""
    facts = _column_facts(conn, table, column)
    return "" if facts is None else _default_clause(conn, facts.default, facts.extra)


def _on_update_clause(extra: str) -> str:
    """`` ON UPDATE …`` from a column's ``EXTRA``, or ''."""
    on_update = extra.lower().find("on update ")
    if on_update < 0:
        return ""
    return " " + extra[on_update:].split(" DEFAULT_GENERATED")[0].strip()


def _default_clause(conn: Connection, default: Any, extra: str) -> str:
    """`` DEFAULT … [ON UPDATE …]`` from a column's ``COLUMN_DEFAULT`` and ``EXTRA``, or ''."""
    out = ""
    if default is not None and str(default).upper() != "NULL":
        text = str(default)
        if getattr(conn.dialect, "is_mariadb", False):
            out = f" DEFAULT {text}"  # MariaDB lists literals quoted and expressions as SQL
        elif "DEFAULT_GENERATED" in extra.upper():
            bare = text.lower().startswith("current_timestamp")
            out = f" DEFAULT {text}" if bare else f" DEFAULT ({text})"
        else:  # MySQL lists a literal bare
            out = " DEFAULT '" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return out + _on_update_clause(extra)
