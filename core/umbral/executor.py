"""Apply migrations: render each one, then run it in one transaction with its tracking row.

The executor never prints; it reports through an ``on_event`` callback. Rendering happens
before the transaction opens, so a render error changes nothing and the executor knows whether
the migration rebuilds a table (foreign keys must be switched off before BEGIN on SQLite).
Concurrency: each migration is re-checked inside its transaction (which holds the write lock on
SQLite, ``BEGIN IMMEDIATE``) and skipped when another process applied it meanwhile. A
migration the database cannot roll back as a whole runs statement by statement instead, and
resumes where it failed (``umbral.stepwise``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any

from umbral import preflight, progress, recorder, stepwise
from umbral.backend import Backend, RenderContext
from umbral.database import driver_cursor
from umbral.errors import (
    MigrationFailed,
    MigrationFileError,
    NameTooLong,
    UmbralError,
    UnsupportedChange,
)
from umbral.migration import Migration
from umbral.naming import WHERE_NAMED, refused_names
from umbral.operations import Operation, State, StateThread
from umbral.runpython import PythonStep
from umbral.session import Session
from umbral.steps import RunTimeStep, plain_sql, run_time_alternatives
from umbral.transaction import (
    At,
    MigrationNotRolledBack,
    db_message,
    driver_errors,
    foreign_keys_off,
    migration_transaction,
    retry_lock_timeouts,
    verify_rolled_back,
    write_transaction,
)
from umbral.values import record

if TYPE_CHECKING:
    import pluggy
    from sqlalchemy.engine import Connection

    from umbral.sqlcache import SqlCache


#: One rendered step: a SQL statement, a Python function to call (RunPython), or a step the
#: backend carries out adapting it to the database (``umbral.steps``).
Step = str | PythonStep | RunTimeStep


@record
class Rendered:
    migration: Migration
    statements: list[Step]
    needs_fk_off: bool = False
    #: Tables the migration rebuilds (views are checked after it).
    rebuilt: set[str] = field(default_factory=set)
    #: True when this un-applies the migration (reverse operations; removes the tracking row).
    backward: bool = False
    #: Record without running SQL: a squash whose replaced migrations all ran (SPEC §5).
    record_only: bool = False
    #: Forward and record-only: why no SQL runs (that squash, or ``--record-only``).
    why: str | None = None
    #: The environment this migration is recorded as skipped in (its ``skip_on`` names it):
    #: recorded without running SQL, and un-applied the same way.
    skipped: str | None = None
    #: Backward and record-only: why the tracking row goes without SQL (``plan.Step``).
    unrecord: str | None = None
    #: Per operation: (description, statements), for sqlmigrate and --plan; a run-time
    #: step shows as its statements.
    parts: list[tuple[str, list[Step]]] = field(default_factory=list)
    #: Per operation, beside ``parts``: what the run time may do instead of the statements
    #: shown (``RunTimeStep.alternatives``), for sqlmigrate.
    alternatives: list[list[str]] = field(default_factory=list)
    #: Per operation, beside ``parts``: its steps as rendered, run-time steps included (for
    #: ``checkschema --sql``, which resolves them against the database it reads).
    steps: list[list[Step]] = field(default_factory=list)
    #: Runs the same with foreign-key enforcement on or off (see ``Backend.FK_NEUTRAL``), so
    #: apply_plan may put it in a batch of either mode.
    fk_neutral: bool = False
    #: Run statement by statement, never as one script: set when the script hit a lock
    #: timeout, so that the retries name the statement that waits.
    one_by_one: bool = False
    #: Where an earlier run left this migration partly applied (it continues there), for a
    #: migration that runs statement by statement (``Backend.runs_in_steps``).
    progress: progress.Progress | None = None
    #: The checksum of the migration's file, where ``migration`` is not read from it (the
    #: reverse migration a backward run renders).
    file_checksum: str | None = None
    #: What a printed script (``sqlmigrate``) runs before the first operation and after the
    #: last, as ``migrate`` runs the migration (``Backend.script_frame``).
    script_before: list[str] = field(default_factory=list)
    script_after: list[str] = field(default_factory=list)
    #: What is looked at before the migration's first statement (``umbral.preflight``): what
    #: the operations' data says the database must not hold, and the run-time steps with a
    #: ``precheck``, each with its operation's index and kind.
    looks: list[preflight.Look] = field(default_factory=list)
    prechecks: list[tuple[int, str, RunTimeStep]] = field(default_factory=list)

    @property
    def checksum(self) -> str:
        return self.migration.checksum if self.file_checksum is None else self.file_checksum


def render_migration(
    pm: pluggy.PluginManager,
    backend: Backend,
    migration: Migration,
    state: State | Callable[[], State],
    cache: SqlCache | None = None,
) -> Rendered:
    """Render every operation of one migration, threading the table state through them.
    ``state`` is the plugin's tables before the migration, or a function that builds them: it
    is called only if a renderer reads ``context.state``. A rendering that did not read it
    is kept in ``cache`` (and taken from it: the file is then not read at all)."""
    if cache is not None:
        kept = cache.get(migration, "forward")
        if kept is not None:
            return from_kept(migration, kept)
    operations = migration.operations
    thread = StateThread(state if callable(state) else lambda: state, operations)
    ctx = RenderContext(migration=migration.key, atomic=migration.atomic)
    out = Rendered(migration, [])
    in_transaction = migration.atomic or not backend.NON_ATOMIC_MIGRATIONS
    for index, op in enumerate(operations):
        if backend.LONG_NAMES_REFUSED:
            _refuse_long_names(backend, migration, index, op)
        ctx.state = thread.lazy(index)
        stmts = pm.hook.umbral_render_operation(operation=op, backend=backend, context=ctx)
        if stmts is None:
            raise UnsupportedChange(
                f"migration {migration.key}: no plugin renders operation {op.kind} for the "
                f"{backend.name} backend; install the plugin that provides it"
            )
        if in_transaction:
            _refuse_outside_transaction_only(backend, migration, index, op.kind, stmts)
        elif any(isinstance(s, PythonStep) for s in stmts):
            raise MigrationFileError(
                f"{migration.where}: operation #{index + 1} ({op.kind}) calls a Python function, "
                'which runs inside the migration\'s transaction; remove "atomic": false, or '
                "put the statements that need it in a migration of their own"
            )
        out.parts.append((op.describe(), plain_sql(stmts)))
        out.steps.append(list(stmts))
        out.alternatives.append(run_time_alternatives(stmts))
        out.statements.extend(stmts)
    out.needs_fk_off = ctx.needs_fk_off
    out.rebuilt = set(ctx.rebuilt)
    out.fk_neutral = not ctx.needs_fk_off and all(
        op.kind in backend.FK_NEUTRAL for op in migration.operations
    )
    found = preflight.find(operations)
    out.looks = found.looks
    # Some steps look only where statements before them would stay applied, and there are.
    in_steps = backend.runs_in_steps(out.statements, migration.atomic)
    out.prechecks = [
        (i, operations[i].kind, step)
        for i in found.as_found
        for step in out.steps[i]
        if isinstance(step, RunTimeStep)
        and step.PRECHECKS
        and (not step.PRECHECKS_IN_STEPS_ONLY or (in_steps and step is not out.statements[0]))
    ]
    if cache is not None and not thread.read:
        data = kept_form(out)
        if data is not None:
            cache.put(migration, "forward", data)
    return out


def kept_form(rendered: Rendered) -> dict[str, Any] | None:
    """``rendered`` as kept, or None when it holds a step decided at run time or a Python
    function (only SQL text is kept). When every step is text, each part holds that text too
    (``plain_sql`` changes only run-time steps)."""
    if not all(isinstance(s, str) for s in rendered.statements):
        return None
    return {
        "parts": [[description, statements] for description, statements in rendered.parts],
        "fk_off": rendered.needs_fk_off,
        "rebuilt": sorted(rendered.rebuilt),
        "fk_neutral": rendered.fk_neutral,
        "looks": [preflight.kept(one) for one in rendered.looks],
    }


def from_kept(m: Migration, data: dict[str, Any]) -> Rendered:
    """The rendering of ``m`` kept as ``data`` (``kept_form``)."""
    out = Rendered(m, [])
    for description, statements in data["parts"]:
        out.parts.append((description, list(statements)))
        out.steps.append(list(statements))
        out.alternatives.append([])
        out.statements.extend(statements)
    out.needs_fk_off = data["fk_off"]
    out.rebuilt = set(data["rebuilt"])
    out.fk_neutral = data["fk_neutral"]
    out.looks = [preflight.from_kept(d) for d in data.get("looks", ())]
    return out


def _refuse_long_names(backend: Backend, migration: Migration, index: int, op: Operation) -> None:
    """Refuse, before anything runs, a name of the user's that the database refuses as too
    long: the migration would otherwise fail part way (its DDL commits statement by statement)."""
    for what, where, size in refused_names(backend, op):
        raise NameTooLong(
            f"migration {migration.key}: operation #{index + 1} ({op.kind}) names the {what} "
            f"`{where}`, {size} long, and the {backend.name} backend's database refuses "
            f"names over {backend.IDENTIFIER_LIMIT}: shorten {WHERE_NAMED[what]} and make "
            "this migration again; nothing was run",
            what,
            where,
            size,
        )


def _refuse_outside_transaction_only(
    backend: Backend, migration: Migration, index: int, kind: str, stmts: Sequence[Step]
) -> None:
    """Refuse, before anything runs, a statement that cannot run inside the migration's
    transaction (it ends the transaction, or the database refuses it there)."""
    for stmt in plain_sql(stmts):
        if not isinstance(stmt, str):
            continue  # a Python step: RunPythonContext says not to commit, the run checks
        reason = backend.cannot_run_in_transaction(stmt)
        if reason is None:
            continue
        from umbral.loader import in_transaction_problem

        remedy = None
        if not backend.NON_ATOMIC_MIGRATIONS:
            remedy = (
                f'the {backend.name} backend runs every migration in a transaction, "atomic": '
                "false too: remove the statement and run it outside umbral"
            )
        raise MigrationFileError(
            f"{migration.where}: {in_transaction_problem(index, kind, stmt, reason, remedy)}"
        )


#: Seconds a batch of migrations may keep its transaction open before committing (apply_plan).
BATCH_SECONDS = 0.5


def apply_one(session: Session, rendered: Rendered, chain: bool = False) -> bool:
    """Run one migration and record it, atomically. Returns False if it was already applied.

    A failing statement rolls the whole migration back (its tracking row included) and raises
    MigrationFailed naming the migration, the statement and the database error. ``chain``:
    the next migration runs in a transaction too (``chains``).
    """
    conn, backend = session.conn, session.backend
    m = rendered.migration
    fake = rendered.record_only
    if not fake and _starts(rendered) and _looks(rendered):
        preflight.check(conn, backend, m.key, rendered.looks, rendered.prechecks)
    if not fake and backend.runs_in_steps(rendered.statements, m.atomic):
        return stepwise.apply(session, rendered)
    errors = driver_errors(conn)
    if not fake and _apply_as_script(conn, backend, rendered, errors, chain):
        return True
    fk_off = rendered.needs_fk_off and not fake
    claimed = False  # whether this run wrote (or deleted) the tracking row
    try:
        with foreign_keys_off(conn, backend, fk_off), migration_transaction(conn, backend):
            # The tracking row is claimed (or released) first, inside the write transaction:
            # another process may have got here first, and then this migration is skipped.
            # A failure below rolls the row back with everything else.
            verb = "DELETE FROM" if rendered.backward else "INSERT INTO"
            at = At(f"{verb} {recorder.TABLE} ...")
            try:
                if not _claim(conn, rendered):
                    return False
                claimed = True
                if not fake:
                    _run_statements(conn, backend, rendered, fk_off, at)
            except errors as exc:
                raise MigrationFailed(m.key, at.statement, db_message(exc)) from exc
            except UnsupportedChange as exc:  # a run-time step found what it cannot keep
                raise MigrationFailed(m.key, at.statement, str(exc)) from exc
        return True
    except MigrationFailed as exc:
        if claimed:
            verify_rolled_back(conn, backend, m, rendered.backward, exc)
        raise


def _starts(rendered: Rendered) -> bool:
    """Whether the migration runs from its first statement (not continued part way)."""
    return rendered.progress is None or not rendered.progress.done


def _claim(conn: Connection, rendered: Rendered) -> bool:
    """Write (or, backward, delete) the migration's tracking row; False when another
    process already did."""
    m = rendered.migration
    if rendered.backward:
        return recorder.release(conn, m.plugin, m.id)
    return recorder.claim(conn, m.plugin, m.id, m.checksum, rendered.skipped)


def _run_statements(
    conn: Connection, backend: Backend, rendered: Rendered, fk_off: bool, at: At
) -> None:
    """Run the migration's steps (a run-time step as a unit), then check what they left:
    foreign keys, deferred constraints, views."""
    m = rendered.migration
    # A migration that only creates, renames or re-indexes cannot violate a
    # deferred constraint; the others are checked before their transaction ends.
    check_deferred = not fk_off and not rendered.fk_neutral
    if fk_off:
        before = backend.foreign_key_state(conn)
    else:
        before = backend.deferred_state(conn) if check_deferred else None
    cursor = driver_cursor(conn)
    for step in rendered.statements:
        at.statement = str(step)
        if isinstance(step, PythonStep):
            step.run(conn, backend.name, m.key)
        elif isinstance(step, RunTimeStep):
            reached = [at.statement]  # what the step had started when it failed
            try:
                step.run(conn, reached.append)
            finally:
                at.statement = reached[-1]
        else:
            cursor.execute(step)
    _check_after(conn, backend, rendered, fk_off, check_deferred, before, at)


def _check_after(
    conn: Connection,
    backend: Backend,
    rendered: Rendered,
    fk_off: bool,
    check_deferred: bool,
    before: Any,
    at: At,
) -> None:
    """What the statements left: dangling foreign keys, violated deferred constraints,
    broken views; each fails the migration inside its transaction."""
    m = rendered.migration
    if fk_off:
        at.statement = backend.FOREIGN_KEY_CHECK
        dangling = backend.foreign_key_violations(conn, before)
        if dangling:
            example = backend.foreign_key_example(conn, before)
            raise MigrationFailed(
                m.key, at.statement,
                f"it would leave {dangling} new dangling foreign-key reference(s)"
                + (f" ({example})" if example else ""),
            )  # fmt: skip
    elif check_deferred:
        at.statement = backend.DEFERRED_CHECK
        violated = backend.deferred_violations(conn, before)
        if violated:
            raise MigrationFailed(m.key, at.statement, violated)
    at.statement = "checking views"
    broken = backend.broken_views(conn) if rendered.rebuilt else []
    if broken:
        raise MigrationFailed(
            m.key, at.statement,
            f"it would break view(s) {', '.join(broken)}; drop or change them "
            "in the same migration",
        )  # fmt: skip


def _apply_as_script(
    conn: Connection,
    backend: Backend,
    rendered: Rendered,
    errors: tuple[type[BaseException], ...],
    chain: bool = False,
) -> bool:
    """Apply a migration in one round trip when the backend can run a script: its tracking
    row first, then its statements, in its own transaction. True when it was applied.

    Where the script can end the transaction itself, it runs outside SQLAlchemy's: the driver
    opens the transaction (unless the previous migration's script left the next one open,
    ``chain``) and the script commits it, so a migration costs one round trip.

    False when it was not tried, or when the script failed and was rolled back (nothing of it
    is left): the caller then runs the migration statement by statement, which names the
    failing statement, or finds the tracking row another process wrote (the plain INSERT of
    the script fails on the primary key before any statement of the migration runs).

    A lock timeout is raised instead, as the MigrationFailed that ``retry_lock_timeouts``
    retries: running the statements one by one at once would only wait for the same lock
    again, stalling the table's readers queued behind the wait a second time. The retries
    run statement by statement, so the error after the last one names the statement.
    """
    m = rendered.migration
    if not _scriptable(conn, backend, rendered):
        return False
    # To the microsecond: after a failure, this tells the row the script wrote from one
    # another process wrote (the script then failed on it, and nothing of it ran).
    now = recorder.now_iso("microseconds")
    record = recorder.record_sql(m.plugin, m.id, m.checksum, now)
    if record is None:
        return False
    # Deferred constraints are checked at the end, in the script when the check is a statement.
    check = not rendered.fk_neutral
    in_script = [backend.DEFERRED_CHECK_SQL] if check and backend.DEFERRED_CHECK_SQL else []
    check = check and not in_script
    script = [record, *map(str, rendered.statements), *in_script]
    # Its own transaction, with nothing to check after the script: the script commits it.
    commit = not check and not conn.info.get("umbral_batch") and not conn.in_transaction()
    try:
        if commit:
            backend.run_script(conn, script, commit=True, chain=chain)
        else:
            with migration_transaction(conn, backend):
                before = backend.deferred_state(conn) if check else None
                backend.run_script(conn, script)
                if check and backend.deferred_violations(conn, before):
                    raise _DeferredViolated
    except _DeferredViolated:
        return False
    except errors as exc:
        if backend.is_lock_timeout(exc):
            rendered.one_by_one = True
            raise MigrationFailed(m.key, SCRIPT, db_message(exc)) from exc
        # Rolled back, unless a statement ended the transaction: then the row this script
        # wrote (its applied_at) is there, and the statement-by-statement run would skip it.
        failure = MigrationFailed(m.key, SCRIPT, db_message(exc))
        failure.__cause__ = exc
        try:
            with conn.begin():
                ours = recorder.applied_at(conn, m.plugin, m.id) == now
        except errors:
            ours = False
        if ours:
            verify_rolled_back(conn, backend, m, False, failure)
        return False
    return True


def _looks(rendered: Rendered) -> bool:
    """Whether the migration reads the database before its first statement (``preflight``)."""
    return bool(rendered.looks or rendered.prechecks)


def chains(session: Session, after: Rendered) -> bool:
    """Whether a migration's script may open the transaction of ``after``, the next one: it
    runs as a script too (or, should that fail, in one transaction; never the
    statement-by-statement run, which switches the connection to autocommit)."""
    backend = session.backend
    if after.record_only or backend.runs_in_steps(after.statements, after.migration.atomic):
        return False
    if _looks(after):
        return False  # it reads the database before its transaction (``umbral.preflight``)
    return _scriptable(session.conn, backend, after)


def _scriptable(conn: Connection, backend: Backend, rendered: Rendered) -> bool:
    """Whether the migration may run as one script: plain SQL, nothing the executor must
    see between statements (run-time steps, rebuilds, foreign keys off), and a backend that
    can."""
    if rendered.backward or rendered.rebuilt or rendered.needs_fk_off:
        return False
    if rendered.one_by_one:
        return False
    if any(not isinstance(s, str) for s in rendered.statements):
        return False  # a script is SQL text: a Python or run-time step runs between statements
    return backend.can_run_script(conn)


#: The statement a failure of the one-round-trip script names (which one failed is unknown).
SCRIPT = "(the migration's statements, sent as one script)"


class _DeferredViolated(Exception):
    """The script left a violated deferred constraint: rolled back, to be re-run statement by
    statement, which reports it."""


def apply_plan(
    session: Session, plan: Sequence[Rendered], prelude: Callable[[], None] | None = None
) -> list[str]:
    """Apply each migration in order; stop at the first failure (earlier ones stay applied).

    On a backend with ``BATCH_MIGRATIONS`` (SQLite), consecutive atomic migrations that need
    the same foreign-key mode share one transaction, each in its own savepoint (a migration
    that runs the same in either mode joins whichever batch it meets): a migration is
    still all-or-nothing with its tracking row, and a failure still keeps the ones before it
    (the batch commits up to it), but the run pays one commit (fsync) per batch instead of one
    per migration. A batch holds the write lock at most ``BATCH_SECONDS`` (plus one migration).

    ``prelude`` (making the tracking table) runs in a write transaction before the first
    migration: the first batch's own when the plan starts with one (a fresh SQLite database
    then commits once, as its floor does), else one of its own.
    """
    done: list[str] = []
    total = len(plan)
    batching = getattr(session.backend, "BATCH_MIGRATIONS", False)
    i = 0
    while i < total:
        end, fk_off = batch_end(plan, i, batching=batching)
        if end - i == 1:
            if prelude is not None:
                with write_transaction(session.conn, session.backend):
                    prelude()
                prelude = None
            chain = i + 1 < total and chains(session, plan[i + 1])
            _apply_step(session, plan[i], i + 1, total, done, chain)
            i += 1
        else:
            i += _apply_batch(session, plan[i:end], fk_off, i, total, done, prelude)
            prelude = None
    if prelude is not None:
        with write_transaction(session.conn, session.backend):
            prelude()
    return done


def batch_end(plan: Sequence[Rendered], start: int, *, batching: bool) -> tuple[int, bool]:
    """Where the batch that starts at ``plan[start]`` ends (exclusive), and whether it runs
    with foreign-key enforcement off: consecutive atomic migrations of one mode, migrations
    that run the same in either mode joining the batch they meet."""
    first = plan[start]
    fk_off: bool | None = None if first.fk_neutral else first.needs_fk_off
    end = start + 1
    if batching and first.migration.atomic:
        while end < len(plan) and plan[end].migration.atomic:
            step = plan[end]
            if not step.fk_neutral:
                if fk_off is None:
                    fk_off = step.needs_fk_off
                elif step.needs_fk_off != fk_off:
                    break
            end += 1
    return end, bool(fk_off)


def _apply_step(
    session: Session,
    rendered: Rendered,
    i: int,
    total: int,
    done: list[str],
    chain: bool = False,
    held: list[tuple[str, dict[str, Any]]] | None = None,
) -> None:
    """Apply one migration between its ``start`` and ``done`` (or ``skipped``) events, the
    second carrying its time. ``held``: where the second waits until the transaction commits
    (a batch: a migration is not reported applied before it is)."""
    key = rendered.migration.key
    session.event("start", {"migration": key, "index": i, "total": total})
    began = time.monotonic()
    ran = retry_lock_timeouts(session, key, lambda r=rendered: apply_one(session, r, chain))
    if ran:
        done.append(key)
    data = {
        "migration": key, "index": i, "total": total, "seconds": time.monotonic() - began,
        "backward": rendered.backward,
    }  # fmt: skip
    if held is None:
        session.event("done" if ran else "skipped", data)
    else:
        held.append(("done" if ran else "skipped", data))


def _apply_batch(
    session: Session,
    batch: Sequence[Rendered],
    fk_off: bool,
    offset: int,
    total: int,
    done: list[str],
    prelude: Callable[[], None] | None = None,
) -> int:
    """Apply migrations in one transaction, a savepoint each; returns how many it attempted.
    ``fk_off``: the batch runs with foreign-key enforcement off (its migrations need it so or
    run the same either way); ``prelude`` runs first, in the same transaction."""
    conn, backend = session.conn, session.backend
    if fk_off:
        backend.foreign_keys_off(conn)  # before BEGIN: a no-op inside a transaction
    failure: BaseException | None = None
    count = 0
    started = time.monotonic()
    held: list[tuple[str, dict[str, Any]]] = []
    conn.info["umbral_batch"] = True
    try:
        with write_transaction(conn, backend):
            if prelude is not None:
                prelude()
            for rendered in batch:
                count += 1
                try:
                    _apply_step(session, rendered, offset + count, total, done, held=held)
                except Exception as exc:  # its savepoint is rolled back; keep the ones before
                    failure = exc
                    break
                if time.monotonic() - started > BATCH_SECONDS:
                    break
    finally:
        conn.info.pop("umbral_batch", None)
        if fk_off:
            backend.foreign_keys_on(conn)
    for kind, data in held:  # committed
        session.event(kind, data)
    if failure is not None:
        raise failure
    return count


__all__ = [
    "MigrationNotRolledBack",
    "Rendered",
    "Session",
    "UmbralError",
    "apply_one",
    "apply_plan",
    "driver_errors",
    "render_migration",
    "write_transaction",
]
