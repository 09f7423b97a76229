"""inspectdb: adopt a database umbral did not create (SPEC §11).

Three stages, each a plain function:

1. **read** — :func:`read_schema` reflects the database through SQLAlchemy's inspector on a
   read-only connection, then lets a per-dialect fix-up fill in what that reflection loses
   (SQLite: declared types, inline FK actions and inline UNIQUEs through PRAGMA queries;
   PostgreSQL: exact declared types through ``format_type``). The result is :class:`RawTable` data.
2. **map** — :func:`plan_models` turns raw tables into model plans: umbral field types, literal
   defaults, ``auto_now_add``, primary keys, FKs with their actions, unique/index flags and
   groups, and two-FK junction tables folded into ManyToMany fields.
3. **write** — :func:`render_models` writes ``models.py``; the initial migration's snapshot is
   built by importing that very text and running it through :func:`umbral.models.build_snapshots`,
   so ``makemigrations`` on the written models reports no changes by construction.

The engine never prints: :func:`inspectdb` returns an :class:`InspectResult` (warnings included)
and the CLI formats it. Nothing is written unless every table maps; the source database is only
read, except for the tracking row ``--mark-applied`` asks for.
"""

from __future__ import annotations

import contextlib
import json
import keyword
import os
import re
import textwrap
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umbral import recorder
from umbral.errors import ConfigError, DatabaseError, UmbralError
from umbral.migration import Migration
from umbral.naming import index_name, table_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from umbral.backend import Backend
    from umbral.schema import Snapshot

INITIAL_ID = "0001_initial"


class UnsupportedColumnType(UmbralError):
    """A column's type has no umbral field type (SPEC §11: exit 1, nothing written)."""


class UnsupportedTable(UmbralError):
    """A table cannot be expressed as an umbral model (no or a composite primary key)."""


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


@dataclass
class RawForeignKey:
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"


@dataclass
class RawIndex:
    columns: tuple[str | None, ...]  # None for an expression
    unique: bool
    partial: bool = False
    name: str | None = None


@dataclass
class RawTable:
    name: str
    columns: list[RawColumn]
    pk: tuple[str, ...]
    fks: list[RawForeignKey] = field(default_factory=list)
    indexes: list[RawIndex] = field(default_factory=list)  # unique constraints included
    checks: list[str] = field(default_factory=list)

    def column(self, name: str) -> RawColumn:
        return next(c for c in self.columns if c.name == name)


