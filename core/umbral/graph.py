"""One migration graph across every plugin (SPEC §5). Pure: no disk, no database.

Nodes are ``plugin/id`` keys, edges come from ``depends_on``. :func:`plan_order` gives the
topological order, ties broken by plugin order and then by id, so the same files always give the
same plan.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from umbral.errors import MigrationGraphError
from umbral.migration import Migration, id_sequence


def missing_dependencies(
    migrations: Iterable[Migration], applied: Iterable[str] = ()
) -> list[tuple[Migration, str]]:
    """``(migration, dependency)`` for every dependency that is not on disk, not replaced by a
    squash on disk and not recorded as applied."""
    on_disk = {m.key: m for m in migrations}
    replaced = {r for m in on_disk.values() for r in m.replaces}
    known = set(on_disk) | set(applied) | replaced
    return [(m, dep) for m in on_disk.values() for dep in m.depends_on if dep not in known]


def missing_dependency_message(m: Migration, dep: str, *, applied_known: bool = True) -> str:
    where = "neither on disk nor recorded as applied" if applied_known else "not on disk"
    return (
        f"migration file {m.path}: depends on {dep}, which is {where}; restore that file or "
        "fix `depends_on`"
    )


def check_dependencies(migrations: Iterable[Migration], applied: Iterable[str] = ()) -> None:
    """Every dependency must be on disk or recorded as applied."""
    missing = missing_dependencies(migrations, applied)
    if missing:
        raise MigrationGraphError(missing_dependency_message(*missing[0]))


def plan_order(migrations: Iterable[Migration], plugin_order: Mapping[str, int]) -> list[Migration]:
    """Every migration in topological order over ``depends_on`` edges."""
    nodes = {m.key: m for m in migrations}
    indegree = {k: 0 for k in nodes}
    dependents: dict[str, list[str]] = {k: [] for k in nodes}
    squash_of = {r: m.key for m in nodes.values() for r in m.replaces}
    for m in nodes.values():
        deps = set(m.depends_on)
        # A dependency on a replaced migration is re-pointed at the squash too, so the squash
        # runs first when it runs instead of the originals (SPEC §5).
        deps |= {squash_of[d] for d in m.depends_on if d in squash_of and squash_of[d] != m.key}
        for dep in deps:
            if dep in nodes:  # dependencies that are only recorded are already satisfied
                indegree[m.key] += 1
                dependents[dep].append(m.key)

    def rank(key: str) -> tuple[int, str, str]:
        m = nodes[key]
        return (plugin_order.get(m.plugin, len(plugin_order)), m.plugin, m.id)

    heap = [(rank(k), k) for k, d in indegree.items() if d == 0]
    heapq.heapify(heap)
    order: list[Migration] = []
    while heap:
        _, key = heapq.heappop(heap)
        order.append(nodes[key])
        for d in dependents[key]:
            indegree[d] -= 1
            if indegree[d] == 0:
                heapq.heappush(heap, (rank(d), d))
    if len(order) != len(nodes):
        stuck = sorted(k for k, d in indegree.items() if d > 0)
        raise MigrationGraphError(
            "migration dependency cycle among "
            + ", ".join(stuck)
            + "; fix `depends_on` in those files so the graph has no loop"
        )
    return order


def leaves(migrations: Iterable[Migration]) -> dict[str, list[Migration]]:
    """Per plugin, the migrations no other migration of the same plugin depends on."""
    by_plugin: dict[str, list[Migration]] = {}
    for m in migrations:
        by_plugin.setdefault(m.plugin, []).append(m)
    out: dict[str, list[Migration]] = {}
    for plugin, ms in by_plugin.items():
        depended = {d for m in ms for d in m.depends_on}
        squash_of = {r: m.key for m in ms for r in m.replaces}
        # A migration outside a squash's range that depends on a replaced one depends on the
        # squash too (so the squash is not a second leaf).
        depended |= {
            squash_of[d]
            for m in ms
            for d in m.depends_on
            if d in squash_of and m.key not in squash_of and m.key != squash_of[d]
        }
        replaced = {r for m in ms for r in m.replaces}
        # A dependency on a file of this plugin that is gone (drift) hides part of the chain:
        # count everything below its sequence as depended on, so drift is not a "conflict".
        present = {m.key for m in ms}
        gaps = [
            id_sequence(d.split("/", 1)[1]) for m in ms for d in m.depends_on
            if d.startswith(f"{plugin}/") and d not in present
        ]  # fmt: skip
        floor = max(gaps, default=0)
        out[plugin] = [
            m for m in ms if m.key not in depended and m.key not in replaced and m.sequence >= floor
        ]
    return out
