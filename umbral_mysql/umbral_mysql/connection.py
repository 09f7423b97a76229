"""The MySQL / MariaDB connection plumbing (SPEC §8): URLs and the PyMySQL engine, the
``GET_LOCK`` migration lock held for a whole run, session timeouts, the tracking and progress
tables, and inspectdb's read-only connection. ``MySQLBackend`` (rendering) builds on it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, ClassVar

from umbral.backend import Backend
from umbral.database import BACKEND_KEY, driver_cursor
from umbral.errors import ConfigError, UmbralError

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Connection, Engine


class MigrationLockTimeout(UmbralError):
    """Another process held the migration lock for longer than ``--lock-wait``."""


#: Server error codes: lock wait timeout (row and metadata locks), and MariaDB's
#: max_statement_time / MySQL's max_execution_time.
LOCK_WAIT_TIMEOUT = 1205
QUERY_TIMEOUTS = (1969, 3024)


def lock_name(database: str) -> str:
    """The ``GET_LOCK`` name of a database's migration lock (at most 64 characters)."""
    name = f"umbral_migrations.{database}"
    if len(name) <= 64:
        return name
    import hashlib  # here: only a name over 64 characters needs it

    return "umbral_migrations." + hashlib.sha256(database.encode()).hexdigest()[:40]


