"""What SQLAlchemy's SQLite reflection loses, read back for inspectdb (tech notes §3.1)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from umbral.inspect.reader import RawForeignKey, RawIndex, RawTable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def fixup(conn: Connection, table: RawTable) -> None:
    """Re-read from PRAGMAs what SQLAlchemy's SQLite reflection loses (tech notes §3.1)."""
    q = '"' + table.name.replace('"', '""') + '"'
    info = conn.exec_driver_sql(f"PRAGMA table_info({q})").fetchall()
    declared = {row[1]: row for row in info}  # cid, name, type, notnull, dflt_value, pk
    for col in table.columns:
        row = declared.get(col.name)
        if row is None:
            continue
        col.type, col.default = row[2] or "", row[4]
    # Only the exact declared type INTEGER makes a single-column primary key the rowid alias.
    if len(table.pk) == 1 and declared[table.pk[0]][2].strip().upper() == "INTEGER":
        pk = table.column(table.pk[0])
        pk.autoincrement = pk.rowid = True
    # An inline `REFERENCES t(c) ON DELETE CASCADE` loses its actions in the inspector.
    groups: dict[int, list[Any]] = {}
    for row in conn.exec_driver_sql(f"PRAGMA foreign_key_list({q})").fetchall():
        groups.setdefault(row[0], []).append(row)  # id, seq, table, from, to, on_update, on_delete
    table.fks = []
    for rows in groups.values():
        rows.sort(key=lambda r: r[1])
        table.fks.append(
            RawForeignKey(
                columns=tuple(r[3] for r in rows),
                target=rows[0][2],
                target_columns=tuple(r[4] for r in rows if r[4] is not None),
                on_delete=rows[0][6],
                on_update=rows[0][5],
            )
        )
    # The generated columns' expressions, read from the stored definition: SQLAlchemy's regex
    # misses `x AS (...)` without GENERATED ALWAYS and runs past a nested parenthesis.
    stored = _stored_sql(conn, "table", table.name)
    generated = sqlite_generated(stored) if stored else {}
    for col in table.columns:
        if col.generated is not None:
            col.generated = generated.get(col.name.lower(), col.generated)
    triggers = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
        "ORDER BY name",
        (table.name,),
    ).fetchall()
    table.triggers = [f"{name} ({sqlite_trigger_when(sql or '')})" for name, sql in triggers]
    # An inline UNIQUE after a parenthesised type is invisible to get_unique_constraints();
    # index_list is complete: origin 'u' = UNIQUE constraint, 'c' = CREATE INDEX, 'pk' = the PK.
    table.indexes = []
    for row in conn.exec_driver_sql(f"PRAGMA index_list({q})").fetchall():
        _seq, name, unique, origin, partial = row[:5]
        if origin == "pk":
            continue
        qi = '"' + name.replace('"', '""') + '"'
        # seqno, cid, name, desc, collation, key: the key columns in order, with their order.
        cols = [c for c in conn.exec_driver_sql(f"PRAGMA index_xinfo({qi})").fetchall() if c[5]]
        cols.sort(key=lambda c: c[0])
        names = tuple(c[2] for c in cols)
        where = sqlite_index_where(_stored_sql(conn, "index", name) or "") if partial else None
        descending = tuple(f"{c[2] or '(expression)'} DESC" for c in cols if c[3])
        table.indexes.append(
            RawIndex(names, bool(unique), bool(partial), name, where=where, descending=descending)
        )


def _stored_sql(conn: Connection, kind: str, name: str) -> str | None:
    row = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = ? AND name = ?", (kind, name)
    ).fetchone()
    return row[0] if row else None


# Enough of SQLite's lexer to find parentheses and words outside strings and quoted names.
_SQL_TOKEN = re.compile(
    r"""(?P<space>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
      | (?P<string>'(?:[^']|'')*')
      | (?P<ident>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
      | (?P<word>\w+)
      | (?P<other>.)""",
    re.DOTALL | re.VERBOSE,
)


def _tokens(sql: str) -> list[tuple[str, str, int, int]]:
    """``(kind, text, start, end)`` of every token of ``sql`` but spaces and comments."""
    return [
        (m.lastgroup or "", m.group(), m.start(), m.end())
        for m in _SQL_TOKEN.finditer(sql)
        if m.lastgroup != "space"
    ]


def _unquote(text: str) -> str:
    if text[:1] in ('"', "`"):
        return text[1:-1].replace(text[0] * 2, text[0])
    return text[1:-1] if text[:1] == "[" else text


def sqlite_generated(create_table: str) -> dict[str, str]:
    """``column (lower case) -> expression`` of the generated columns of a ``CREATE TABLE``:
    the parenthesis after a column definition's ``AS`` (``GENERATED ALWAYS`` is optional)."""
    tokens = _tokens(create_table)
    out: dict[str, str] = {}
    depth, column, first, after_as, start = 0, None, False, False, 0
    for kind, text, begin, end in tokens:
        if text == "(":
            depth += 1
            if depth == 1:
                first = True  # the table's body opens: a column name comes next
            elif depth == 2 and after_as:
                start = end
        elif text == ")":
            if depth == 2 and after_as and column is not None:
                out[column.lower()] = create_table[start:begin].strip()
                after_as = False
            depth -= 1
        elif depth == 1 and text == ",":
            first, after_as = True, False
        elif depth == 1 and first:
            first = False
            column = None if text.upper() in _TABLE_CONSTRAINTS else _unquote(text)
        elif depth == 1 and kind == "word" and text.upper() == "AS":
            after_as = True
    return out


def sqlite_trigger_when(create_trigger: str) -> str:
    """``AFTER UPDATE``: when a stored ``CREATE TRIGGER`` fires (BEFORE when it does not say),
    from its words before ``ON`` (after the trigger's name)."""
    words = []
    for kind, text, _begin, _end in _tokens(create_trigger)[3:]:
        if kind == "word" and text.upper() == "ON":
            break
        words.append(text.upper())
    timing = next((w for w in words if w in ("BEFORE", "AFTER", "INSTEAD")), "BEFORE")
    event = next((w for w in words if w in ("INSERT", "UPDATE", "DELETE")), "")
    return f"{'INSTEAD OF' if timing == 'INSTEAD' else timing} {event}".strip()


_TABLE_CONSTRAINTS = frozenset({"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"})


def sqlite_index_where(create_index: str) -> str | None:
    """The predicate of a partial ``CREATE INDEX``: what follows WHERE after the columns."""
    depth, closed = 0, False
    for kind, text, _begin, end in _tokens(create_index):
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            closed = closed or depth == 0
        elif closed and depth == 0 and kind == "word" and text.upper() == "WHERE":
            return create_index[end:].strip().rstrip(";").strip()
    return None
