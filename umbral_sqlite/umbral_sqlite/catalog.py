"""What SQLite's schema holds at run time, and the edits the run time makes to it.

A rebuild or a dropped column adapts to the table as the database holds it: its triggers and
hand-made indexes, the indexes an adopted table keeps under legacy names, the constraints of a
table umbral did not create. These functions read them from ``sqlite_master`` and the index
pragmas, and make the edits SQLite documents for what ``ALTER TABLE`` cannot do (editing the
stored definition). They work on the driver's cursor, inside the migration's transaction: a
history that drops NOT NULL a hundred times runs a thousand of these small statements.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from umbral.errors import UnsupportedChange
from umbral.naming import index_name
from umbral_sqlite.tabledef import (
    index_columns,
    parse,
    tokenize,
    trigger_event,
    without_constraints_on,
)

if TYPE_CHECKING:
    import sqlite3

#: (columns, unique) of an index on plain ascending columns.
Spec = tuple[tuple[str, ...], bool]


def quote(ident: str) -> str:
    """An identifier as SQLite reads it (``Backend.quote``)."""
    return '"' + ident.replace('"', '""') + '"'


def stored_definition(cur: sqlite3.Cursor, table: str) -> str | None:
    """The ``CREATE TABLE`` text the database holds for ``table``, or None."""
    row = cur.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return None if row is None else str(row[0])


def drop_column(
    cur: sqlite3.Cursor,
    table: str,
    column: str,
    statements: Sequence[str],
    stored: str | None,
) -> None:
    """Drop ``column`` (``statements``: the ALTER TABLE) with what uses it, as PostgreSQL's
    DROP COLUMN does and SQLite's refuses to: the indexes the models do not know (made by
    hand, or adopted by inspectdb under a legacy name), and the CHECK constraints and
    foreign keys of a table umbral did not create that name it, removed by editing the
    stored definition (``stored``, SQLite's documented procedure for removing
    constraints)."""
    for name, sql in indexes_sql(cur, table):
        if column.lower() in index_columns(sql):
            cur.execute(f"DROP INDEX {quote(name)}")
    cut = without_constraints_on(stored, column) if stored else None
    if cut is not None:
        definition, removed = cut
        if not edit_definition(cur, table, definition, operator.eq):
            raise UnsupportedChange(
                f"SQLite cannot drop column `{column}` of `{table}` while "
                f"{' and '.join(removed)} name(s) it, and could not remove them (the table "
                "has triggers, or the connection does not allow schema edits); drop the "
                "column by hand in a RunSql migration"
            )
    for stmt in statements:
        cur.execute(stmt)


def swap(
    cur: sqlite3.Cursor,
    table: str,
    statements: Sequence[str],
    modelled: Sequence[str],
    note: Callable[[str], None] | None = None,
) -> None:
    """Put the rebuilt table in place of the old one (``statements``: drop, rename,
    the models' indexes), keeping the old table's triggers and the indexes that are not in
    its models (made by hand or by RunSql: partial, expression, unique ones).

    They are read just before the drop, so they are the table's objects at that point of
    the migration: one a RunSql created earlier in it is kept, one it dropped stays
    dropped. An index that uses a column the rebuild removed goes with the column, as on
    PostgreSQL. An index the models now make under umbral's name (the same columns, the
    same uniqueness: an index ``inspectdb`` adopted with its legacy name) is not made
    twice; one the models had before (``modelled``, their ``CREATE INDEX``) and no longer
    have goes, whatever its name. A trigger the rebuild would break (one that names a removed
    column, here or on another table) stops the migration: SQLite would accept it and
    fail every write that fires it.
    """
    import sqlite3

    columns = f"PRAGMA table_info({quote(table)})"
    before = {r[1].lower() for r in cur.execute(columns)}
    specs = index_specs(cur, table)
    indexes = [
        (name, sql)
        for name, sql in indexes_sql(cur, table)
        if name not in specs or name != index_name(table, *specs[name][:2])
    ]
    triggers = cur.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name",
        (table,),
    ).fetchall()
    broken = broken_triggers(cur)
    for stmt in statements:
        if note is not None:
            note(stmt)
        cur.execute(stmt)
    gone = before - {r[1].lower() for r in cur.execute(columns)}
    made = set(index_specs(cur, table).values())
    had = {spec_of(create) for create in modelled}
    keep = [
        ("index", name, _CREATE_INDEX.sub(r"\1 IF NOT EXISTS ", sql, count=1))
        for name, sql in indexes
        # The models' indexes, just made, win a clash of names (IF NOT EXISTS).
        if specs.get(name) not in made
        and not index_columns(sql) & gone
        and not plain(specs.get(name), had)
    ] + [("trigger", name, sql) for name, sql in triggers]
    for kind, name, sql in keep:
        try:
            cur.execute(sql)
        except sqlite3.Error as exc:
            raise UnsupportedChange(
                f"the rebuild of `{table}` cannot re-create its {kind} `{name}` ({exc}); "
                f"drop or change the {kind} in the same migration, before the change"
            ) from exc
    for name, error in broken_triggers(cur).items():
        if name not in broken:
            raise UnsupportedChange(
                f"the rebuild of `{table}` would break trigger `{name}` ({error}); drop or "
                "change the trigger in the same migration, before the change"
            )


def has_index_like(cur: sqlite3.Cursor, table: str, create: str) -> bool:
    """Whether ``table`` has an index that indexes as ``create`` (one of umbral's
    ``CREATE [UNIQUE] INDEX``, on plain ascending columns) would."""
    return bool(indexes_like(cur, table, spec_of(create)))


def indexes_like(cur: sqlite3.Cursor, table: str, spec: Spec) -> list[str]:
    """The names of the indexes of ``table`` on plain ascending ``spec[0]`` (in that
    order) with uniqueness ``spec[1]``: a UNIQUE constraint's automatic index included."""
    return [
        name
        for name, (cols, unique, keys) in index_specs(cur, table).items()
        if (cols, unique) == spec and not any(d for d, _ in keys)
    ]


