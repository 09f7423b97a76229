"""Read a database's schema for inspectdb: reflection plus the backend's fix-ups (read-only)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from umbral import recorder
from umbral.backend import backend_of
from umbral.values import record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


# -- raw schema ---------------------------------------------------------------------------------


@record
class RawColumn:
    name: str
    type: str  # the declared type as the database spells it: "varchar(100)", "integer unsigned"
    nullable: bool
    default: str | None  # raw SQL text of the server default
    comment: str | None = None
    autoincrement: bool = False  # a rowid alias, identity or serial column
    rowid: bool = False  # SQLite: the single INTEGER PRIMARY KEY, an alias of the 64-bit rowid
    generated: str | None = None  # the expression of a generated (computed) column
    #: What the database sets the column to on every update of its row, as it spells it
    #: (``current_timestamp()``: MySQL / MariaDB's ``ON UPDATE``); no model carries it.
    on_update: str | None = None


@record
class RawForeignKey:
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"
    name: str | None = None


@record
class RawIndex:
    columns: tuple[str | None, ...]  # None for an expression
    unique: bool
    partial: bool = False
    name: str | None = None
    where: str | None = None  # the predicate of a partial index, as the database spells it
    descending: tuple[str, ...] = ()  # columns in a non-default order ("label DESC")
    #: Columns with an operator class (PostgreSQL's ``varchar_pattern_ops``: Django's
    #: ``_like`` index for LIKE lookups).
    opclasses: tuple[str, ...] = ()


@record
class RawTable:
    name: str
    columns: list[RawColumn]
    pk: tuple[str, ...]
    fks: list[RawForeignKey] = field(default_factory=list)
    indexes: list[RawIndex] = field(default_factory=list)  # unique constraints included
    checks: list[str] = field(default_factory=list)
    comment: str | None = None
    #: The table's triggers, each as ``name (AFTER UPDATE)``: read by the backend's fix-up.
    triggers: list[str] = field(default_factory=list)

    def column(self, name: str) -> RawColumn:
        return next(c for c in self.columns if c.name == name)

    def leads_an_index(self, column: str) -> bool:
        """Whether the primary key, or an index or unique constraint on plain columns (not
        partial, no expression, no operator class), starts with ``column``: such an index
        serves a foreign key on it as one of its own would (a look-up by its first column)."""
        return self.pk[:1] == (column,) or any(
            ix.columns[:1] == (column,)
            and None not in ix.columns
            and not ix.partial
            and not ix.opclasses
            for ix in self.indexes
        )


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
        if name not in recorder.OWN_TABLES and keep(name):
            tables.append(_read_table(conn, insp, name))
    return tables, sorted(v for v in insp.get_view_names() if keep(v))


def table_names(conn: Connection) -> list[str]:
    """Every table and view name ``read_schema`` could read (what --include/--exclude match)."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    return sorted({*insp.get_table_names(), *insp.get_view_names()} - recorder.OWN_TABLES)


def _read_table(conn: Connection, insp: Any, name: str) -> RawTable:
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        # "Skipped unsupported reflection of expression-based index": reported as our warning.
        warnings.simplefilter("ignore", SAWarning)
        table = _reflect(conn, insp, name)
    # What reflection loses on this database, read back by its backend.
    backend_of(conn).inspect_fixup(conn, table)
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
                opclasses=tuple(
                    f"{c} {op}"
                    for k, v in options.items()
                    if k.endswith("_ops") and isinstance(v, dict)
                    for c, op in v.items()
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
