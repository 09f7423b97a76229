"""Hook implementations of the PostgreSQL backend plugin (light: imported at start-up).

Nothing heavy at module level: SQLAlchemy, psycopg and alembic-utils are imported inside the
backend's methods, so ``umbral --help`` does not pay for them.
"""

from __future__ import annotations

from typing import Any

from umbral.backendplugin import BackendHooks

# PostgresBackend.name. The backend and the safety rules are imported on first use: every
# `umbral` start-up (`--help` included) imports this module to look for plugin commands.
NAME = "postgres"
SCHEMES = ("postgres", "postgresql")  # PostgresBackend.schemes


def _make() -> Any:
    from umbral_postgres.backend import PostgresBackend

    return PostgresBackend()


def _safety() -> Any:
    """Dialect rules (locks, scans, rewrites) of PostgreSQL."""
    from umbral_postgres import safety

    return safety


_hooks = BackendHooks(NAME, SCHEMES, _make, _safety)
umbral_backends = _hooks.umbral_backends
umbral_render_operation = _hooks.umbral_render_operation
umbral_classify_operation = _hooks.umbral_classify_operation
