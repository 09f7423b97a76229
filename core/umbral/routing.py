"""Several databases (``[tool.umbral.databases]`` and ``[tool.umbral.routing]``): which plugin
lives where, and the foreign keys that cannot cross from one database to another."""

from __future__ import annotations

from collections.abc import Mapping

from umbral.config import DEFAULT_ALIAS
from umbral.errors import ConfigError
from umbral.schema import Snapshot


def check_keys(snapshots: Mapping[str, Snapshot], routing: Mapping[str, str]) -> None:
    """Refuse a foreign key (or many-to-many junction) from a plugin in one database to a
    model of a plugin in another: no database enforces a key into another database. A key
    declared ``db_constraint=False`` is a plain column and may cross."""
    if not routing:
        return
    owner = {m.table: p for p, s in snapshots.items() for m in s.models.values()}
    for plugin, snapshot in sorted(snapshots.items()):
        here = routing.get(plugin, DEFAULT_ALIAS)
        for model in snapshot.models.values():
            targets = [(c.fk_target, c.name) for c in model.fields if c.is_fk and c.db_constraint]
            targets += [(r.target, r.field) for r in model.m2m]
            for target, column in targets:
                other = owner.get(target)
                there = routing.get(other, DEFAULT_ALIAS) if other else here
                if there != here:
                    raise ConfigError(
                        f"umbral makemigrations: the foreign key {plugin}.{model.table}.{column} "
                        f"(database `{here}`) points at {target} of plugin {other} (database "
                        f"`{there}`): a key cannot cross databases; route both plugins to one "
                        "database, or declare the field with db_constraint=False"
                    )
