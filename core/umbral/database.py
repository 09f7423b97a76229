"""Opening a database: one place that turns driver errors into one-line user errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from umbral.config import mask_url, url_password
from umbral.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.backend import Backend


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver's own connection under ``conn`` (inside its transaction).

    Migration statements go to it as written, without parameters: no bind-parameter parsing
    (`:name`, `%` inside literals are safe) and none of SQLAlchemy's per-statement execution
    machinery (~18 µs a statement, a measurable share of a long history's thousands of
    statements). SQLAlchemy still owns the connection and its transactions.
    """
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def scrub(message: str, url: str) -> str:
    """``message`` (a driver's error about ``url``) without any piece of the URL's password.

    The driver may quote the password as it parsed it: percent-decoded, or cut at its first
    ``@`` with the rest taken for part of the host name ("could not translate host name
    "pass@host""). Every such piece is replaced; a short one only where it stands apart from
    letters and digits, so that a password like ``db`` does not garble the message's words.
    """
    password = url_password(url)
    if not password:
        return message
    from urllib.parse import unquote

    pieces = {password, *password.split("@")}
    pieces |= {unquote(p) for p in pieces}
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= _LONG_PIECE:
            message = message.replace(piece, "***")
        elif piece:
            message = re.sub(rf"(?<![^\W_]){re.escape(piece)}(?![^\W_])", "***", message)
    return message


def translate_db_errors(exc: Exception, url: str = "") -> DatabaseError:
    """A driver error raised outside a migration, as one line without the URL's password."""
    return DatabaseError(f"database error: {error_line(exc, url)}")


#: Length from which a piece of a password is replaced wherever it occurs in a message.
_LONG_PIECE = 4


def error_line(exc: BaseException, url: str = "") -> str:
    """A database error as the one line a user sees: the first line of the driver's message
    (the DBAPI error SQLAlchemy wraps, when it wraps one), or its class name when the message
    is empty, with no piece of ``url``'s password (``scrub``)."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if len(args) == 2 and type(args[0]) is int and isinstance(args[1], str):
        # A driver that raises (code, message), whose str() is the tuple's repr.
        text = f"{args[1].strip()} (error {args[0]})"
    else:
        text = str(orig).strip()
    line = text.splitlines()[0] if text else type(orig).__name__
    return scrub(line, url)


#: Where ``connect`` notes a connection's backend (``Connection.info``; ``backend.backend_of``).
BACKEND_KEY = "umbral_backend"


#: Where the default database's URL comes from, for the advice of a failed connection.
DEFAULT_URL_SOURCE = "--database, UMBRAL_DATABASE_URL or `database` in the config"


@contextmanager
def connect(
    backend: Backend, url: str, *, create: bool = True, source: str = DEFAULT_URL_SOURCE
) -> Iterator[Connection]:
    """Yield a connection, or raise DatabaseError naming the (masked) URL and the reason.

    ``create=False`` (commands that only read): a database that does not exist yet (a SQLite
    file) is read as the empty database it would be, and is not created. ``source`` says
    where the URL was set (another alias's comes from its own configuration key).
    """
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if not create and backend.missing_database(url) is not None:
        url = backend.empty_database_url()
    try:
        engine = backend.create_engine(url)
        conn = engine.connect()
    except (DBAPIError, ArgumentError, NoSuchModuleError, OSError, ImportError) as exc:
        raise DatabaseError(
            f"cannot connect to database {mask_url(url)}: {error_line(exc, url)}; check the URL "
            f"({source}) and that the server is running"
        ) from None
    except Exception as exc:  # sqlite3.OperationalError raised before SQLAlchemy wraps it
        raise DatabaseError(
            f"cannot connect to database {mask_url(url)}: {error_line(exc, url)}"
        ) from None
    conn.info[BACKEND_KEY] = backend
    try:
        yield conn
    except BaseException:
        # Failed or interrupted: a statement may still be in progress on the driver's
        # connection (Ctrl-C mid-query), and the pool's reset would send a ROLLBACK that fails
        # and logs a traceback. Closing it unreset makes the server roll back instead.
        with suppress(Exception):
            conn.invalidate()
        raise
    finally:
        conn.close()
        engine.dispose()


class db_errors:
    """Turn driver errors raised outside a migration into one-line DatabaseErrors. With the
    run's backend and ``--lock-wait``, an expired wait for another process's lock says so."""

    def __init__(self, url: str, backend: Backend | None = None, wait: float = 0.0) -> None:
        self.url = url
        self.backend = backend
        self.wait = wait

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc is None:
            return False
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):
            if self.backend is not None and self.backend.lock_wait_expired(exc):
                raise DatabaseError(
                    f"umbral migrate: another process holds the write lock on database "
                    f"{mask_url(self.url)} (another `umbral migrate`, or an application "
                    f"writing to it); waited {self.wait:g}s for it, as --lock-wait allows. "
                    "Re-run when it is done, or give it longer with --lock-wait SECONDS"
                ) from exc
            reason = error_line(exc, self.url)
            raise DatabaseError(f"database {mask_url(self.url)}: {reason}") from exc
        return False
