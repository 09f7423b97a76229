"""Migrations the database cannot roll back as a whole, run statement by statement.

On MySQL and MariaDB every migration with DDL (the server commits around each DDL statement),
on PostgreSQL a migration marked ``"atomic": false``: ``Backend.runs_in_steps`` says which. Each
statement's completion is recorded in ``umbral_migration_progress`` (``umbral.progress``), so a
failed run leaves the migration partly applied and the next one continues at the failed
statement, never running the committed ones again (Atlas's statement-level resume).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from umbral import progress, recorder
from umbral.backend import Backend
from umbral.errors import MigrationPartlyApplied, PartlyApplied, UnsupportedChange
from umbral.migration import Migration
from umbral.runpython import PythonStep
from umbral.steps import RunTimeStep
from umbral.transaction import (
    At,
    db_message,
    driver_errors,
    foreign_keys_off,
    retry_lock_timeouts,
    run_statement,
    write_transaction,
)
from umbral.values import record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.executor import Rendered, Step
    from umbral.session import Session


def apply(session: Session, rendered: Rendered) -> bool:
    """Run a migration the database cannot roll back as a whole statement by statement,
    recording after each one how many have completed (``umbral.progress``): a failed run
    leaves the migration partly applied, and the next one continues at the failed statement
    instead of running the committed ones again.

    Each statement commits together with its progress where it can run in a transaction (then
    it is never run twice). One that cannot (a concurrent index build), or DDL the database
    commits on its own, commits just before its progress is written: a process killed between
    the two repeats that one statement next time. A run-time step that found nothing to change
    records no progress: running it again reads and changes nothing either. The last statement
    commits with the tracking row (deleted when un-applying). A statement that times out
    waiting for a lock is retried on its own, after the backend's clean-up of what a failed
    attempt left behind. Where the backend counts the results of a multi-statement query
    (``Backend.run_counted``), a run of statements goes in one round trip, each with its
    progress and COMMIT: the database ends up as it would statement by statement.
    """
    conn, backend = session.conn, session.backend
    m = rendered.migration
    if not backend.RUN_LOCK:  # under the run's lock nobody else can have applied it meanwhile
        applied = recorder.reading(conn, lambda c: recorder.is_applied(c, m.plugin, m.id))
        if applied != rendered.backward:
            return False
    steps = rendered.statements
    total = len(steps)
    known = rendered.progress
    if known is not None and known.total != total and known.done:
        raise PartlyApplied(
            f"umbral migrate: migration {m.key} was partly applied as {known.total} "
            f"statement(s) and now renders as {total}; say where to continue with "
            "--from-statement N (1 runs it whole), or mark it applied with --fake"
        )
    at = _Position(known.done if known is not None else 0, known is not None)
    if not at.saved and at.done < total - 1 and not progress.ensured(conn):
        with write_transaction(conn, backend):
            progress.ensure_table(conn)
    with foreign_keys_off(conn, backend, rendered.needs_fk_off):
        while at.done < total:
            end = _script_end(session, rendered, at.done)
            try:
                if end > at.done:
                    retry_lock_timeouts(
                        session, m.key, lambda e=end: _attempt_script(session, rendered, at, e)
                    )
                    continue
                wrote = retry_lock_timeouts(
                    session, m.key,
                    lambda i=at.done, s=at.saved: _attempt(session, rendered, i, s),
                )  # fmt: skip
            except MigrationPartlyApplied as exc:
                _note_failure(conn, backend, rendered, exc, saved=at.saved)
                raise
            at.done += 1
            at.saved = at.done < total and (at.saved or wrote)
    return True


@record
class _Position:
    """How many statements of a migration have completed, and whether its progress row
    exists."""

    done: int
    saved: bool


def _script_end(session: Session, rendered: Rendered, start: int) -> int:
    """Where the run of statements from ``start`` that can go to the database as one script
    ends (``Backend.run_counted``): SQL text the backend accepts, after a run-time step that
    says ahead what it runs (``RunTimeStep.resolve``: its reads must see the statements
    before it committed, so only the first can be one); a forward migration. At ``start``
    when there is none."""
    conn, backend = session.conn, session.backend
    steps = rendered.statements
    end = start
    if rendered.backward or rendered.one_by_one or not _writable(rendered):
        return end
    first = steps[start]
    if isinstance(first, RunTimeStep) and first.RESOLVES and backend.can_count(conn, str(first)):
        end += 1
    while end < len(steps) and isinstance(steps[end], str) and backend.can_count(conn, steps[end]):
        end += 1
    return end


def _attempt_script(session: Session, rendered: Rendered, at: _Position, end: int) -> None:
    """Run statements ``at.done`` to ``end`` (exclusive) in one round trip, each followed by
    its progress and a COMMIT, as ``_run_in_steps`` commits them one by one (the last
    statement of the migration by its tracking row); ``at`` moves past what completed. A
    failure is a MigrationPartlyApplied naming the statement that failed, and stops the
    script there: its lock-timeout retry runs the rest of the run from that statement."""
    conn, backend = session.conn, session.backend
    m = rendered.migration
    start, total = at.done, len(rendered.statements)
    first = rendered.statements[start]
    resolved = None
    if isinstance(first, RunTimeStep):
        try:
            resolved = first.resolve(conn)
        except (*driver_errors(conn), UnsupportedChange) as exc:
            error = exc.args[0] if isinstance(exc, UnsupportedChange) else db_message(exc)
            raise MigrationPartlyApplied(
                m.key, str(first), error, done=start, total=total, backward=False
            ) from exc
    script = _script(rendered, at, end, resolved)
    if conn.in_transaction():
        conn.commit()  # what was read before it
    count, error = backend.run_counted(conn, script.sql) if script.sql else (0, None)
    if error is None:
        at.done, at.saved = end, end < total and (at.saved or bool(script.progress))
        return
    failed = script.owners[count]
    if failed > start:
        at.done = failed
        at.saved = at.saved or any(i < failed for i in script.progress)
    exc = MigrationPartlyApplied(
        m.key, script.names[count], db_message(error), done=failed, total=total, backward=False
    )
    raise exc from error


def _writable(rendered: Rendered) -> bool:
    """Whether the migration's progress and tracking rows can be written into SQL text."""
    m = rendered.migration
    return recorder.plain_literals(m.plugin, m.id, m.checksum, rendered.checksum) is not None


