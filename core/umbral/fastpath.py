"""A fresh database at the plan's end without replaying history.

Every migration file holds its plugin's whole schema after it (``snapshot_after``). On a
database that holds nothing of umbral's yet, ``migrate`` builds the schema of the plan's end
from those snapshots (each plugin's ``diff(EMPTY, snapshot)``, rendered by the backend's own
renderers) and records the migrations it covers, all in one transaction. History still runs
from the first migration whose effect the snapshots cannot know: user SQL (``RunSql``), a
compatibility view, an environment gate (``skip_on``), an operation of another plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field, replace
from typing import TYPE_CHECKING, Any

from umbral import loadcache, recorder
from umbral.autodetector import diff
from umbral.database import driver_cursor
from umbral.executor import Rendered, from_kept, kept_form, render_migration, write_transaction
from umbral.migration import Migration, table_renames
from umbral.operations import CreateView, DropView, State, state_from_snapshot
from umbral.schema import EMPTY, Column, following
from umbral.steps import plain_sql
from umbral.toposort import toposort
from umbral.transaction import foreign_keys_off
from umbral.values import record

if TYPE_CHECKING:
    import pluggy
    from sqlalchemy.engine import Connection

    from umbral.backend import Backend
    from umbral.sqlcache import SqlCache

#: The operations a snapshot describes completely: their effect on an empty database is the
#: snapshot's tables, columns, constraints, indexes, junction tables and views.
SCHEMA_KINDS = frozenset({
    "CreateTable", "DropTable", "AddColumn", "DropColumn", "AlterColumn", "RenameTable",
    "RenameColumn", "CreateM2MTable", "DropM2MTable", "AddIndex", "DropIndex",
    "SetColumnComment", "CreateView", "DropView", "AlterM2MKey",
})  # fmt: skip


@record
class FastPath:
    """The part of a plan built from snapshots: ``covered`` are recorded without running,
    ``build`` is the head schema's SQL, one rendering per plugin in plugin order."""

    covered: list[Migration]
    build: list[Rendered] = field(default_factory=list)
    #: The tables (junction tables included) the build makes.
    tables: set[str] = field(default_factory=set)

    @property
    def statements(self) -> list[str]:
        return [s for r in self.build for s in plain_sql(r.statements)]


def must_replay(m: Migration) -> str | None:
    """Why ``m`` has to run as written (its effect is not in its snapshot), or None."""
    if m.skip_on:
        return f"{m.key} is gated by skip_on"
    for kind in m.operation_kinds:
        if kind not in SCHEMA_KINDS:
            return f"{m.key} holds {kind}"
    return None


def split(plan: Sequence[Migration], cache: SqlCache | None = None) -> tuple[int, str | None]:
    """How many migrations at the head of ``plan`` the snapshots cover, and why the rest
    replays (None when nothing does).

    A hand-edited file may hold operations its snapshot does not show (a CreateTable added
    to an ``--empty`` migration keeps the copied snapshot): the covered operations are run on
    the plugins' tables from empty, and a plugin whose end differs from its snapshot's leaves
    nothing covered, so the whole plan replays as written."""
    covered, why = len(plan), None
    for i, m in enumerate(plan):
        why = must_replay(m)
        if why is not None:
            covered = i
            break
    stray = _disagreeing(plan[:covered])
    if stray is not None:
        return 0, f"{stray.key} holds operations its snapshot does not show"
    shimmed = _shimmed(plan[:covered], cache)
    if shimmed is not None:
        # A --compat rename's view is in the snapshot (``shims``) but not in its tables: the
        # plugin replays, from its first migration of the plan (the one that made the view
        # is known only from the operations).
        first = next(i for i, m in enumerate(plan) if m.plugin == shimmed.plugin)
        names = ", ".join(s.name for s in shimmed.snapshot_after.shims)
        return first, (
            f"{shimmed.key} keeps compatibility view(s) {names}, which the snapshots do not build"
        )
    return covered, why


def _shimmed(covered: Sequence[Migration], cache: SqlCache | None) -> Migration | None:
    """The end of the first plugin of ``covered`` whose snapshot there holds a live
    compatibility view, or None."""
    for m in _ends(covered).values():
        kept = cache.get(m, "head") if cache is not None else None
        if kept["shims"] if kept is not None else m.snapshot_after.shims:
            return m
    return None


def _disagreeing(covered: Sequence[Migration]) -> Migration | None:
    """The last covered migration of the first plugin whose operations, run from empty, do
    not end at that migration's snapshot (tables and views), or None. A plugin's chain found
    to agree before (same files, by checksum) is not run again (``loadcache.Agreeing``)."""
    chains: dict[str, list[Migration]] = {}
    for m in covered:
        chains.setdefault(m.plugin, []).append(m)
    # A plugin whose keys point at another plugin's table follows its renames in its
    # snapshot (a migration without operations), not in its operations.
    renamed = table_renames(covered)
    remembered = loadcache.open_agreeing()
    agreeing = []
    for chain in chains.values():
        digest = _digest(chain, renamed)
        if remembered is not None and digest in remembered:
            continue
        if not _agrees(chain, renamed):
            return chain[-1]
        agreeing.append(digest)
    if remembered is not None:
        remembered.add(agreeing)
    return None


