"""Entry point of the accounts plugin (``[project.entry-points.umbral] accounts``).

A reusable plugin ships its migrations inside its package: installed from a wheel, that
directory is read-only and every project applies the same files.
"""

from pathlib import Path

from umbral import hookimpl


@hookimpl
def umbral_models() -> list[type]:
    from umbral_accounts.models import User

    return [User]


@hookimpl
def umbral_migrations_dir() -> Path:
    return Path(__file__).parent / "migrations"
