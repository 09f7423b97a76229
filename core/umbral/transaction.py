"""The transactions a migration runs in, and what is left when one of them fails.

A migration runs in its own write transaction, or in a savepoint of the batch ``apply_plan``
opened (SQLite). After a failure, :func:`verify_rolled_back` checks that the database really
undid it: a statement that ended the transaction on its own leaves what ran before it committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from umbral import recorder
from umbral.backend import Backend
from umbral.database import driver_cursor, error_line
from umbral.errors import MigrationFailed, MigrationNotRolledBack
from umbral.migration import Migration
from umbral.values import record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.session import Session


@contextmanager
def write_transaction(conn: Connection, backend: Backend) -> Iterator[None]:
    """A transaction that takes the backend's write lock up front (BEGIN IMMEDIATE on SQLite)."""
    conn.info["umbral_begin"] = backend.begin_sql() or "BEGIN"
    try:
        with conn.begin():
            yield
    finally:
        conn.info.pop("umbral_begin", None)


@contextmanager
def migration_transaction(conn: Connection, backend: Backend) -> Iterator[None]:
    """One migration's own write transaction, or its savepoint inside apply_plan's batch.

    The savepoint is set on the driver's cursor: SQLAlchemy's nested-transaction bookkeeping
    cost about 0.2 ms a migration, a tenth of applying a long history of small migrations.
    """
    if conn.info.get("umbral_batch"):
        cursor = driver_cursor(conn)
        cursor.execute("SAVEPOINT umbral_migration")
        try:
            yield
        except BaseException:
            try:
                cursor.execute("ROLLBACK TO umbral_migration")
                cursor.execute("RELEASE umbral_migration")
            except driver_errors(conn):
                pass  # the database ended the whole transaction itself: nothing to undo
            raise
        cursor.execute("RELEASE umbral_migration")
    else:
        with write_transaction(conn, backend):
            yield


def verify_rolled_back(
    conn: Connection, backend: Backend, m: Migration, backward: bool, failure: MigrationFailed
) -> None:
    """After a failure, check that the migration's transaction really rolled back: its
    tracking row must be as before (absent for a forward run, present for a backward one).
    A statement that ended the transaction on its own committed what ran before it, the
    tracking row included; then the migration is left unrecorded and the error says so.
    Statements that end a transaction are refused when the migration is rendered; this is
    for what the database ends by itself."""
    errors = driver_errors(conn)
    try:
        recorded = m.key in recorder.applied(conn)
    except errors:
        return  # the database cannot answer: the failure's own message stands
    if recorded == backward:
        return
    unrecorded = True
    if recorded:
        try:
            if conn.info.get("umbral_batch"):  # the batch's transaction was ended too
                recorder.unrecord(conn, m.plugin, m.id)
            else:
                with write_transaction(conn, backend):
                    recorder.unrecord(conn, m.plugin, m.id)
        except errors:
            unrecorded = False
    raise MigrationNotRolledBack(failure, unrecorded=unrecorded) from failure


def driver_errors(conn: Connection) -> tuple[type[BaseException], ...]:
    """What a failing statement raises: the driver's own errors (from ``driver_cursor``)
    and SQLAlchemy's wrapping of them (from statements run through ``conn``)."""
    from sqlalchemy.exc import DBAPIError

    return (DBAPIError, conn.dialect.loaded_dbapi.Error)


def run_statement(conn: Connection, sql: str) -> None:
    driver_cursor(conn).execute(sql)


def db_message(exc: Exception) -> str:
    """A driver error's first line, as a failed migration's message quotes it."""
    return error_line(exc)


@record
class At:
    """The statement a migration is at, which its failure names."""

    statement: str


@contextmanager
def foreign_keys_off(conn: Connection, backend: Backend, off: bool) -> Iterator[None]:
    """Foreign-key enforcement off around a migration that needs it so (before BEGIN: a
    no-op inside a transaction), back on after it whatever happens."""
    if not off:
        yield
        return
    backend.foreign_keys_off(conn)
    try:
        yield
    finally:
        backend.foreign_keys_on(conn)


def _name_the_statement_timeout(exc: MigrationFailed, backend: Backend) -> None:
    """The server's words ("canceling statement due to statement timeout") name neither the
    limit nor where it was set: say both, once (an outer retry loop sees the same error)."""
    if getattr(exc, "timeout_named", False):
        return
    exc.timeout_named = True  # type: ignore[attr-defined]
    limit = f" of {backend.statement_timeout:g}s" if backend.statement_timeout else ""
    exc.args = (
        f"{exc.args[0]} (the statement ran past the statement timeout{limit}; re-run with a "
        "larger --statement-timeout, or 0 for none, also the `statement_timeout` "
        "configuration key)",
    )


def retry_lock_timeouts(session: Session, key: str, attempt: Callable[[], Any]) -> Any:
    """Call ``attempt``; when it fails on a lock timeout, retry with backoff (SPEC §8).

    ``attempt`` must leave nothing behind when it fails (a rolled-back transaction, or one
    idempotent statement), so running it again is safe.
    """
    backend = session.backend
    tries = 0
    while True:
        try:
            return attempt()
        except MigrationFailed as exc:
            cause = exc.__cause__
            if cause is not None and backend.is_statement_timeout(cause):
                _name_the_statement_timeout(exc, backend)
            timed_out = cause is not None and backend.is_lock_timeout(cause)
            if not timed_out or getattr(exc, "gave_up", False):
                raise
            if tries >= backend.lock_retries:
                exc.gave_up = True  # type: ignore[attr-defined]  # outer retry loops stop too
                find = f"find it in {backend.SESSIONS_VIEW}, or " if backend.SESSIONS_VIEW else ""
                exc.args = (
                    f"{exc.args[0]} (gave up after {tries + 1} attempt(s): another session "
                    f"holds a conflicting lock on the table; {find}re-run later or with a "
                    "larger --lock-timeout)",
                )
                raise
            tries += 1
            pause = min(backend.lock_retry_backoff * 2 ** (tries - 1), 30.0)
            session.event(
                "warning",
                {
                    "message": f"umbral migrate: migration {key} timed out waiting for a "
                    f"lock ({exc.error}); retrying in {pause:g}s "
                    f"(retry {tries} of {backend.lock_retries})"
                },
            )
            time.sleep(pause)