def read_schema(conn: Connection) -> tuple[list[RawTable], list[str]]:
    """Every user table of the connection's default schema, sorted by name, and the views."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    tables: list[RawTable] = []
    for name in sorted(insp.get_table_names()):
        # The inspector already leaves out sqlite_* and other schemas' (system) tables.
        if name != recorder.TABLE:
            tables.append(_read_table(conn, insp, name))
    return tables, sorted(insp.get_view_names())


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
        )
        for fk in insp.get_foreign_keys(name)
        if fk.get("referred_schema") in (None, insp.default_schema_name)
    ]
    indexes = [
        RawIndex(tuple(u["column_names"]), True, name=u.get("name"))
        for u in insp.get_unique_constraints(name)
    ]
    for ix in insp.get_indexes(name):
        options = ix.get("dialect_options") or {}
        partial = any(k.endswith("_where") and v for k, v in options.items())
        indexes.append(
            RawIndex(tuple(ix["column_names"]), bool(ix["unique"]), partial, ix.get("name"))
        )
    try:
        checks = [c["sqltext"] for c in insp.get_check_constraints(name)]
    except NotImplementedError:  # a dialect without CHECK reflection
        checks = []
    return RawTable(name, columns, pk, fks, indexes, checks)


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
    # An inline UNIQUE after a parenthesised type is invisible to get_unique_constraints();
    # index_list is complete: origin 'u' = UNIQUE constraint, 'c' = CREATE INDEX, 'pk' = the PK.
    table.indexes = []
    for row in conn.exec_driver_sql(f"PRAGMA index_list({q})").fetchall():
        _seq, name, unique, origin, partial = row[:5]
        if origin == "pk":
            continue
        qi = '"' + name.replace('"', '""') + '"'
        cols = conn.exec_driver_sql(f"PRAGMA index_info({qi})").fetchall()
        names = tuple(c[2] for c in sorted(cols, key=lambda c: c[0]))
        table.indexes.append(RawIndex(names, bool(unique), bool(partial), name))


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


def declared_types(conn: Connection, table: str) -> dict[str, str]:
    """``column -> declared type`` of one table (``--fake-initial`` compares these).

    SQLAlchemy's SQLite reflection reports a type it does not know (``TIMESTAMPTZ``, ``UUID``,
    which umbral itself writes) as ``NUMERIC``; the declared name is what tells them apart.
    """
    from sqlalchemy import inspect

    return {c.name: c.type for c in _read_table(conn, inspect(conn), table).columns}


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


@dataclass
class FieldPlan:
    attr: str
    column: str
    kind: str  # an umbral field class name
    options: dict[str, Any] = field(default_factory=dict)
    target: str | None = None  # FK / M2M target table
    notes: list[str] = field(default_factory=list)


@dataclass
class ModelPlan:
    name: str  # class name
    table: str
    fields: list[FieldPlan] = field(default_factory=list)
    m2m: list[FieldPlan] = field(default_factory=list)
    unique_together: list[tuple[str, ...]] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)
    explicit_table: bool = False
    notes: list[str] = field(default_factory=list)
    legacy_indexes: list[str] = field(default_factory=list)
    depends_on: set[str] = field(default_factory=set)


def plan_models(
    tables: list[RawTable], plugin: str, warn: Callable[[str], None]
) -> list[ModelPlan]:
    """Map raw tables to model plans, FK targets first. Raises when a table cannot map."""
    _check_types(tables)
    by_name = {t.name: t for t in tables}
    junctions = {t.name: j for t in tables if (j := _junction(t, by_name)) is not None}
    for t in tables:
        if t.name in junctions:
            continue
        if not t.pk:
            raise UnsupportedTable(
                f"umbral inspectdb: table `{t.name}` has no primary key; umbral models have a "
                "single-column primary key. Add one to the table and re-run inspectdb; nothing "
                "was written"
            )
        if len(t.pk) > 1:
            raise UnsupportedTable(
                f"umbral inspectdb: table `{t.name}` has a composite primary key "
                f"({', '.join(t.pk)}); umbral models have a single-column primary key (only a "
                "junction table of exactly two foreign keys may have one: it becomes a "
                "ManyToMany field). Nothing was written"
            )
    names = _class_names([t.name for t in tables if t.name not in junctions], plugin)
    plans: dict[str, ModelPlan] = {}
    for t in tables:
        if t.name in junctions:
            continue
        plans[t.name] = _plan_table(t, names[t.name], plugin, by_name, junctions, warn)
    for _table, (parent, fieldname, child) in sorted(junctions.items()):
        plans[parent].m2m.append(FieldPlan(fieldname, fieldname, "ManyToMany", target=child))
        plans[parent].depends_on.add(child)  # so the target class is defined first when it can be
    legacy = sorted(n for p in plans.values() for n in p.legacy_indexes)
    if legacy:
        # umbral drops and re-creates indexes by its own names (idx_/uniq_<table>_<columns>);
        # `DROP INDEX IF EXISTS idx_...` would silently miss these.
        warn(
            f"{len(legacy)} index(es) keep their database names ({', '.join(legacy[:5])}"
            f"{', ...' if len(legacy) > 5 else ''}), not umbral's idx_/uniq_<table>_<columns>: "
            "to drop or change one of them later, write a RunSql migration"
        )
    order = _topological({p.table: p.depends_on - {p.table} for p in plans.values()})
    return [plans[t] for t in order]


def _check_types(tables: list[RawTable]) -> None:
    bad = [(t.name, c) for t in tables for c in t.columns if map_type(c.type) is None]
    if not bad:
        return
    table, col = bad[0]
    shown = col.type or "(no declared type)"
    err = UnsupportedColumnType(
        f"umbral inspectdb: cannot map column `{table}.{col.name}` of type `{shown}` to an "
        "umbral field type; nothing was written"
    )
    err.details = (
        *(f"  {t}.{c.name}: {c.type or '(no declared type)'}" for t, c in bad[1:]),
        "umbral field types: " + ", ".join(sorted(set(TYPE_MAP.values()))) + ". Change the "
        "column's type (or drop the table) in the database, or adopt it by hand.",
    )
    raise err


def _junction(t: RawTable, by_name: dict[str, RawTable]) -> tuple[str, str, str] | None:
    """``(parent table, field, child table)`` when ``t`` is a pure two-FK junction table.

    Pure: exactly two single-column NOT NULL foreign keys to other tables' primary keys, no
    other column except a surrogate single-column primary key, and a name
    ``<parent_table>_<field>`` (SPEC §2) so the ManyToMany field names the same table.
    """
    fks = [fk for fk in t.fks if len(fk.columns) == 1]
    referenced = any(fk.target == t.name for o in by_name.values() for fk in o.fks)
    if referenced or len(fks) != 2 or len(t.fks) != 2 or fks[0].columns == fks[1].columns:
        return None
    fk_cols = {fks[0].columns[0], fks[1].columns[0]}
    others = [c.name for c in t.columns if c.name not in fk_cols]
    if set(t.pk) != fk_cols and not (len(t.pk) == 1 and others == list(t.pk)):
        return None
    if len(others) > 1 or any(t.column(c).nullable for c in fk_cols):
        return None
    for fk in fks:
        target = by_name.get(fk.target)
        if target is None or len(target.pk) != 1 or fk.target_columns not in ((), target.pk):
            return None
    position = {c.name: i for i, c in enumerate(t.columns)}
    fks.sort(key=lambda fk: position[fk.columns[0]])
    for parent, child in ((fks[0], fks[1]), (fks[1], fks[0])):
        prefix = parent.target + "_"
        fieldname = t.name[len(prefix) :]
        parent_cols = {c.name for c in by_name[parent.target].columns}
        if (
            t.name.startswith(prefix)
            and fieldname.isidentifier()
            and not keyword.iskeyword(fieldname)
            and _attr_name(fieldname) == fieldname
            and fieldname not in parent_cols
        ):
            return parent.target, fieldname, child.target
    return None


def _class_names(tables: list[str], plugin: str) -> dict[str, str]:
    """A unique, round-tripping class name per table (``table=`` is written when it does not)."""
    out: dict[str, str] = {}
    taken: set[str] = {"Model", "fields", "hookimpl"}
    prefix = f"{plugin}_" if plugin != "app" else ""
    for t in tables:
        stem = t[len(prefix) :] if prefix and t.startswith(prefix) and len(t) > len(prefix) else t
        base = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", stem) if p)
        if not base or base[0].isdigit():
            base = "T" + base
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        taken.add(name)
        out[t] = name
    return out


def _attr_name(column: str) -> str:
    """A Python attribute for a column name; ``column=`` is written when they differ."""
    attr = re.sub(r"\W", "_", column)
    if not attr or attr[0].isdigit():
        attr = "c_" + attr
    # `fields` and `Model` would shadow the module-level names inside the class body.
    if keyword.iskeyword(attr) or attr in ("fields", "Model", "_meta") or attr.startswith("__"):
        attr += "_"
    return attr


def _plan_table(
    t: RawTable,
    class_name: str,
    plugin: str,
    by_name: dict[str, RawTable],
    junctions: dict[str, tuple[str, str, str]],
    warn: Callable[[str], None],
) -> ModelPlan:
    plan = ModelPlan(class_name, t.name)
    plan.explicit_table = table_name(class_name, None if plugin == "app" else plugin) != t.name
    pk = t.pk[0]
    fks: dict[str, RawForeignKey] = {}
    for fk in t.fks:
        target = by_name.get(fk.target)
        where = f"{t.name}.({', '.join(fk.columns)}) -> {fk.target}"
        if len(fk.columns) != 1:
            warn(f"{where}: a composite foreign key has no umbral field; columns kept as plain")
        elif target is None or fk.target in junctions or len(target.pk) != 1:
            warn(f"{where}: the target is not an adopted model; column kept as plain")
        elif fk.target_columns not in ((), target.pk):
            warn(f"{where}: the target column is not its primary key; column kept as plain")
        else:
            fks[fk.columns[0]] = fk
    unique_cols, single_index = _index_groups(t, plan, warn)
    if plan.legacy_indexes:
        plan.notes.append(f"index names kept from the database: {', '.join(plan.legacy_indexes)}")
    attrs: set[str] = set()
    for col in t.columns:
        fp = _plan_column(t, col, col.name == pk, fks.get(col.name), warn)
        if col.name in unique_cols and col.name != pk:
            fp.options["unique"] = True
        if col.name in single_index and col.name not in unique_cols and col.name not in fks:
            fp.options["index"] = True
        fp.attr = _attr_name(col.name)
        while fp.attr in attrs:
            fp.attr += "_"
        attrs.add(fp.attr)
        if fp.attr != col.name:
            fp.options["column"] = col.name
        if fp.target is not None:
            plan.depends_on.add(fp.target)
        # The implicit `id` BigInt primary key (SPEC §2) is exactly this; leave it out.
        implicit = fp.kind == "BigInt" and col.name == "id" and fp.options == {"primary_key": True}
        if not (implicit and col.name == pk and not fp.notes):
            plan.fields.append(fp)
    for check in t.checks:
        plan.notes.append(f"CHECK ({check}) is not represented")
        warn(f"{t.name}: CHECK ({check}) has no umbral equivalent; the model does not carry it")
    return plan


def _index_groups(
    t: RawTable, plan: ModelPlan, warn: Callable[[str], None]
) -> tuple[set[str], set[str]]:
    """Unique columns and single indexed columns; fill ``unique_together`` / ``indexes``.

    Index names are not part of a model: an index whose name is not the one umbral gives it
    (SPEC §6) is listed in ``plan.legacy_indexes`` so the user hears about it.
    """
    unique_cols: set[str] = set()
    single_index: set[str] = set()
    for ix in t.indexes:
        label = f"{t.name}: {'unique ' if ix.unique else ''}index {ix.name or ''}".rstrip()
        if ix.partial or None in ix.columns:
            warn(f"{label} is partial or on an expression; umbral models cannot carry it")
            continue
        cols = tuple(c for c in ix.columns if c is not None)
        if cols == t.pk:
            continue  # the primary key's own index
        ours = {index_name(t.name, cols, ix.unique), f"{t.name}_{'_'.join(cols)}_key"}
        if ix.name not in ours:
            plan.legacy_indexes.append(ix.name or "(unnamed)")
        if len(cols) == 1:
            (unique_cols if ix.unique else single_index).add(cols[0])
            continue
        groups = plan.unique_together if ix.unique else plan.indexes
        if cols not in groups:
            groups.append(cols)
    return unique_cols, single_index


def _plan_column(
    t: RawTable,
    col: RawColumn,
    is_pk: bool,
    fk: RawForeignKey | None,
    warn: Callable[[str], None],
) -> FieldPlan:
    mapped = map_type(col.type)
    assert mapped is not None  # _check_types ran first
    umbral_type, max_length = mapped
    where = f"{t.name}.{col.name}"
    # SQLite's rowid is 64-bit whatever the declared INTEGER says; umbral writes every integer
    # primary key as `INTEGER PRIMARY KEY AUTOINCREMENT`, so BigInt is what round-trips.
    if is_pk and col.rowid:
        umbral_type = "BigInt"
    fp = FieldPlan(col.name, col.name, umbral_type)
    opts = fp.options
    if is_pk:
        opts["primary_key"] = True
    elif col.nullable:
        opts["nullable"] = True
    if max_length is not None and umbral_type == "Text" and fk is None:
        opts["max_length"] = max_length
    if col.comment:
        opts["help"] = col.comment
    _plan_default(col, umbral_type, is_pk, opts, fp, where, warn)
    if fk is not None:
        fp.kind = "ForeignKey"
        fp.target = fk.target
        for key, raw in (("on_delete", fk.on_delete), ("on_update", fk.on_update)):
            action = _FK_ACTIONS.get((raw or "NO ACTION").upper())
            if action == "set_null" and not col.nullable:
                action = None
            if action is None:
                warn(f"{where}: ON {key[3:].upper()} {raw} has no umbral equivalent; no_action")
                fp.notes.append(f"ON {key[3:].upper()} {raw} in the database")
            elif action != "no_action":
                opts[key] = action
    return fp


def _plan_default(
    col: RawColumn,
    umbral_type: str,
    is_pk: bool,
    opts: dict[str, Any],
    fp: FieldPlan,
    where: str,
    warn: Callable[[str], None],
) -> None:
    raw = col.default
    if is_pk and col.autoincrement:
        return
    if raw is None:
        if col.autoincrement:
            warn(f"{where}: an identity column outside the primary key; the model does not say so")
            fp.notes.append("identity column in the database")
        return
    parsed = _parse_default(raw)
    if parsed == ("bare", "NULL") or parsed == ("bare", "null"):
        return
    if parsed is not None and parsed[0] == "now" and umbral_type in _TEMPORAL:
        opts["auto_now_add"] = True
        return
    value = None if parsed is None or parsed[0] == "now" else _coerce(parsed, umbral_type)
    if value is None:
        warn(f"{where}: default {raw} is not a literal umbral can store; left out of the model")
        fp.notes.append(f"database default: {raw}")
        return
    opts["default"] = value


def _parse_default(raw: str) -> tuple[str, str] | None:
    """``("string", s)``, ``("bare", token)``, ``("now", fn)`` or None for an expression."""
    s = raw.strip()
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    if s.lower() in _NOW:
        return ("now", s.lower())
    if s.startswith("'"):
        i, chars = 1, []
        while i < len(s):
            if s[i] == "'":
                if s[i + 1 : i + 2] == "'":
                    chars.append("'")
                    i += 2
                    continue
                break
            chars.append(s[i])
            i += 1
        rest = s[i + 1 :]
        # Postgres appends casts ('x'::character varying); anything else is an expression.
        if i < len(s) and (not rest or re.fullmatch(r"(::[\w ]+(\([\d, ]*\))?(\[\])?)+", rest)):
            return ("string", "".join(chars))
        return None
    s = re.sub(r"(::[\w ]+(\([\d, ]*\))?)+$", "", s)
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    if s.lower() in _NOW:
        return ("now", s.lower())
    return ("bare", s) if _BARE.fullmatch(s) else None


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _coerce(parsed: tuple[str, str], umbral_type: str) -> Any:
    """The default as the literal the umbral field stores, or None when it does not parse."""
    kind, value = parsed
    try:
        if umbral_type in ("SmallInt", "Integer", "BigInt"):
            return int(value)
        if umbral_type in ("Real", "Double"):
            return float(value)
        if umbral_type == "Decimal":
            float(value)  # validates; the text keeps its scale ("1.50")
            return value
        if umbral_type == "Boolean":
            return {"1": True, "0": False, "true": True, "false": False, "t": True,
                    "f": False}.get(value.lower())  # fmt: skip
        if umbral_type == "Json":
            loaded = json.loads(value)
            return loaded if loaded is not None else None
        if umbral_type == "Bytes":
            return None  # no literal form umbral can render back
    except ValueError:
        return None
    if kind == "bare" and umbral_type not in ("Text",) and not re.fullmatch(r"[\d.:+ -]+", value):
        return None
    return value


def _topological(deps: dict[str, set[str]]) -> list[str]:
    """Dependencies first, ties alphabetical; a cycle's members follow in name order."""
    remaining = {k: {d for d in v if d in deps} for k, v in deps.items()}
    order: list[str] = []
    while remaining:
        ready = sorted(k for k, v in remaining.items() if not v) or [min(remaining)]
        k = ready[0]
        order.append(k)
        del remaining[k]
        for v in remaining.values():
            v.discard(k)
    return order


