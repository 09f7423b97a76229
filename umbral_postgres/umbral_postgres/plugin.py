"""Hook implementations of the PostgreSQL backend plugin (light: imported at start-up).

Nothing heavy at module level: SQLAlchemy, psycopg and alembic-utils are imported inside the
backend's methods, so ``umbral --help`` does not pay for them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from umbral import hookimpl

# PostgresBackend.name. The backend and the safety rules are imported on first use: every
# `umbral` start-up (`--help` included) imports this module to look for plugin commands.
NAME = "postgres"


@cache
def _backend() -> Any:
    from umbral_postgres.backend import PostgresBackend

    return PostgresBackend()


def _ours(backend: Any) -> bool:
    return getattr(backend, "name", None) == NAME


@hookimpl
def umbral_backends() -> list[Any]:
    return [_backend()]


@hookimpl
def umbral_render_operation(operation: Any, backend: Any, context: Any) -> list[str] | None:
    if not _ours(backend):
        return None
    return backend.render(operation, context)


@hookimpl
def umbral_classify_operation(operation: Any, backend: Any, context: Any) -> list[Any] | None:
    """Dialect rules (locks, scans, rewrites) only when the active backend is PostgreSQL."""
    if not _ours(backend):
        return None
    from umbral_postgres import safety

    return safety.classify(operation, backend, context)
