"""Schema drift: the live schema against what the applied migrations promise.

Each plugin's promise is the ``snapshot_after`` of its last applied migration. The live schema
is read with inspectdb's reader and mapped to models by the same planner, so both sides are
umbral model states and compare attribute by attribute: tables, columns (type, nullability,
default, unique, foreign key and its actions, primary key, comment where the backend stores
one), indexes, junction tables and views. What a model cannot express (CHECKs, partial or
expression indexes, triggers) is not compared.

:func:`compare` is pure. Each :class:`Difference` carries the operations that bring the database
back to the snapshot, so the repair SQL is rendered by the backend's own renderers: the same SQL
``migrate`` would run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import field, replace
from typing import TYPE_CHECKING, Any

from umbral import operations as ops
from umbral.naming import index_name
from umbral.schema import INTEGER_TYPES, Column, ModelState, Snapshot
from umbral.toposort import toposort
from umbral.values import frozen, record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.progress import Progress

#: What drops an index made under another name: (table, columns, unique, name).
DropNamed = Callable[[str, tuple[str, ...], bool, str], ops.Operation]

#: Column attributes a database does not store: they are never drift.
_NOT_STORED = ("name", "help", "index", "choices", "auto_now")


@frozen
class Difference:
    """One line of the report: ``+`` only in the database, ``-`` only in the snapshot, ``~``
    in both but different."""

    plugin: str
    sign: str
    message: str
    operations: tuple[ops.Operation, ...] = ()
    destructive: bool = False

    @property
    def line(self) -> str:
        return f"{self.sign} {self.message}"


@record
class Promise:
    """What one plugin's applied migrations say its tables are."""

    plugin: str
    migration: str  # plugin/id of its last applied migration
    snapshot: Snapshot


@record
class LiveSchema:
    """The database's tables as model states (keyed by table), its views and other tables."""

    tables: dict[str, ModelState] = field(default_factory=dict)
    views: set[str] = field(default_factory=set)
    junctions: set[str] = field(default_factory=set)
    #: Each table's plain-column, non-partial indexes as (columns, unique), unique
    #: constraints included.
    indexes: dict[str, set[tuple[tuple[str, ...], bool]]] = field(default_factory=dict)
    #: Index names by (table, columns, unique), to drop one that only the database has.
    index_names: dict[tuple[str, tuple[str, ...], bool], str] = field(default_factory=dict)
    all_tables: set[str] = field(default_factory=set)
    #: Tables with more than one foreign key on one column: (table, column) -> every such
    #: key as (name, target table, on_delete, on_update), actions spelled as in a model.
    fk_groups: dict[tuple[str, str], list[tuple[str | None, str, str, str]]] = field(
        default_factory=dict
    )
    #: Columns of a type no field type maps (an adopted ``ENUM``, an array): (table, column)
    #: -> the type as the database declares it. They are left out of ``tables``.
    unmapped: dict[tuple[str, str], str] = field(default_factory=dict)
    #: The key columns of the snapshots' junction tables: (junction, ``parent_id`` or
    #: ``child_id``) -> the type as the database declares it.
    junction_keys: dict[tuple[str, str], str] = field(default_factory=dict)


@record
class SchemaCheck:
    """What ``checkschema`` found: the promises compared, the differences, and the database's
    objects that no plugin owns."""

    promises: list[Promise]
    differences: list[Difference]
    outside: list[str]
    live: LiveSchema
    #: Partly applied migrations (``umbral.progress``): while there is one, nothing is
    #: compared (``guards.not_compared``).
    partial: dict[str, Progress] = field(default_factory=dict)
    #: The partly applied migrations whose file is not on disk.
    partial_gone: frozenset[str] = frozenset()


@record
class Repair:
    """The SQL ``checkschema --sql`` prints: ``(description, statements, destructive)`` per
    repair operation, in order, inside the frame the backend switches around a migration that
    needs it (``Backend.script_frame``: foreign keys off around a SQLite rebuild)."""

    operations: list[tuple[str, list[str], bool]]
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def owned_tables(promises: Iterable[Promise]) -> set[str]:
    """Every table and view name the plugins' snapshots own, junction tables included."""
    names: set[str] = set()
    for p in promises:
        for m in p.snapshot.models.values():
            names.add(m.table)
            names.update(rel.table for rel in m.m2m)
    return names


