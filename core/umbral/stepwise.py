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
    attempt left behind.
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
    done = known.done if known is not None else 0
    saved = known is not None  # whether its progress row exists
    if not saved and done < total - 1 and not progress.ensured(conn):
        with write_transaction(conn, backend):
            progress.ensure_table(conn)
    with foreign_keys_off(conn, backend, rendered.needs_fk_off):
        while done < total:
            try:
                wrote = retry_lock_timeouts(
                    session, m.key, lambda i=done, s=saved: _attempt(session, rendered, i, s)
                )
            except MigrationPartlyApplied as exc:
                _note_failure(conn, backend, rendered, exc, saved=saved)
                raise
            done += 1
            saved = done < total and (saved or wrote)
    return True


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
