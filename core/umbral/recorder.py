"""The tracking table ``umbral_migrations`` and nothing else (SPEC §8).

``umbral_migrations(plugin, name, applied_at, checksum, PRIMARY KEY (plugin, name))``. The table
cannot itself be created by a migration: it has to exist before the first one runs, so it is
created here on first use with ``CREATE TABLE IF NOT EXISTS``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

TABLE = "umbral_migrations"

_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (plugin TEXT NOT NULL, name TEXT NOT NULL, "
    "applied_at TEXT NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (plugin, name))"
)


def ensure_table(conn: Connection) -> None:
    conn.exec_driver_sql(_CREATE)


def has_table(conn: Connection) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(TABLE)


def applied(conn: Connection) -> dict[str, str]:
    """``plugin/name -> checksum`` for every recorded migration ({} when no table yet).

    Outside a transaction this reads in a short one of its own and ends it, so the caller can
    open a write transaction next.
    """
    if conn.in_transaction():
        return _applied(conn)
    with conn.begin():
        return _applied(conn)


def _applied(conn: Connection) -> dict[str, str]:
    if not has_table(conn):
        return {}
    rows = conn.exec_driver_sql(f"SELECT plugin, name, checksum FROM {TABLE}").fetchall()
    return {f"{p}/{n}": c for p, n, c in rows}


def is_applied(conn: Connection, plugin: str, name: str) -> bool:
    from sqlalchemy import text

    row = conn.execute(
        text(f"SELECT 1 FROM {TABLE} WHERE plugin = :p AND name = :n"), {"p": plugin, "n": name}
    ).first()
    return row is not None


def record(conn: Connection, plugin: str, name: str, checksum: str) -> None:
    from sqlalchemy import text

    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    conn.execute(
        text(f"INSERT INTO {TABLE} (plugin, name, applied_at, checksum) VALUES (:p, :n, :a, :c)"),
        {"p": plugin, "n": name, "a": now, "c": checksum},
    )


def update_checksum(conn: Connection, plugin: str, name: str, checksum: str) -> None:
    from sqlalchemy import text

    conn.execute(
        text(f"UPDATE {TABLE} SET checksum = :c WHERE plugin = :p AND name = :n"),
        {"p": plugin, "n": name, "c": checksum},
    )


def unrecord(conn: Connection, plugin: str, name: str) -> None:
    from sqlalchemy import text

    conn.execute(
        text(f"DELETE FROM {TABLE} WHERE plugin = :p AND name = :n"), {"p": plugin, "n": name}
    )
