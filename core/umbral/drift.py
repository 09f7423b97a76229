"""Drift: tracking rows x files on disk -> one state per migration (SPEC §9). Pure.

``[X]`` applied, ``[ ]`` pending, ``[!]`` applied but missing, ``[?]`` out of order,
``[~]`` edited (recorded checksum differs from the file's), ``[-]`` skipped (recorded without
running: its ``skip_on`` named the environment it was migrated in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from umbral.migration import Migration, id_sequence


class State(Enum):
    APPLIED = "[X]"
    PENDING = "[ ]"
    MISSING = "[!]"
    OUT_OF_ORDER = "[?]"
    EDITED = "[~]"
    SKIPPED = "[-]"

    @property
    def marker(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Entry:
    plugin: str
    name: str
    state: State
    migration: Migration | None = None
    #: For a skipped migration, the environment it was skipped in.
    environment: str | None = None

    @property
    def key(self) -> str:
        return f"{self.plugin}/{self.name}"


def detect(
    migrations: Iterable[Migration],
    applied: Mapping[str, str],
    skipped: Mapping[str, str] | None = None,
) -> list[Entry]:
    """Classify every migration on disk and every tracking row.

    ``applied`` maps ``plugin/name`` to the recorded checksum, ``skipped`` the rows recorded as
    skipped to their environment. The result is sorted by plugin (alphabetically), then name.
    """
    skipped = skipped or {}
    on_disk = {m.key: m for m in migrations}
    max_applied: dict[str, int] = {}
    for key in applied:
        plugin, name = key.split("/", 1)
        max_applied[plugin] = max(max_applied.get(plugin, 0), id_sequence(name))
    # A squash whose replaced migrations are all applied counts as applied, and migrations
    # replaced by an applied squash count as applied too.
    squashed_by = {r: m.key for m in on_disk.values() for r in m.replaces}
    entries: list[Entry] = []
    for key, m in on_disk.items():
        if key not in applied and squashed_by.get(key) in applied:
            state = State.APPLIED  # the squash that replaces it ran instead
        elif key in applied:
            state = State.APPLIED if applied[key] == m.checksum else State.EDITED
        elif m.replaces and all(r in applied for r in m.replaces):
            state = State.APPLIED
        elif "_squashed_" not in m.id and m.sequence < max_applied.get(m.plugin, 0):
            state = State.OUT_OF_ORDER
        else:
            state = State.PENDING
        if state is State.APPLIED and key in skipped:
            state = State.SKIPPED
        entries.append(Entry(m.plugin, m.id, state, m, skipped.get(key)))
    for key in applied:
        # A replaced migration deleted after its squash was recorded is not drift.
        if key not in on_disk and not (key in squashed_by and squashed_by[key] in applied):
            plugin, name = key.split("/", 1)
            entries.append(Entry(plugin, name, State.MISSING))
    entries.sort(key=lambda e: (e.plugin, e.name))
    return entries
