"""Connections to PostgreSQL and what the run time does on them (SPEC §8).

Connections use SQLAlchemy with psycopg 3; ``postgres://`` and ``postgresql://`` URLs both mean
that driver. DDL is transactional, so a migration and its tracking row commit together. A whole
``migrate`` run holds a session-level advisory lock taken on a dedicated connection, and its DDL
runs under ``lock_timeout`` (set only once that lock is held, so the wait for the migration lock
is governed by ``--lock-wait`` alone). A migration is sent as one script when it can be, and a
failed concurrent index build is cleaned up before it is retried.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, ClassVar

from umbral.backend import Backend
from umbral.database import driver_cursor
from umbral.errors import DatabaseError, UmbralError

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Connection, Engine


class MigrationLockTimeout(UmbralError):
    """Another process held the Postgres migration lock for longer than ``--lock-wait``."""


def _fnv1a_64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


#: The advisory-lock key of the migration lock in the ``public`` schema, stable across umbral
#: versions and processes (advisory locks are scoped to the database they are taken in).
LOCK_KEY = _signed64(_fnv1a_64(b"umbral_migrations\0default"))


def lock_key(schema: str | None) -> int:
    """The migration lock of the project migrated into ``schema`` (the connection's current
    schema): projects in different schemas of one database have their own tracking tables and
    do not wait for each other. ``public`` keeps the key older versions took."""
    if schema is None or schema == "public":
        return LOCK_KEY
    return _signed64(_fnv1a_64(b"umbral_migrations\0schema\0" + schema.encode()))


#: SQLSTATE of "canceling statement due to lock timeout" (lock_not_available).
LOCK_NOT_AVAILABLE = "55P03"

_CIC_RE = re.compile(
    r'^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+("(?:[^"]|"")+")',
    re.IGNORECASE,
)


def _interval(seconds: float) -> str:
    """A GUC duration in milliseconds; 0 turns the timeout off."""
    return f"{round(seconds * 1000)}ms"


class PostgresConnection(Backend):
    """The connection side of ``PostgresBackend`` (which adds the dialect's rendering)."""

    #: How often the orphaned server process of a killed client checks that its client is
    #: still there (PostgreSQL 14+), so a killed ``migrate`` stops holding locks quickly.
    CLIENT_CHECK_INTERVAL: ClassVar[str] = "1s"
    #: Defaults of the run's timeouts (SPEC §8): DDL waits at most 2 s for a table lock, so a
    #: long transaction on the table never queues the application's traffic behind our
    #: ACCESS EXCLUSIVE request for long; a timed-out migration is retried 5 times with
    #: backoff (0.5, 1, 2, 4, 8 s). No statement timeout unless configured.
    lock_timeout: float | None = 2.0
    lock_retries: int = 5

    def normalize_url(self, url: str, root: Path) -> str:
        scheme, _sep, rest = url.partition("://")
        if scheme in ("postgres", "postgresql"):
            return f"postgresql+psycopg://{rest}"
        return url

    def schema_url(self, url: str, schema: str, shared: str) -> str:
        """The tenant's schema first on the search_path, the shared one after it (a tenant's
        tables may reference the shared plugins' tables), set by libpq's ``options``."""
        from urllib.parse import quote

        path = f"-csearch_path={self.quote(schema)},{self.quote(shared)}"
        # libpq reads a backslash in `options` as an escape, and a space as a separator.
        path = path.replace("\\", "\\\\").replace(" ", "\\ ")
        return url + ("&" if "?" in url else "?") + "options=" + quote(path, safe="")

    def create_engine(self, url: str) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        # No server-side prepared statements: psycopg prepares a query after five runs, and
        # every DDL statement then costs an extra DEALLOCATE ALL round trip (the schema
        # changed under the prepared plans). A migration run is all DDL.
        connect_args: dict[str, Any] = {"prepare_threshold": None}
        if "application_name=" not in url:
            # Shown in pg_stat_activity: tells whoever waits for the migration lock who has it.
            # (socket is imported here: every command creates this backend to know its URL
            # schemes, a SQLite project's included.)
            import socket

            host = socket.gethostname()
            connect_args["application_name"] = f"umbral {host} pid {os.getpid()}"[:63]
        return create_engine(url, poolclass=NullPool, connect_args=connect_args)

    DEFERRED_CHECK: ClassVar[str] = (
        "SET CONSTRAINTS ALL IMMEDIATE (deferred constraints, checked at the end of the migration)"
    )
    #: Checks every deferred constraint now (raising the violation it finds) instead of at
    #: COMMIT, where the error would name no migration. It lasts to the end of the migration's
    #: transaction, which holds only the tracking row and the view check more.
    DEFERRED_CHECK_SQL: ClassVar[str | None] = "SET CONSTRAINTS ALL IMMEDIATE"

    def deferred_violations(self, conn: Connection, before: Any) -> str | None:
        driver_cursor(conn).execute(self.DEFERRED_CHECK_SQL)
        return None

    def can_run_script(self, conn: Connection) -> bool:
        # Before PostgreSQL 13 a statement_timeout covers a whole multi-statement query, not
        # each statement in it: the script would change what the timeout means.
        version = conn.connection.driver_connection.info.server_version  # type: ignore[union-attr]
        return self.statement_timeout is None or version >= 130000

    def run_script(
        self,
        conn: Connection,
        statements: Sequence[str],
        *,
        commit: bool = False,
        chain: bool = False,
    ) -> None:
        """Send the statements as one simple-protocol query: one round trip for a migration
        instead of one per statement (half of a long history's run time here). The server runs
        them in order and stops at the first error; a line break before each `;` keeps a
        trailing `--` comment from swallowing the next statement.

        With ``commit`` (no SQLAlchemy transaction open) psycopg opens the transaction, unless
        the previous script left one open, and the query ends with its ``COMMIT``, skipped with
        the rest when a statement fails; then the failed transaction is rolled back here. With
        ``chain`` a ``BEGIN`` follows the ``COMMIT``: the next migration's script then goes
        without psycopg's own ``BEGIN`` round trip. The connection never leaves its
        transactional mode, so an interrupt anywhere leaves either the whole migration with its
        tracking row or none of it."""
        raw = conn.connection.driver_connection
        tail = (["COMMIT", "BEGIN"] if chain else ["COMMIT"]) if commit else []
        try:
            raw.cursor().execute("\n;\n".join([*statements, *tail]))  # type: ignore[union-attr]
        except BaseException:
            if commit:  # the transaction is the driver's own: SQLAlchemy's rolls back the rest
                with suppress(Exception):  # the connection is gone: nothing to roll back
                    raw.rollback()  # type: ignore[union-attr]
            raise

    def is_lock_timeout(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", None) or exc
        return getattr(orig, "sqlstate", None) == LOCK_NOT_AVAILABLE

    def is_statement_timeout(self, exc: BaseException) -> bool:
        # query_canceled is also a cancel request's (Ctrl-C): only a run with a timeout counts.
        orig = getattr(exc, "orig", None) or exc
        return self.statement_timeout is not None and getattr(orig, "sqlstate", None) == "57014"

    def session_setup(self, conn: Connection) -> None:
        """Session settings for the run's DDL, applied once the migration lock is held."""
        stmts = []
        if self.lock_timeout is not None:
            stmts.append(f"SET lock_timeout = '{_interval(self.lock_timeout)}'")
        if self.statement_timeout is not None:
            stmts.append(f"SET statement_timeout = '{_interval(self.statement_timeout)}'")
        # Each migration still commits on its own, but without waiting for its WAL flush (a
        # few ms each, most of a long history's run time). A crash can lose only whole
        # migrations committed in the last moments, tracking rows with them, which the next
        # run re-applies; migration_lock makes everything durable before the run ends.
        stmts.append("SET synchronous_commit = off")
        version = conn.exec_driver_sql("SHOW server_version_num").scalar()
        if int(str(version)) >= 140000:
            stmts.append(f"SET client_connection_check_interval = '{self.CLIENT_CHECK_INTERVAL}'")
        for stmt in stmts:
            conn.exec_driver_sql(stmt)
        # Plain SET inside a transaction is undone by a rollback: commit it into the session.
        conn.commit()

    @contextmanager
    def migration_lock(self, conn: Connection, wait: float) -> Iterator[None]:
        """Hold a session-level advisory lock on a dedicated connection for the whole run.

        Acquired by polling ``pg_try_advisory_lock``: a blocking ``pg_advisory_lock`` waiter
        keeps a transaction open, which a CREATE INDEX CONCURRENTLY in the holder then waits
        for, forever (Flyway #1654). The connection is in autocommit, so it never holds a
        snapshot either. Session-scoped: released on exit, or by the server when the process
        dies (no stale lock rows).
        """
        lock_conn = conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            # Same URL, same search_path: the schema this run migrates.
            schema = lock_conn.exec_driver_sql("SELECT current_schema()").scalar()
            if schema is None:
                path = lock_conn.exec_driver_sql("SHOW search_path").scalar()
                raise DatabaseError(
                    f"umbral migrate: no schema on the database's search_path ({path}) exists, "
                    "so there is nowhere to create tables; create the schema first (CREATE "
                    "SCHEMA ...) or name an existing one in the URL's search_path"
                )
            key = lock_key(schema)
            self._acquire(lock_conn, key, wait)
            try:
                self.session_setup(conn)
                yield
            finally:
                self._make_durable(lock_conn)
                self._release(lock_conn, key)
        finally:
            lock_conn.close()

    @contextmanager
    def schema_session(
        self, conn: Connection, schema: str, shared: str, wait: float
    ) -> Iterator[None]:
        """The search path ``schema, shared`` on ``conn`` and the schema's migration lock
        taken on ``conn`` itself (polled, each try committed, so no snapshot is held: the
        dedicated lock connection of ``migration_lock`` would cost a connection per tenant).
        The session settings of the run (``session_setup``) are the caller's, once."""
        from sqlalchemy.exc import DBAPIError

        from umbral.recorder import SCHEMA_KEY

        conn.exec_driver_sql(f"SET search_path TO {self.quote(schema)}, {self.quote(shared)}")
        conn.commit()
        key = lock_key(schema)
        self._acquire(conn, key, wait)
        conn.info[SCHEMA_KEY] = schema
        try:
            yield
        finally:
            conn.info.pop(SCHEMA_KEY, None)
            # A dead connection released the lock with it.
            with suppress(DBAPIError):
                if conn.in_transaction():
                    conn.rollback()
                self._release(conn, key)
                conn.commit()

    def flush(self, conn: Connection) -> None:
        """One synchronous commit: it flushes the WAL of every asynchronous one before it."""
        conn.exec_driver_sql("SET synchronous_commit = on")
        conn.exec_driver_sql("SELECT txid_current()")
        conn.commit()

    def _acquire(self, lock_conn: Connection, key: int, wait: float) -> None:
        deadline = time.monotonic() + max(wait, 0.0)
        pause = 0.05
        while True:
            got = lock_conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
            if lock_conn.in_transaction():
                lock_conn.commit()  # a connection that is not in autocommit holds no snapshot
            if got:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MigrationLockTimeout(self._lock_timeout_message(lock_conn, key, wait))
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.5)

    def _make_durable(self, lock_conn: Connection) -> None:
        """Flush the WAL of every migration the run committed asynchronously.

        The lock connection keeps the server's own ``synchronous_commit``: a transaction that
        gets an xid there commits synchronously, and flushing its commit record flushes all WAL
        before it (WAL is one sequence), so ``migrate`` reports success only once every
        migration it applied is durable (and, with synchronous standbys, replicated).
        """
        from sqlalchemy.exc import DBAPIError

        with suppress(DBAPIError):
            lock_conn.exec_driver_sql("SELECT txid_current()")

    def _release(self, lock_conn: Connection, key: int) -> None:
        from sqlalchemy.exc import DBAPIError

        # If the connection is already gone, the server released the session lock with it.
        with suppress(DBAPIError):
            lock_conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")

    def _lock_timeout_message(self, lock_conn: Connection, key: int, wait: float) -> str:
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        # A bigint advisory key shows in pg_locks as classid = high half, objid = low half,
        # objsubid = 1.
        row = lock_conn.exec_driver_sql(
            "SELECT a.pid, a.application_name, a.backend_start, current_database() "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            f"AND l.classid::bigint = {unsigned >> 32} "
            f"AND l.objid::bigint = {unsigned & 0xFFFFFFFF} "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).first()
        head = f"umbral migrate: timed out after {wait:g}s waiting for the migration lock"
        if row is None:
            return (
                f"{head}; PostgreSQL did not say who holds it (it may have just been released, "
                "or this role cannot see other sessions); re-run, or raise --lock-wait"
            )
        pid, app_name, started, database = row
        since = started.isoformat(sep=" ", timespec="seconds") if started else "unknown"
        return (
            f"{head} on database `{database}`: it is held by server pid {pid} "
            f"(application_name {app_name or ''!r}, connected since {since}). Another "
            "`umbral migrate` is probably running: wait for it and re-run, raise --lock-wait, or "
            f"end that session with SELECT pg_terminate_backend({pid})"
        )

    def non_atomic_prelude(self, conn: Connection, sql: str) -> list[str]:
        """Drop the INVALID index a failed concurrent build of ``sql`` left behind.

        ``CREATE INDEX CONCURRENTLY`` that fails (lock timeout, duplicate key, killed client)
        leaves an invalid index of that name; ``IF NOT EXISTS`` would then skip the rebuild
        and leave a useless index forever.
        """
        match = _CIC_RE.match(sql)
        if match is None:
            return []
        from sqlalchemy import text

        name = match.group(1)
        invalid = conn.execute(
            text("SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(:name)"),
            {"name": name},
        ).scalar()
        return [f"DROP INDEX CONCURRENTLY IF EXISTS {name}"] if invalid else []