def _digest(chain: Sequence[Migration], renamed: dict[str, str]) -> str:
    from hashlib import sha256

    lines = [f"{m.key} {m.checksum}" for m in chain]
    lines += [f"{old} -> {new}" for old, new in sorted(renamed.items())]
    return sha256("\n".join(lines).encode()).hexdigest()


def _agrees(chain: Sequence[Migration], renamed: dict[str, str]) -> bool:
    """Whether one plugin's operations, run from empty, end at its last snapshot, its keys to
    other plugins' tables following their renames."""
    state: State = {}
    views: set[str] = set()
    for m in chain:
        for op in m.operations:
            state = op.apply(state)
            if isinstance(op, CreateView):
                views.add(op.name)
            elif isinstance(op, DropView):
                views.discard(op.name)
    if renamed:
        state = {table: following(model, renamed, state) for table, model in state.items()}
    snapshot = chain[-1].snapshot_after
    want = state_from_snapshot(snapshot.models)
    want_views = {x.table for x in snapshot.models.values() if x.view is not None}
    return _shape(state) == _shape(want) and views == want_views


def _shape(state: State) -> dict[str, tuple]:
    """A plugin's tables as the database holds them: columns regardless of their order (a
    column added by a migration comes last in the database, and where the model declares it
    in the snapshot), indexes as the set they render to (an ``AddIndex`` of one column and a
    column's ``index=True`` are the same index)."""
    return {
        table: (
            sorted((_unindexed(c) for c in model.fields), key=lambda c: c.name),
            sorted(set(model.index_specs())),
            sorted(model.m2m, key=lambda r: r.field),
        )
        for table, model in state.items()
    }


def _unindexed(column: Column) -> Column:
    # ``replace`` is slow and most columns carry no index: copy only those that do.
    return replace(column, index=False) if column.index else column


def choose(
    conn: Connection, todo: Sequence[Migration], replay: bool, cache: SqlCache | None = None
) -> tuple[int, str]:
    """How many migrations at the head of ``todo`` the fast path covers on this database
    without tracking rows, and the sentence saying which path the run takes and why."""
    if recorder.has_table(conn):
        conn.rollback()  # the inspector's read opened a transaction
        return 0, ""  # tracked, even if empty: the database is not fresh
    conn.rollback()
    found = umbral_tables(conn, todo)
    if found:
        return 0, (
            f"replay: the database already holds {', '.join(found)}, so the schema is not "
            "built from the snapshots"
        )
    if replay:
        return 0, "replay: --replay given; every migration runs as written"
    covered, why = split(todo, cache)
    if not covered:
        tail = "" if why.endswith(("does not show", "do not build")) else (
            ", whose effect no snapshot holds")  # fmt: skip
        return 0, f"replay: the database is empty, but {why}{tail}"
    head = (
        f"fast path: the database is empty; the schema of {todo[covered - 1].key} is built "
        f"from the snapshots and {covered} migration(s) are recorded in one transaction"
    )
    if why is None:
        return covered, head
    return covered, f"{head}; then replay from {todo[covered].key}: {why.split(' ', 1)[1]}"


def umbral_tables(conn: Connection, plan: Sequence[Migration]) -> list[str]:
    """The tables and views of the database that the plan's end or the tracking table would
    own: a database with none of them is empty to umbral."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    existing = set(insp.get_table_names()) | set(insp.get_view_names())
    # The inspector's reads opened a transaction; end it so the build gets its own.
    conn.rollback()
    if not existing:
        return []  # without reading the plan's snapshots (a file each)
    return sorted(existing & (_tables_at_end(plan) | recorder.OWN_TABLES))


def _tables_at_end(plan: Sequence[Migration]) -> set[str]:
    """The tables (junction tables included) of the plugins' snapshots at the plan's end."""
    return {t for m in _ends(plan).values() for t in _about(m)["tables"]}


def drop_leftovers(conn: Connection, backend: Backend, fast: FastPath) -> list[str]:
    """After a failed build, drop the tables and views of it that the database kept (one whose
    DDL commits on its own keeps each statement that ran); returns what it dropped. None of
    them existed when the build began (``apply`` checked under the write lock), so each one
    found is the build's."""
    from sqlalchemy import inspect

    if conn.in_transaction():
        conn.rollback()
    wanted = set(fast.tables)
    wanted |= {s.name for m in _ends(fast.covered).values() for s in m.snapshot_after.shims}
    insp = inspect(conn)
    views = [v for v in insp.get_view_names() if v in wanted]
    tables = [t for t in insp.get_table_names() if t in wanted]
    conn.rollback()
    if not views and not tables:
        return []
    quote = conn.dialect.identifier_preparer.quote
    with foreign_keys_off(conn, backend, True), write_transaction(conn, backend):
        for view in views:
            conn.exec_driver_sql(f"DROP VIEW {quote(view)}")
        for table in tables:
            conn.exec_driver_sql(f"DROP TABLE {quote(table)}")
    return views + tables


