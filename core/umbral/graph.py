"""One migration graph across every plugin (SPEC §5). Pure: no disk, no database.

Nodes are ``plugin/id`` keys, edges come from ``depends_on``. A squash's ``replaces`` are
resolved here, once: :class:`Graph` answers which squash replaces a migration, which
dependencies point at a squash, the topological order and each plugin's leaves, for drift, the
plan and the conflict check alike. :meth:`Graph.order` also runs a migration that depends on another
plugin's migration before that one's successors (the order the files were written in), and
breaks ties by plugin order and then by id, so the same files always give the same plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from umbral.errors import MigrationGraphError
from umbral.migration import Migration, id_sequence
from umbral.toposort import toposort


class Graph:
    """The migrations on disk, with their squashes' replacements resolved.

    ``plugin_order``: the plugins in the order ties are broken in (see :meth:`order`)."""

    def __init__(self, migrations: Iterable[Migration], plugin_order: Sequence[str] = ()) -> None:
        self.nodes: dict[str, Migration] = {m.key: m for m in migrations}
        self.plugin_rank = {p: i for i, p in enumerate(plugin_order)}
        #: Replaced migration -> the squash on disk that replaces it.
        self.squash_of: dict[str, str] = {r: m.key for m in self.nodes.values() for r in m.replaces}
        self._order: list[Migration] | None = None

    def __iter__(self) -> Iterator[Migration]:
        return iter(self.nodes.values())

    @property
    def squashes(self) -> list[Migration]:
        return [m for m in self.nodes.values() if m.replaces]

    def is_replaced(self, key: str) -> bool:
        """Whether a squash on disk replaces ``key`` (its file may be gone)."""
        return key in self.squash_of

    def squash_applied(self, key: str, applied: Mapping[str, str]) -> bool:
        """Whether the squash on disk that replaces ``key`` is recorded as applied."""
        return self.squash_of.get(key) in applied

    def dependencies(self, m: Migration) -> set[str]:
        """``m``'s dependencies, with one on a replaced migration re-pointed at its squash
        too: the squash runs first when it runs instead of the originals (SPEC §5)."""
        deps = set(m.depends_on)
        deps |= {
            self.squash_of[d]
            for d in m.depends_on
            if d in self.squash_of and self.squash_of[d] != m.key
        }
        return deps

    # -- dependencies ---------------------------------------------------------------------

    def missing_dependencies(self, applied: Iterable[str] = ()) -> list[tuple[Migration, str]]:
        """``(migration, dependency)`` for every dependency that is not on disk, not replaced
        by a squash on disk and not recorded as applied."""
        known = set(self.nodes) | set(applied) | set(self.squash_of)
        return [(m, dep) for m in self.nodes.values() for dep in m.depends_on if dep not in known]

    def check_dependencies(self, applied: Iterable[str] = ()) -> None:
        """Every dependency must be on disk or recorded as applied."""
        missing = self.missing_dependencies(applied)
        if missing:
            raise MigrationGraphError(missing_dependency_message(*missing[0]))

    # -- order ----------------------------------------------------------------------------

    def order(self) -> list[Migration]:
        """Every migration in topological order over ``depends_on`` edges."""
        if self._order is None:
            self._order = self._topological()
        return self._order

    def _topological(self) -> list[Migration]:
        nodes = self.nodes
        plugin_order = self.plugin_rank

        def rank(key: str) -> tuple[int, str, str]:
            m = nodes[key]
            return (plugin_order.get(m.plugin, len(plugin_order)), m.plugin, m.id)

        # Dependencies that are only recorded (not files here) are already satisfied.
        deps = {k: self.dependencies(m) for k, m in nodes.items()}
        implied = self._written_before(deps)
        keys = toposort(implied, on_cycle="drop", key=rank)
        if len(keys) != len(nodes):
            # Hand-edited files whose implied edges close a loop: the migrations it holds up
            # keep their recorded edges only (the rest of the graph keeps its order).
            done = set(keys)
            implied = {k: v if k in done else deps[k] for k, v in implied.items()}
            keys = toposort(implied, on_cycle="drop", key=rank)
        order = [nodes[k] for k in keys]
        if len(order) != len(nodes):
            stuck = set(nodes) - {m.key for m in order}
            loop = _a_loop(implied, stuck)
            waiting = len(stuck) - len(loop)
            behind = f" ({waiting} more migration(s) wait behind it)" if waiting else ""
            raise MigrationGraphError(
                "migration dependency cycle among "
                + ", ".join(sorted(loop))
                + f": {' -> '.join([*loop, loop[0]])} (each depends on the next){behind}; "
                "fix `depends_on` in those files so the graph has no loop"
            )
        return order

    def _written_before(self, deps: dict[str, set[str]]) -> dict[str, set[str]]:
        """``deps`` with the edges the files imply. ``makemigrations`` makes a migration
        depend on the latest migration of each other plugin whose tables it references, and
        what its predecessors depended on still holds for it: it was written when those were
        the other plugins' latest, so it runs before their successors. Its operations (and a
        SQLite rebuild of its tables, foreign keys included) name the other plugin's tables as
        they were then: a foreign key to a table a later migration of that plugin renames must
        be made before the rename (the plugins' order alone would run the rename first)."""
        nodes = self.nodes
        children: dict[str, list[str]] = {}
        parents: dict[str, list[str]] = {}
        for key, m in nodes.items():
            if m.replaces or key in self.squash_of:
                continue  # a squash and its originals keep their recorded edges only
            own = [d for d in m.depends_on if d.partition("/")[0] == m.plugin]
            parents[key] = own
            for d in own:
                children.setdefault(d, []).append(key)
        if not children:
            return deps
        # Per migration, the latest migration of each other plugin it was written after.
        latest: dict[str, dict[str, str]] = {}
        for key in toposort(parents):
            seen: dict[str, str] = {}
            for parent in parents[key]:
                for plugin, d in latest.get(parent, {}).items():
                    seen[plugin] = _later(seen.get(plugin), d)
            for d in nodes[key].depends_on:
                plugin = d.partition("/")[0]
                if plugin != nodes[key].plugin:
                    seen[plugin] = _later(seen.get(plugin), d)
            latest[key] = seen
        out = deps
        for key, seen in latest.items():
            for d in seen.values():
                for child in children.get(d, ()):
                    if out is deps:
                        out = {k: set(v) for k, v in deps.items()}
                    out[child].add(key)
        return out

    def dependents(self) -> dict[str, list[str]]:
        """``key -> the keys of the migrations that depend on it`` (as written)."""
        out: dict[str, list[str]] = {}
        for m in self.nodes.values():
            for dep in m.depends_on:
                out.setdefault(dep, []).append(m.key)
        return out

    # -- leaves ---------------------------------------------------------------------------

    def leaves(self) -> dict[str, list[Migration]]:
        """Per plugin, the migrations no other migration of the same plugin depends on."""
        by_plugin: dict[str, list[Migration]] = {}
        for m in self.nodes.values():
            by_plugin.setdefault(m.plugin, []).append(m)
        return {plugin: self._plugin_leaves(plugin, ms) for plugin, ms in by_plugin.items()}

    def _plugin_leaves(self, plugin: str, ms: list[Migration]) -> list[Migration]:
        squash_of = self.squash_of
        depended = {d for m in ms for d in m.depends_on}
        # A migration outside a squash's range that depends on a replaced one depends on the
        # squash too (so the squash is not a second leaf).
        depended |= {
            squash_of[d]
            for m in ms
            for d in m.depends_on
            if d in squash_of and m.key not in squash_of and m.key != squash_of[d]
        }
        # A dependency on a file of this plugin that is gone (drift) hides part of the chain:
        # count everything below its sequence as depended on, so drift is not a "conflict".
        gaps = [
            id_sequence(d.split("/", 1)[1]) for m in ms for d in m.depends_on
            if d.startswith(f"{plugin}/") and d not in self.nodes
        ]  # fmt: skip
        floor = max(gaps, default=0)
        return [
            m
            for m in ms
            if m.key not in depended and m.key not in squash_of and m.sequence >= floor
        ]


def missing_dependencies(
    migrations: Iterable[Migration], applied: Iterable[str] = ()
) -> list[tuple[Migration, str]]:
    return Graph(migrations).missing_dependencies(applied)


def missing_dependency_message(m: Migration, dep: str, *, applied_known: bool = True) -> str:
    where = "neither on disk nor recorded as applied" if applied_known else "not on disk"
    return (
        f"migration file {m.path}: depends on {dep}, which is {where}; restore that file or "
        "fix `depends_on`"
    )


def ancestors(key: str, by_key: Mapping[str, Migration]) -> set[str]:
    """``key`` and every migration it depends on, through ``depends_on`` and a squash's
    ``replaces``, as far as ``by_key`` holds them."""
    seen: set[str] = set()
    stack = [key]
    while stack:
        k = stack.pop()
        if k in seen or k not in by_key:
            continue
        seen.add(k)
        stack.extend(by_key[k].depends_on)
        stack.extend(by_key[k].replaces)
    return seen


def _later(a: str | None, b: str) -> str:
    """Of two migrations of one plugin, the one with the higher sequence number."""
    if a is None:
        return b
    return max(a, b, key=lambda k: (id_sequence(k.partition("/")[2]), k))


def check_dependencies(migrations: Iterable[Migration], applied: Iterable[str] = ()) -> None:
    Graph(migrations).check_dependencies(applied)


def plan_order(migrations: Iterable[Migration], plugin_order: Mapping[str, int]) -> list[Migration]:
    """Every migration in topological order (see :meth:`Graph.order`)."""
    graph = Graph(migrations)
    graph.plugin_rank = dict(plugin_order)
    return graph.order()


def leaves(migrations: Iterable[Migration]) -> dict[str, list[Migration]]:
    """Per plugin, the migrations no other migration of the same plugin depends on."""
    return Graph(migrations).leaves()


def _a_loop(deps: dict[str, set[str]], stuck: set[str]) -> list[str]:
    """One cycle among ``stuck``: the migrations a topological sort could not place are on a
    cycle or wait on one, so following a stuck dependency from any of them comes round."""
    path: list[str] = []
    at = min(stuck)
    while at not in path:
        path.append(at)
        at = min(d for d in deps[at] if d in stuck)
    loop = path[path.index(at) :]
    first = loop.index(min(loop))  # the same words whichever migration the walk began at
    return loop[first:] + loop[:first]