def junction_tables(promises: Iterable[Promise]) -> set[str]:
    """The junction tables of the plugins' snapshots."""
    return {rel.table for p in promises for m in p.snapshot.models.values() for rel in m.m2m}


def read_live(conn: Connection, owned: set[str], junctions: Collection[str] = ()) -> LiveSchema:
    """Read the connection's schema; map the tables in ``owned`` to model states. The
    ``junctions`` of the snapshots are compared by their presence only, and not mapped: a
    junction whose target table was renamed by hand reads as a table of two columns with a
    key of both, which no model can be."""
    from umbral.inspect.planner import plan_models
    from umbral.inspect.reader import map_type, read_schema
    from umbral.inspect.writer import render_models, snapshot_of

    raw, views = read_schema(conn)
    live = LiveSchema(views=set(views), all_tables={t.name for t in raw})
    live.junctions = {t.name for t in raw if t.name in junctions}
    live.junction_keys = {
        (t.name, c.name): c.type or ""
        for t in raw
        if t.name in junctions
        for c in t.columns
        if c.name in ("parent_id", "child_id")
    }
    mine = [t for t in raw if t.name in owned and t.name not in junctions]
    for t in mine:
        # Models written by hand may adopt such a column: compared by name only (the check
        # says the type differs) rather than refusing the whole check, as inspectdb would.
        odd = {c.name for c in t.columns if map_type(c.type) is None and c.name not in t.pk}
        for c in t.columns:
            if c.name in odd:
                live.unmapped[(t.name, c.name)] = c.type or "(no declared type)"
        t.columns = [c for c in t.columns if c.name not in odd]
        t.fks = [fk for fk in t.fks if not odd & set(fk.columns)]
    for t in mine:
        groups: dict[str, list[tuple[str | None, str, str, str]]] = {}
        for fk in t.fks:
            if len(fk.columns) == 1:
                groups.setdefault(fk.columns[0], []).append(
                    (fk.name, fk.target, _action(fk.on_delete), _action(fk.on_update))
                )
        for column, keys in groups.items():
            if len(keys) > 1:
                live.fk_groups[(t.name, column)] = keys
        specs = live.indexes.setdefault(t.name, set())
        for ix in t.indexes:
            if None in ix.columns or ix.partial or ix.opclasses:
                continue  # a model cannot declare it: not compared
            columns: tuple[str, ...] = tuple(ix.columns)  # type: ignore[arg-type]
            specs.add((columns, ix.unique))
            if ix.name:
                live.index_names[(t.name, columns, ix.unique)] = ix.name
    if not mine:
        return live
    for t in mine:
        # Indexes over a column left out (compared above) are left out of the models too.
        kept = {c.name for c in t.columns}
        t.indexes = [ix for ix in t.indexes if all(c is None or c in kept for c in ix.columns)]
    plans = plan_models(mine, "live", lambda _warning: None)
    snapshot = snapshot_of(render_models(plans, "live", conn.dialect.name), "live")
    # Each key's actions as the database has them: the planner gives a model's (SET DEFAULT,
    # or SET NULL on a NOT NULL column, read as no action), which would hide the drift.
    actions = {
        (t.name, fk.columns[0]): (_action(fk.on_delete or "NO ACTION"),
                                  _action(fk.on_update or "NO ACTION"))
        for t in mine
        for fk in t.fks
        if len(fk.columns) == 1
    }  # fmt: skip
    for model in snapshot.models.values():
        fields = tuple(
            replace(c, on_delete=found[0], on_update=found[1])
            if c.is_fk and (found := actions.get((model.table, c.name))) is not None
            else c
            for c in model.fields
        )
        live.tables[model.table] = replace(model, fields=fields)
        live.junctions.update(rel.table for rel in model.m2m)
    return live


