"""Hook implementations of the PostgreSQL backend plugin (light: imported at start-up)."""

from __future__ import annotations

from typing import Any

from umbral import hookimpl
from umbral_postgres.backend import PostgresBackend

_BACKEND = PostgresBackend()


@hookimpl
def umbral_backends() -> list[Any]:
    return [_BACKEND]


@hookimpl
def umbral_render_operation(operation: Any, backend: Any, context: Any) -> list[str] | None:
    if backend.name != PostgresBackend.name:
        return None
    return backend.render(operation, context)
