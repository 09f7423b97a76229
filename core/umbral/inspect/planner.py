"""Map reflected tables to model plans: field types, defaults, keys, indexes, junctions."""

from __future__ import annotations

import json
import keyword
import re
import textwrap
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from umbral.errors import UnsupportedColumnType, UnsupportedTable
from umbral.inspect.reader import (
    _BARE,
    _FK_ACTIONS,
    _NOW,
    _TEMPORAL,
    TYPE_MAP,
    RawColumn,
    RawForeignKey,
    RawIndex,
    RawTable,
    map_type,
)
from umbral.naming import fit_identifier, index_name, table_name
from umbral.toposort import toposort
from umbral.values import record

if TYPE_CHECKING:
    pass


@record
class FieldPlan:
    attr: str
    column: str
    kind: str  # an umbral field class name
    options: dict[str, Any] = field(default_factory=dict)
    target: str | None = None  # FK / M2M target table
    notes: list[str] = field(default_factory=list)


@record
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
    for t in tables:
        if t.triggers:
            # umbral neither makes nor drops them; a migration's own writes fire them.
            shown = ", ".join(t.triggers)
            warn(f"{t.name}: trigger(s) {shown} not managed by umbral: the models do not carry "
                 "them (they stay in the database; a database built from the migrations has "
                 "none), and they fire on the rows a migration writes in place (the fill of "
                 "NULLs before NOT NULL, RunSql, RunPython), not on the copy of a table "
                 "rebuild, which makes them again after it")  # fmt: skip
            if t.name in plans:
                plans[t.name].notes.append(f"trigger(s) in the database: {shown}")
    legacy = sorted(n for p in plans.values() for n in p.legacy_indexes)
    if legacy:
        # umbral names the indexes it makes idx_/uniq_<table>_<columns>; it finds these by
        # their columns when a migration drops or replaces them.
        warn(
            f"{len(legacy)} index(es) keep their database names ({', '.join(legacy[:5])}"
            f"{', ...' if len(legacy) > 5 else ''}), not umbral's idx_/uniq_<table>_<columns>; "
            "a migration that drops one finds it by its columns"
        )
    order = toposort({p.table: p.depends_on - {p.table} for p in plans.values()})
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
        if col.name in fks and not t.leads_an_index(col.name):
            # An index (or the key) that starts with the column serves the foreign key:
            # checkschema does not ask for one of its own then (schemadrift._served).
            warn(
                f"{t.name}.{col.name}: the foreign key has no index; umbral models index every "
                "foreign key, so `umbral checkschema` reports it missing until it is made "
                "(`umbral checkschema --sql` writes it)"
            )
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
    if t.comment:
        plan.notes.append(f"table comment in the database: {t.comment}")
        shown = textwrap.shorten(t.comment, 60, placeholder="...")
        warn(f"{t.name}: the table comment ({shown}) has no umbral equivalent; the model does "
             "not carry it (it stays in the database)")  # fmt: skip
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
        why = _uncarried(ix)
        if why is not None:
            # Carried as a plain index it would be a different one: a SQLite rebuild would then
            # make umbral's beside it. It stays in the database, as the only one.
            warn(f"{label} {why}; umbral models cannot carry it (it stays in the database)")
            continue
        cols = tuple(c for c in ix.columns if c is not None)
        if cols == t.pk:
            continue  # the primary key's own index
        ours = (index_name(t.name, cols, ix.unique), f"{t.name}_{'_'.join(cols)}_key")
        if not any(_named_as(ix.name, n) for n in ours):
            plan.legacy_indexes.append(ix.name or "(unnamed)")
        if len(cols) == 1:
            (unique_cols if ix.unique else single_index).add(cols[0])
            continue
        groups = plan.unique_together if ix.unique else plan.indexes
        if cols not in groups:
            groups.append(cols)
    return unique_cols, single_index


def _named_as(name: str | None, generated: str) -> bool:
    """Whether ``name`` is ``generated``, or ``generated`` fitted to the database's limit
    (``naming.fit_identifier``: a long name's start and a digest, as long as ``name``)."""
    if name is None:
        return False
    return name == generated or fit_identifier(generated, len(name.encode())) == name


def _uncarried(ix: RawIndex) -> str | None:
    """Why a model cannot say what ``ix`` is, or None when it can."""
    if ix.partial:
        return f"is partial (WHERE {ix.where})" if ix.where else "is partial"
    if None in ix.columns:
        return "is on an expression"
    if ix.descending:
        return f"orders {', '.join(ix.descending)} (umbral indexes use the default order)"
    if ix.opclasses:
        return f"uses the operator class {', '.join(ix.opclasses)}"
    return None


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
    if umbral_type == "Decimal" and "(" in col.type:
        # The column keeps them, and a change of its nullability or default keeps its type;
        # a database built from the migrations has the field's own (PostgreSQL NUMERIC,
        # MySQL DECIMAL(65,30)).
        warn(f"{where}: {col.type} has a precision and scale umbral's Decimal does not carry "
             "(the column keeps them; a database built from the migrations does not)")  # fmt: skip
        fp.notes.append(f"{col.type} in the database")
    if re.search(r"\bunsigned\b", col.type, re.IGNORECASE):
        # The column keeps it, and a change that leaves its type keeps it; a database built
        # from the migrations has a signed column, which cannot hold the upper half.
        warn(f"{where}: {col.type} is unsigned, which umbral's {umbral_type} does not carry "
             "(the column keeps it; a database built from the migrations has a signed "
             "column, and a change of the field's type makes it signed)")  # fmt: skip
        fp.notes.append(f"{col.type} in the database")
    if col.on_update is not None:
        # Repeated by every MODIFY that keeps the column's type (the backend reads it as the
        # migration runs); a CREATE TABLE from the models never writes it.
        warn(f"{where}: ON UPDATE {col.on_update} has no umbral equivalent; the model does not "
             "carry it. umbral keeps it when a migration changes the column and leaves its "
             "type, but a database built from the migrations does not have it (set the value "
             "on update in your code)")  # fmt: skip
        fp.notes.append(f"ON UPDATE {col.on_update} in the database")
    if col.generated is not None:
        # Printed inside one pair: MariaDB's SHOW CREATE TABLE and PostgreSQL's pg_get_expr
        # (what reflection reads) give `(a + b)` with its own.
        expression = _unwrapped(col.generated)
        warn(f"{where}: a generated column (AS ({expression})); the model has a plain field")
        fp.notes.append(f"generated column in the database: AS ({expression})")
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
        # The database's ON UPDATE of the current time (warned about apart) is what
        # `auto_now` means; the default alone is `auto_now_add`.
        # (`current_timestamp(6)`: its precision is the column's.)
        updated = col.on_update is not None and (
            re.sub(r"\(\d?\)$", "", col.on_update.strip().lower()) in _NOW
        )
        opts["auto_now" if updated else "auto_now_add"] = True
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


def _unwrapped(expression: str) -> str:
    """``expression`` without the parentheses around all of it: ``((a + b))`` is ``a + b``,
    ``(a) + (b)`` stays."""
    s = expression.strip()
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    return s


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


# -- writing ------------------------------------------------------------------------------------