def compare(
    promises: Iterable[Promise],
    live: LiveSchema,
    *,
    comments: bool,
    quote: Callable[[str], str] = lambda name: '"' + name.replace('"', '""') + '"',
    actions_alike: Mapping[str, str] | None = None,
    integer_keys_alike: bool = False,
    drop_named: DropNamed | None = None,
    types: Mapping[str, str] | None = None,
) -> list[Difference]:
    """Every difference between the promises and the live schema, plugin by plugin.
    ``comments``: whether the backend stores column comments; ``quote`` quotes an identifier
    (for dropping an index that has a name other than umbral's); ``actions_alike``: foreign-key
    actions the database does not tell apart (``Backend.FK_ACTIONS_ALIKE``);
    ``integer_keys_alike``: ``Backend.INTEGER_KEYS_ALIKE``; ``drop_named``: what drops an index
    under a name other than umbral's (``Backend.drop_named_index``; default ``DROP INDEX``);
    ``types``: the SQL type the backend declares for each field type (``Backend.TYPES``),
    against which a junction's key columns are compared (without it, they are not)."""
    if drop_named is None:
        drop_named = lambda _t, _c, _u, name: ops.RunSql(sql=f"DROP INDEX {quote(name)}")  # noqa: E731
    out: list[Difference] = []
    for p in promises:
        models = sorted(p.snapshot.models.values(), key=lambda m: m.table)
        tables = [m for m in models if m.view is None]
        missing = [m for m in tables if m.table not in live.tables]
        for m in _fk_order(missing):
            out.append(
                Difference(
                    p.plugin, "-", f"table {m.table} (in {p.migration}, not in the database)",
                    (ops.CreateTable(table=m.table, columns=m.fields,
                                     unique_together=m.unique_together, indexes=m.indexes),),
                )
            )  # fmt: skip
        for m in tables:
            if m.table in live.tables:
                have = _read_as(m, live.tables[m.table], actions_alike or {}, integer_keys_alike)
                out += _compare_table(p, m, have, live, comments, quote, drop_named)
        by_table = {m.table: m for m in tables}
        for m in tables:
            for rel in m.m2m:
                if rel.table not in live.junctions and rel.table not in live.all_tables:
                    out.append(
                        Difference(
                            p.plugin, "-",
                            f"junction table {rel.table} ({m.name}.{rel.field}, in "
                            f"{p.migration}, not in the database)",
                            (ops.CreateM2MTable.of(by_table[m.table], rel),),
                        )
                    )  # fmt: skip
        if types is not None:
            out += _junction_keys(p, tables, live, types, integer_keys_alike)
        for m in models:
            if m.view is not None and m.table not in live.views:
                out.append(
                    Difference(
                        p.plugin, "-", f"view {m.table} (in {p.migration}, not in the database)",
                        (ops.CreateView(name=m.table, sql=m.view),),
                    )
                )  # fmt: skip
    return out


def _junction_keys(
    p: Promise,
    tables: list[ModelState],
    live: LiveSchema,
    types: Mapping[str, str],
    integer_keys: bool,
) -> list[Difference]:
    """Each junction key column whose type is not the type of the primary key it holds (the
    parent's, or the target's), as the backend declares that type; ``integer_keys``: any
    integer type is any other (``Backend.INTEGER_KEYS_ALIKE``)."""
    from umbral.inspect.reader import map_type

    def spelled(declared: str) -> Any:
        return map_type(declared) or " ".join(declared.lower().split())

    out: list[Difference] = []
    for m in tables:
        pk = m.pk
        if pk is None:
            continue
        for rel in m.m2m:
            keys = (("parent_id", m.table, pk.storage_type), ("child_id", rel.target,
                    rel.target_type))  # fmt: skip
            for column, key_table, want in keys:
                declared = live.junction_keys.get((rel.table, column))
                if declared is None or want not in types:
                    continue
                found, promised = spelled(declared), spelled(types[want])
                if found == promised:
                    continue
                if (
                    isinstance(found, tuple)
                    and isinstance(promised, tuple)
                    and found[0] == promised[0]
                ):
                    continue  # one field type, another length (MySQL: a text key's size)
                have = found[0] if isinstance(found, tuple) else None
                if integer_keys and want in INTEGER_TYPES and have in INTEGER_TYPES:
                    continue
                out.append(
                    Difference(
                        p.plugin, "~",
                        f"{rel.table}.{column}: type {want} in {p.migration} (the type of "
                        f"{key_table}'s primary key), {declared or '(no declared type)'} in "
                        "the database",
                        (ops.AlterM2MKey(table=rel.table, column=column, key_table=key_table,
                                         from_=have if have in types else want, to=want),),
                    )
                )  # fmt: skip
    return out


