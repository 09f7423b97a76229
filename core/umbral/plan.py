"""What ``migrate`` runs: the plan, computed from the graph, the tracking rows and the target.

Pure: no database, no rendering. :func:`make_plan` returns the steps in the order they run,
forward (``migrate`` or ``migrate plugin/name`` ahead of the database) or backward
(``plugin/name`` behind it, or ``plugin/zero``); the executor runs them as they come.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from umbral.errors import MigrationFileError, Refused, UmbralError
from umbral.graph import Graph
from umbral.migration import Migration, id_sequence
from umbral.values import frozen


@frozen
class Step:
    migration: Migration
    #: Un-apply: run the reverse operations and delete the tracking row.
    backward: bool = False
    #: Record without running SQL: a squash whose replaced migrations all ran (SPEC §5).
    record_only: bool = False
    #: A squash recorded right after the last of its remaining originals, which run in the
    #: same plan: bookkeeping of those, not one more applied migration.
    completes_squash: bool = False
    #: Backward: delete the tracking row without running SQL, for this reason (a squash
    #: whose originals are un-applied one by one, or an original un-applied with its squash).
    unrecord: str | None = None

    @property
    def key(self) -> str:
        return self.migration.key


@frozen
class Target:
    """``plugin/name`` or ``plugin/zero``: how far ``migrate`` goes."""

    plugin: str
    name: str

    @classmethod
    def parse(cls, spec: str, flag: str = "", command: str = "umbral migrate") -> Target:
        return cls(*parse_spec(spec, flag, command))

    @property
    def key(self) -> str:
        return f"{self.plugin}/{self.name}"

    @property
    def zero(self) -> bool:
        return self.name == "zero"


def parse_spec(spec: str, flag: str, command: str = "umbral migrate") -> tuple[str, str]:
    """Split ``plugin/name``; a malformed spec is an error naming the command and flag."""
    plugin, sep, name = spec.partition("/")
    if not sep or not plugin or not name or "/" in name:
        where = f"{command} {flag}".rstrip()
        raise UmbralError(
            f"{where}: {spec!r} is not a migration spec; write plugin/name, "
            "e.g. app/0003_add_post_tag"
        )
    return plugin, name


def no_such_migration(where: str, key: str, known: Iterable[str]) -> str:
    """The error for a spec naming no migration on disk, with what to write instead: the
    plugin's migrations that start with the given name or resemble it, else where to look."""
    plugin, _, name = key.partition("/")
    mine = sorted(k for k in known if k.partition("/")[0] == plugin)
    close = [k for k in mine if k.partition("/")[2].startswith(name)]
    sequence = name.partition("_")[0]
    if not close and sequence.isdigit():
        # `0003_auto` for `0003_rename_city_to_town`: the number is what the user knows.
        close = [k for k in mine if k.partition("/")[2].partition("_")[0] == sequence]
    if not close:
        import difflib

        close = difflib.get_close_matches(key, mine, n=3)
    if close:
        hint = f"did you mean {' or '.join(close)}?"
    elif mine:
        hint = f"`umbral showmigrations` lists the {len(mine)} migration(s) of {plugin}"
    else:
        hint = f"plugin {plugin} has no migrations yet; run `umbral makemigrations` first"
    return f"{where}: no migration {key} on disk; {hint}"


def make_plan(
    graph: Graph,
    applied: Mapping[str, str],
    target: Target | None = None,
    *,
    faked: Mapping[str, str] | None = None,
) -> list[Step]:
    """The steps that bring the database from ``applied`` to ``target`` (default: every
    migration on disk). ``faked``: migrations ``--fake-initial`` records before a forward
    plan runs, which it counts as applied."""
    if target is not None and is_backward(target, applied, graph):
        return backward(graph, applied, target)
    return forward(graph, {**applied, **(faked or {})}, target)


def is_backward(target: Target, applied: Mapping[str, str], graph: Graph) -> bool:
    """True when ``target`` lies behind what is applied. A migration a recorded squash
    replaces counts as applied."""
    if target.zero:
        return True
    recorded = target.key in applied or graph.squash_applied(target.key, applied)
    return recorded and bool(_roots(graph, target, applied))


def _roots(graph: Graph, target: Target, applied: Mapping[str, str]) -> set[str]:
    """The applied migrations of the target's plugin after it: a squash keeps what it
    replaces, and a recorded squash goes when the target lies inside its range."""
    roots = set(_later_applied(target, applied))
    node = graph.nodes.get(target.key)
    if node is not None and node.replaces:
        roots -= set(node.replaces)
    squash = _squash_around(graph, target.key)
    if squash is not None and squash in applied:
        roots.add(squash)
    return roots


