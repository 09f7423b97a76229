"""Drift: tracking rows x files on disk -> one state per migration (SPEC §9). Pure.

``[X]`` applied, ``[ ]`` pending, ``[!]`` applied but missing, ``[?]`` out of order,
``[~]`` edited (recorded checksum differs from the file's), ``[-]`` skipped (recorded without
running: its ``skip_on`` named the environment it was migrated in), ``[/]`` partly applied
(a statement of a migration that runs statement by statement failed; ``umbral.progress``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING

from umbral.graph import Graph
from umbral.migration import Migration, id_sequence
from umbral.values import frozen

if TYPE_CHECKING:
    from umbral.progress import Progress


class State(Enum):
    APPLIED = "[X]"
    PENDING = "[ ]"
    MISSING = "[!]"
    OUT_OF_ORDER = "[?]"
    EDITED = "[~]"
    SKIPPED = "[-]"
    PARTIAL = "[/]"

    @property
    def marker(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return self.name.lower()


@frozen
class Entry:
    plugin: str
    name: str
    state: State
    migration: Migration | None = None
    #: For a skipped migration, the environment it was skipped in.
    environment: str | None = None
    #: For a partly applied (or partly un-applied) migration, where it stopped and why.
    progress: Progress | None = None

    @property
    def key(self) -> str:
        return f"{self.plugin}/{self.name}"


def detect(
    migrations: Iterable[Migration] | Graph,
    applied: Mapping[str, str],
    skipped: Mapping[str, str] | None = None,
    partial: Mapping[str, Progress] | None = None,
) -> list[Entry]:
    """Classify every migration on disk and every tracking row.

    ``applied`` maps ``plugin/name`` to the recorded checksum, ``skipped`` the rows recorded as
    skipped to their environment, ``partial`` the partly applied migrations to where they
    stopped. The result is sorted by plugin (alphabetically), then name.
    """
    graph = migrations if isinstance(migrations, Graph) else Graph(migrations)
    skipped = skipped or {}
    partial = partial or {}
    max_applied: dict[str, int] = {}
    for key in applied:
        plugin, name = key.split("/", 1)
        max_applied[plugin] = max(max_applied.get(plugin, 0), id_sequence(name))
    entries = [
        Entry(
            m.plugin,
            m.id,
            State.PARTIAL if m.key in partial else _state(graph, m, applied, skipped, max_applied),
            m,
            skipped.get(m.key),
            partial.get(m.key),
        )
        for m in graph
    ]
    for key in applied:
        # A replaced migration deleted while its squash is on disk is not drift: once every
        # migration the squash replaces ran, migrate records the squash; before, migrate says
        # which replaced files it needs back (a half-applied squash).
        covered = graph.squash_of.get(key, "") in graph.nodes
        if key not in graph.nodes and not graph.squash_applied(key, applied) and not covered:
            plugin, name = key.split("/", 1)
            entries.append(Entry(plugin, name, State.MISSING))
    for key, stopped in partial.items():
        # Partly applied, and its file deleted since: migrate refuses until --prune.
        if key not in graph.nodes and key not in applied:
            plugin, name = key.split("/", 1)
            entries.append(Entry(plugin, name, State.PARTIAL, progress=stopped))
    entries.sort(key=lambda e: (e.plugin, e.name))
    return entries


def _state(
    graph: Graph,
    m: Migration,
    applied: Mapping[str, str],
    skipped: Mapping[str, str],
    max_applied: Mapping[str, int],
) -> State:
    key = m.key
    # A squash whose replaced migrations are all applied counts as applied, and migrations
    # replaced by an applied squash count as applied too.
    if key not in applied and graph.squash_applied(key, applied):
        state = State.APPLIED  # the squash that replaces it ran instead
    elif key in applied:
        state = State.APPLIED if applied[key] == m.checksum else State.EDITED
    elif m.replaces and all(r in applied for r in m.replaces):
        state = State.APPLIED
    elif not m.replaces and m.sequence < max_applied.get(m.plugin, 0):
        # A squash is never out of order: its name's leading number is not its place.
        state = State.OUT_OF_ORDER
    else:
        state = State.PENDING
    if state is State.APPLIED and key in skipped:
        return State.SKIPPED
    return state
