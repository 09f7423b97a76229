"""N-1 compatibility shims for renames (``makemigrations --compat`` / ``--drop-compat``).

A rename asked for with ``--compat`` leaves a view behind (the renamed table's old name, or
``<table>_compat`` showing a renamed column under its old name) so the previous release keeps
reading and writing during a rolling deploy. The plugin's snapshot records each live shim with
the migration that created it; ``--drop-compat NAME`` writes the contract migration that drops
it. Pure: no database, no printing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from typing import TYPE_CHECKING

from umbral import operations as ops
from umbral.errors import UmbralError
from umbral.schema import Column, Shim, Snapshot
from umbral.values import frozen

if TYPE_CHECKING:
    from umbral.environment import Environment
    from umbral.migration import Migration

RENAMES = (ops.RenameTable, ops.RenameColumn)


def with_compat(operations: list[ops.Operation]) -> list[ops.Operation]:
    """Every rename of ``operations`` asking for a shim."""
    return [replace(op, compat=True) if isinstance(op, RENAMES) else op for op in operations]


def columns_when_made(made: Migration | None, table: str) -> tuple[str, ...] | None:
    """The columns of ``table`` a shim's view reads: the table's in the migration that made
    the shim (``Shim.since``); None when that migration is gone (squashed)."""
    if made is None:
        return None
    model = next((x for x in made.snapshot_after.models.values() if x.table == table), None)
    return None if model is None else tuple(c.name for c in model.fields)


def carry_shims(previous: Snapshot, current: Snapshot, migration_id: str,
                operations: list[ops.Operation], where: str,
                read: Callable[[Shim], Collection[str] | None] | None = None,
                ) -> Snapshot:  # fmt: skip
    """``current`` with the live shims of ``previous`` and those ``operations`` create.

    Refused when a new shim would take the name of a live one (a second column rename of a
    table whose ``<table>_compat`` view is live), or when an operation would break a live
    shim's view (``breaks``): drop that shim first. ``read`` gives the columns a shim's view
    reads (None: every column of its table)."""
    shims = list(previous.shims)
    for op in operations:
        for live in shims:
            why = breaks(op, live, read(live) if read is not None else None)
            otherwise = f"leave {live.table} as it is until then"
            if why is None and live.name in _names_made(op):
                why, otherwise = "has that name", "choose another name"
            if why is not None and live.since == migration_id:
                raise UmbralError(
                    f"{where}: {op.describe()}: compatibility view {live.name} of {live.table}, "
                    f"which another rename of this migration leaves, {why}; make the renames "
                    "in migrations of their own, or without --compat"
                )
            if why is not None:
                raise UmbralError(
                    f"{where}: {op.describe()}: compatibility view {live.name} of {live.table} "
                    f"is live and {why}; run `umbral makemigrations --drop-compat {live.name}` "
                    f"and migrate first (once the previous release is gone), or {otherwise}"
                )
        if isinstance(op, RENAMES) and op.compat:
            shim = op.shim(migration_id)
            if any(s.name == shim.name for s in shims):
                raise UmbralError(
                    f"{where}: {op.describe()}: compatibility view {shim.name} is already live; "
                    f"run `umbral makemigrations --drop-compat {shim.name}` and migrate first, "
                    "or rename without --compat"
                )
            taken = {m.table for m in current.models.values()}
            if shim.name in taken:
                raise UmbralError(
                    f"{where}: {op.describe()}: its compatibility view would be {shim.name}, "
                    "the name of a table or view of the models; rename without --compat, or "
                    "give that model another table="
                )
            shims.append(shim)
    return Snapshot(current.models, tuple(shims)) if shims else current


def _names_made(op: ops.Operation) -> set[str]:
    """The tables and views ``op`` creates or renames to."""
    if isinstance(op, ops.CreateTable | ops.CreateM2MTable):
        return {op.table}
    if isinstance(op, ops.RenameTable):
        return {op.to}
    if isinstance(op, ops.CreateView):
        return {op.name}
    return set()


def breaks(op: ops.Operation, shim: Shim, read: Collection[str] | None) -> str | None:
    """How ``op`` breaks the view of live ``shim``, which reads the columns ``read`` of its
    table (None: all), or None: PostgreSQL refuses to drop a table or column a view reads or
    change its type; MySQL and MariaDB leave the view naming a table or column no longer there
    (also after a rename); SQLite's triggers that write through the view fail the same way; and
    the triggers' writes keep a changed default's old value."""
    if isinstance(op, ops.DropTable | ops.RenameTable):
        table = op.table if isinstance(op, ops.DropTable) else op.from_
        return "reads it" if table == shim.table else None
    why = "reads it"
    if isinstance(op, ops.DropColumn) and op.table == shim.table:
        column = op.column
    elif isinstance(op, ops.RenameColumn) and op.table == shim.table:
        column = op.from_
    elif isinstance(op, ops.AlterColumn) and op.table == shim.table:
        was, now = op.from_, op.to
        if (was.storage_type, was.max_length) == (now.storage_type, now.max_length):
            if _filled(was) == _filled(now):
                return None  # nullability, an index, choices: the view reads it the same
            why = "fills the column with the default it was made with"
        column = op.column
    else:
        return None
    return why if read is None or column in read else None


def _filled(column: Column) -> tuple[object, ...]:
    """What a write that leaves ``column`` out stores: its default, or the time."""
    return (column.default, column.auto_now_add, column.auto_now)


@frozen
class LiveShim:
    plugin: str
    shim: Shim
    #: Migrations of the plugin written after the one that created it.
    age: int


def live_shims(env: Environment) -> list[LiveShim]:
    """Every plugin's live shims (in its latest snapshot), with their age in migrations."""
    out: list[LiveShim] = []
    for plugin in env.file_order:  # files only: no model module is imported
        latest = env.latest(plugin)
        if latest is None:
            continue
        ids = [m.id for m in env.migrations(plugin)]
        for shim in latest.snapshot_after.shims:
            age = len(ids) - 1 - ids.index(shim.since) if shim.since in ids else len(ids)
            out.append(LiveShim(plugin, shim, age))
    return out


def drop_migration(env: Environment, name: str) -> Migration:
    """The contract migration that drops shim ``name``: one DropCompatShim, the snapshot
    without the shim. The models' other changes are left to a plain ``makemigrations``."""
    from umbral.migration import Migration, sanitize_suffix

    live = live_shims(env)
    found = next((s for s in live if s.shim.name == name), None)
    if found is None:
        names = ", ".join(s.shim.name for s in live) or "none"
        raise UmbralError(
            f"umbral makemigrations --drop-compat: no live compatibility shim named {name!r} "
            f"(live: {names}); `umbral checkmigrations` lists them"
        )
    plugin = found.plugin
    info = env.info(plugin)
    latest = env.latest(plugin)
    assert latest is not None
    previous = latest.snapshot_after
    rest = tuple(s for s in previous.shims if s.name != name)
    mid = env.next_id(plugin, sanitize_suffix(f"drop_compat_{name}"))
    return Migration(
        plugin=plugin,
        id=mid,
        operations=[ops.DropCompatShim.of(found.shim)],
        snapshot_after=Snapshot(previous.models, rest),
        depends_on=[latest.key],
        path=info.migrations_dir / f"{mid}.json",  # type: ignore[operator]
    )