def outside(promises: Iterable[Promise], live: LiveSchema, own: Collection[str]) -> list[str]:
    """Tables and views of the database that no plugin owns (``--all``), but umbral's ``own``
    tables."""
    owned = owned_tables(promises)
    names = sorted((live.all_tables | live.views) - owned - set(own))
    return [f"{'view' if n in live.views else 'table'} {n}" for n in names]


def _compare_table(
    p: Promise,
    want: ModelState,
    have: ModelState,
    live: LiveSchema,
    comments: bool,
    quote: Callable[[str], str],
    drop_named: DropNamed,
) -> list[Difference]:
    out: list[Difference] = []
    t = want.table
    for (table, column), keys in sorted(live.fk_groups.items()):
        if table != t:
            continue
        col, found = want.column(column), have.column(column)
        wanted = (col.fk_target, col.on_delete, col.on_update) if col is not None else None
        keep = next((k for k in keys if k[1:] == wanted), keys[0])
        if found is not None:  # compare the column with the key that is kept
            patched = replace(found, fk_target=keep[1], on_delete=keep[2], on_update=keep[3])
            have = replace(have, fields=tuple(patched if c is found else c for c in have.fields))
        for name, target, _, _ in keys:
            if (name, target) == keep[:2]:
                continue
            label = f" {name}" if name else ""
            drop = ops.RunSql(sql=f"ALTER TABLE {quote(t)} DROP CONSTRAINT {quote(name)}")
            out.append(
                Difference(
                    p.plugin, "+",
                    f"foreign key{label} on {t} ({column}) referencing {target} (in the "
                    f"database, not in {p.migration}): a second foreign key on the column",
                    (drop,) if name else (),
                )
            )  # fmt: skip
    for col in want.fields:
        declared = live.unmapped.get((t, col.name))
        if declared is not None:
            out.append(
                Difference(
                    p.plugin, "~",
                    f"{t}.{col.name}: type {_type(col)} in {p.migration}, {declared} in the "
                    "database, which no umbral field type is; change the column's type in "
                    "the database to repair it",
                )
            )  # fmt: skip
        elif have.column(col.name) is None:
            out.append(
                Difference(
                    p.plugin, "-",
                    f"column {t}.{col.name} (in {p.migration}, not in the database)",
                    (ops.AddColumn(table=t, column=col),),
                )
            )  # fmt: skip
    for (table, name), declared in sorted(live.unmapped.items()):
        if table == t and want.column(name) is None:
            out.append(
                Difference(
                    p.plugin, "+",
                    f"column {t}.{name} ({declared}, in the database, not in {p.migration})",
                    (ops.DropColumn(table=t, column=name),), destructive=True,
                )
            )  # fmt: skip
    for col in have.fields:
        if want.column(col.name) is None:
            out.append(
                Difference(
                    p.plugin, "+",
                    f"column {t}.{col.name} (in the database, not in {p.migration})",
                    (ops.DropColumn(table=t, column=col.name),), destructive=True,
                )
            )  # fmt: skip
    wanted = set(want.index_specs())
    pk = (have.pk.name,) if have.pk is not None else ()
    present = {
        (columns, unique)
        for columns, unique in live.indexes.get(t, set())
        if columns != pk
        # A column's own unique is compared as a column attribute.
        and not (unique and len(columns) == 1 and _unique_column(have, columns[0]))
    }
    #: Columns whose repair alter makes or drops their own index (as a model change would).
    by_alter: set[tuple[str, ...]] = set()
    for col in want.fields:
        found = have.column(col.name)
        if found is None:
            continue
        lines = _column_changes(_as_stored(col), _as_stored(found), p.migration, comments)
        if not lines:
            continue
        repair: list[ops.Operation] = []
        if _stored(_as_stored(col), comments=False) != _stored(_as_stored(found), comments=False):
            # The database's column as it is, its own index included: an alter that gives or
            # takes that index (a column becoming a foreign key, say) makes or drops it.
            before = replace(found, index=((col.name,), False) in present)
            if _own_index(before) != _own_index(col):
                by_alter.add((col.name,))
            repair.append(ops.AlterColumn(table=t, column=col.name, from_=before, to=col))
        elif comments and col.help != found.help:
            repair.append(ops.SetColumnComment(table=t, column=col.name, comment=col.help))
        first, *rest = lines
        out.append(Difference(p.plugin, "~", f"{t}.{col.name}: {first}", tuple(repair)))
        out += [Difference(p.plugin, "~", f"{t}.{col.name}: {line}") for line in rest]
    for columns, unique in sorted(wanted - present):
        if _served(want, columns, unique, live.indexes.get(t, set()), pk):
            continue
        kind = "unique index" if unique else "index"
        out.append(
            Difference(
                p.plugin, "-",
                f"{kind} on {t} ({', '.join(columns)}) (in {p.migration}, not in the database)",
                () if not unique and columns in by_alter
                else (ops.AddIndex(table=t, columns=columns, unique=unique),),
            )
        )  # fmt: skip
    for columns, unique in sorted(present - wanted):
        kind = "unique index" if unique else "index"
        name = live.index_names.get((t, columns, unique))
        label = f" {name}" if name else ""
        drop: ops.Operation = ops.DropIndex(table=t, columns=columns, unique=unique)
        if name and name != index_name(t, columns, unique):
            # Made by hand or by another tool: the script cannot look it up by its columns.
            drop = drop_named(t, columns, unique, name)
        out.append(
            Difference(
                p.plugin, "+",
                f"{kind}{label} on {t} ({', '.join(columns)}) (in the database, not in "
                f"{p.migration})",
                () if not unique and columns in by_alter else (drop,),
            )
        )  # fmt: skip
    return out


