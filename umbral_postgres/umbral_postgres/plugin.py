"""Hook implementations of the PostgreSQL backend plugin (light: imported at start-up).

Nothing heavy at module level: SQLAlchemy, psycopg and alembic-utils are imported inside the
backend's methods, so ``umbral --help`` does not pay for them.
"""

from __future__ import annotations

from typing import Any

from umbral import hookimpl
from umbral_postgres import safety
from umbral_postgres.backend import PostgresBackend

_BACKEND = PostgresBackend()


def _ours(backend: Any) -> bool:
    return getattr(backend, "name", None) == PostgresBackend.name


@hookimpl
def umbral_backends() -> list[Any]:
    return [_BACKEND]


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
    return safety.classify(operation, backend, context)
