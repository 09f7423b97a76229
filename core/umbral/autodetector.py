"""The autodetector: diff a plugin's previous snapshot against its current models (SPEC §7).

Pure: no database, no files, no printing. Rename notes are returned as :class:`Note` objects
for the caller to show. Operations come out in an order where every statement is valid when it
runs: views dropped first, renames, creates (FK targets first), per-model column changes
(index drops before column drops, column adds before index adds), junction tables, table drops
(children first), views created last.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import field, replace
from typing import Any

from umbral import operations as ops
from umbral.errors import UnsafeAlter, UnsupportedChange
from umbral.schema import M2M, Column, ModelState, Snapshot, following
from umbral.toposort import toposort
from umbral.values import frozen, record

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


@frozen
class Note:
    """Something the user should see: ``stream`` is "stdout" or "stderr"."""

    stream: str
    text: str


@frozen
class BackfillRequest:
    """A NOT NULL column without a default that existing rows need a value for: an added
    column (``adding``) or a nullable column made NOT NULL."""

    model: str
    table: str
    column: Column
    adding: bool

    @property
    def key(self) -> str:
        """How ``--backfill`` names it: ``Model.column``."""
        return f"{self.model}.{self.column.name}"


#: Answers a BackfillRequest with the one-off value, or None to refuse the change.
Backfill = Callable[[BackfillRequest], Any]


@record
class Diff:
    operations: list[ops.Operation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Tables this plugin renamed, old name -> new name (for the plugins diffed after it).
    renamed: dict[str, str] = field(default_factory=dict)
    #: Tables of other plugins, under their new names, that this plugin's foreign keys or
    #: ManyToMany fields now name only because those plugins renamed them (or renamed their
    #: primary-key column): no SQL is needed (the database's references follow a rename), but
    #: the snapshot must record it.
    follows: set[str] = field(default_factory=set)


def diff(
    previous: Snapshot,
    current: Snapshot,
    moved: Mapping[str, str] | None = None,
    backfill: Backfill | None = None,
    known_renames: Mapping[str, Mapping[str, str]] | None = None,
) -> Diff:
    """Return the operations that turn ``previous`` into ``current`` (one plugin).

    ``moved`` maps the tables other plugins renamed in the same run, old name -> new name.
    ``backfill`` gives the one-off value existing rows take when a column becomes NOT NULL
    without a default; without one (or when it answers None) the change is refused.
    ``known_renames`` maps a model (class name) to column renames known from the operations
    that made them, old name -> new name (a squash's range): each is a rename whatever else
    changed in the column since.
    """
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

    # Pass 2: unpaired removed/new models with identical column shapes -> RenameTable. A
    # foreign key compares through the renames already found (other plugins', this one's),
    # as the database's reference follows a rename: a model renamed with the table it
    # references keeps its shape. A match found may make another one (a model referencing
    # the renamed one), so the look repeats until it finds nothing.
    created = sorted(n for n in cur_tables if n not in prev_tables)
    dropped = sorted(n for n in prev_tables if n not in cur_tables)
    # Each shape once: comparing every new model with every other is quadratic, and a
    # project's first migration creates all of them (no dropped model: nothing to pair).
    shapes = {n: _table_shape(cur_tables[n]) for n in created} if dropped else {}
    followed = {**(moved or {})}
    followed.update(
        (prev_tables[o].table, cur_tables[n].table)
        for n, o in renames.items()
        if prev_tables[o].table != cur_tables[n].table
    )
    found = True
    while found and created and dropped:
        found = False
        old_shapes = {o: _table_shape(prev_tables[o], followed) for o in dropped}
        for new_name in created:
            shape = shapes[new_name]
            matches = [o for o in dropped if old_shapes[o] == shape]
            rivals = [n for n in created if shapes[n] == shape]
            if len(matches) != 1 or len(rivals) != 1:
                continue
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
            followed[old] = new
            found = True
            break

    result.operations.extend(_generate_create_tables([cur_tables[n] for n in created]))

    # A foreign key or a ManyToMany to a renamed table follows it in the database: compare
    # them under the new name, so the rename alone neither alters the column nor replaces the
    # junction table (and its rows).
    result.renamed = {
        prev_tables[o].table: cur_tables[n].table
        for n, o in renames.items()
        if prev_tables[o].table != cur_tables[n].table
    }
    elsewhere = moved or {}
    follow = {**elsewhere, **result.renamed}
    if follow:  # rare: most runs rename nothing
        for model in prev_tables.values():
            result.follows |= {elsewhere[t] for t in model.targets() if t in elsewhere}
        prev_tables = {n: following(m, follow) for n, m in prev_tables.items()}

    for new_name in sorted(renames):
        old_model = prev_tables[renames[new_name]]
        new_model = cur_tables[new_name]
        if old_model == new_model:
            continue  # the common case by far; comparing is much cheaper than diffing
        known = (known_renames or {}).get(new_name, {})
        _generate_model_changes(old_model, new_model, result, backfill, known)

    _generate_m2m(prev_tables, cur_tables, renames, result)
    # Only another plugin's tables are followed: a key column of this plugin's own table is
    # renamed by this migration.
    result.follows -= {m.table for m in cur_tables.values()}
    result.operations.extend(_generate_drop_tables([prev_tables[n] for n in dropped]))
    # Views are dropped before and created after every table operation; a view that reads a
    # table this diff touches is re-created so it sees the new definition (SPEC §7).
    view_drops, view_creates = _generate_views(previous, current, _touched(result.operations))
    result.notes.extend(_stale_view_sql(result.operations, view_creates, current))
    result.operations[:0] = view_drops
    result.operations.extend(view_creates)
    return result


def _stale_view_sql(
    operations: list[ops.Operation], creates: list[ops.Operation], current: Snapshot
) -> list[Note]:
    """A warning for each re-created view whose SQL still names a table this diff renames or
    drops: the SQL runs as written, so the view fails to be made (PostgreSQL; MySQL, part way
    through the migration) or is made reading a table that is gone (SQLite). A warning, not an
    error: the name may be an alias or a column of the same spelling."""
    gone: dict[str, str] = {}
    for op in operations:
        if isinstance(op, ops.RenameTable):
            gone[op.from_] = f"renames to `{op.to}`"
        elif isinstance(op, ops.DropTable):
            gone[op.table] = "drops"
    still = {m.table for m in current.models.values()}
    notes = [
        Note(
            "stderr",
            f"warning: umbral makemigrations: view `{create.name}` names `{table}`, which this "
            f"migration {what}: its SQL runs as written when the view is re-created; update it "
            "if it means that table",
        )
        for create in creates
        if isinstance(create, ops.CreateView)
        for table, what in sorted(gone.items())
        if table not in still and _names_table(create.sql, table)
    ]
    # The same for a column of a table the view reads.
    columns: dict[tuple[str, str], str] = {}
    for op in operations:
        if isinstance(op, ops.RenameColumn):
            columns[(op.table, op.from_)] = f"renames to `{op.to}`"
        elif isinstance(op, ops.DropColumn):
            columns[(op.table, op.column)] = "drops"
    kept = {(m.table, c.name) for m in current.models.values() for c in m.fields}
    notes += [
        Note(
            "stderr",
            f"warning: umbral makemigrations: view `{create.name}` reads `{table}` and names "
            f"`{column}`, a column this migration {what}: its SQL runs as written when the view "
            "is re-created; update it if it means that column",
        )
        for create in creates
        if isinstance(create, ops.CreateView)
        for (table, column), what in sorted(columns.items())
        if (table, column) not in kept
        and _reads(create.sql, table)
        and _reads(re.sub(r"'(?:[^']|'')*'", "''", create.sql), column)
    ]
    return notes


def _names_table(sql: str, name: str) -> bool:
    """``_reads``, but not a qualified column (``i.customer``: a word after a dot is a column
    of a table the SQL names otherwise) nor a word of a string literal (``'post'``)."""
    bare = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return re.search(rf"(?<![\w$.]){re.escape(name)}(?![\w$])", bare, re.IGNORECASE) is not None


def _touched(operations: list[ops.Operation]) -> set[str]:
    """The tables the operations change (a column rename's ``from_`` and ``to`` are columns:
    a view naming a word like them, of another table, is left alone)."""
    names: set[str] = set()
    for op in operations:
        attrs = ("table",) if op.kind == "RenameColumn" else ("table", "from_", "to")
        for attr in attrs:
            value = getattr(op, attr, None)
            if isinstance(value, str):
                names.add(value)
    return names


def _table_shape(model: ModelState, followed: Mapping[str, str] | None = None) -> tuple:
    """The columns' names, types, nullability and foreign-key targets (a reference to the
    model's own table as ``SELF``, whatever its name; a target renamed in ``followed``, old
    name -> new name, under its new name)."""
    follow = followed or {}

    def target(t: str | None) -> str | None:
        if t is not None and t == model.table:
            return _SELF
        return follow.get(t, t) if t is not None else None

    return tuple(sorted((c.name, c.type, c.nullable, target(c.fk_target)) for c in model.fields))


#: A foreign key's target in a table shape when it is the model's own table.
_SELF = "\0self"


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
    for t in toposort(deps):
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
    return [ops.DropTable(table=t) for t in reversed(toposort(deps))]


def _generate_model_changes(
    old: ModelState,
    new: ModelState,
    result: Diff,
    backfill: Backfill | None = None,
    known: Mapping[str, str] | None = None,
) -> None:
    old_cols = {c.name: c for c in old.fields}
    new_cols = {c.name: c for c in new.fields}
    removed = [n for n in old_cols if n not in new_cols]
    added = [c.name for c in new.fields if c.name not in old_cols]
    table = new.table

    # A rename the operations made is one even when the column changed after it; the rest
    # are guessed from the column shapes.
    told = [(b, a) for b, a in (known or {}).items() if b in removed and a in added]
    renames = told + _column_renames(
        [old_cols[n] for n in removed if all(n != b for b, _ in told)],
        [new_cols[n] for n in added if all(n != a for _, a in told)],
    )
    for before, after in renames[len(told):]:
        result.notes.append(
            Note(
                "stderr",
                f"umbral makemigrations: rename detected (column-shape match): column "
                f"`{table}.{before}` -> `{after}` - please verify this is a rename and not "
                "a drop and an add of two unrelated columns",
            )
        )
    for before, after in renames:
        old_cols = {(after if n == before else n): c.renamed(after) if n == before else c
                    for n, c in old_cols.items()}  # fmt: skip
        old = _renamed_model(old, before, after)
    removed = [n for n in removed if all(n != before for before, _ in renames)]
    added = [n for n in added if all(n != after for _, after in renames)]

    alters: list[ops.Operation] = []
    comments: list[ops.Operation] = []
    for name in sorted(n for n in new_cols if n in old_cols):
        before, after = old_cols[name], new_cols[name]
        if (
            before.is_fk
            and after.is_fk
            and before.fk_target == after.fk_target
            and before.fk_column != after.fk_column
        ):
            # A foreign key names its target's primary key, which can only have been renamed:
            # the database's reference follows it (``RenameColumn``).
            before = replace(before, fk_column=after.fk_column)
            result.follows.add(str(after.fk_target))
        _check_alter(new.name, before, after)
        fill = None
        if before.nullable and not after.nullable and not after.has_default:
            fill = _backfill(BackfillRequest(new.name, table, after, adding=False), backfill)
        if before.help != after.help:
            comments.append(ops.SetColumnComment(table=table, column=name, comment=after.help))
        if before.db_attributes() != replace(after, help=before.help).db_attributes():
            alters.append(
                ops.AlterColumn(table=table, column=name, from_=before, to=after, backfill=fill)
            )

    fills: dict[str, Any] = {}
    for name in added:
        col = new_cols[name]
        if (
            not col.nullable
            and not col.has_default
            and not col.auto_now_add
            and not col.auto_now
            and not col.primary_key
        ):
            fills[name] = _backfill(BackfillRequest(new.name, table, col, adding=True), backfill)
        if col.primary_key:
            raise UnsafeAlter(
                new.name, name, "adding a primary-key column to an existing table",
                "hand-write the migration with a data-preserving step",
            )  # fmt: skip

    old_specs = old.index_specs()
    new_specs = new.index_specs()
    # An added column's own index (index=True or a ForeignKey) is created by its AddColumn,
    # and an altered column's by its AlterColumn when the change gives or takes it (which
    # drops it too): a separate AddIndex would create it twice.
    altered = [
        op.column
        for op in alters
        if isinstance(op, ops.AlterColumn) and _own_index(op.from_) != _own_index(op.to)
    ]
    own_indexes = {((n,), False) for n in (*added, *altered)}
    index_drops = [
        ops.DropIndex(table=table, columns=cols, unique=uniq)
        for cols, uniq in old_specs
        if (cols, uniq) not in new_specs
        and all(c in new_cols for c in cols)
        and (cols, uniq) not in own_indexes
    ]
    index_adds = [
        ops.AddIndex(table=table, columns=cols, unique=uniq)
        for cols, uniq in new_specs
        if (cols, uniq) not in old_specs and (cols, uniq) not in own_indexes
    ]

    # Renames first: an alter or a comment of the renamed column names it by its new name.
    result.operations.extend(
        ops.RenameColumn(table=table, from_=before, to=after) for before, after in renames
    )
    result.operations.extend(alters)
    result.operations.extend(comments)
    result.operations.extend(index_drops)
    result.operations.extend(ops.DropColumn(table=table, column=n) for n in removed)
    result.operations.extend(
        ops.AddColumn(table=table, column=new_cols[n], backfill=fills.get(n)) for n in added
    )
    result.operations.extend(index_adds)


def _column_renames(removed: list[Column], added: list[Column]) -> list[tuple[str, str]]:
    """Pair each removed column with the added column of its shape, when that pairing is the
    only one possible: a shape shared by two removed or two added columns is never guessed
    (SPEC §7). Whatever else changes in the model does not matter."""

    def named(columns: list[Column], shape: tuple) -> list[str]:
        # Compared, not hashed: a Json default may be a list or a dict.
        return [c.name for c in columns if c.shape() == shape]

    pairs = []
    for column in removed:
        shape = column.shape()
        candidates = named(added, shape)
        if len(candidates) == 1 and named(removed, shape) == [column.name]:
            pairs.append((column.name, candidates[0]))
    return pairs


def _own_index(col: Column) -> bool:
    """Whether the column has its own ``idx_<table>_<column>`` (``ModelState.index_specs``)."""
    return (col.index or col.is_fk) and not col.unique and not col.primary_key


def _renamed_model(model: ModelState, old: str, new: str) -> ModelState:
    def ren(group: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if c == old else c for c in group)

    return replace(
        model,
        fields=tuple(c.renamed(new) if c.name == old else c for c in model.fields),
        unique_together=tuple(ren(g) for g in model.unique_together),
        indexes=tuple(ren(g) for g in model.indexes),
    )


def _backfill(request: BackfillRequest, backfill: Backfill | None) -> Any:
    """The one-off value for ``request``, or UnsafeAlter when none is given (SPEC §7)."""
    value = backfill(request) if backfill is not None else None
    if value is not None:
        return value
    table, name, flag = request.table, request.column.name, f"--backfill {request.key}=VALUE"
    if request.adding:
        raise UnsafeAlter(
            request.model,
            name,
            f"adding NOT NULL column `{table}.{name}` without a default fails on every "
            "existing row",
            "make it nullable, give it a default, or use auto_now_add; or give the existing "
            f"rows a one-off value: run makemigrations on a terminal, or pass {flag}",
        )
    raise UnsafeAlter(
        request.model,
        name,
        "nullable -> NOT NULL without a default fails on existing NULL rows",
        "give it a default (existing NULLs are backfilled with it), or give the existing NULLs "
        f"a one-off value: run makemigrations on a terminal, or pass {flag}",
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
    """Junction tables. A relation keeps its junction, and every link in it, when its parent or
    its target was renamed (the database's foreign keys follow a table rename) and when the
    field itself was renamed with nothing else pointing the same way: the junction is renamed
    when its name changes. A relation to another table is a new relation."""
    old_rels = {n: {r.field: r for r in m.m2m} for n, m in prev_tables.items()}
    creates: list[ops.Operation] = []
    keys: list[ops.Operation] = []
    kept: list[tuple[M2M, M2M]] = []
    for name in sorted(cur_tables):
        model = cur_tables[name]
        old_name = renames.get(name)
        before = old_rels.get(old_name, {}) if old_name is not None else {}
        kept_here = len(kept)
        new_rels: list[M2M] = []
        for rel in model.m2m:
            old = before.get(rel.field)
            if old is not None and _same_relation(old, rel):
                kept.append((old, rel))
            else:
                new_rels.append(rel)
        if old_name is not None:
            pairs = _field_renames(prev_tables[old_name], model, new_rels, result)
            kept += pairs
            new_rels = [r for r in new_rels if all(r != rel for _, rel in pairs)]
            keys += _junction_keys(prev_tables[old_name], model, kept[kept_here:])
        for rel in new_rels:
            if model.pk is None:
                raise UnsupportedChange(f"model `{name}` has a ManyToMany but no primary key")
            creates.append(ops.CreateM2MTable.of(model, rel))
    # A key column of another plugin's table renamed: nothing to run (the reference follows
    # it), but the snapshot records the new name, in a migration that depends on the rename.
    result.follows |= {rel.target for old, rel in kept if old.target_column != rel.target_column}
    # Drops first (a kept junction may take a dropped one's name), renames before creates.
    kept_tables = {old.table for old, _ in kept}
    result.operations.extend(
        ops.DropM2MTable(table=rel.table)
        for name in sorted(old_rels)
        for _, rel in sorted(old_rels[name].items())
        if rel.table not in kept_tables
    )
    result.operations.extend(
        ops.RenameTable(from_=old.table, to=rel.table)
        for old, rel in kept
        if old.table != rel.table
    )
    result.operations.extend(keys)
    result.operations.extend(creates)


def _junction_keys(
    old_model: ModelState, model: ModelState, kept: list[tuple[M2M, M2M]]
) -> list[ops.Operation]:
    """A kept junction's key columns follow a type change of the primary key each holds, as
    a foreign-key column follows its target (``AlterColumn``): ``parent_id`` the model's own,
    ``child_id`` the target's (of this plugin or another)."""
    old_pk, new_pk = old_model.pk, model.pk
    parent = (old_pk.storage_type, new_pk.storage_type) if old_pk and new_pk else None
    out: list[ops.Operation] = []
    for old, rel in kept:
        changes = [("parent_id", model.table, parent), ("child_id", rel.target,
                   (old.target_type, rel.target_type))]  # fmt: skip
        for column, key_table, types in changes:
            if types is not None and types[0] != types[1]:
                out.append(
                    ops.AlterM2MKey(
                        table=rel.table, column=column, key_table=key_table,
                        from_=types[0], to=types[1],
                    )
                )  # fmt: skip
    return out


def _same_relation(old: M2M, new: M2M) -> bool:
    """The same target table; the junction's name may differ. The key's type may differ
    too: a primary key widened (``Integer`` to ``BigInt``) keeps its links, and the junction's
    column follows the key (``AlterM2MKey``). So may the key column's name: the target's
    primary key can only be renamed (a primary-key flip, or a primary key added to a table, is
    refused), the junction's columns do not name it (``parent_id``, ``child_id``), and the
    databases' references follow a column rename as they follow a table rename."""
    return old.target == new.target


def _field_renames(
    old_model: ModelState,
    new_model: ModelState,
    unmatched: list[M2M],
    result: Diff,
) -> list[tuple[M2M, M2M]]:
    """Pair a removed and an added ManyToMany field of one model that relate to the same
    table, when no other removed or added field of the model does (never a guess)."""
    new_fields = {r.field for r in new_model.m2m}
    old_fields = {r.field for r in old_model.m2m}
    gone = [r for r in old_model.m2m if r.field not in new_fields]
    added = [r for r in unmatched if r.field not in old_fields]
    pairs = []
    for old in gone:
        candidates = [r for r in added if _same_relation(old, r)]
        rivals = [o for o in gone if _same_relation(o, candidates[0])] if candidates else []
        if len(candidates) == 1 and rivals == [old]:
            new = candidates[0]
            pairs.append((old, new))
            result.notes.append(
                Note(
                    "stderr",
                    "umbral makemigrations: rename detected (same target): many-to-many "
                    f"`{new_model.table}.{old.field}` -> `{new.field}` - please verify this is a "
                    "rename and not a drop and an add of two unrelated relations",
                )
            )
    return pairs


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
    order = toposort({v: {w for w in new if w != v and _reads(new[v], w)} for v in new})
    creates = [ops.CreateView(name=v, sql=new[v]) for v in order if v in redo]
    drops = [ops.DropView(name=v, sql=old[v]) for v in reversed(order) if v in drop]
    drops += [ops.DropView(name=v, sql=old[v]) for v in sorted(drop) if v not in new]
    return drops, creates


def _reads(sql: str, name: str) -> bool:
    """Whole-word, case-insensitive: does the view's SQL name this table or view?"""
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", sql, re.IGNORECASE) is not None