@record
class _Script:
    """The statements of ``_attempt_script``, and for each one the migration's statement it
    belongs to (``owners``) and the statement a failure of it names (``names``)."""

    sql: list[str]
    owners: list[int]
    names: list[str]
    #: The migration's statements whose progress the script writes.
    progress: list[int]


def _script(rendered: Rendered, at: _Position, end: int, resolved: list[str] | None) -> _Script:
    """The script of ``_attempt_script``; ``resolved``: what its first statement, a run-time
    step, runs (its values are plain: ``_writable``)."""
    m = rendered.migration
    total = len(rendered.statements)
    script = _Script([], [], [], [])
    saved = at.saved
    for i in range(at.done, end):
        statements = [str(rendered.statements[i])] if resolved is None else resolved
        resolved = None
        extra: list[str | None] = []
        if i == total - 1:
            extra += [progress.clear_sql(m.key)] if saved else []
            extra.append(recorder.record_sql(m.plugin, m.id, m.checksum))
        elif statements:  # a run-time step that found nothing records no progress
            reached = progress.Progress(m.key, rendered.checksum, False, i + 1, total)
            extra.append(progress.save_sql(reached, exists=saved))
            script.progress.append(i)
            saved = True
        if None in extra:
            raise AssertionError("_writable checks that every value can be written in")
        unit = [*statements, *extra, "COMMIT"] if statements or extra else []
        name = statements[-1] if statements else str(rendered.statements[i])
        script.sql += unit  # type: ignore[arg-type]  # no None left
        script.owners += [i] * len(unit)
        script.names += [*statements, *[name] * (len(unit) - len(statements))]
    return script


