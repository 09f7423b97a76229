"""squashmigrations: one migration replacing a range of a plugin's history (SPEC §5).

The squash's operations are the diff from the schema before the range to the schema after it,
so a fresh database runs one migration instead of many. Originals stay on disk; ``replaces``
tells ``migrate`` how to treat databases that ran some or all of them.
"""

from __future__ import annotations

from umbral.autodetector import diff
from umbral.environment import Environment
from umbral.errors import CannotSquash, UmbralError
from umbral.graph import ancestors
from umbral.migration import Migration, table_renames
from umbral.operations import AddColumn, AlterColumn, RenameColumn, RenameTable, RunPython, RunSql
from umbral.schema import EMPTY, Snapshot


def squash(
    env: Environment, plugin: str, *, start: str | None = None, end: str | None = None
) -> Migration:
    """Build (unwritten) the squash of ``plugin``'s migrations from ``start`` to ``end``."""

    def refuse(reason: str) -> CannotSquash:
        return CannotSquash(f"umbral squashmigrations: can't squash `{plugin}`: {reason}")

    info = env.info(plugin)
    if info.read_only:
        raise refuse(
            f"its migrations ship inside an installed distribution ({info.migrations_dir})"
        )
    env.latest(plugin)  # unmerged branches: the conflict error, before anything else
    every = env.migrations(plugin)
    replaced = {r for m in every for r in m.replaces}
    # An earlier squash stands in for the originals it replaces.
    history = [m for m in every if m.key not in replaced]
    ids = [m.id for m in history]
    squashed_by = {r.partition("/")[2]: m.id for m in every for r in m.replaces}
    for flag, value in (("--from", start), ("--to", end)):
        if value is not None and value in squashed_by:
            raise refuse(
                f"{flag} {value}: the squash {squashed_by[value]} replaces it; name a migration "
                f"of the history as it stands (known: {', '.join(ids)})"
            )
        if value is not None and value not in ids:
            raise refuse(f"{flag} {value}: no such migration (known: {', '.join(ids) or 'none'})")
    lo = ids.index(start) if start else 0
    hi = ids.index(end) if end else len(ids) - 1
    chosen = history[lo : hi + 1]
    if hi < lo:
        raise refuse(f"--to {end} comes before --from {start}: give the range in order")
    if len(chosen) < 2:
        raise refuse(f"need at least 2 migrations to squash, found {len(chosen)}")
    # The squash is the diff from the snapshot of the migration before the range: the range
    # must start where that one ends (not at a merge, nor on another branch).
    stands_in = {r: m.key for m in every for r in m.replaces}
    follows = sorted(
        {stands_in.get(d, d) for d in chosen[0].depends_on if d.partition("/")[0] == plugin}
    )
    previous = [history[lo - 1].key] if lo > 0 else []
    if follows != previous:
        raise refuse(
            f"the range starts at {chosen[0].key}, which follows "
            f"{', '.join(follows) or 'no migration'}, not {', '.join(previous) or 'nothing'}: "
            "a squash starts where one migration ends; start the range before the branches, "
            "or after their merge"
        )
    nested = [m.id for m in chosen if m.replaces]
    if nested:
        raise refuse(
            f"the range includes the squash {nested[0]}; nested squashing is not supported: "
            f"squash only the migrations after it (--from)"
        )
    for m in chosen:
        for op in m.operations:
            if isinstance(op, RunSql | RunPython) and not op.elidable:
                raise refuse(
                    f"{m.key} contains {op.kind}, which a schema diff cannot reproduce; mark it "
                    '"elidable": true if the squash may drop it, or squash a range without it'
                )
    by_key = {m.key: m for p in env.order for m in env.migrations(p)}
    problem = _depends_on_itself(chosen, by_key) or _renamed_under(
        env, plugin, history[lo - 1] if lo > 0 else None, chosen, by_key
    )
    if problem is not None:
        raise refuse(problem)
    keys = {m.key for m in chosen}
    before = history[lo - 1].snapshot_after if lo > 0 else EMPTY
    after = chosen[-1].snapshot_after
    # A schema diff has no view to create or drop for a shim: the range must hold both ends
    # of each shim's life, or neither.
    was, now = {s.name for s in before.shims}, {s.name for s in after.shims}
    if now - was:
        raise refuse(
            f"the range creates compatibility shim(s) {', '.join(sorted(now - was))}, live at "
            "its end; squash a range that also holds the drop (`makemigrations --drop-compat`), "
            "or a range without them"
        )
    if was - now:
        raise refuse(
            f"the range drops compatibility shim(s) {', '.join(sorted(was - now))}, made "
            "before it; squash a range that also holds the rename that made them, or a range "
            "without them"
        )
    # The one-off backfills the range's migrations recorded serve the squash's diff too.
    recorded = {
        (op.table, op.column.name if isinstance(op, AddColumn) else op.column): op.backfill
        for m in chosen
        for op in m.operations
        if isinstance(op, AddColumn | AlterColumn) and op.backfill is not None
    }
    try:
        operations = diff(
            before,
            after,
            _renamed_elsewhere(env, plugin, chosen),
            lambda request: recorded.get((request.table, request.column.name)),
            _column_renames(chosen),
        ).operations
    except UmbralError as exc:
        raise refuse(f"the range cannot be expressed as one diff: {exc}") from exc
    from umbral.opcheck import squash_difference

    lost = squash_difference(every, chosen, operations)
    if lost is not None:
        raise refuse(
            f"after the range's own operations {lost}, but not after a squash (the diff of the "
            f"snapshots, which end at {chosen[-1].path}); make the snapshots show what the "
            "operations do, or squash a range without them"
        )
    depends_on = sorted({d for m in chosen for d in m.depends_on if d not in keys})
    mid = f"{chosen[0].sequence:04d}_squashed_{chosen[-1].sequence:04d}"
    directory = info.migrations_dir
    assert directory is not None
    if (directory / f"{mid}.json").exists():
        raise refuse(f"{directory / (mid + '.json')} already exists")
    return Migration(
        plugin=plugin,
        id=mid,
        operations=operations,
        snapshot_after=after,
        depends_on=depends_on,
        replaces=sorted(keys),
        path=directory / f"{mid}.json",
    )


