"""umbral: schema migrations for Python.

Declare models, run ``umbral makemigrations`` and ``umbral migrate``. This package's import is
kept light (no SQLAlchemy, no driver): ``from umbral import Model, fields`` is what model modules
do at import time, and the CLI must start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from umbral.errors import UmbralError, UnsafeAlter
from umbral.version import __version__

if TYPE_CHECKING:
    from umbral import fields
    from umbral.app import App
    from umbral.hookspecs import hookimpl
    from umbral.models import Model
    from umbral.safety import Finding, OpSafety


__all__ = [
    "App", "Finding", "Model", "OpSafety", "UmbralError", "UnsafeAlter", "__version__", "fields",
    "hookimpl",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    # Lazy: App pulls in the config machinery, safety the classification rules, and fields /
    # Model the schema dataclasses, which `umbral --help` never needs (it imports plugin
    # modules, and with them this package, only for their commands). ``hookimpl`` loads
    # pluggy, which the CLI imports only once it handles Ctrl-C (umbral.cli.interrupt).
    if name == "hookimpl":
        from umbral.hookspecs import hookimpl

        return hookimpl
    if name == "fields":
        import umbral.fields

        return umbral.fields
    if name == "Model":
        from umbral.models import Model

        return Model
    if name == "App":
        from umbral.app import App

        return App
    if name in ("Finding", "OpSafety"):
        from umbral import safety

        return getattr(safety, name)
    raise AttributeError(f"module 'umbral' has no attribute {name!r}")
