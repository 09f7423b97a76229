"""The tables a migration meets after its plugin's history branched and merged.

A migration's operations were written against the snapshot of its in-plugin predecessor. After
a merge (SPEC §5 conflicts), a database may have run the other branch first: its tables then
hold what that branch's migrations made as well (a column added there is in the table this
branch's migration alters). Rendering against the predecessor's snapshot alone would miss it: a
SQLite rebuild would refuse to copy a column its state does not describe. The merge refuses
branches whose operations cannot both stand (``umbral.merge``), so applying the other branch's
operations on top of the predecessor's tables gives the tables as the database holds them.
"""

from __future__ import annotations

from collections.abc import Iterable

from umbral.graph import Graph
from umbral.migration import Migration


class Branches:
    """Which migrations of a plugin ran beside (not before or after) another, per database."""

    def __init__(self, graph: Graph) -> None:
        self.nodes = graph.nodes
        self.rank = {m.key: i for i, m in enumerate(graph.order())}
        # Only a plugin with a merge has branches; every other plugin costs nothing here.
        self.merged = {
            m.plugin
            for m in graph
            if sum(1 for d in m.depends_on if d.split("/", 1)[0] == m.plugin) > 1
        }
        self._children: dict[str, list[str]] = {}
        for m in graph:
            if m.plugin in self.merged:
                for d in (*m.depends_on, *m.replaces):
                    self._children.setdefault(d, []).append(m.key)

    def beside(self, m: Migration, present: Iterable[str]) -> list[Migration]:
        """The migrations of ``m``'s plugin among ``present`` (those the database holds when
        ``m`` runs or is undone) that are neither before nor after ``m``, in graph order."""
        if m.plugin not in self.merged:
            return []
        related = self._walk(m.key, up=True) | self._walk(m.key, up=False)
        out = []
        for key in present:
            other = self.nodes.get(key)
            if other is None or other.plugin != m.plugin or key in related:
                continue
            # A squash and its originals are the same changes: one of them in the lineage is
            # all of them.
            if related.intersection(other.replaces) or any(
                key in self.nodes[r].replaces for r in related if r in self.nodes
            ):
                continue
            out.append(other)
        return sorted(out, key=lambda x: self.rank.get(x.key, 0))

    def _walk(self, start: str, *, up: bool) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            if up:
                m = self.nodes.get(key)
                if m is not None:
                    stack.extend(d for d in (*m.depends_on, *m.replaces) if d not in seen)
            else:
                stack.extend(c for c in self._children.get(key, ()) if c not in seen)
        return seen
