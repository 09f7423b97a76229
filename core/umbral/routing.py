"""Several databases (``[tool.umbral.databases]`` and ``[tool.umbral.routing]``): which plugin
lives where, and the foreign keys that cannot cross from one database to another."""

from __future__ import annotations

from collections.abc import Mapping

from umbral.config import DEFAULT_ALIAS
from umbral.errors import ConfigError
from umbral.plugins import foreign_keys
from umbral.schema import Snapshot


def check_keys(snapshots: Mapping[str, Snapshot], routing: Mapping[str, str]) -> None:
    """Refuse a foreign key (or many-to-many junction) from a plugin in one database to a
    model of a plugin in another: no database enforces a key into another database. A key
    declared ``db_constraint=False`` is a plain column and may cross."""
    if not routing:
        return
    for key in foreign_keys(snapshots):
        here = routing.get(key.plugin, DEFAULT_ALIAS)
        there = routing.get(key.target_plugin, DEFAULT_ALIAS) if key.target_plugin else here
        if there != here:
            raise ConfigError(
                f"umbral makemigrations: the foreign key {key.plugin}.{key.table}.{key.column} "
                f"(database `{here}`) points at {key.target} of plugin {key.target_plugin} "
                f"(database `{there}`): a key cannot cross databases; route both plugins to one "
                "database, or declare the field with db_constraint=False"
            )