def _squash_around(graph: Graph, key: str) -> str | None:
    """The squash on disk whose range ``key`` lies inside, before its last migration (the
    squash goes past it), or None."""
    squash = graph.squash_of.get(key)
    if squash is None:
        return None
    replaced = graph.nodes[squash].replaces
    return squash if replaced.index(key) < len(replaced) - 1 else None


def _later_applied(target: Target, applied: Iterable[str]) -> list[str]:
    seq = id_sequence(target.name)
    return [
        k
        for k in applied
        if k.split("/", 1)[0] == target.plugin and id_sequence(k.split("/", 1)[1]) > seq
    ]


def _require(graph: Graph, target: Target) -> None:
    if target.key not in graph.nodes:
        raise MigrationFileError(no_such_migration("umbral migrate", target.key, graph.nodes))


# -- forward ----------------------------------------------------------------------------------


def forward(graph: Graph, applied: Mapping[str, str], target: Target | None = None) -> list[Step]:
    """Unapplied migrations in topological order (squash-aware, SPEC §5), up to ``target``.

    A squash whose replaced migrations all ran is a step too, recorded without SQL; with
    none of them applied only the squash runs; with some applied the remaining originals run,
    and a missing one is refused by name.
    """
    graph.check_dependencies(applied)
    order = graph.order()
    split = _split_squash(graph, applied, target)
    shadowed, record_only = _resolve_squashes(graph, order, applied, split)
    todo = [m for m in order if m.key not in applied and m.key not in shadowed]
    if target is not None:
        todo = _upto(graph, todo, target)
    steps = [Step(m, record_only=m.key in record_only) for m in todo]
    return _complete_squashes(graph, steps, applied)


def _split_squash(graph: Graph, applied: Mapping[str, str], target: Target | None) -> str | None:
    """The unapplied squash whose range a forward ``target`` ends inside (before the last
    migration it replaces): its originals run instead, up to the target, as the squash would
    go past it. Refused when one of them is no longer on disk."""
    if target is None or target.zero:
        return None
    squash = _squash_around(graph, target.key)
    if squash is None or squash in applied:
        return None
    replaced = graph.nodes[squash].replaces
    upto = replaced[: replaced.index(target.key) + 1]
    missing = [r for r in upto if r not in applied and r not in graph.nodes]
    if missing:
        raise Refused(
            f"umbral migrate {target.key}: it is one of the migrations squash {squash} "
            f"replaces, and {', '.join(missing)} of those before it are missing from disk, so "
            f"the run cannot stop there; migrate to {squash} instead, or restore the files"
        )
    return squash


def _resolve_squashes(
    graph: Graph, order: list[Migration], applied: Mapping[str, str], split: str | None = None
) -> tuple[set[str], set[str]]:
    """The migrations that do not run (a squash runs instead of them, or they instead of a
    half-applied squash, or of the ``split`` one), and the squashes to record without SQL."""
    shadowed: set[str] = set()
    record_only: set[str] = set()
    for m in order:
        if not m.replaces:
            continue
        if m.key == split:
            shadowed.add(m.key)  # its originals run instead, up to the target
            continue
        if m.key in applied:
            shadowed |= set(m.replaces)
            continue
        done = [r for r in m.replaces if r in applied]
        if len(done) == len(m.replaces):
            record_only.add(m.key)
            shadowed |= set(m.replaces)
        elif not done:
            shadowed |= set(m.replaces)
        else:
            missing = [r for r in m.replaces if r not in applied and r not in graph.nodes]
            if missing:
                raise Refused(
                    f"umbral migrate: squash {m.key} is half-applied and its replaced "
                    f"migration(s) {', '.join(missing)} are missing from disk; restore those "
                    "files so the remaining ones can run"
                )
            shadowed.add(m.key)  # the remaining originals run instead
    return shadowed, record_only


