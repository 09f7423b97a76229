"""Read a database's schema for inspectdb: reflection plus per-dialect fix-ups (read-only)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from umbral import recorder

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


# -- raw schema ---------------------------------------------------------------------------------


@dataclass
class RawColumn:
    name: str
    type: str  # the declared type as the database spells it: "varchar(100)", "integer unsigned"
    nullable: bool
    default: str | None  # raw SQL text of the server default
    comment: str | None = None
    autoincrement: bool = False  # a rowid alias, identity or serial column
    rowid: bool = False  # SQLite: the single INTEGER PRIMARY KEY, an alias of the 64-bit rowid
    generated: str | None = None  # the expression of a generated (computed) column


@dataclass
class RawForeignKey:
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"
    name: str | None = None


@dataclass
class RawIndex:
    columns: tuple[str | None, ...]  # None for an expression
    unique: bool
    partial: bool = False
    name: str | None = None
    where: str | None = None  # the predicate of a partial index, as the database spells it
    descending: tuple[str, ...] = ()  # columns in a non-default order ("label DESC")


@dataclass
class RawTable:
    name: str
    columns: list[RawColumn]
    pk: tuple[str, ...]
    fks: list[RawForeignKey] = field(default_factory=list)
    indexes: list[RawIndex] = field(default_factory=list)  # unique constraints included
    checks: list[str] = field(default_factory=list)
    comment: str | None = None

    def column(self, name: str) -> RawColumn:
        return next(c for c in self.columns if c.name == name)


def read_schema(
    conn: Connection, keep: Callable[[str], bool] = lambda name: True
) -> tuple[list[RawTable], list[str]]:
    """The user tables of the connection's default schema that ``keep`` accepts, sorted by
    name, and the views it accepts. A table left out is not read at all."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    tables: list[RawTable] = []
    for name in sorted(insp.get_table_names()):
        # The inspector already leaves out sqlite_* and other schemas' (system) tables.
        if name != recorder.TABLE and keep(name):
            tables.append(_read_table(conn, insp, name))
    return tables, sorted(v for v in insp.get_view_names() if keep(v))