def _depends_on_itself(chosen: list[Migration], every: dict[str, Migration]) -> str | None:
    """Why the squash would depend on itself (a dependency of the range that depends on one
    of its migrations), or None."""
    keys = {m.key for m in chosen}
    for m in chosen:
        for dep in sorted(d for d in m.depends_on if d not in keys):
            inside = sorted(ancestors(dep, every) & keys)
            if inside:
                return (
                    f"{m.key} depends on {dep}, which depends on {inside[-1]} of the range: the "
                    f"squash would depend on itself; squash a range that ends before {m.id} or "
                    "starts at it"
                )
    return None


def _renamed_under(
    env: Environment,
    plugin: str,
    before: Migration | None,
    chosen: list[Migration],
    every: dict[str, Migration],
) -> str | None:
    """Why the squash would break another plugin's migrations, or None.

    A squash keeps its recorded edges and runs whole. Another plugin's migration written when
    a migration of the range (or the one before it) was the plugin's latest names the
    plugin's tables as they were then; replayed from zero it runs after the whole squash,
    which makes them under their final names only: a table or key column the range renames
    later would be named by its old name."""
    position = {m.key: i for i, m in enumerate(chosen)}
    if before is not None:
        position[before.key] = -1
    for other in env.order:
        if other == plugin:
            continue
        for m in env.migrations(other):
            known = [position[k] for k in ancestors(m.key, every) if k in position]
            if not known or max(known) == len(chosen) - 1:
                continue
            at = max(known)
            anchor = chosen[at] if at >= 0 else before
            assert anchor is not None
            named = _named(m, anchor.snapshot_after)
            tables = {t for t, _ in named}
            for later in chosen[at + 1 :]:
                for op in later.operations:
                    if isinstance(op, RenameTable) and op.from_ in tables:
                        what = f"renames {op.from_} to {op.to}"
                    elif isinstance(op, RenameColumn) and (op.table, op.from_) in named:
                        what = f"renames {op.table}.{op.from_} to {op.to}"
                    else:
                        continue
                    return (
                        f"{m.key} depends on {anchor.key}, and {later.key} {what} after it: "
                        f"replayed from zero, {m.key} would run "
                        "after the squash, which makes only the new name; squash a range that "
                        f"ends before {later.id} or starts after it"
                    )
    return None


def _named(m: Migration, tables: Snapshot) -> set[tuple[str, str]]:
    """(table, column) of the other plugin's tables that ``m``'s foreign keys and ManyToMany
    fields point at; a key without a column points at the table's primary key in
    ``tables``."""
    pks = {x.table: x.pk.name for x in tables.models.values() if x.pk is not None}
    out: set[tuple[str, str]] = set()
    for model in m.snapshot_after.models.values():
        for c in model.fields:
            if c.fk_target in pks:
                out.add((c.fk_target, c.fk_column or pks[c.fk_target]))
        for r in model.m2m:
            if r.target in pks:
                out.add((r.target, r.target_column))
    return out


def _renamed_elsewhere(env: Environment, plugin: str, chosen: list[Migration]) -> dict[str, str]:
    """Tables other plugins renamed in the migrations the range depends on, old -> new name.

    A migration that only follows another plugin's rename has no operation but depends on the
    rename; without this, the range's diff would see its relations pointing at another table
    and drop their junction tables."""
    by_key = {m.key: m for other in env.order if other != plugin for m in env.migrations(other)}
    deps = sorted({d for m in chosen for d in m.depends_on})
    return table_renames(by_key[d] for d in deps if d in by_key)


def _column_renames(chosen: list[Migration]) -> dict[str, dict[str, str]]:
    """The columns the range's operations rename, per model (class name): the name before the
    range -> the name at its end. The diff of the snapshots would take a renamed column that
    also changed later in the range (widened, made nullable) for a drop and a NOT NULL add."""
    # Per model: the column's name now -> its name before the range.
    names: dict[str, dict[str, str]] = {}
    for m in chosen:
        models = {state.table: name for name, state in m.snapshot_after.models.items()}
        for op in m.operations:
            if isinstance(op, RenameTable):
                models.setdefault(op.from_, models.get(op.to, ""))
            if not isinstance(op, RenameColumn) or op.table not in models:
                continue
            now = names.setdefault(models[op.table], {})
            now[op.to] = now.pop(op.from_, op.from_)
    return {
        model: {was: name for name, was in now.items() if was != name}
        for model, now in names.items()
    }
