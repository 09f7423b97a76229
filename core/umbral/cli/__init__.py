"""The ``umbral`` command line: parse flags, call ``umbral.App``, print results.

This package owns every output string. It imports only typer and pluggy at start-up; each command
imports what it needs inside its body so ``umbral --help`` never loads SQLAlchemy or a driver.
"""

from umbral.cli.main import build_cli, main

__all__ = ["build_cli", "main"]