def table_names(conn: Connection) -> list[str]:
    """Every table and view name ``read_schema`` could read (what --include/--exclude match)."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    return sorted({*insp.get_table_names(), *insp.get_view_names()} - {recorder.TABLE})


def _read_table(conn: Connection, insp: Any, name: str) -> RawTable:
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        # "Skipped unsupported reflection of expression-based index": reported as our warning.
        warnings.simplefilter("ignore", SAWarning)
        table = _reflect(conn, insp, name)
    fixup = _FIXUPS.get(conn.dialect.name)
    if fixup is not None:
        fixup(conn, table)
    return table


def _reflect(conn: Connection, insp: Any, name: str) -> RawTable:
    columns = [
        RawColumn(
            name=c["name"],
            type=_compile_type(conn, c["type"]),
            nullable=bool(c["nullable"]),
            default=c.get("default"),
            comment=c.get("comment"),
            autoincrement=bool(c.get("identity")) or "nextval(" in str(c.get("default") or ""),
            generated=(c.get("computed") or {}).get("sqltext"),
        )
        for c in insp.get_columns(name)
    ]
    pk = tuple(insp.get_pk_constraint(name).get("constrained_columns") or ())
    fks = [
        RawForeignKey(
            columns=tuple(fk["constrained_columns"]),
            target=fk["referred_table"],
            target_columns=tuple(fk["referred_columns"]),
            on_delete=(fk.get("options") or {}).get("ondelete") or "NO ACTION",
            on_update=(fk.get("options") or {}).get("onupdate") or "NO ACTION",
            name=fk.get("name"),
        )
        for fk in insp.get_foreign_keys(name)
        if fk.get("referred_schema") in (None, insp.default_schema_name)
    ]
    indexes = [
        RawIndex(tuple(u["column_names"]), True, name=u.get("name"))
        for u in insp.get_unique_constraints(name)
    ]
    for ix in insp.get_indexes(name):
        if ix.get("duplicates_constraint"):
            continue  # the index behind a unique constraint, already read above
        options = ix.get("dialect_options") or {}
        # The predicate is a string on PostgreSQL and a SQL clause object on SQLite.
        where = next((v for k, v in options.items() if k.endswith("_where")), None)
        sorting = ix.get("column_sorting") or {}
        indexes.append(
            RawIndex(
                tuple(ix["column_names"]),
                bool(ix["unique"]),
                where is not None,
                ix.get("name"),
                where=None if where is None else str(where),
                # ("desc", "nulls_first") -> "DESC NULLS FIRST"
                descending=tuple(
                    f"{c} {' '.join(s).upper().replace('_', ' ')}" for c, s in sorting.items()
                ),
            )
        )
    try:
        checks = [c["sqltext"] for c in insp.get_check_constraints(name)]
    except NotImplementedError:  # a dialect without CHECK reflection
        checks = []
    try:
        comment = insp.get_table_comment(name).get("text")
    except NotImplementedError:  # SQLite: tables have no comments
        comment = None
    return RawTable(name, columns, pk, fks, indexes, checks, comment)


def _compile_type(conn: Connection, sa_type: Any) -> str:
    try:
        return str(sa_type.compile(dialect=conn.dialect))
    except Exception:  # NullType and friends: the dialect fix-up supplies the real name
        return str(sa_type)


def _sqlite_fixup(conn: Connection, table: RawTable) -> None:
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


def _postgres_fixup(conn: Connection, table: RawTable) -> None:
    """Declared types as Postgres spells them: the inspector turns unknown ones into NullType."""
    from sqlalchemy import text

    rows = conn.execute(
        text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = :t AND a.attnum > 0 "
            "AND NOT a.attisdropped"
        ),
        {"t": table.name},
    ).fetchall()
    declared = dict(rows)  # type: ignore[arg-type]
    for col in table.columns:
        col.type = declared.get(col.name, col.type)


# Dialect differences are data: a dialect without an entry is read through the inspector alone.
_FIXUPS: dict[str, Callable[[Any, RawTable], None]] = {
    "sqlite": _sqlite_fixup,
    "postgresql": _postgres_fixup,
}


def read_table(conn: Connection, table: str) -> RawTable:
    """One table as the database declares it (``--fake-initial`` compares it)."""
    from sqlalchemy import inspect

    return _read_table(conn, inspect(conn), table)


# -- mapping ------------------------------------------------------------------------------------

_TEXT_TYPES = (
    "text", "varchar", "character varying", "char", "character", "nchar", "nvarchar",
    "varying character", "native character", "clob", "string",
)  # fmt: skip
# Declared type (lower case, parameters and signedness stripped) -> umbral field type (SPEC §2).
TYPE_MAP: dict[str, str] = {
    **dict.fromkeys(("smallint", "int2", "tinyint"), "SmallInt"),
    **dict.fromkeys(("integer", "int", "int4", "mediumint"), "Integer"),
    **dict.fromkeys(("bigint", "int8"), "BigInt"),
    **dict.fromkeys(("real", "float4"), "Real"),
    **dict.fromkeys(("double", "double precision", "float8", "float"), "Double"),
    **dict.fromkeys(("boolean", "bool"), "Boolean"),
    **dict.fromkeys(_TEXT_TYPES, "Text"),
    "date": "Date",
    **dict.fromkeys(("time", "time without time zone", "time with time zone", "timetz"), "Time"),
    **dict.fromkeys(("timestamp", "timestamp without time zone", "datetime"), "Timestamp"),
    **dict.fromkeys(("timestamptz", "timestamp with time zone"), "Timestamptz"),
    "uuid": "Uuid",
    **dict.fromkeys(("json", "jsonb"), "Json"),
    **dict.fromkeys(("blob", "bytea", "binary", "varbinary"), "Bytes"),
    **dict.fromkeys(("decimal", "numeric"), "Decimal"),
}
_LENGTH_TYPES = frozenset({"varchar", "character varying", "nvarchar", "varying character",
                           "char", "character", "nchar", "native character"})  # fmt: skip


def map_type(declared: str) -> tuple[str, int | None] | None:
    """``(umbral type, max_length)`` for a declared column type, or None when unmappable."""
    text = declared.strip().lower()
    if text.endswith("]"):
        return None  # Postgres arrays
    length = re.search(r"\(\s*(\d+)\s*[,)]", text)
    base = re.sub(r"\([^)]*\)", " ", text)
    base = re.sub(r"\b(unsigned|signed)\b", " ", base)
    base = " ".join(base.split())
    umbral_type = TYPE_MAP.get(base)
    if umbral_type is None:
        return None
    max_length = int(length.group(1)) if length and base in _LENGTH_TYPES else None
    return umbral_type, max_length


_FK_ACTIONS = {
    "CASCADE": "cascade", "RESTRICT": "restrict", "SET NULL": "set_null", "NO ACTION": "no_action",
}  # fmt: skip
_NOW = {
    "current_timestamp", "now()", "localtimestamp", "transaction_timestamp()",
    "statement_timestamp()", "clock_timestamp()", "datetime('now')", "current_date",
    "current_time", "localtime", "date('now')", "time('now')",
}  # fmt: skip
_TEMPORAL = frozenset({"Date", "Time", "Timestamp", "Timestamptz"})
_BARE = re.compile(r"[A-Za-z0-9._+-]+")
