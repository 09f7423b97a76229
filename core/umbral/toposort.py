"""Topological order of names, the one sort the autodetector, the plugin graph, the migration
graph and ``inspectdb`` share: dependencies first, ties by name (or by a given key), so the
order is the same on every run."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

#: What becomes of names left on a cycle once nothing else is ready: ``drop`` them, ``append``
#: them (and what waits on them) in name order, or ``break`` the cycle at its smallest name and
#: go on sorting.
OnCycle = Literal["drop", "append", "break"]


def toposort(
    deps: Mapping[str, Iterable[str]],
    *,
    on_cycle: OnCycle = "append",
    key: Callable[[str], Any] | None = None,
) -> list[str]:
    """Kahn's sort of ``deps`` (name -> names it depends on). A dependency that is not itself a
    key of ``deps`` is taken as already satisfied. Of the names ready at once, the one with
    the smallest ``key`` (default: the name) comes first."""
    rank = key or (lambda name: name)
    remaining = {name: {d for d in ds if d in deps} for name, ds in deps.items()}
    dependents: dict[str, set[str]] = {name: set() for name in deps}
    for name, ds in remaining.items():
        for d in ds:
            dependents[d].add(name)
    heap = [(rank(name), name) for name, ds in remaining.items() if not ds]
    heapq.heapify(heap)
    queued = {name for _, name in heap}
    order: list[str] = []
    while True:
        while heap:
            _, name = heapq.heappop(heap)
            order.append(name)
            for d in dependents[name]:
                remaining[d].discard(name)
                if not remaining[d] and d not in queued:
                    queued.add(d)
                    heapq.heappush(heap, (rank(d), d))
        if len(order) == len(deps) or on_cycle == "drop":
            return order
        left = sorted(name for name in deps if name not in queued)
        if on_cycle == "append":
            return order + left
        queued.add(left[0])
        heapq.heappush(heap, (rank(left[0]), left[0]))