class MySQLConnection(Backend):
    """Connections, the migration lock and the tables umbral keeps, for ``MySQLBackend``."""

    TABLE_OPTIONS: ClassVar[str] = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    #: ``GET_LOCK`` is held for the whole run (``migration_lock``).
    RUN_LOCK: ClassVar[bool] = True
    #: ``("mariadb" | "mysql", (major, minor, patch))`` of the last server connected to; the
    #: safety rules read it (None: not connected, rules assume a current server).
    server: tuple[str, tuple[int, ...]] | None = None

    def normalize_url(self, url: str, root: Path) -> str:
        scheme, _sep, rest = url.partition("://")
        # The path after the last @ (a password may hold a /): the database's name.
        database = rest[rest.rfind("@") + 1 :].partition("/")[2].partition("?")[0]
        if not database:
            raise ConfigError(
                "the database URL names no database: add its name after the host, as in "
                "mysql://user@host:3306/NAME (umbral works in one database)"
            )
        if scheme in ("mysql", "mariadb"):
            url = f"mysql+pymysql://{rest}"
        if "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
        return url

    def create_engine(self, url: str) -> Engine:
        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import NullPool

        engine = create_engine(self.normalize_url(url, None), poolclass=NullPool)  # type: ignore[arg-type]

        @event.listens_for(engine, "do_connect")
        def _multi_statements(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
            # run_counted sends a migration's statements as one query.
            from pymysql.constants import CLIENT

            cparams["client_flag"] = cparams.get("client_flag", 0) | CLIENT.MULTI_STATEMENTS

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            self.server = _server_of(dbapi_conn.get_server_info())
            record.info[BACKEND_KEY] = self  # what Connection.info shows: the tracking table

        return engine

    def empty_database_url(self) -> str:
        raise UmbralError("the mysql backend has no empty in-process database")

    def can_count(self, conn: Connection, statement: str) -> bool:
        from umbral_mysql.script import fits_a_script

        return self.cannot_run_in_transaction(statement) is None and fits_a_script(statement)

    def run_counted(
        self, conn: Connection, statements: Sequence[str]
    ) -> tuple[int, BaseException | None]:
        """One multi-statement query: the server runs the statements in order and stops at
        the first error; each completed one is one result read here. A line break before
        each ``;`` keeps a trailing ``--`` comment from swallowing the next statement."""
        raw = conn.connection.driver_connection
        error = conn.dialect.loaded_dbapi.Error
        cursor = raw.cursor()  # type: ignore[union-attr]
        done = 0
        try:
            cursor.execute("\n;\n".join(statements))
            done = 1
            while cursor.nextset():
                done += 1
        except error as exc:
            with suppress(error):
                raw.rollback()  # type: ignore[union-attr]
            return done, exc
        return done, None

    def is_lock_timeout(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", None) or exc
        args = getattr(orig, "args", ())
        return bool(args) and args[0] == LOCK_WAIT_TIMEOUT

    def is_statement_timeout(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", None) or exc
        args = getattr(orig, "args", ())
        return bool(args) and args[0] in QUERY_TIMEOUTS

    def session_setup(self, conn: Connection) -> None:
        """Session settings for the run's DDL, applied once the migration lock is held."""
        if self.lock_timeout is not None:
            # Whole seconds, at least 1 (0 would fail every wait at once).
            wait = max(1, round(self.lock_timeout)) if self.lock_timeout else 31536000
            conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {wait}")
            conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {wait}")
        if self.statement_timeout is not None:
            if self.server is not None and self.server[0] == "mariadb":
                conn.exec_driver_sql(f"SET SESSION max_statement_time = {self.statement_timeout}")
            else:
                ms = round(self.statement_timeout * 1000)
                conn.exec_driver_sql(f"SET SESSION max_execution_time = {ms}")
        conn.commit()

    @contextmanager
    def migration_lock(self, conn: Connection, wait: float) -> Iterator[None]:
        """Hold ``GET_LOCK`` named after the database for the whole run, on the run's own
        connection (a lock of the session, which no COMMIT releases; a second connection
        would cost the run its set-up). The server releases it when that connection ends, so
        a killed or failed run leaves no stale lock."""
        cursor = driver_cursor(conn)  # outside SQLAlchemy's transactions: the lock is not one
        cursor.execute("SELECT DATABASE()")
        name = lock_name(str(cursor.fetchone()[0]))
        cursor.execute("SELECT GET_LOCK(%s, %s)", (name, max(wait, 0.0)))
        if cursor.fetchone()[0] != 1:
            raise MigrationLockTimeout(self._lock_timeout_message(conn, name, wait))
        self.session_setup(conn)
        yield
        # Not after a failure: a statement may still be running on the connection (Ctrl-C),
        # and closing it, which follows, releases the lock anyway.
        with suppress(conn.dialect.loaded_dbapi.Error):
            cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))

    def _lock_timeout_message(self, conn: Connection, name: str, wait: float) -> str:
        head = f"umbral migrate: timed out after {wait:g}s waiting for the migration lock"
        holder = conn.exec_driver_sql("SELECT IS_USED_LOCK(%s)", (name,)).scalar()
        if holder is None:
            return f"{head} (it may have just been released); re-run, or raise --lock-wait"
        return (
            f"{head} `{name}`: it is held by connection {holder}. Another `umbral migrate` is "
            f"probably running: wait for it and re-run, raise --lock-wait, or end that session "
            f"with KILL {holder}"
        )

    # -- the tracking table and inspectdb ---------------------------------------------------

    DISPLAY_NAME: ClassVar[str] = "MySQL"
    SESSIONS_VIEW: ClassVar[str] = "information_schema.PROCESSLIST"

    def inspect_fixup(self, conn: Connection, table: Any) -> None:
        from umbral_mysql.inspect import fixup

        fixup(conn, table)

    def foreign_keys_off(self, conn: Connection) -> None:
        # For the session, through the driver (no transaction begun): no migration of this
        # backend needs it (nothing is rebuilt), but dropping what a failed fast-path build
        # made does, as those tables reference each other.
        driver_cursor(conn).execute("SET FOREIGN_KEY_CHECKS = 0")

    def foreign_keys_on(self, conn: Connection) -> None:
        driver_cursor(conn).execute("SET FOREIGN_KEY_CHECKS = 1")

    def read_only(self, conn: Connection) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    def read_only_engine(self, url: str) -> Engine:
        return self.create_engine(url)

    def tracking_table_sql(self, table: str) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {table} (plugin VARCHAR(191) NOT NULL, "
            "name VARCHAR(191) NOT NULL, applied_at VARCHAR(64) NOT NULL, "
            "checksum VARCHAR(128) NOT NULL, PRIMARY KEY (plugin, name)) " + self.TABLE_OPTIONS
        )

    def progress_table_sql(self, table: str) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {table} (plugin VARCHAR(191) NOT NULL, "
            "name VARCHAR(191) NOT NULL, checksum VARCHAR(128) NOT NULL, "
            "backward INTEGER NOT NULL, done INTEGER NOT NULL, total INTEGER NOT NULL, "
            "error TEXT, updated_at VARCHAR(64) NOT NULL, PRIMARY KEY (plugin, name)) "
            + self.TABLE_OPTIONS
        )


def _server_of(info: str) -> tuple[str, tuple[int, ...]]:
    """``("mariadb", (10, 11, 6))`` from a server version string."""
    kind = "mariadb" if "mariadb" in info.lower() else "mysql"
    numbers = re.match(r"(\d+)\.(\d+)\.(\d+)", info.split("-", 1)[0] if kind == "mysql" else info)
    if kind == "mariadb":
        # Old MariaDB releases say "5.5.5-10.x.y-MariaDB": the real version follows.
        found = re.findall(r"(\d+)\.(\d+)\.(\d+)", info)
        numbers = None
        version = next((tuple(map(int, f)) for f in found if int(f[0]) >= 10), None)
        return kind, version or (10, 0, 0)
    return kind, tuple(map(int, numbers.groups())) if numbers else (8, 0, 0)
