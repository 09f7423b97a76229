"""The migrate flow (SPEC §8-9): read the tracking rows, guard, plan, render, execute.

:class:`Migrator` runs one ``migrate`` against one database: the plan comes from
:mod:`umbral.plan` (pure), the refusals from :mod:`umbral.guards`, the SQL from the executor,
which runs it in the run's :class:`~umbral.session.Session`.

Public Python API for safety checks lives here too (``check_pending_safety``,
``classify_operation``, ``OpSafety``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import field, replace
from typing import TYPE_CHECKING, Any

from umbral import drift, executor, guards, progress, recorder, sqlcache
from umbral.branches import Branches
from umbral.compat import columns_when_made
from umbral.errors import MigrationFileError, NameTooLong, Refused
from umbral.graph import Graph
from umbral.migration import Migration, table_renames
from umbral.operations import (
    CreateCompatShim,
    IrreversibleOperation,
    Operation,
    State,
    apply_all,
)
from umbral.operations import state_from_snapshot as _from_snapshot
from umbral.plan import Step, Target, is_backward, make_plan, no_such_migration, parse_spec
from umbral.safety import Finding, OpSafety, check_pending_safety, classify_operation
from umbral.schema import following
from umbral.values import frozen, record

if TYPE_CHECKING:
    from umbral.environment import Environment
    from umbral.fastpath import FastPath
    from umbral.session import Session

Event = Callable[[str, dict[str, Any]], None]


@record
class MigrateResult:
    applied: list[str] = field(default_factory=list)
    unapplied: list[str] = field(default_factory=list)
    faked: list[str] = field(default_factory=list)
    #: Migrations recorded as skipped in this run (their ``skip_on`` named the environment).
    skipped: list[str] = field(default_factory=list)
    #: Tracking rows deleted (or, with --plan, to delete) by --prune.
    pruned: list[str] = field(default_factory=list)
    plan: list[executor.Rendered] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    #: The part of the plan built from snapshots on a fresh database (``umbral.fastpath``);
    #: ``plan`` then holds only the migrations replayed after it.
    fast: FastPath | None = None
    #: Which path a run on a database without tracking rows takes, and why ("" otherwise).
    path: str = ""


#: Why ``--record-only`` runs no SQL, as the plan and the summary say it.
RECORD_ONLY = "--record-only: the schema was changed by hand"
#: Why a squash whose replaced migrations all ran is recorded without SQL (SPEC §5).
REPLACES_APPLIED = "it replaces migrations applied before it"


@frozen
class MigrateRequest:
    """What one ``migrate`` is asked to do (its flags, parsed)."""

    target: Target | None = None
    fake: Target | None = None
    fake_initial: bool = False
    prune: bool = False
    allow_drift: bool = False
    allow_destructive: bool = False
    allow_irreversible: bool = False
    #: Only show the plan (--plan): nothing is written.
    plan_only: bool = False
    replay: bool = False
    #: Where a partly applied migration continues (--from-statement N: its statement N).
    from_statement: int | None = None
    #: Write and delete the plan's tracking rows only, running no SQL (--record-only): the
    #: schema was changed by hand, forward or back.
    record_only: bool = False
    #: Where this database runs (``skip_on``); None when no environment is named.
    environment: str | None = None
    #: The plugins this database holds (a tenant schema's, or the shared ones of the default
    #: schema), or None for every plugin: the others' migrations are left out of the plan.
    scope: frozenset[str] | None = None


def state_before(m: Migration, by_key: dict[str, Migration]) -> State:
    """The plugin's tables before ``m``: the snapshot of its in-plugin predecessor, its keys
    following the tables other plugins renamed just before ``m`` (``_renamed_for``)."""
    for dep in m.depends_on:
        prev = by_key.get(dep)
        if prev is not None and prev.plugin == m.plugin:
            state = _from_snapshot(prev.snapshot_after.models)
            renamed = _renamed_for(m, prev, by_key)
            if renamed:
                state = {t: following(model, renamed, state) for t, model in state.items()}
            return state
    return {}


def _renamed_for(m: Migration, prev: Migration, by_key: dict[str, Migration]) -> dict[str, str]:
    """Tables renamed by another plugin's migration ``m`` depends on and its predecessor
    ``prev`` does not. ``makemigrations`` wrote ``m`` after that rename (in the same run, its
    snapshot following it) and the plan runs it after; ``prev``'s tables still name the old
    table, and a SQLite rebuild of one would re-make its key to a table that is gone."""
    return table_renames(
        by_key[dep]
        for dep in m.depends_on
        if dep in by_key and by_key[dep].plugin != m.plugin and dep not in prev.depends_on
    )


class RenderCache:
    """Forward renderings shared by the runs of one fleet (``umbral.tenants``), which run in
    threads: a migration renders once, whatever the number of schemas it runs in. One lock
    keeps two workers from rendering the same migration (rendering holds the interpreter's
    lock anyway)."""

    def __init__(self) -> None:
        self._done: dict[str, executor.Rendered] = {}
        self._lock = threading.Lock()

    def get(self, key: str, render: Callable[[], executor.Rendered]) -> executor.Rendered:
        with self._lock:
            done = self._done.get(key)
            if done is None:
                done = self._done[key] = render()
            return done


class Migrator:
    """One ``migrate`` run against one database (the session's connection)."""

    def __init__(
        self,
        env: Environment,
        session: Session,
        request: MigrateRequest | None = None,
        renders: RenderCache | None = None,
    ) -> None:
        self.env = env
        self.renders = renders
        self.session = session
        self.backend = session.backend
        self.conn = session.conn
        self.request = request or MigrateRequest()
        # Validates every file before the database is touched.
        self.graph = Graph(env.all_migrations(), env.file_order)
        self.by_key = self.graph.nodes
        self.result = MigrateResult()
        #: Migrations recorded as skipped, with the environment they were skipped in.
        self.skipped: dict[str, str] = {}
        #: Where the partly applied migrations of the plan continue (``umbral.progress``).
        self.resume: dict[str, progress.Progress] = {}
        #: The migrations the database holds when the next step of the plan is rendered.
        self.present: set[str] = set()
        self._branches: Branches | None = None
        #: Renderings kept between runs (a fleet shares its own in memory, ``renders``).
        self.sql = sqlcache.open_cache(env.pm, self.backend) if renders is None else None

    def warn(self, text: str) -> None:
        self.result.warnings.append(text)
        self.session.event("warning", {"message": text})

    # -- the run --------------------------------------------------------------------------

    def run(self) -> MigrateResult:
        request, result = self.request, self.result
        applied = recorder.applied(self.conn)
        self.skipped = recorder.skipped(self.conn)
        partial = progress.read(self.conn)
        guards.check_conflicts(self.env, applied)
        guards.check_directories(self.env, applied, "umbral migrate")
        if request.fake is not None:
            result.message = self.fake(request.fake, partial, write=not request.plan_only)
            return result
        if request.prune:  # bookkeeping only: drift is what it clears, so it is not checked
            result.pruned = self.orphans(applied, partial)
            if not request.allow_drift:
                guards.refuse_pruning_a_history(self.env, applied, result.pruned)
            if not request.plan_only and result.pruned:
                self.prune(result.pruned)
            return result
        entries = drift.detect(self.graph, applied)
        guards.check_drift(entries, self.env.disabled, request.allow_drift, self.warn)
        target = request.target
        if target is not None:
            self.env.info(target.plugin)  # an unknown plugin is an error naming the known ones
        backward = target is not None and is_backward(target, applied, self.graph)
        if request.fake_initial and not backward:
            # Decided before anything is written, so --plan can show it.
            result.faked = self._initial_to_fake(applied)
        faked = {k: self.by_key[k].checksum for k in result.faked}
        steps = make_plan(self.graph, applied, target, faked=faked)
        if request.scope is not None:
            steps = [s for s in steps if s.migration.plugin in request.scope]
        if request.record_only:
            guards.refuse_recording_partial(steps, partial)
        checksums = {k: self.by_key[k].checksum for k in partial if k in self.by_key}
        self.resume = guards.resume_plan(
            partial, steps, checksums, request.from_statement, self._before(partial)
        )
        covered = self._fast_path(steps, bool(applied or faked or partial))
        self.present = {*applied, *(s.key for s in steps[:covered])}
        rendered = [self.render(s) for s in steps[covered:]]
        if self.sql is not None:
            self.sql.flush()
        def gated() -> list[executor.Rendered]:
            # The same gate as a replay: the covered migrations are gated as well.
            return [*(executor.Rendered(s.migration, []) for s in steps[:covered]), *rendered]

        if not request.allow_destructive:
            guards.destructive_gate(self.env.pm, self.backend, gated())
        elif request.plan_only:
            # Allowed, but the plan still says which steps lose data, either way of the run.
            for line in guards.destructive_findings(self.env.pm, self.backend, gated()):
                # The finding's first clause says what goes; its expand-contract advice is
                # for writing a migration, not for running this one.
                self.warn(f"{line.split('; ')[0]} (allowed by --allow-destructive)")
        result.plan = rendered
        if request.plan_only:
            return result
        if backward:
            done = executor.apply_plan(self.session, rendered)
            # A row deleted without SQL (squash bookkeeping) is not one more un-applied.
            bookkeeping = {s.key for s in steps if s.unrecord is not None}
            result.unapplied = [k for k in done if k not in bookkeeping]
        else:
            self._apply_forward(steps, rendered)
        return result

    def _initial_to_fake(self, applied: dict[str, str]) -> list[str]:
        from umbral.fakeinitial import initial_to_fake

        firsts = [ms[0] for p in self.env.file_order if (ms := self.env.migrations(p))]
        return initial_to_fake(self.conn, firsts, applied)

    def _fast_path(self, steps: list[Step], tracked: bool) -> int:
        """How many steps at the head of a forward plan the fast path covers (0 when the
        database has tracking rows, the run fakes, or the plan is backward)."""
        request = self.request
        if not steps or tracked or steps[0].backward or request.fake_initial or request.record_only:
            return 0
        from umbral import fastpath  # only for a fresh database: it imports the autodetector

        todo = [s.migration for s in steps]
        covered, self.result.path = fastpath.choose(
            self.conn, todo, self.request.replay, self.sql
        )
        if covered:
            try:
                self.result.fast = fastpath.render(
                    self.env.pm, self.backend, todo[:covered], self.env.file_order, self.sql
                )
            except NameTooLong as exc:
                # The head's rendering cannot name the migration and operation that gave the
                # name; the replay's rendering does, before anything runs.
                self.result.path = (
                    f"replay: the database refuses the {exc.what} name `{exc.where}` of the "
                    "snapshots as too long"
                )
                return 0
        return covered

    def _apply_forward(self, steps: list[Step], rendered: list[executor.Rendered]) -> None:
        result, session = self.result, self.session
        prelude = None
        if result.fast is None and not self.request.fake_initial:
            # Made in the first migrations' transaction: a fresh SQLite database then
            # commits once, as its floor does (the fast path makes it in its own).
            prelude = lambda: self._tracking_table(rendered)  # noqa: E731
        elif result.fast is None or any(r.skipped for r in rendered):
            self._ensure_tracking(rendered)
        if self.request.fake_initial:
            self.record_faked(result.faked)
            session.event("faked", {"count": len(result.faked)})
        done: list[str] = []
        if result.fast is not None:
            done = self._apply_fast(steps)
            rendered = result.plan
        done += executor.apply_plan(session, rendered, prelude)
        # A squash recorded because its last originals ran in this run is bookkeeping of
        # those, not one more applied migration.
        completes = {s.key for s in steps if s.completes_squash}
        gated = {r.migration.key for r in rendered if r.skipped}
        result.skipped = [k for k in done if k in gated]
        result.applied = [k for k in done if k not in completes and k not in gated]

    def _apply_fast(self, steps: list[Step]) -> list[str]:
        """Run the fast path; if the database refuses its SQL, or another run wrote to it
        first, nothing of it stays and every migration is replayed instead (``result.plan``
        then holds them all). Progress is reported as one step from the first covered
        migration to the last."""
        from umbral import fastpath

        result, session = self.result, self.session
        assert result.fast is not None
        covered = result.fast.covered
        try:
            session.event("start", {"migration": covered[0].key, "index": 1, "total": len(covered)})
            done = fastpath.apply(self.conn, self.backend, result.fast)
            if done is None:
                # Another run wrote first: it holds what this one would have recorded.
                result.path = "replay: another run wrote to the database after this one looked"
                return self._replay_instead(steps)
            session.event(
                "done",
                {
                    "migration": covered[-1].key, "index": len(covered), "total": len(covered),
                    "covered": [m.key for m in covered],
                },
            )  # fmt: skip
            return done
        except executor.driver_errors(self.conn) as exc:
            from umbral.database import translate_db_errors

            reason = translate_db_errors(exc, "")
            try:
                fastpath.drop_leftovers(self.conn, self.backend, result.fast)
            except executor.driver_errors(self.conn) as again:
                raise Refused(
                    f"umbral migrate: building the schema from the snapshots failed ({reason}), "
                    "and what it had created could not be dropped "
                    f"({translate_db_errors(again, '')}); drop the tables of the migrations "
                    "it covered by hand, then re-run"
                ) from exc
            self.warn(
                f"umbral migrate: building the schema from the snapshots failed ({reason}); "
                "nothing of it was kept, replaying every migration instead"
            )
            return self._replay_instead(steps)

    def _replay_instead(self, steps: list[Step]) -> list[str]:
        """Drop the fast path from the run: every step is rendered to replay; nothing was
        applied by it."""
        self.result.fast = None
        self.present = set()
        self.result.plan = [self.render(s) for s in steps]
        if self.sql is not None:
            self.sql.flush()
        self._ensure_tracking(self.result.plan)  # a failed fast path rolled its table back
        return []

    def _ensure_tracking(self, rendered: list[executor.Rendered]) -> None:
        with executor.write_transaction(self.conn, self.backend):
            self._tracking_table(rendered)

    def _tracking_table(self, rendered: list[executor.Rendered]) -> None:
        """The tracking table, with the column a skipped migration needs (in the caller's
        transaction)."""
        recorder.ensure_table(self.conn)
        if any(r.skipped for r in rendered):
            recorder.ensure_skip_column(self.conn)

    # -- rendering ------------------------------------------------------------------------

    def render(self, step: Step) -> executor.Rendered:
        """How ``step`` runs: forward, or the reverse of its migration."""
        rendered = self._render(step)
        if step.backward:
            self.present.discard(step.key)
        else:
            self.present.add(step.key)
        known = self.resume.get(step.key)
        if known is not None and not rendered.record_only:
            count = len(rendered.statements)
            if not 0 <= known.done < count:
                raise Refused(
                    f"umbral migrate --from-statement: migration {step.key} has {count} "
                    f"statement(s); continue it at one of 1-{count}"
                )
            if self.request.from_statement is not None:
                known = replace(known, total=count)  # the position is the file's as it is now
            rendered.progress = known
        return rendered

    def _render(self, step: Step) -> executor.Rendered:
        if self.request.record_only:
            m, why = step.migration, RECORD_ONLY
            if step.backward:
                return executor.Rendered(m, [], backward=True, record_only=True, unrecord=why)
            return executor.Rendered(m, [], record_only=True, why=why)
        if step.unrecord is not None:
            return executor.Rendered(
                step.migration, [], backward=True, record_only=True, unrecord=step.unrecord
            )
        if step.backward:
            return self._render_backward(step.migration)
        m = step.migration
        if step.record_only:
            return executor.Rendered(m, [], record_only=True, why=REPLACES_APPLIED)
        # In an environment its ``skip_on`` names, a migration is only recorded (as skipped).
        # A gated migration with no environment named is refused: running it by default is
        # what the gate exists to prevent.
        environment = self.request.environment
        if m.skip_on:
            if environment is None:
                raise Refused(
                    f"umbral migrate: {m.key} is skipped on {', '.join(m.skip_on)} (its "
                    "`skip_on`), and no environment is named; pass --env NAME, set UMBRAL_ENV, "
                    "or set `env` in the project config"
                )
            if environment in m.skip_on:
                return executor.Rendered(m, [], record_only=True, skipped=environment)

        beside = self._beside(m)  # now: the tables may be read after later steps render

        def render() -> executor.Rendered:
            return executor.render_migration(self.env.pm, self.backend, m, before, self.sql)

        def before() -> State:
            return self._state_before(m, beside)

        if self.renders is None or beside:
            return render()
        # A run sets its own progress and flags on its copy.
        return replace(self.renders.get(m.key, render))

    def _render_backward(self, m: Migration) -> executor.Rendered:
        """The reverse of ``m``; irreversible operations stop unless allowed. A migration
        recorded as skipped never ran: un-applying it only deletes its row."""
        if m.key in self.skipped:
            skipped = self.skipped[m.key]
            return executor.Rendered(m, [], backward=True, record_only=True, skipped=skipped)
        before = self._state_before(m, self._beside(m))
        undo = Migration(
            plugin=m.plugin,
            id=m.id,
            operations=self._reverse_operations(m, before),
            snapshot_after=m.snapshot_after,
            depends_on=m.depends_on,
            atomic=m.atomic,
            path=m.path,
        )
        after = apply_all(before, m.operations)
        try:
            rendered = executor.render_migration(self.env.pm, self.backend, undo, after)
        except NameTooLong as exc:
            raise NameTooLong(
                f"migration {m.key} cannot be un-applied on this database: its reverse names "
                f"the {exc.what} `{exc.where}`, {exc.size} long, and the {self.backend.name} "
                "backend's database refuses it; nothing was run",
                exc.what,
                exc.where,
                exc.size,
            ) from None
        rendered.backward = True
        rendered.file_checksum = m.checksum
        return rendered

    def _beside(self, m: Migration) -> list[Migration]:
        """The migrations of another branch of ``m``'s plugin the database holds."""
        if self._branches is None:
            self._branches = Branches(self.graph)
        return self._branches.beside(m, self.present)

    def _state_before(self, m: Migration, beside: list[Migration]) -> State:
        """The plugin's tables as the database holds them when ``m`` runs or is undone: its
        predecessor's, changed by what the migrations of another branch it holds then
        (``beside``) made (``umbral.branches``)."""
        state = state_before(m, self.by_key)
        for other in beside:
            state = apply_all(state, other.operations)
        return state

    def _reverse_operations(self, m: Migration, before: State) -> list[Operation]:
        allow = self.request.allow_irreversible
        reverse: list[Operation] = []
        state = before
        blocked: list[str] = []
        for op in m.operations:
            if op.irreversible:
                blocked.append(op.describe())
            try:
                reverse[:0] = op.reverse(state)
            except IrreversibleOperation as exc:
                if not allow:
                    raise Refused(
                        f"umbral migrate: {m.key} cannot be un-applied: {exc}; pass "
                        "--allow-irreversible to skip that step"
                    ) from None
            state = op.apply(state)
        reverse = [self._as_made(m, op) if isinstance(op, CreateCompatShim) else op
                   for op in reverse]  # fmt: skip
        if blocked and not allow:
            raise Refused(
                f"umbral migrate: un-applying {m.key} cannot restore the data removed by: "
                + "; ".join(blocked)
                + ". Pass --allow-irreversible to un-apply it anyway"
            )
        return reverse

    def _as_made(self, m: Migration, op: CreateCompatShim) -> CreateCompatShim:
        """The reverse of ``m``'s drop of a shim: its view over the columns it had when the
        migration that made it ran (``Shim.since``); all of them when that one is gone."""
        if op.columns is not None:
            return op
        for dep in m.depends_on:
            prev = self.by_key.get(dep)
            if prev is None or prev.plugin != m.plugin:
                continue
            shim = prev.snapshot_after.shim(op.name)
            made = self.by_key.get(f"{m.plugin}/{shim.since}") if shim is not None else None
            if made is None:
                return op
            columns = columns_when_made(made, op.table)
            if columns is not None:
                return replace(op, columns=columns)
        return op

    def _before(self, partial: dict[str, progress.Progress]) -> dict[str, str]:
        """For each partly un-applied migration on disk, a target that finishes un-applying
        it: its predecessor in its plugin, or ``PLUGIN/zero``."""
        found = {}
        for key, p in partial.items():
            m = self.by_key.get(key)
            if m is None or not p.backward:
                continue
            mine = [d for d in m.depends_on if d.partition("/")[0] == m.plugin]
            found[key] = mine[0] if mine else f"{m.plugin}/zero"
        return found

    # -- bookkeeping without SQL ----------------------------------------------------------

    def fake(
        self, target: Target, partial: dict[str, progress.Progress], *, write: bool = True
    ) -> str:
        """Record ``target`` as applied (or re-record its checksum) without running it; a
        partly applied one forgets its progress. Without ``write`` (``--plan``), only say
        what it would do."""
        self.env.info(target.plugin)  # unknown plugin -> error naming the known ones
        m = self.by_key.get(target.key)
        if m is None:
            raise MigrationFileError(
                no_such_migration("umbral migrate --fake", target.key, self.by_key)
            )
        applied = recorder.applied(self.conn)
        known = partial.get(m.key)
        if m.key in applied and applied[m.key] == m.checksum and known is None:
            return f"{m.key} is already applied (nothing to do)"
        if not write:
            return _fake_plan(m.key, m.key in applied, known)
        recorder.ensure_table(self.conn)
        self.conn.commit()
        with executor.write_transaction(self.conn, self.backend):
            # Read again under the write lock: a run beside this one may have recorded it.
            applied = recorder.applied(self.conn)
            if known is not None:
                progress.clear(self.conn, m.key)
            if m.key in applied:
                if known is not None and known.backward:
                    return (
                        f"Marked {m.key} as applied (no SQL executed; its un-applying stopped "
                        f"after statement {known.done} of {known.total}, now forgotten)"
                    )
                if applied[m.key] == m.checksum:
                    return f"{m.key} is already applied (nothing to do)"
                recorder.update_checksum(self.conn, m.plugin, m.id, m.checksum)
                return f"Re-recorded {m.key} with its current checksum (no SQL executed)"
            recorder.record(self.conn, m.plugin, m.id, m.checksum)
        if known is not None:
            return (
                f"Marked {m.key} as applied (no SQL executed; it had run {known.done} of its "
                f"{known.total} statement(s))"
            )
        return f"Marked {m.key} as applied (no SQL executed)"

    def orphans(self, applied: dict[str, str], partial: dict[str, progress.Progress]) -> list[str]:
        """Tracking rows (and progress of partly applied migrations) of migrations neither
        on disk nor replaced by a squash on disk (what ``--prune`` deletes), in plugin then
        name order."""
        return sorted(
            (
                k
                for k in {**applied, **partial}
                if k not in self.by_key and not self.graph.is_replaced(k)
            ),
            key=lambda k: tuple(k.split("/", 1)),
        )

    def prune(self, keys: list[str]) -> None:
        """Delete the tracking rows (and progress) of ``keys``, in one transaction; the schema
        is not touched."""
        with executor.write_transaction(self.conn, self.backend):
            progress.clear_if_any(self.conn, keys)
            for key in keys:
                plugin, name = key.split("/", 1)
                recorder.unrecord(self.conn, plugin, name)

    def record_faked(self, keys: list[str]) -> None:
        """Record the migrations ``--fake-initial`` found, without running them."""
        with executor.write_transaction(self.conn, self.backend):
            progress.clear_if_any(self.conn, keys)
            for key in keys:
                m = self.by_key[key]
                # A run beside this one (SQLite has no run-wide lock) may have recorded it.
                if not recorder.is_applied(self.conn, m.plugin, m.id):
                    recorder.record(self.conn, m.plugin, m.id, m.checksum)


__all__ = [
    "Finding",
    "MigrateRequest",
    "MigrateResult",
    "Migrator",
    "OpSafety",
    "check_pending_safety",
    "classify_operation",
    "parse_spec",
]


def _fake_plan(key: str, recorded: bool, known: progress.Progress | None) -> str:
    """What ``migrate --fake KEY --plan`` would do, in the words of ``--plan``."""
    forget = ""
    if known is not None:
        forget = f"; forgets that it had run {known.done} of its {known.total} statement(s)"
    if recorded and (known is None or not known.backward):
        return f"Re-record {key} with its current checksum (no SQL{forget})"
    return f"Record {key} as applied (no SQL: --fake{forget})"
