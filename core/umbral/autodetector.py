"""The autodetector: diff a plugin's previous snapshot against its current models (SPEC §7).

Pure: no database, no files, no printing. Rename notes are returned as :class:`Note` objects
for the caller to show. Operations come out in an order where every statement is valid when it
runs: views dropped first, renames, creates (FK targets first), per-model column changes
(index drops before column drops, column adds before index adds), junction tables, table drops
(children first), views created last.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field, replace

from umbral import operations as ops
from umbral.errors import UnsafeAlter, UnsupportedChange
from umbral.schema import Column, ModelState, Snapshot

# Safe casts (SPEC §7): every scalar -> Text; SmallInt -> Integer -> BigInt; Real -> Double;
# Timestamp <-> Timestamptz; BigInt <-> ForeignKey.
_SCALARS = frozenset({
    "SmallInt", "Integer", "BigInt", "Real", "Double", "Boolean", "Date", "Time", "Timestamp",
    "Timestamptz", "Uuid", "Decimal", "ForeignKey",
})  # fmt: skip
_WIDENINGS = frozenset({
    ("SmallInt", "Integer"), ("SmallInt", "BigInt"), ("Integer", "BigInt"), ("Real", "Double"),
    ("Timestamp", "Timestamptz"), ("Timestamptz", "Timestamp"), ("BigInt", "ForeignKey"),
    ("ForeignKey", "BigInt"),
})  # fmt: skip


def is_safe_cast(old: str, new: str) -> bool:
    return old == new or (new == "Text" and old in _SCALARS) or (old, new) in _WIDENINGS


@dataclass(frozen=True)
class Note:
    """Something the user should see: ``stream`` is "stdout" or "stderr"."""

    stream: str
    text: str


@dataclass
class Diff:
    operations: list[ops.Operation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def diff(previous: Snapshot, current: Snapshot) -> Diff:
    """Return the operations that turn ``previous`` into ``current`` (one plugin)."""
    result = Diff()
    prev_tables = {k: m for k, m in previous.models.items() if m.view is None}
    cur_tables = {k: m for k, m in current.models.items() if m.view is None}

    # Pass 1: same class name, different table -> RenameTable.
    renames: dict[str, str] = {}  # current model name -> previous model name
    for name in sorted(cur_tables):
        if name in prev_tables:
            renames[name] = name
            old, new = prev_tables[name].table, cur_tables[name].table
            if old != new:
                result.operations.append(ops.RenameTable(from_=old, to=new))
                result.notes.append(
                    Note("stdout", f"rename detected (class-name match): table `{old}` -> `{new}`")
                )

    # Pass 2: unpaired removed/new models with identical column shapes -> RenameTable.
    created = sorted(n for n in cur_tables if n not in prev_tables)
    dropped = sorted(n for n in prev_tables if n not in cur_tables)
    for new_name in list(created):
        shape = _table_shape(cur_tables[new_name])
        matches = [o for o in dropped if _table_shape(prev_tables[o]) == shape]
        rivals = [n for n in created if _table_shape(cur_tables[n]) == shape]
        if len(matches) == 1 and len(rivals) == 1:
            old_name = matches[0]
            old, new = prev_tables[old_name].table, cur_tables[new_name].table
            result.operations.append(ops.RenameTable(from_=old, to=new))
            result.notes.append(
                Note(
                    "stderr",
                    f"umbral makemigrations: rename detected (column-shape match): `{old}` -> "
                    f"`{new}` - please verify this is a rename and not a coincidental "
                    "column-shape match between two unrelated models",
                )
            )
            renames[new_name] = old_name
            created.remove(new_name)
            dropped.remove(old_name)

    result.operations.extend(_generate_create_tables([cur_tables[n] for n in created]))

    for new_name in sorted(renames):
        old_model = prev_tables[renames[new_name]]
        new_model = cur_tables[new_name]
        if old_model == new_model:
            continue  # the common case by far; comparing is much cheaper than diffing
        _generate_model_changes(old_model, new_model, result)

    _generate_m2m(prev_tables, cur_tables, renames, result)
    result.operations.extend(_generate_drop_tables([prev_tables[n] for n in dropped]))
    # Views are dropped before and created after every table operation; a view that reads a
    # table this diff touches is re-created so it sees the new definition (SPEC §7).
    view_drops, view_creates = _generate_views(previous, current, _touched(result.operations))
    result.operations[:0] = view_drops
    result.operations.extend(view_creates)
    return result


def _touched(operations: list[ops.Operation]) -> set[str]:
    names: set[str] = set()
    for op in operations:
        for attr in ("table", "from_", "to"):
            value = getattr(op, attr, None)
            if isinstance(value, str):
                names.add(value)
    return names


def _table_shape(model: ModelState) -> tuple:
    return tuple(sorted((c.name, c.type, c.nullable, c.fk_target) for c in model.fields))


def _generate_create_tables(models: list[ModelState]) -> list[ops.Operation]:
    """CreateTable per new model, Kahn-sorted so in-batch FK targets come first.

    A foreign-key cycle inside the batch is broken by creating the tables without the FK
    columns that point forward and adding those columns (and any index on them) afterwards, so
    no statement references a table that does not exist yet (PostgreSQL checks that).
    """
    by_table = {m.table: m for m in models}
    deps = {
        m.table: {c.fk_target for c in m.fields if c.is_fk and c.fk_target in by_table} - {m.table}
        for m in models
    }
    creates: list[ops.Operation] = []
    later: list[ops.Operation] = []
    created: set[str] = set()
    for t in _kahn(deps):
        model = by_table[t]
        forward = [
            c for c in model.fields
            if c.is_fk and c.db_constraint and c.fk_target in by_table
            and c.fk_target not in created and c.fk_target != t
        ]  # fmt: skip
        created.add(t)
        if not forward:
            creates.append(ops.CreateTable(t, model.fields, model.unique_together, model.indexes))
            continue
        required = [c.name for c in forward if not c.nullable and not c.has_default]
        if required:
            raise UnsupportedChange(
                f"the new tables {', '.join(sorted(deps))} reference each other through NOT NULL "
                f"foreign keys ({t}.{required[0]} -> {forward[0].fk_target}); make one of them "
                "nullable so it can be added after both tables exist, or set db_constraint=False"
            )
        names = {c.name for c in forward}
        creates.append(
            ops.CreateTable(
                t,
                tuple(c for c in model.fields if c.name not in names),
                tuple(g for g in model.unique_together if not names & set(g)),
                tuple(g for g in model.indexes if not names & set(g)),
            )
        )
        later += [ops.AddColumn(table=t, column=c) for c in forward]
        later += [
            ops.AddIndex(table=t, columns=g, unique=True)
            for g in model.unique_together
            if names & set(g)
        ]
        later += [ops.AddIndex(table=t, columns=g) for g in model.indexes if names & set(g)]
    return creates + later


def _generate_drop_tables(models: list[ModelState]) -> list[ops.Operation]:
    """DropTable per removed model, children before the tables they reference."""
    by_table = {m.table: m for m in models}
    deps = {
        m.table: {c.fk_target for c in m.fields if c.is_fk and c.fk_target in by_table} - {m.table}
        for m in models
    }
    return [ops.DropTable(table=t) for t in reversed(_kahn(deps))]


def _kahn(deps: dict[str, set[str]]) -> list[str]:
    """Topological order (dependencies first), ties alphabetical; a cycle keeps the rest sorted."""
    remaining = {k: set(v) for k, v in deps.items()}
    dependents: dict[str, set[str]] = {k: set() for k in deps}
    for k, vs in deps.items():
        for v in vs:
            dependents[v].add(k)
    heap = [k for k, v in remaining.items() if not v]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        k = heapq.heappop(heap)
        order.append(k)
        for d in sorted(dependents[k]):
            remaining[d].discard(k)
            if not remaining[d] and d not in order and d not in heap:
                heapq.heappush(heap, d)
    # A cycle inside one batch: emit the rest sorted; SQLite accepts forward references and
    # the plugin-graph check reports cycles across plugins.
    order.extend(sorted(k for k in deps if k not in order))
    return order


def _generate_model_changes(old: ModelState, new: ModelState, result: Diff) -> None:
    old_cols = {c.name: c for c in old.fields}
    new_cols = {c.name: c for c in new.fields}
    removed = [n for n in old_cols if n not in new_cols]
    added = [c.name for c in new.fields if c.name not in old_cols]
    table = new.table

    rename: tuple[str, str] | None = None
    if (
        len(removed) == 1
        and len(added) == 1
        and old_cols[removed[0]].shape() == new_cols[added[0]].shape()
    ):
        rename = (removed[0], added[0])
        result.notes.append(
            Note(
                "stderr",
                f"umbral makemigrations: rename detected (column-shape match): column "
                f"`{table}.{removed[0]}` -> `{added[0]}` - please verify this is a rename and not "
                "a drop and an add of two unrelated columns",
            )
        )
        old_cols = {(added[0] if n == removed[0] else n): c.renamed(added[0]) if n == removed[0]
                    else c for n, c in old_cols.items()}  # fmt: skip
        removed, added = [], []
        old = _renamed_model(old, *rename)

    alters: list[ops.Operation] = []
    comments: list[ops.Operation] = []
    for name in sorted(n for n in new_cols if n in old_cols):
        before, after = old_cols[name], new_cols[name]
        _check_alter(new.name, before, after)
        if before.help != after.help:
            comments.append(ops.SetColumnComment(table=table, column=name, comment=after.help))
        if before.db_attributes() != replace(after, help=before.help).db_attributes():
            alters.append(ops.AlterColumn(table=table, column=name, from_=before, to=after))

    for name in added:
        col = new_cols[name]
        if (
            not col.nullable
            and not col.has_default
            and not col.auto_now_add
            and not col.auto_now
            and not col.primary_key
        ):
            raise UnsafeAlter(
                new.name,
                name,
                f"adding NOT NULL column `{table}.{name}` without a default fails on every "
                "existing row",
                "make it nullable, give it a default, or use auto_now_add",
            )
        if col.primary_key:
            raise UnsafeAlter(
                new.name, name, "adding a primary-key column to an existing table",
                "hand-write the migration with a data-preserving step",
            )  # fmt: skip

    old_specs = old.index_specs()
    new_specs = new.index_specs()
    index_drops = [
        ops.DropIndex(table=table, columns=cols, unique=uniq)
        for cols, uniq in old_specs
        if (cols, uniq) not in new_specs and all(c in new_cols for c in cols)
    ]
    # An added column's own index (index=True or a ForeignKey) is created by its AddColumn;
    # a separate AddIndex would create it twice.
    own_indexes = {((n,), False) for n in added}
    index_adds = [
        ops.AddIndex(table=table, columns=cols, unique=uniq)
        for cols, uniq in new_specs
        if (cols, uniq) not in old_specs and (cols, uniq) not in own_indexes
    ]

    # The alters and comments name a renamed column by its new name: the rename goes first.
    if rename:
        result.operations.append(ops.RenameColumn(table=table, from_=rename[0], to=rename[1]))
    result.operations.extend(alters)
    result.operations.extend(comments)
    result.operations.extend(index_drops)
    result.operations.extend(ops.DropColumn(table=table, column=n) for n in removed)
    result.operations.extend(ops.AddColumn(table=table, column=new_cols[n]) for n in added)
    result.operations.extend(index_adds)


def _renamed_model(model: ModelState, old: str, new: str) -> ModelState:
    def ren(group: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if c == old else c for c in group)

    return replace(
        model,
        fields=tuple(c.renamed(new) if c.name == old else c for c in model.fields),
        unique_together=tuple(ren(g) for g in model.unique_together),
        indexes=tuple(ren(g) for g in model.indexes),
    )


def _check_alter(model: str, before: Column, after: Column) -> None:
    """Raise UnsafeAlter for the changes SPEC §7 refuses."""
    name = after.name
    if before.primary_key != after.primary_key:
        raise UnsafeAlter(
            model, name, "primary-key flip",
            "hand-write the migration with a data-preserving step (RunSql)",
        )  # fmt: skip
    if not is_safe_cast(before.type, after.type):
        raise UnsafeAlter(
            model,
            name,
            f"type change {before.type} -> {after.type} is not in the safe-cast whitelist",
            "add a new column, copy the data over in a hand-written RunSql migration, then drop "
            "the old column",
        )
    if before.is_fk and after.is_fk and not is_safe_cast(before.storage_type, after.storage_type):
        raise UnsafeAlter(
            model,
            name,
            f"foreign-key type change {before.storage_type} -> {after.storage_type}",
            "add a new column, copy the data in a hand-written migration, then drop it",
        )
    if before.nullable and not after.nullable and not after.has_default:
        raise UnsafeAlter(
            model,
            name,
            "nullable -> NOT NULL without a default fails on existing NULL rows",
            "give it a default (existing NULLs are backfilled with it), or hand-write the "
            "migration: a RunSql that fills the NULLs, then the NOT NULL change",
        )
    if after.unique and not before.unique:
        raise UnsafeAlter(
            model,
            name,
            "adding unique to an existing column fails on duplicate values",
            "de-duplicate the rows first, then add the unique index in a hand-written migration",
        )
    if after.max_length is not None and (
        before.max_length is None or after.max_length < before.max_length
    ):
        old = "unbounded" if before.max_length is None else before.max_length
        raise UnsafeAlter(
            model,
            name,
            f"narrowing max_length {old} -> {after.max_length} can truncate existing values",
            "keep the wider length, or add a new column and copy the data in a hand-written "
            "migration",
        )


def _generate_m2m(
    prev_tables: dict[str, ModelState],
    cur_tables: dict[str, ModelState],
    renames: dict[str, str],
    result: Diff,
) -> None:
    old_by_key = {(n, r.field): (m, r) for n, m in prev_tables.items() for r in m.m2m}
    creates: list[ops.Operation] = []
    drops: list[ops.Operation] = []
    consumed: set[tuple[str, str]] = set()
    for name in sorted(cur_tables):
        model = cur_tables[name]
        for rel in model.m2m:
            key = (renames.get(name, ""), rel.field)
            old = old_by_key.get(key)
            if old is not None and old[1].target == rel.target:
                consumed.add(key)
                if old[1].table != rel.table:
                    result.operations.append(ops.RenameTable(from_=old[1].table, to=rel.table))
                continue
            if old is not None:
                consumed.add(key)
                drops.append(ops.DropM2MTable(table=old[1].table))
            pk = model.pk
            if pk is None:
                raise UnsupportedChange(f"model `{name}` has a ManyToMany but no primary key")
            creates.append(
                ops.CreateM2MTable(
                    table=rel.table,
                    parent_table=model.table,
                    parent_column=pk.name,
                    child_table=rel.target,
                    child_column=rel.target_column,
                    parent_type=pk.storage_type,
                    child_type=rel.target_type,
                )
            )
    for key, (_, rel) in sorted(old_by_key.items()):
        if key not in consumed:
            drops.append(ops.DropM2MTable(table=rel.table))
    result.operations.extend(drops)
    result.operations.extend(creates)


def _generate_views(
    previous: Snapshot, current: Snapshot, touched: set[str]
) -> tuple[list[ops.Operation], list[ops.Operation]]:
    old = {m.table: m.view for m in previous.models.values() if m.view is not None}
    new = {m.table: m.view for m in current.models.values() if m.view is not None}
    redo = {v for v in new if old.get(v) != new[v]}
    # A kept view that reads a touched table, or a re-created view, is re-created too.
    changed = True
    while changed:
        changed = False
        for v, sql in new.items():
            if v in redo or v not in old:
                continue
            if any(_reads(sql, t) for t in touched | redo):
                redo.add(v)
                changed = True
    drop = [v for v in old if v not in new or v in redo]
    order = _kahn({v: {w for w in new if w != v and _reads(new[v], w)} for v in new})
    creates = [ops.CreateView(name=v, sql=new[v]) for v in order if v in redo]
    drops = [ops.DropView(name=v, sql=old[v]) for v in reversed(order) if v in drop]
    drops += [ops.DropView(name=v, sql=old[v]) for v in sorted(drop) if v not in new]
    return drops, creates


def _reads(sql: str, name: str) -> bool:
    """Whole-word, case-insensitive: does the view's SQL name this table or view?"""
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", sql, re.IGNORECASE) is not None