# -- writing ------------------------------------------------------------------------------------


def render_models(plans: list[ModelPlan], plugin: str, dialect: str) -> str:
    """The text of ``models.py``: one class per table, FK targets first."""
    defined: set[str] = set()
    by_table = {p.table: p.name for p in plans}
    lines = [
        f'"""Models of an existing {dialect} database, written by `umbral inspectdb`.',
        "",
        "Register them (`models = [...]` in the project config, or a plugin's umbral_models()),",
        "then `umbral makemigrations` reports no changes and `umbral migrate --fake-initial`",
        "adopts the database. Comments mark what the database has and the models do not carry.",
        '"""',
        "",
        "from umbral import Model, fields" + (", hookimpl" if plugin != "app" else ""),
    ]
    for plan in plans:
        lines += ["", ""]
        lines += [f"# {line}" for n in plan.notes for line in textwrap.wrap(n, 94)]
        keywords: list[str] = []
        if plugin != "app":
            keywords.append(f"plugin={_py(plugin)}")
        if plan.explicit_table:
            keywords.append(f"table={_py(plan.table)}")
        if plan.unique_together:
            keywords.append(f"unique_together={_groups(plan.unique_together)}")
        if plan.indexes:
            keywords.append(f"indexes={_groups(plan.indexes)}")
        lines += _call(f"class {plan.name}", ["Model", *keywords], suffix=":")
        body: list[str] = []
        for fp in [*plan.fields, *plan.m2m]:
            body += [f"# {line}" for n in fp.notes for line in textwrap.wrap(n, 90)]
            args = []
            if fp.target is not None:
                target = by_table.get(fp.target, fp.target)
                # A class defined above is referenced directly; itself or a later one by name.
                args.append(target if target in defined else _py(target))
            args += [f"{k}={_py(v)}" for k, v in fp.options.items() if k != "column"]
            if "column" in fp.options:
                args.append(f"column={_py(fp.options['column'])}")
            body += _call(f"{fp.attr} = fields.{fp.kind}", args)
        if not body:
            body = ["pass"]
        lines += ["    " + line for line in body]
        defined.add(plan.name)
    if plugin != "app":
        lines += ["", "", "@hookimpl", "def umbral_models() -> list[type[Model]]:"]
        lines += _call("    return ", [p.name for p in plans], brackets="[]")
    return "\n".join(lines) + "\n"


