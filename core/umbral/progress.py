"""Statement-level progress of migrations the database cannot roll back as a whole.

A migration that runs statement by statement (``"atomic": false`` where the backend honours
it; every migration with DDL where DDL commits on its own) records how many of its statements
have completed in ``umbral_migration_progress``, beside the tracking table, and the error of
the one that failed. The next ``migrate`` continues at the failed statement instead of running
the committed ones again. The row exists only while a migration is partly applied: it is
written after the first statement completes and deleted with the tracking row's change.

``umbral_migration_progress(plugin, name, checksum, backward, done, total, error, updated_at,
PRIMARY KEY (plugin, name))``: ``done`` statements of ``total`` have completed; ``checksum``
is the file's when they ran (an edited file is refused); ``backward`` is 1 for an un-apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from umbral.backend import backend_of
from umbral.recorder import (
    PROGRESS_TABLE,
    now_iso,
    own_schema,
    placeholders,
    plain_literals,
    reading,
)
from umbral.values import frozen

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

TABLE = PROGRESS_TABLE


@frozen
class Progress:
    """Where a partly applied (or partly un-applied) migration stands."""

    key: str
    checksum: str
    backward: bool
    #: Statements that completed (the next run continues at ``done + 1``).
    done: int
    total: int
    #: The failed statement's database error; None when the run stopped without saying why
    #: (its process or connection was killed).
    error: str | None = None

    def describe(self) -> str:
        """``statement 3 of 5 failed: <error>``, as showmigrations and the refusals say it."""
        if self.error is None:
            return f"stopped after statement {self.done} of {self.total}"
        return f"statement {self.done + 1} of {self.total} failed: {self.error}"


def has_table(conn: Connection) -> bool:
    from sqlalchemy import inspect

    # This schema's own table: on a tenant's search path the shared schema's may show too.
    return inspect(conn).has_table(TABLE, schema=own_schema(conn))


def read(conn: Connection) -> dict[str, Progress]:
    """``plugin/name -> Progress`` for every partly applied migration ({} when none), read
    as ``recorder.reading`` does."""
    return reading(conn, _read)


def _read(conn: Connection) -> dict[str, Progress]:
    if not has_table(conn):
        return {}
    rows = conn.exec_driver_sql(
        f"SELECT plugin, name, checksum, backward, done, total, error FROM {TABLE}"
    ).fetchall()
    return {
        f"{p}/{n}": Progress(f"{p}/{n}", c, bool(b), int(d), int(t), e)
        for p, n, c, b, d, t, e in rows
    }


def ensured(conn: Connection) -> bool:
    """Whether this connection has made sure the table exists (``ensure_table``)."""
    return bool(conn.info.get(_ENSURED))


def ensure_table(conn: Connection) -> None:
    """Create the table unless this connection has made sure of it already (on MySQL even
    ``CREATE TABLE IF NOT EXISTS`` is DDL, with its commits, once per migration otherwise)."""
    if conn.info.get(_ENSURED):
        return
    conn.exec_driver_sql(backend_of(conn).progress_table_sql(TABLE))
    conn.info[_ENSURED] = True


#: ``Connection.info`` key: the progress table exists.
_ENSURED = "umbral_progress_table"


def save(conn: Connection, progress: Progress, *, exists: bool) -> None:
    """Write where ``progress.key`` stands (insert, or update the row that ``exists``)."""
    plugin, name = progress.key.split("/", 1)
    values = _values(progress)
    if exists:
        sets = ", ".join(f"{c} = ?" for c in _COLUMNS)
        conn.exec_driver_sql(
            placeholders(conn, f"UPDATE {TABLE} SET {sets} WHERE plugin = ? AND name = ?"),
            (*values, plugin, name),
        )
        return
    marks = ", ".join("?" * (len(_COLUMNS) + 2))
    conn.exec_driver_sql(
        placeholders(
            conn, f"INSERT INTO {TABLE} (plugin, name, {', '.join(_COLUMNS)}) VALUES ({marks})"
        ),
        (plugin, name, *values),
    )


def save_sql(progress: Progress, *, exists: bool) -> str | None:
    """``save``'s statement with its values written in, for statements sent as one script
    (no parameters there); None when a value is not plain enough (``plain_literals``)."""
    plugin, name = progress.key.split("/", 1)
    literals = plain_literals(plugin, name, *_values(progress))
    if literals is None:
        return None
    p, n, *values = literals
    if exists:
        sets = ", ".join(f"{c} = {v}" for c, v in zip(_COLUMNS, values, strict=True))
        return f"UPDATE {TABLE} SET {sets} WHERE plugin = {p} AND name = {n}"
    return (
        f"INSERT INTO {TABLE} (plugin, name, {', '.join(_COLUMNS)}) VALUES ({', '.join(literals)})"
    )


#: The columns ``save`` writes besides the key, and their values (``_values``).
_COLUMNS = ("checksum", "backward", "done", "total", "error", "updated_at")


def _values(progress: Progress) -> tuple[str | int | None, ...]:
    return (
        progress.checksum, int(progress.backward), progress.done, progress.total,
        progress.error, now_iso(),
    )  # fmt: skip


def clear_sql(key: str) -> str | None:
    """``clear``'s statement with its values written in (``save_sql``)."""
    where = plain_literals(*key.split("/", 1))
    if where is None:
        return None
    p, n = where
    return f"DELETE FROM {TABLE} WHERE plugin = {p} AND name = {n}"


def clear(conn: Connection, key: str) -> None:
    """Forget ``key``'s progress (it completed, or it was marked applied by hand)."""
    plugin, name = key.split("/", 1)
    conn.exec_driver_sql(
        placeholders(conn, f"DELETE FROM {TABLE} WHERE plugin = ? AND name = ?"), (plugin, name)
    )


def clear_if_any(conn: Connection, keys: list[str]) -> None:
    """Forget the progress of ``keys``, inside the caller's transaction, where there is any."""
    if keys and has_table(conn):
        for key in keys:
            clear(conn, key)