def defines_unique_like(cur: sqlite3.Cursor, table: str, spec: Spec) -> bool:
    """Whether an index of ``table`` that indexes as ``spec`` says is a UNIQUE constraint of
    the table's definition (only a rebuild removes it)."""
    found = indexes_like(cur, table, spec)
    # (seq, name, unique, origin, partial): origin "c" is a CREATE INDEX
    listed = cur.execute(f"PRAGMA index_list({quote(table)})").fetchall()
    return bool({r[1] for r in listed if r[3] != "c"} & set(found))


def drop_indexes_like(cur: sqlite3.Cursor, table: str, spec: Spec) -> None:
    """Drop every index of ``table`` that indexes as ``spec`` says, whatever its name."""
    for index in indexes_like(cur, table, spec):
        cur.execute(f"DROP INDEX {quote(index)}")


def indexes_sql(cur: sqlite3.Cursor, table: str) -> list[tuple[str, str]]:
    """(name, stored SQL) of the indexes of ``table`` made by CREATE INDEX."""
    return cur.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name = ? ORDER BY name",
        (table,),
    ).fetchall()


def broken_triggers(cur: sqlite3.Cursor) -> dict[str, str]:
    """The triggers that no longer compile, with SQLite's error: each is compiled by
    EXPLAIN of a statement that fires it (nothing runs)."""
    import sqlite3

    out = {}
    rows = cur.execute(
        "SELECT t.name, t.tbl_name, t.sql FROM sqlite_master t JOIN sqlite_master o "
        "ON o.name = t.tbl_name AND o.type = 'table' WHERE t.type = 'trigger'"
    ).fetchall()
    for name, table, sql in rows:
        q = quote(table)
        event = trigger_event(sql)
        if event == "INSERT":
            probe = f"INSERT INTO {q} DEFAULT VALUES"
        elif event == "DELETE":
            probe = f"DELETE FROM {q}"
        else:
            cols = [quote(r[1]) for r in cur.execute(f"PRAGMA table_info({q})")]
            probe = f"UPDATE {q} SET " + ", ".join(f"{c} = {c}" for c in cols)
        try:
            cur.execute(f"EXPLAIN {probe}").fetchall()
        except sqlite3.Error as exc:
            out[name] = str(exc)
    return out


def index_specs(cur: sqlite3.Cursor, table: str) -> dict[str, tuple]:
    """The full (not partial) indexes of ``table`` on columns (no expression), by name:
    (columns, unique, (descending, collation) of each column). Two indexes with the same
    spec index the same way; umbral names an index after its columns and uniqueness."""
    out = {}
    for _seq, name, unique, _origin, partial in cur.execute(
        f"PRAGMA index_list({quote(table)})"
    ).fetchall():
        # (seqno, cid, name, desc, coll, key); cid -2 is an expression
        keys = [r for r in cur.execute(f"PRAGMA index_xinfo({quote(name)})") if r[5]]
        if not partial and all(r[1] >= 0 for r in keys):
            cols = tuple(r[2] for r in keys)
            out[name] = (cols, bool(unique), tuple((r[3], r[4].upper()) for r in keys))
    return out


