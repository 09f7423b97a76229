"""Hook implementations of the MySQL / MariaDB backend plugin (light: imported at start-up).

Nothing heavy at module level: SQLAlchemy and PyMySQL are imported inside the backend's
methods, so ``umbral --help`` does not pay for them.
"""

from __future__ import annotations

from typing import Any

from umbral.backendplugin import BackendHooks

NAME = "mysql"  # MySQLBackend.name, without importing the backend
SCHEMES = ("mysql", "mariadb")  # MySQLBackend.schemes


def _make() -> Any:
    from umbral_mysql.backend import MySQLBackend

    return MySQLBackend()


def _safety() -> Any:
    """Dialect rules (algorithms, locks, rebuilds) of MySQL and MariaDB."""
    from umbral_mysql import safety

    return safety


_hooks = BackendHooks(NAME, SCHEMES, _make, _safety)
umbral_backends = _hooks.umbral_backends
umbral_render_operation = _hooks.umbral_render_operation
umbral_classify_operation = _hooks.umbral_classify_operation
