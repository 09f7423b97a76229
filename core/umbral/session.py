"""The session a migrate run hands the executor: its connection, its backend, its events.

The backend found by URL is one object shared by every command of the process; a run's
options (``RunOptions``: ``--lock-wait``, ``--lock-timeout``, ``--statement-timeout``,
``--lock-retries`` or their configuration keys) live on the run's own copy of it
(``Backend.for_run``), never on the shared one, so they end with the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from umbral.backend import Backend
from umbral.values import record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Event = Callable[[str, dict[str, Any]], None]


@record
class Session:
    """One run against one database: its connection, the backend configured for the run,
    and where progress and warnings go (``on_event``; the executor never prints)."""

    conn: Connection
    backend: Backend
    on_event: Event | None = None

    def event(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)
