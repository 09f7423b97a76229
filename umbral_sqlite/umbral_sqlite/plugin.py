"""Hook implementations of the SQLite backend plugin.

Kept light on purpose: it is imported at every ``umbral`` start-up (``--help`` included), so it
imports neither SQLAlchemy nor sqlite3 at module level.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from umbral import hookimpl

NAME = "sqlite"  # SQLiteBackend.name, without importing the backend (and umbral.backend)


@cache
def _backend() -> Any:
    from umbral_sqlite.backend import SQLiteBackend

    return SQLiteBackend()


@hookimpl
def umbral_backends(scheme: str | None) -> list[Any]:
    if scheme is not None and scheme != "sqlite":
        return []  # not built: a project on another database never imports it
    return [_backend()]


@hookimpl
def umbral_render_operation(operation: Any, backend: Any, context: Any) -> list[str] | None:
    if backend.name != NAME:
        return None
    return backend.render(operation, context)