def _call(head: str, args: list[str], *, suffix: str = "", brackets: str = "()") -> list[str]:
    opening, closing = brackets
    one = f"{head}{opening}{', '.join(args)}{closing}{suffix}"
    if len(one) <= 96 or not args:
        return [one]
    indent = " " * (len(head) - len(head.lstrip()))
    return [f"{head}{opening}", *(f"{indent}    {a}," for a in args), f"{indent}{closing}{suffix}"]


def _groups(groups: list[tuple[str, ...]]) -> str:
    """``[("a", "b"), ...]``; a one-column group keeps its tuple comma."""
    tuples = [", ".join(_py(c) for c in g) + ("," if len(g) == 1 else "") for g in groups]
    return "[" + ", ".join(f"({t})" for t in tuples) + "]"


def _py(value: Any) -> str:
    """A Python literal for a default or option; strings in double quotes."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no literal for {value!r}")


def snapshot_of(source: str, plugin: str) -> Snapshot:
    """Import the written models text and build its snapshot, as a project would."""
    from umbral.models import Model, build_snapshots

    module = types.ModuleType("umbral_inspectdb_models")
    exec(compile(source, "models.py", "exec"), module.__dict__)
    classes = [
        v for v in module.__dict__.values()
        if isinstance(v, type) and issubclass(v, Model) and v.__module__ == module.__name__
    ]  # fmt: skip
    return build_snapshots({plugin: classes})[plugin]


def initial_migration(snapshot: Snapshot, plugin: str, directory: Path) -> Migration:
    """CreateTable per model (FK targets first) and CreateM2MTable per ManyToMany."""
    from umbral.autodetector import diff
    from umbral.schema import EMPTY

    return Migration(
        plugin=plugin,
        id=INITIAL_ID,
        operations=diff(EMPTY, snapshot).operations,
        snapshot_after=snapshot,
        path=directory / f"{INITIAL_ID}.json",
    )


def _write_files(files: list[tuple[Path, str]]) -> list[Path]:
    """Write every file or none (temp names, then renames); return the directories created."""
    created: list[Path] = []
    temps: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
            created += reversed(missing)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            temps.append((tmp, path))
        for tmp, final in temps:
            os.replace(tmp, final)
    except OSError as exc:
        _remove([p for _, p in temps] + [t for t, _ in temps], created)
        raise UmbralError(f"umbral inspectdb: cannot write {exc.filename}: {exc.strerror}") from exc
    return created


def _remove(paths: Iterable[Path], directories: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
    for d in reversed(directories):
        with contextlib.suppress(OSError):  # a directory someone else filled stays
            d.rmdir()


# -- the command --------------------------------------------------------------------------------


@dataclass
class InspectResult:
    """What ``inspectdb`` did. ``tables == 0`` means the database had no tables to adopt."""

    tables: int = 0
    columns: int = 0
    models_path: Path | None = None
    migration: Migration | None = None
    warnings: list[str] = field(default_factory=list)
    marked_applied: str | None = None  # ``plugin/id`` recorded by --mark-applied

    @property
    def written(self) -> list[Path]:
        paths = [self.models_path, self.migration.path if self.migration else None]
        return [p for p in paths if p is not None]


def source_url(source: str, root: Path) -> str:
    """A SQLAlchemy-style URL for the positional argument: a bare path means a SQLite file."""
    if "://" in source:
        return source
    return f"sqlite:///{(root / source).resolve()}"


def inspectdb(
    source: str,
    output: Path,
    *,
    plugin: str = "app",
    mark_applied: bool = False,
    root: Path | None = None,
    backends: list[Backend] | None = None,
) -> InspectResult:
    """Read ``source`` (URL or SQLite path), write ``output/models.py`` and the initial migration.

    Raises UmbralError (nothing written) for an unreachable database, an unmappable column or
    table, or files that already exist. ``--mark-applied`` records the initial migration in the
    same database after the files are written; if that fails the files are removed again.
    """
    root = root or Path.cwd()
    given = source_url(source, root)
    backend = _backend_for(given, backends)
    url = backend.normalize_url(given, root)
    if not plugin.isidentifier() or keyword.iskeyword(plugin):
        raise ConfigError(f"umbral inspectdb --plugin: {plugin!r} is not a valid plugin name")
    output = (root / output).resolve()
    models_path = output / "models.py"
    migrations_dir = output / "migrations" / plugin
    result = InspectResult(models_path=None)

    with _read_only(url, given) as conn:
        tables, views = read_schema(conn)
        dialect = conn.dialect.name
        already = bool(mark_applied and tables) and _is_recorded(conn, plugin)
    for view in views:
        result.warnings.append(f"view `{view}` is not adopted (umbral view models are by hand)")
    result.tables = len(tables)
    result.columns = sum(len(t.columns) for t in tables)
    if not tables:
        return result
    if already:
        raise UmbralError(
            f"umbral inspectdb --mark-applied: the database already records {plugin}/"
            f"{INITIAL_ID} in {recorder.TABLE}; nothing was written"
        )
    for path in (models_path, migrations_dir / f"{INITIAL_ID}.json"):
        if path.exists():
            raise UmbralError(
                f"umbral inspectdb: {path} already exists; inspectdb never overwrites files: "
                "choose another --output or remove it"
            )
    if migrations_dir.is_dir() and any(migrations_dir.glob("*.json")):
        raise UmbralError(
            f"umbral inspectdb: {migrations_dir} already holds migrations; an initial migration "
            "there would conflict with them. Choose another --output or --plugin"
        )
    plans = plan_models(tables, plugin, result.warnings.append)
    source_text = render_models(plans, plugin, {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
                                .get(dialect, dialect))  # fmt: skip
    snapshot = snapshot_of(source_text, plugin)
    migration = initial_migration(snapshot, plugin, migrations_dir)
    assert migration.path is not None
    created = _write_files([(models_path, source_text), (migration.path, migration.dumps())])
    result.models_path, result.migration = models_path, migration
    if mark_applied:
        try:
            _record(backend, url, migration)
        except BaseException:
            _remove([models_path, migration.path], created)
            raise
        result.marked_applied = migration.key
    return result


def _backend_for(url: str, backends: list[Backend] | None) -> Backend:
    if backends is None:
        from umbral.plugins import load_plugins, new_manager

        pm = new_manager()
        load_plugins(pm)
        backends = [b for found in pm.hook.umbral_backends() for b in (found or [])]
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    for backend in backends:
        if scheme in backend.schemes:
            return backend
    known = ", ".join(sorted({s for b in backends for s in b.schemes})) or "none"
    raise ConfigError(
        f"umbral inspectdb: no installed backend serves `{scheme}://` URLs (installed: {known})"
    )


class _read_only:
    """A connection that cannot write: SQLite opened with ``mode=ro``, Postgres in a READ ONLY
    transaction that is rolled back. Driver errors become one-line DatabaseErrors."""

    def __init__(self, url: str, given: str) -> None:
        from umbral.config import mask_url

        self.url, self.shown = url, mask_url(given)  # errors name the URL the user gave
        self.engine: Engine | None = None
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        try:
            if self.url.split("://", 1)[0].split("+", 1)[0] == "sqlite":
                self.engine = create_engine("sqlite://", creator=self._sqlite, poolclass=NullPool)
            else:
                self.engine = create_engine(self.url, poolclass=NullPool)
            self.conn = self.engine.connect()
            if self.conn.dialect.name == "postgresql":
                self.conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        except Exception as exc:
            self._close()
            raise self._error(exc, "cannot connect to database") from None
        return self.conn

    def _sqlite(self) -> Any:
        import sqlite3

        path = self.url.split("://", 1)[1][1:].split("?", 1)[0]
        if path in ("", ":memory:"):
            return sqlite3.connect(":memory:")
        file = Path(path)
        if not file.is_file():
            # Opening would create it; a source database must already exist.
            raise FileNotFoundError(f"no SQLite database file at {file}")
        return sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._close()
        if exc is not None and not isinstance(exc, UmbralError):
            from sqlalchemy.exc import DBAPIError

            if isinstance(exc, DBAPIError):
                raise self._error(exc, "cannot read database") from None

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
        if self.engine is not None:
            self.engine.dispose()

    def _error(self, exc: BaseException, what: str) -> DatabaseError:
        from umbral.database import scrub

        orig = getattr(exc, "orig", None) or exc
        reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return DatabaseError(f"umbral inspectdb: {what} {self.shown}: {scrub(reason, self.url)}")


def _is_recorded(conn: Connection, plugin: str) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(recorder.TABLE) and recorder.is_applied(conn, plugin, INITIAL_ID)


def _record(backend: Backend, url: str, migration: Migration) -> None:
    """Record the initial migration in the inspected database (the checksum of the file)."""
    from umbral import loader
    from umbral.database import connect
    from umbral.executor import write_transaction

    assert migration.path is not None
    checksum = loader.load_file(migration.path, migration.plugin).checksum
    with connect(backend, url) as conn:
        try:
            with write_transaction(conn, backend):
                recorder.ensure_table(conn)
                recorder.record(conn, migration.plugin, migration.id, checksum)
        except Exception as exc:
            from sqlalchemy.exc import DBAPIError

            if not isinstance(exc, DBAPIError):
                raise
            from umbral.migrate import translate_db_errors

            raise translate_db_errors(exc) from None


__all__ = [
    "InspectResult",
    "RawTable",
    "UnsupportedColumnType",
    "UnsupportedTable",
    "declared_types",
    "inspectdb",
    "map_type",
    "plan_models",
    "read_schema",
    "render_models",
]
