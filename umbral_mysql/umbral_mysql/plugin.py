"""Hook implementations of the MySQL / MariaDB backend plugin (light: imported at start-up).

Nothing heavy at module level: SQLAlchemy and PyMySQL are imported inside the backend's
methods, so ``umbral --help`` does not pay for them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from umbral import hookimpl

NAME = "mysql"  # MySQLBackend.name, without importing the backend


@cache
def _backend() -> Any:
    from umbral_mysql.backend import MySQLBackend

    return MySQLBackend()


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
    """Dialect rules (algorithms, locks, rebuilds) only when the active backend is MySQL."""
    if not _ours(backend):
        return None
    from umbral_mysql import safety

    return safety.classify(operation, backend, context)