def _ends(plan: Sequence[Migration]) -> dict[str, Migration]:
    """Each plugin's last migration in ``plan`` (topological order): its snapshot is the
    plugin's schema at the plan's end."""
    last: dict[str, Migration] = {}
    for m in plan:
        last[m.plugin] = m
    return last


def render(pm: pluggy.PluginManager, backend: Backend, covered: Sequence[Migration],
           order: Sequence[str], cache: SqlCache | None = None) -> FastPath:  # fmt: skip
    """The head schema's SQL for ``covered``, one plugin at a time, each after the plugins
    whose tables its foreign keys point at (ties in ``order``). A plugin's rendering kept in
    ``cache`` is taken from there, its snapshot not read."""
    heads = {p: _head(pm, backend, end, cache) for p, end in _ends(covered).items()}
    out = FastPath(list(covered))
    for plugin in _build_order({p: about for p, (_, about) in heads.items()}, order):
        rendered, about = heads[plugin]
        out.build.append(rendered)
        out.tables.update(about["tables"])
    return out


def _head(pm: pluggy.PluginManager, backend: Backend, end: Migration,
          cache: SqlCache | None) -> tuple[Rendered, dict[str, Any]]:  # fmt: skip
    """One plugin's schema at ``end`` rendered, and what the build needs to know of its tables
    (``_about``); both taken from ``cache`` when kept there."""
    kept = cache.get(end, "head") if cache is not None else None
    if kept is not None:
        return from_kept(end, kept), kept
    snapshot = end.snapshot_after
    head = Migration(end.plugin, end.id, diff(EMPTY, snapshot).operations, snapshot)
    rendered, about = render_migration(pm, backend, head, {}), _about(end)
    data = kept_form(rendered)
    if cache is not None and data is not None:
        cache.put(end, "head", {**data, **about})
    return rendered, about


def _about(end: Migration) -> dict[str, Any]:
    """A plugin's tables at ``end``: its models' (``owned``), with its junction tables
    (``tables``), the tables its keys point at (``targets``), whether it keeps a compatibility
    view (``shims``)."""
    snapshot = end.snapshot_after
    models = snapshot.models.values()
    owned = {m.table for m in models}
    targets = {c.fk_target for m in models for c in m.fields if c.fk_target and c.db_constraint}
    return {
        "owned": sorted(owned),
        "tables": sorted(owned | {r.table for m in models for r in m.m2m}),
        "targets": sorted(targets | {r.target for m in models for r in m.m2m}),
        "shims": bool(snapshot.shims),
    }


def _build_order(about: dict[str, dict[str, Any]], order: Sequence[str]) -> list[str]:
    """The plugins of ``about`` ordered by the foreign keys of their end snapshots. The files'
    plugin order may differ: a plugin's drop of a table waits for the other plugins' drops of
    the keys to it, so their files depend on each other both ways."""
    rank = {p: i for i, p in enumerate(order)}
    owner = {t: p for p, tables in about.items() for t in tables["owned"]}
    edges: dict[str, set[str]] = {p: set() for p in about}
    for plugin, tables in about.items():
        edges[plugin].update(owner[t] for t in tables["targets"] if owner.get(t, plugin) != plugin)
    key = lambda p: (rank.get(p, len(rank)), p)  # noqa: E731
    built = toposort(edges, on_cycle="drop", key=key)
    return built + sorted(set(about) - set(built), key=key)


def apply(conn: Connection, backend: Backend, fast: FastPath) -> list[str] | None:
    """Run the head schema's SQL and record every covered migration, in one transaction.

    ``choose`` looked before the write lock was taken; a run started beside this one (SQLite
    serialises only the transactions) may have built or begun the schema since. The check is
    repeated under the lock; None (nothing done) sends the caller to the replay, whose
    per-migration re-checks skip what the other run applied."""
    with write_transaction(conn, backend):
        recorder.ensure_table(conn)
        if _written(conn, fast):
            return None
        cursor = driver_cursor(conn)
        for statement in fast.statements:
            cursor.execute(statement)
        recorder.record_many(conn, [(m.plugin, m.id, m.checksum) for m in fast.covered])
    return [m.key for m in fast.covered]


def _written(conn: Connection, fast: FastPath) -> bool:
    """Whether the database holds a tracking or progress row, or a table the build makes."""
    from sqlalchemy import inspect

    if conn.exec_driver_sql(f"SELECT 1 FROM {recorder.TABLE}").first() is not None:
        return True
    insp = inspect(conn)
    existing = set(insp.get_table_names()) | set(insp.get_view_names())
    return recorder.PROGRESS_TABLE in existing or bool(existing & fast.tables)