def edit_definition(
    cur: sqlite3.Cursor,
    table: str,
    definition: str,
    allowed: Callable[[list, list], bool] | None = None,
) -> bool:
    """Alter a column by editing the table's stored definition: no row is copied.

    This is the procedure SQLite documents for changes that do not touch the rows on disk
    (lang_altertable.html, "making other kinds of table schema changes": removing NOT NULL,
    and here a declared type of the same affinity, which decides how values are stored and
    so leaves the stored ones as they are; not a default, see
    ``SQLiteBackend._definition_only``): only the ``CREATE TABLE`` text in ``sqlite_master``
    changes, and bumping ``schema_version`` makes every connection re-read it. Taken only
    when the table has no triggers and schema edits are allowed (not
    ``SQLITE_DBCONFIG_DEFENSIVE``). It runs in a savepoint and is checked afterwards
    (``allowed`` compares ``PRAGMA table_info`` before and after; by default
    ``edited_in_place``); anything unexpected undoes it and returns False.
    """
    import sqlite3

    if cur.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchone():
        return False
    info = f"PRAGMA table_info({quote(table)})"
    before = cur.execute(info).fetchall()
    # SQLite's advice: make sure the new text parses before it goes into the schema.
    probe = (
        f"CREATE TABLE {quote(f'_umbral_new_{table}')} "
        + definition[len(parse(definition).head) :].lstrip()
    )
    try:
        cur.execute(f"EXPLAIN {probe}").fetchall()
    except sqlite3.Error:
        return False
    cur.execute("SAVEPOINT umbral_edit_definition")
    try:
        cur.execute("PRAGMA writable_schema = ON")
        try:
            if cur.execute("PRAGMA writable_schema").fetchone() != (1,):
                raise _Declined  # defensive mode ignores the pragma
            version = int(cur.execute("PRAGMA schema_version").fetchone()[0])
            cur.execute(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (definition, table),
            )
            cur.execute(f"PRAGMA schema_version = {version + 1}")
        finally:
            cur.execute("PRAGMA writable_schema = OFF")
        if not (allowed or edited_in_place)(before, cur.execute(info).fetchall()):
            raise _Declined
    except (_Declined, sqlite3.Error):
        # Undone: the table is as it was, and the rebuild runs.
        cur.execute("ROLLBACK TO umbral_edit_definition")
        cur.execute("RELEASE umbral_edit_definition")
        return False
    cur.execute("RELEASE umbral_edit_definition")
    return True


def plain(spec: tuple | None, specs: set[tuple[tuple[str, ...], bool]]) -> bool:
    """Whether an index of ``spec`` (``index_specs``) indexes as one of
    ``specs`` (columns, unique) does: the same columns, ascending, and uniqueness."""
    return spec is not None and spec[:2] in specs and not any(d for d, _ in spec[2])


def spec_of(create: str) -> Spec:
    """(columns, unique) of one of umbral's ``CREATE [UNIQUE] INDEX`` statements."""
    tokens = tokenize(create)
    start = next(i for i, t in enumerate(tokens) if t.text == "(")
    columns = tuple(str(t.name) for t in tokens[start:] if t.kind == "ident")
    return columns, tokens[1].word == "UNIQUE"


#: The start of an index's stored ``CREATE [UNIQUE] INDEX`` text.
_CREATE_INDEX = re.compile(r"^\s*(CREATE\s+(?:UNIQUE\s+)?INDEX)\s+", re.IGNORECASE)


class _Declined(Exception):
    """An edit found the database not as it requires (its savepoint is rolled back)."""


def affinity(declared: str) -> str:
    """The type affinity SQLite gives a column declared with type ``declared`` (the rules of
    datatype3.html, section 3.1, in their order)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def edited_in_place(before: list, after: list) -> bool:
    """``PRAGMA table_info`` rows (cid, name, type, notnull, dflt_value, pk) after an in-place
    edit: the same columns in the same order, one of them changed, and only in what the edit
    may change: NOT NULL dropped (never added), the declared type within its affinity; never
    the default (``SQLiteBackend._definition_only``)."""
    if len(before) != len(after):
        return False
    changed = [(tuple(b), tuple(a)) for b, a in zip(before, after, strict=True) if b != a]
    if len(changed) != 1:
        return False
    (cid, name, type_, notnull, default, pk), new = changed[0]
    return (
        new[:2] == (cid, name)
        and new[4] == default
        and new[5] == pk
        and new[3] <= notnull
        and affinity(new[2]) == affinity(type_)
    )