def _attempt(session: Session, rendered: Rendered, index: int, saved: bool) -> bool:
    """Run statement ``index`` of a migration that runs statement by statement, and say
    whether its progress row was written; its failure is a MigrationPartlyApplied naming it
    and the database's error."""
    m = rendered.migration
    steps = rendered.statements
    total = len(steps)
    at = At(str(steps[index]))
    reached = progress.Progress(m.key, rendered.checksum, rendered.backward, index + 1, total)
    try:
        return _run_in_steps(
            session, rendered, steps[index], at,
            finish=index == total - 1, reached=reached, saved=saved,
        )  # fmt: skip
    except (*driver_errors(session.conn), UnsupportedChange) as exc:
        error = exc.args[0] if isinstance(exc, UnsupportedChange) else db_message(exc)
        raise MigrationPartlyApplied(
            m.key, at.statement, error, done=index, total=total, backward=rendered.backward
        ) from exc


def _run_in_steps(
    session: Session,
    rendered: Rendered,
    step: Step,
    at: At,
    *,
    finish: bool,
    reached: progress.Progress,
    saved: bool,
) -> bool:
    """Run one statement of a migration that runs statement by statement, and commit it with
    its progress (or, the last one, with the tracking row's change); False when no progress
    was written (the last statement, or a run-time step that changed nothing)."""
    conn, backend = session.conn, session.backend
    m = rendered.migration
    alone = isinstance(step, str) and backend.cannot_run_in_transaction(step) is not None
    if isinstance(step, str):
        for cleanup in backend.non_atomic_prelude(conn, step):
            at.statement = cleanup
            with _autocommit(conn):
                run_statement(conn, cleanup)
        at.statement = step
    if alone:
        with _autocommit(conn):
            run_statement(conn, str(step))
    with write_transaction(conn, backend):
        changed = alone or _run_step(conn, backend, m, step, at)
        if not finish:
            if changed:
                progress.save(conn, reached, exists=saved)
            return changed
        if saved:
            progress.clear(conn, m.key)
        if rendered.backward:
            recorder.unrecord(conn, m.plugin, m.id)
        else:
            recorder.record(conn, m.plugin, m.id, m.checksum)
    return False


def _run_step(conn: Connection, backend: Backend, m: Migration, step: Step, at: At) -> bool:
    """One rendered step in the current transaction: SQL, a Python step, a run-time step.
    False when it was a run-time step that changed nothing."""
    if isinstance(step, PythonStep):
        step.run(conn, backend.name, m.key)
    elif isinstance(step, RunTimeStep):
        reached = [at.statement]
        try:
            return step.run(conn, reached.append) is not False
        finally:
            at.statement = reached[-1]
    else:
        run_statement(conn, step)
    return True


@contextmanager
def _autocommit(conn: Connection) -> Iterator[None]:
    """Run what cannot run inside a transaction (a concurrent index build) in autocommit."""
    if conn.in_transaction():
        conn.commit()  # what the backend's clean-up read or ran before it
    level = conn.get_execution_options().get("isolation_level", conn.default_isolation_level)
    conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield
    finally:
        conn.execution_options(isolation_level=level)


def _note_failure(
    conn: Connection, backend: Backend, rendered: Rendered, exc: MigrationPartlyApplied,
    *, saved: bool,
) -> None:  # fmt: skip
    """Record where a failed migration stopped and why, for showmigrations and the next run;
    forget it when nothing of it ran. A connection that died with the failure cannot write:
    the progress row then says where the last completed statement left it."""
    from sqlalchemy.exc import SQLAlchemyError

    m = rendered.migration
    errors = (*driver_errors(conn), SQLAlchemyError)  # a dead connection raises either
    try:
        if conn.in_transaction():
            conn.rollback()
        with write_transaction(conn, backend):
            if exc.done:
                failed = progress.Progress(
                    m.key, rendered.checksum, rendered.backward, exc.done, exc.total, exc.error
                )
                progress.save(conn, failed, exists=saved)
            elif saved:
                progress.clear(conn, m.key)
    except errors:
        pass
