"""Stopping the statements this process is running, from another thread.

A statement runs inside the driver with the interpreter's lock released, so a Python signal
handler (Ctrl-C) runs only once the statement is over, which may be minutes later. Backends
register each connection they open with the driver's own way to stop its running statement
(``sqlite3.Connection.interrupt``); the CLI's interrupt handling calls ``cancel_all`` from a
thread that is woken by the signal itself. The statement then fails in the main thread, and the
migration's transaction rolls back as after any failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

_lock = threading.Lock()
#: Open driver connections (by identity: sqlite3's cannot be weakly referenced) and how to
#: stop what each is running.
_connections: dict[int, tuple[Any, Callable[[Any], None]]] = {}


def register(connection: Any, cancel: Callable[[Any], None]) -> None:
    """Let ``cancel(connection)`` stop the statement ``connection`` runs, when interrupted,
    until ``forget(connection)``. ``cancel`` must be safe to call from another thread, when
    nothing runs, and after the connection was closed (it may then raise)."""
    with _lock:
        _connections[id(connection)] = (connection, cancel)


def forget(connection: Any) -> None:
    """The connection is closed: nothing to stop any more."""
    with _lock:
        _connections.pop(id(connection), None)


def cancel_all() -> None:
    """Stop every registered connection's running statement (called from another thread)."""
    with _lock:
        pending = list(_connections.values())
    for connection, cancel in pending:
        with suppress(Exception):  # closed meanwhile: it runs nothing
            cancel(connection)
