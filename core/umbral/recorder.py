"""The tracking table ``umbral_migrations`` and nothing else (SPEC §8).

``umbral_migrations(plugin, name, applied_at, checksum, PRIMARY KEY (plugin, name))``. The table
cannot itself be created by a migration: it has to exist before the first one runs, so it is
created here on first use with ``CREATE TABLE IF NOT EXISTS``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from umbral.backend import backend_of
from umbral.database import driver_cursor

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

TABLE = "umbral_migrations"
T = TypeVar("T")
#: The statement progress of partly applied migrations (``umbral.progress``).
PROGRESS_TABLE = "umbral_migration_progress"
#: The tables umbral keeps for itself in every database it migrates: never a plugin's, never
#: adopted by inspectdb.
OWN_TABLES = frozenset({TABLE, PROGRESS_TABLE})


#: Added to the table the first time a migration is recorded as skipped (environment gates):
#: the environment it was skipped in; NULL (and every row of a table without the column) means
#: the migration ran.
SKIPPED = "skipped_on"


def ensure_table(conn: Connection) -> None:
    conn.exec_driver_sql(backend_of(conn).tracking_table_sql(TABLE))


def _has_skip_column(conn: Connection) -> bool:
    from sqlalchemy import inspect

    columns = inspect(conn).get_columns(TABLE, schema=own_schema(conn))
    return any(c["name"] == SKIPPED for c in columns)


def ensure_skip_column(conn: Connection) -> None:
    """Add the ``skipped_on`` column unless it is there (inside the caller's transaction)."""
    if not _has_skip_column(conn):
        conn.exec_driver_sql(f"ALTER TABLE {TABLE} ADD COLUMN {SKIPPED} TEXT")


def reading(conn: Connection, read: Callable[[Connection], T]) -> T:
    """``read(conn)`` inside the caller's transaction, or, outside one, in a short one of its
    own that it ends, so the caller can open a write transaction next."""
    if conn.in_transaction():
        return read(conn)
    with conn.begin():
        return read(conn)


def skipped(conn: Connection) -> dict[str, str]:
    """``plugin/name -> environment`` for every migration recorded as skipped."""
    return reading(conn, _skipped)


def _skipped(conn: Connection) -> dict[str, str]:
    if not has_table(conn) or not _has_skip_column(conn):
        return {}
    rows = conn.exec_driver_sql(
        f"SELECT plugin, name, {SKIPPED} FROM {TABLE} WHERE {SKIPPED} IS NOT NULL"
    ).fetchall()
    return {f"{p}/{n}": str(e) for p, n, e in rows}


#: ``Connection.info`` key: the schema a connection kept for many tenants works in now
#: (``Backend.schema_session``); otherwise the connection's default schema.
SCHEMA_KEY = "umbral_schema"


def own_schema(conn: Connection) -> str | None:
    """The schema whose tracking table this connection reads and writes."""
    return conn.info.get(SCHEMA_KEY) or conn.dialect.default_schema_name


def has_table(conn: Connection) -> bool:
    from sqlalchemy import inspect

    # This schema's own table: on a tenant's search path the shared schema's may show too.
    return inspect(conn).has_table(TABLE, schema=own_schema(conn))


def applied(conn: Connection) -> dict[str, str]:
    """``plugin/name -> checksum`` for every recorded migration ({} when no table yet), read
    as ``reading`` does."""
    return reading(conn, _applied)


def _applied(conn: Connection) -> dict[str, str]:
    if not has_table(conn):
        return {}
    rows = conn.exec_driver_sql(f"SELECT plugin, name, checksum FROM {TABLE}").fetchall()
    return {f"{p}/{n}": c for p, n, c in rows}


def placeholders(conn: Connection, sql: str) -> str:
    """``sql`` with its ``?`` placeholders in the driver's own style.

    The tracking-row statements run once or twice per migration; going straight to the driver
    (``exec_driver_sql``) skips SQLAlchemy's statement compilation, which cost more than the
    statements themselves on a long history.
    """
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def is_applied(conn: Connection, plugin: str, name: str) -> bool:
    row = conn.exec_driver_sql(
        placeholders(conn, f"SELECT 1 FROM {TABLE} WHERE plugin = ? AND name = ?"), (plugin, name)
    ).first()
    return row is not None


def record(
    conn: Connection, plugin: str, name: str, checksum: str, skipped_on: str | None = None
) -> None:
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if skipped_on is not None:
        conn.exec_driver_sql(
            placeholders(
                conn,
                f"INSERT INTO {TABLE} (plugin, name, applied_at, checksum, {SKIPPED}) "
                "VALUES (?, ?, ?, ?, ?)",
            ),
            (plugin, name, now, checksum, skipped_on),
        )
        return
    conn.exec_driver_sql(
        placeholders(
            conn, f"INSERT INTO {TABLE} (plugin, name, applied_at, checksum) VALUES (?, ?, ?, ?)"
        ),
        (plugin, name, now, checksum),
    )


def record_many(conn: Connection, rows: list[tuple[str, str, str]]) -> None:
    """Record ``(plugin, name, checksum)`` rows in one batch (a fresh database's fast path)."""
    if not rows:
        return
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    driver_cursor(conn).executemany(
        placeholders(
            conn, f"INSERT INTO {TABLE} (plugin, name, applied_at, checksum) VALUES (?, ?, ?, ?)"
        ),
        [(plugin, name, now, checksum) for plugin, name, checksum in rows],
    )


#: What record_sql writes into a statement as a literal as it is: names, ids, hex, ISO times.
_PLAIN = re.compile(r"[A-Za-z0-9_.:+/-]*")


def now_iso(timespec: str = "seconds") -> str:
    """The ``applied_at`` of a row written now."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec=timespec)


def record_sql(plugin: str, name: str, checksum: str, now: str | None = None) -> str | None:
    """The INSERT of ``record`` as one statement with its values written in, for a backend
    that sends a migration as one script (no parameters there). None when a value is not plain
    enough to be written as a literal the same way under every server setting (quotes,
    backslashes): that migration then goes statement by statement."""
    literals = plain_literals(plugin, name, now or now_iso(), checksum)
    if literals is None:
        return None
    return (
        f"INSERT INTO {TABLE} (plugin, name, applied_at, checksum) VALUES ({', '.join(literals)})"
    )


def plain_literals(*values: str | int | None) -> list[str] | None:
    """``values`` as SQL literals (``'text'``, integers, NULL), or None when a text is not
    plain enough to be written the same way under every server setting (quotes,
    backslashes)."""
    out = []
    for v in values:
        if v is None or isinstance(v, int):
            out.append("NULL" if v is None else str(int(v)))
        elif _PLAIN.fullmatch(v):
            out.append(f"'{v}'")
        else:
            return None
    return out


def _returning(conn: Connection) -> bool:
    """Whether the connection's backend claims and releases a row in one statement."""
    return backend_of(conn).upsert_returning(conn)


def claim(
    conn: Connection, plugin: str, name: str, checksum: str, skipped_on: str | None = None
) -> bool:
    """Record a migration unless its row exists; True if this call recorded it.

    One statement instead of a check and an insert: it runs first in each migration's
    transaction, so a migration another process applied meanwhile is skipped before any of its
    SQL runs, and the primary key makes a double apply impossible even without the check.
    """
    if skipped_on is not None or not _returning(conn):
        if is_applied(conn, plugin, name):
            return False
        record(conn, plugin, name, checksum, skipped_on)
        return True
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    # On the driver's own cursor, inside SQLAlchemy's transaction: once per migration, where
    # even exec_driver_sql's result machinery was a measurable share of a long history.
    cursor = driver_cursor(conn)
    cursor.execute(
        placeholders(
            conn,
            f"INSERT INTO {TABLE} (plugin, name, applied_at, checksum) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (plugin, name) DO NOTHING RETURNING 1",
        ),
        (plugin, name, now, checksum),
    )
    return cursor.fetchone() is not None


def release(conn: Connection, plugin: str, name: str) -> bool:
    """Delete a migration's row; True if there was one (the un-applying twin of claim)."""
    if not _returning(conn):
        if not is_applied(conn, plugin, name):
            return False
        unrecord(conn, plugin, name)
        return True
    row = conn.exec_driver_sql(
        placeholders(conn, f"DELETE FROM {TABLE} WHERE plugin = ? AND name = ? RETURNING 1"),
        (plugin, name),
    ).first()
    return row is not None


def applied_at(conn: Connection, plugin: str, name: str) -> str | None:
    """When the migration was recorded, or None when it is not."""
    row = conn.exec_driver_sql(
        placeholders(conn, f"SELECT applied_at FROM {TABLE} WHERE plugin = ? AND name = ?"),
        (plugin, name),
    ).first()
    return None if row is None else str(row[0])


def update_checksum(conn: Connection, plugin: str, name: str, checksum: str) -> None:
    conn.exec_driver_sql(
        placeholders(conn, f"UPDATE {TABLE} SET checksum = ? WHERE plugin = ? AND name = ?"),
        (checksum, plugin, name),
    )


def unrecord(conn: Connection, plugin: str, name: str) -> None:
    conn.exec_driver_sql(
        placeholders(conn, f"DELETE FROM {TABLE} WHERE plugin = ? AND name = ?"), (plugin, name)
    )
