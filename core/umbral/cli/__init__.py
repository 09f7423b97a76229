"""The ``umbral`` command line: parse flags, call ``umbral.App``, print results.

This package owns every output string. It imports only typer and pluggy at start-up; each command
imports what it needs inside its body so ``umbral --help`` never loads SQLAlchemy or a driver.
This module itself imports nothing: ``main`` handles Ctrl-C before the CLI's libraries load.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    """The ``umbral`` console script and ``python -m umbral``."""
    from umbral.cli import interrupt

    try:
        interrupt.install()
        # This import also makes ``umbral.cli.main`` the module rather than this function; the
        # entry points have looked the function up already.
        from umbral.cli.main import main as run

        run()
    except KeyboardInterrupt:  # while the CLI loads, or while ``run`` handled another error
        interrupt.exit_interrupted()


def __getattr__(name: str) -> Any:
    if name == "build_cli":
        from umbral.cli.main import build_cli

        return build_cli
    raise AttributeError(f"module 'umbral.cli' has no attribute {name!r}")


__all__ = ["build_cli", "main"]