def _complete_squashes(graph: Graph, steps: list[Step], applied: Mapping[str, str]) -> list[Step]:
    """``steps`` with each half-applied squash whose remaining originals all run in it
    recorded (without SQL) right after the last of them, in the same run: the next run has
    nothing left to do. A failure before that point leaves it unrecorded."""
    out = list(steps)
    position = {s.key: i for i, s in enumerate(out)}
    for squash in graph.squashes:
        rest = [r for r in squash.replaces if r not in applied]
        if squash.key in applied or not rest or len(rest) == len(squash.replaces):
            continue
        if all(r in position for r in rest):
            step = Step(squash, record_only=True, completes_squash=True)
            out.insert(max(position[r] for r in rest) + 1, step)
            position = {s.key: i for i, s in enumerate(out)}
    return out


def _upto(graph: Graph, todo: list[Migration], target: Target) -> list[Migration]:
    """Only the pending migrations ``target`` needs (itself and its dependencies)."""
    _require(graph, target)
    # A target at the end of a squashed range is reached by the squash when that runs.
    needed: set[str] = set()
    stack = [target.key]
    while stack:
        k = stack.pop()
        if k in needed:
            continue
        needed.add(k)
        stack.extend(graph.nodes[k].depends_on if k in graph.nodes else [])
        if graph.is_replaced(k):
            stack.append(graph.squash_of[k])
    return [m for m in todo if m.key in needed]


# -- backward ---------------------------------------------------------------------------------


def backward(graph: Graph, applied: Mapping[str, str], target: Target) -> list[Step]:
    """Applied migrations to un-apply to reach ``target``, dependents first (SPEC §8).

    A recorded squash and the migrations it replaces are one schema change, un-applied once:
    by its originals one by one when all of them are recorded and on disk (the squash's row
    goes first; a target inside its range is reached this way), else by the squash's own
    reverse, after the rows of its recorded originals (a target inside its range is refused).
    Each step is a transaction of its own, and the tracking rows agree with the schema after
    any of them."""
    if target.zero:
        roots = {k for k in applied if k.split("/", 1)[0] == target.plugin}
    else:
        _require(graph, target)
        roots = _roots(graph, target, applied)
    recorded = [s for s in graph.squashes if s.key in applied]
    whole = {s.key: s for s in recorded if not _by_originals(graph, s, applied)}
    with_squash = {r: key for key, s in whole.items() for r in s.replaces}
    # Everything applied that depends on a root, in any plugin, goes first.
    dependents = graph.dependents()
    undo: set[str] = set()
    stack = list(roots)
    while stack:
        popped = stack.pop()
        key = with_squash.get(popped, popped)
        if key in undo or key not in applied:
            continue
        undo.add(key)
        stack.extend(dependents.get(key, []))
        if key in whole:
            stack.extend(d for r in whole[key].replaces for d in dependents.get(r, []))
    inside = with_squash.get(target.key)
    if inside is not None and inside in undo:
        raise Refused(
            f"umbral migrate {target.key}: it is one of the migrations squash {inside} "
            "replaces, and this database applied that squash as a whole, so it can only be "
            "un-applied whole; migrate back past the squash, then forward to "
            f"{target.key}"
        )
    # A squash un-applied by its originals: only its row goes, before any of them.
    by_originals = [s for s in recorded if s.key not in whole]
    forget = [s for s in by_originals if s.key in undo or any(r in undo for r in s.replaces)]
    undo -= {s.key for s in forget}
    missing = sorted(k for k in undo if k not in graph.nodes)
    if missing:
        raise Refused(
            f"umbral migrate {target.key}: cannot un-apply {', '.join(missing)}: the file(s) "
            "are missing from disk, so their reverse operations are unknown; restore them first"
        )
    steps = [
        Step(s, backward=True, unrecord="its replaced migrations are un-applied one by one")
        for s in forget
    ]
    for m in reversed(graph.order()):
        if m.key not in undo:
            continue
        if m.key in whole:
            steps += [
                Step(_node(graph, r), backward=True, unrecord=f"un-applied with {m.key}")
                for r in reversed(m.replaces)
                if r in applied
            ]
        steps.append(Step(m, backward=True))
    return steps


def _by_originals(graph: Graph, squash: Migration, applied: Mapping[str, str]) -> bool:
    """Whether a recorded squash can be un-applied by its originals: every one of them is
    recorded and on disk."""
    return all(r in applied and r in graph.nodes for r in squash.replaces)


def _node(graph: Graph, key: str) -> Migration:
    """The migration ``key`` on disk, or a stand-in for a file deleted after its squash ran
    (only its tracking row is deleted)."""
    node = graph.nodes.get(key)
    if node is not None:
        return node
    from umbral.schema import EMPTY

    plugin, _, name = key.partition("/")
    return Migration(plugin, name, [], EMPTY)
