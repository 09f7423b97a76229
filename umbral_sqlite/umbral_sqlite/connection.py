"""The SQLite connection plumbing: file URLs and the engine (busy timeout, foreign keys,
``BEGIN IMMEDIATE``), the write lock that serialises ``migrate`` runs, the checks a migration
makes before it commits (foreign keys, deferred constraints, views), and inspectdb's read-only
connection. ``SQLiteBackend`` (rendering) builds on it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from umbral import cancel
from umbral.backend import Backend
from umbral.database import driver_cursor

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.engine import Connection, Engine

    from umbral.backend import RunOptions

#: Seconds a connection waits on a locked database before giving up (also the ``--lock-wait``
#: default): concurrent ``migrate`` processes queue on ``BEGIN IMMEDIATE``.
DEFAULT_BUSY_TIMEOUT = 300.0


#: The primary result code of "database is locked".
_SQLITE_BUSY = 5


class SQLiteConnection(Backend):
    """Connections and the checks before a commit, for ``SQLiteBackend``."""

    busy_timeout: float = DEFAULT_BUSY_TIMEOUT

    def render_key(self) -> str | None:
        import sqlite3

        # Nothing is read from the database; the library's version, should a rendering come
        # to depend on it.
        return f"sqlite {sqlite3.sqlite_version}"

    def for_run(self, options: RunOptions) -> SQLiteConnection:
        run = super().for_run(options)
        # The write lock is database-wide: a run waits for it as long as for the migration's.
        run.busy_timeout = options.lock_wait
        return run

    # -- the tracking table and inspectdb ---------------------------------------------------

    DISPLAY_NAME: ClassVar[str] = "SQLite"

    def upsert_returning(self, conn: Connection) -> bool:
        """RETURNING with ON CONFLICT: SQLite from 3.35."""
        return (conn.dialect.server_version_info or (0,)) >= (3, 35)

    def inspect_fixup(self, conn: Connection, table: Any) -> None:
        from umbral_sqlite.inspect import fixup

        fixup(conn, table)

    def read_only_engine(self, url: str) -> Engine:
        """The file opened with ``mode=ro``: a source database must already exist, and
        reading it never writes (nor creates) it."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        def open_read_only() -> Any:
            import sqlite3

            path = url.split("://", 1)[1][1:].split("?", 1)[0]
            if path in ("", ":memory:"):
                return sqlite3.connect(":memory:")
            file = Path(path)
            if not file.is_file():
                # Opening would create it; a source database must already exist.
                raise FileNotFoundError(f"no SQLite database file at {file}")
            return sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)

        return create_engine("sqlite://", creator=open_read_only, poolclass=NullPool)

    # -- connections ----------------------------------------------------------------------

    def normalize_url(self, url: str, root: Path) -> str:
        # sqlite:///relative/path is relative to the project directory, not the cwd.
        prefix, _, rest = url.partition("://")
        if (
            rest.startswith("/")
            and not rest.startswith("//")
            and rest[1:]
            and not self.is_in_memory(url)
        ):
            path = rest[1:]
            query = ""
            if "?" in path:
                path, query = path.split("?", 1)
                query = "?" + query
            p = Path(path)
            if not p.is_absolute():
                p = root / p
            return f"{prefix}:///{p}{query}"
        return url

    def is_in_memory(self, url: str) -> bool:
        rest = url.partition("://")[2]
        path = rest.split("?", 1)[0]
        return path in ("", "/", "/:memory:") or ":memory:" in rest or "mode=memory" in rest

    def missing_database(self, url: str) -> str | None:
        if self.is_in_memory(url):
            return None
        path = _file_path(url)
        if not path or path.startswith("file:"):  # a URI filename: its own rules
            return None
        # A missing directory is not "empty": opening it fails, as `migrate` would.
        return path if Path(path).parent.is_dir() and not Path(path).exists() else None

    def empty_database_url(self) -> str:
        return "sqlite://"

    def create_engine(self, url: str) -> Engine:
        import sqlite3

        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import NullPool

        if not self.is_in_memory(url):
            path = _file_path(url)
            if path and not Path(path).parent.exists():
                # Without this check sqlite3 says only "unable to open database file".
                raise sqlite3.OperationalError(f"directory {Path(path).parent} does not exist")
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": self.busy_timeout})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # pysqlite would otherwise commit DDL behind our back (tech notes §3.3): we emit
            # BEGIN ourselves so a migration's statements and its tracking row are atomic.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()
            # Ctrl-C stops a long statement at once instead of after it (umbral.cancel).
            cancel.register(dbapi_conn, sqlite3.Connection.interrupt)

        @event.listens_for(engine, "close")
        def _close(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cancel.forget(dbapi_conn)

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql(conn.info.get("umbral_begin", "BEGIN"))

        return engine

    def begin_sql(self) -> str | None:
        # Take the write lock up front: the re-check of the applied set inside the transaction
        # then sees every migration another process committed before us.
        return "BEGIN IMMEDIATE"

    def lock_wait_expired(self, exc: BaseException) -> bool:
        # SQLITE_BUSY once the busy timeout (``--lock-wait``) ran out; a statement inside
        # BEGIN IMMEDIATE never waits, so this is BEGIN, or COMMIT waiting for readers.
        orig = getattr(exc, "orig", None) or exc
        return getattr(orig, "sqlite_errorcode", None) == _SQLITE_BUSY

    def foreign_keys_off(self, conn: Connection) -> None:
        # A no-op inside a transaction, so the executor calls it before BEGIN.
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")

    def foreign_keys_on(self, conn: Connection) -> None:
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")

    FOREIGN_KEY_CHECK: ClassVar[str] = "PRAGMA foreign_key_check"

    #: The temporary table a printed script keeps its count of dangling references in.
    _SCRIPT_FK_COUNT: ClassVar[str] = '"_umbral_fk_check"'

    def script_frame(self, needs_fk_off: bool) -> tuple[list[str], list[str]]:
        # PRAGMA foreign_keys is a no-op inside a transaction: off before BEGIN, on after
        # COMMIT, as the executor does. Without it the rebuild's DROP TABLE would cascade to
        # (or be refused by) the rows that reference the table. The count of dangling
        # references before and after mirrors foreign_key_violations; OR ROLLBACK undoes the
        # whole migration when it grew, even in a sqlite3 shell that goes on after an error.
        if not needs_fk_off:
            return [], []
        name = self._SCRIPT_FK_COUNT
        dangling = "SELECT count(*) FROM pragma_foreign_key_check"
        before = [
            "PRAGMA foreign_keys = OFF",
            "BEGIN",
            f'CREATE TEMP TABLE {name} ("before" INTEGER NOT NULL, "after" INTEGER, '
            'CONSTRAINT "new dangling foreign-key references" CHECK ("after" <= "before"))',
            f'INSERT INTO temp.{name} ("before") {dangling}',
        ]
        after = [
            f'UPDATE OR ROLLBACK temp.{name} SET "after" = ({dangling})',
            "COMMIT",
            f"DROP TABLE IF EXISTS temp.{name}",
            "PRAGMA foreign_keys = ON",
        ]
        return before, after

    def foreign_key_state(self, conn: Connection) -> tuple[int, frozenset[tuple[str, int]]]:
        # Compared as a count: a rebuild may give rows new rowids, a rename or a retargeted
        # key new table names, and the row that dangled before still dangles. The rows only
        # steer which one the error shows.
        found = driver_cursor(conn).execute(self.FOREIGN_KEY_CHECK).fetchall()
        return len(found), frozenset((r[0], r[1]) for r in found)

    def foreign_key_violations(
        self, conn: Connection, before: tuple[int, frozenset[tuple[str, int]]] | None
    ) -> int:
        return max(0, self.foreign_key_state(conn)[0] - (before[0] if before else 0))

    def foreign_key_example(
        self, conn: Connection, before: tuple[int, frozenset[tuple[str, int]]] | None
    ) -> str:
        cur = driver_cursor(conn)
        found = cur.execute(self.FOREIGN_KEY_CHECK).fetchall()
        old = before[1] if before else frozenset()
        new = [r for r in found if (r[0], r[1]) not in old] or found
        if not new:
            return ""
        table, rowid, parent, fkid = new[0][:4]
        keys = [k for k in cur.execute(f"PRAGMA foreign_key_list({self.quote(table)})")]
        # foreign_key_list: (id, seq, table, from, to, ...); `to` is NULL for the primary key.
        key = next((k for k in keys if k[0] == fkid and k[1] == 0), None)
        if key is None:
            return f"a row of `{table}` references a missing row of `{parent}`"
        column, to = key[3], key[4] or "primary key"
        value: Any = "?"
        if rowid is not None:  # None in a WITHOUT ROWID table
            row = cur.execute(
                f"SELECT {self.quote(column)} FROM {self.quote(table)} WHERE rowid = ?", (rowid,)
            ).fetchone()
            value = row[0] if row else "?"
        return f"e.g. `{table}.{column}` = {value!r}: no row of `{parent}` has that {to}"

    DEFERRED_CHECK: ClassVar[str] = (
        "PRAGMA foreign_key_check (deferred foreign keys, checked at the end of the migration)"
    )

    def deferred_state(self, conn: Connection) -> Counter[tuple]:
        return self._deferred_rows(driver_cursor(conn))

    def deferred_violations(self, conn: Connection, before: Counter[tuple] | None) -> str | None:
        """Rows violating a ``DEFERRABLE INITIALLY DEFERRED`` foreign key that were not there
        before the migration. SQLite checks such keys only at COMMIT, which in a batch would
        roll back the migrations before this one too; rows that violated them already (written
        while enforcement was off) are not this migration's doing, and COMMIT ignores them."""
        now, before = self._deferred_rows(driver_cursor(conn)), before or Counter()
        # Counted, as foreign_key_violations does: a rename or a rebuild gives a row that
        # dangled before a new parent name or rowid, and it still dangles.
        added = sum(now.values()) - sum(before.values())
        if added <= 0:
            return None
        shown = sorted(now - before or now)[:3]
        where = ", ".join(f"{t} rowid {r} -> {p}" for t, r, p, _ in shown)
        more = f" and {added - len(shown)} more" if added > len(shown) else ""
        return (
            f"it would leave {added} row(s) violating a deferred foreign key "
            f"({where}{more}); such a key is checked only at the end of the migration, so no "
            "single statement failed"
        )

    def _deferred_rows(self, cur: sqlite3.Cursor) -> Counter[tuple]:
        """``PRAGMA foreign_key_check`` rows of the tables that have a deferred foreign key
        (the others are checked statement by statement)."""
        tables = [
            r[0]
            for r in cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND sql LIKE '%DEFERRED%' ORDER BY name"
            ).fetchall()
        ]
        found: Counter[tuple] = Counter()
        for table in tables:
            found.update(
                tuple(row) for row in cur.execute(f"PRAGMA foreign_key_check({self.quote(table)})")
            )
        return found

    def broken_views(self, conn: Connection) -> list[str]:
        names = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name"
            ).fetchall()
        ]
        broken = []
        for name in names:
            try:
                conn.exec_driver_sql(f"SELECT * FROM {self.quote(name)} LIMIT 0").fetchall()
            except Exception:
                broken.append(name)
        return broken

    @contextmanager
    def migration_lock(self, conn: Connection, wait: float) -> Iterator[None]:
        yield  # BEGIN IMMEDIATE per migration serialises writers; no run-wide lock needed


def _file_path(url: str) -> str:
    """The database file of a ``sqlite:///path?query`` URL."""
    return url.partition("://")[2][1:].split("?", 1)[0]