def _served(
    want: ModelState,
    columns: tuple[str, ...],
    unique: bool,
    found: Collection[tuple[tuple[str, ...], bool]],
    pk: tuple[str, ...],
) -> bool:
    """Whether the index a foreign key column has of its own (``idx_<table>_<column>``) is
    served by what the database has: the primary key, or an index or unique constraint that
    starts with the column (``UNIQUE (author_id, slug)``). inspectdb does not warn about such a
    key (``RawTable.leads_an_index``), and a look-up by the key uses that index."""
    if unique or len(columns) != 1:
        return False
    col = want.column(columns[0])
    if col is None or not col.is_fk:
        return False
    return pk[:1] == columns or any(cols[:1] == columns for cols, _unique in found)


def _read_as(
    want: ModelState, have: ModelState, alike: Mapping[str, str], integer_keys: bool = False
) -> ModelState:
    """``have`` with what the database cannot tell from the promise spelled as promised: each
    foreign-key action ``alike`` maps to the promised one, and (``integer_keys``) the integer
    type of a primary key or of a foreign key (a database whose integer keys are all one)."""
    if not alike and not integer_keys:
        return have

    def same(a: str, b: str) -> bool:
        return alike.get(a, a) == alike.get(b, b)

    def integers(a: Column, b: Column) -> bool:
        return a.storage_type in INTEGER_TYPES and b.storage_type in INTEGER_TYPES

    fields = []
    for found in have.fields:
        col = want.column(found.name)
        if col is not None and col.is_fk and found.is_fk:
            if found.on_delete != col.on_delete and same(found.on_delete, col.on_delete):
                found = replace(found, on_delete=col.on_delete)
            if found.on_update != col.on_update and same(found.on_update, col.on_update):
                found = replace(found, on_update=col.on_update)
            if integer_keys and integers(col, found):
                found = replace(found, fk_type=col.fk_type)
        elif col is not None and integer_keys and col.primary_key and found.primary_key:
            found = replace(found, type=col.type) if integers(col, found) else found
        fields.append(found)
    return replace(have, fields=tuple(fields))


def _action(raw: str) -> str:
    """``SET NULL`` -> ``set_null``: a reflected action as a model spells it."""
    return raw.strip().lower().replace(" ", "_")


def _own_index(col: Column) -> bool:
    """Whether the column has its own ``idx_<table>_<column>`` (``ModelState.index_specs``)."""
    return bool(col.index or col.is_fk) and not col.unique and not col.primary_key


def _unique_column(model: ModelState, name: str) -> bool:
    col = model.column(name)
    return col is not None and col.unique


def _as_stored(col: Column) -> Column:
    """A foreign key without a database constraint is a plain column of its storage type."""
    if col.is_fk and not col.db_constraint:
        return replace(col, type=col.storage_type, fk_target=None, fk_column=None,
                       fk_type=None, db_constraint=True, on_delete="no_action",
                       on_update="no_action")  # fmt: skip
    return col


def _stored(col: Column, *, comments: bool) -> dict[str, Any]:
    """The attributes of ``col`` that the database stores."""
    skip = _NOT_STORED if not comments else tuple(a for a in _NOT_STORED if a != "help")
    out = {k: v for k, v in vars(col).items() if k not in skip}
    out["auto_now_add"] = _now(col)
    return out


def _column_changes(want: Column, have: Column, where: str, comments: bool) -> list[str]:
    """One phrase per stored attribute that differs: ``<snapshot> in <where>, <database> in
    the database``."""
    shown = [
        (_type, (want.storage_type, want.max_length) != (have.storage_type, have.max_length)),
        (_null, want.nullable != have.nullable),
        (_default, (want.default, _now(want)) != (have.default, _now(have))),
        (_unique, want.unique != have.unique),
        (_pk, want.primary_key != have.primary_key),
        (_fk, _fk(want) != _fk(have)),
        (_comment, comments and want.help != have.help),
    ]
    pairs = [(say(want), say(have)) for say, differs in shown if differs]
    if not pairs and _stored(want, comments=comments) != _stored(have, comments=comments):
        # A stored attribute no phrase above names (a type spelled another way, say).
        pairs.append((f"declared as {want.type}", f"read back as {have.type}"))
    return [f"{a} in {where}, {b} in the database" for a, b in pairs]


def _type(c: Column) -> str:
    return f"{c.storage_type}({c.max_length})" if c.max_length else c.storage_type


def _null(c: Column) -> str:
    return "nullable" if c.nullable else "NOT NULL"


def _now(c: Column) -> bool:
    # auto_now and auto_now_add are one DEFAULT CURRENT_TIMESTAMP in the database.
    return c.auto_now_add or c.auto_now


def _default(c: Column) -> str:
    if _now(c):
        return "default now"
    return "no default" if c.default is None else f"default {c.default!r}"


def _unique(c: Column) -> str:
    return "unique" if c.unique else "not unique"


def _pk(c: Column) -> str:
    return "primary key" if c.primary_key else "not a primary key"


def _comment(c: Column) -> str:
    return "no comment" if c.help is None else f"comment {c.help!r}"


def _fk(c: Column) -> str:
    if not c.is_fk or not c.db_constraint:
        return "no foreign key"
    actions = "".join(
        f" ON {verb} {action.replace('_', ' ').upper()}"
        for verb, action in (("DELETE", c.on_delete), ("UPDATE", c.on_update))
        if action != "no_action"
    )
    return f"references {c.fk_target}({c.fk_column}){actions}"


def _fk_order(models: list[ModelState]) -> list[ModelState]:
    """Missing tables, each after the missing tables its foreign keys reference."""
    by_table = {m.table: m for m in models}
    deps = {
        m.table: {c.fk_target for c in m.fields if c.fk_target in by_table} - {m.table}
        for m in models
    }
    return [by_table[t] for t in toposort(deps)]


def live_state(live: LiveSchema, promises: Iterable[Promise]) -> dict[str, ModelState]:
    """The live tables as a renderer's table state, named as the snapshots name them."""
    promised = {m.table: m for p in promises for m in p.snapshot.models.values()}
    out = {}
    for table, model in live.tables.items():
        want = promised.get(table)
        if want is None:
            out[table] = model
            continue
        # The junctions the database has, as the snapshot relates them (the planner reads
        # none): a junction's repair finds its two ends here.
        rels = tuple(rel for rel in want.m2m if rel.table in live.junctions)
        out[table] = replace(model, name=want.name, m2m=rels)
    return out


def by_plugin(differences: Iterable[Difference]) -> Mapping[str, list[Difference]]:
    out: dict[str, list[Difference]] = {}
    for d in differences:
        out.setdefault(d.plugin, []).append(d)
    return out


def lossy(op: ops.Operation) -> bool:
    """Whether a repair alter can lose data: a cast outside the safe list, a narrower length."""
    from umbral.autodetector import is_safe_cast

    if not isinstance(op, ops.AlterColumn):
        return False
    before, after = op.from_, op.to
    narrower = after.max_length is not None and (
        before.max_length is None or after.max_length < before.max_length
    )
    return narrower or not is_safe_cast(before.type, after.type)
