"""Loading plugins and ordering them (SPEC §4).

A fresh ``pluggy.PluginManager`` is built per invocation (no global manager, nothing loaded at
import time). Plugins come from the ``umbral`` entry-point group and from project-local plugin
modules. App plugins own models and migrations; backend plugins provide backends and renderers
and are always loaded.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from umbral import hookspecs
from umbral.errors import ForeignKeyCycle, PluginCycle, PluginError
from umbral.toposort import toposort
from umbral.values import frozen, record

if TYPE_CHECKING:  # umbral.schema is not needed at start-up (`umbral --help` imports this)
    from umbral.schema import Snapshot

ENTRY_POINT_GROUP = "umbral"
APP = "app"


@record
class PluginInfo:
    name: str
    plugin: Any  # the registered module or object (None for the implicit `app`)
    distribution: str | None = None
    version: str | None = None
    editable: bool = False
    models: list[type] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    migrations_dir: Path | None = None
    read_only: bool = False
    hooks: list[str] = field(default_factory=list)
    is_backend: bool = False


def new_manager(*, core_rules: bool = True) -> pluggy.PluginManager:
    """A fresh manager. ``core_rules=False`` leaves out the core safety rules: the CLI's
    plugin-command lookup only calls ``umbral_commands`` and must not import them at start-up.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if core_rules:
        from umbral import safety

        pm.register(safety, name="umbral.safety")  # core rules are a plugin like any other
    return pm


def load_plugins(
    pm: pluggy.PluginManager,
    plugin_modules: Mapping[str, str | ModuleType] | None = None,
    *,
    entry_points: bool = True,
) -> dict[str, PluginInfo]:
    """Register every plugin on ``pm`` and return their infos by name.

    Raises PluginError for duplicate names, the reserved name ``app``, a plugin that fails to
    import, and a misspelled hook implementation (``check_pending``).
    """
    infos: dict[str, PluginInfo] = {}
    if entry_points:
        from umbral.entrypoints import entry_points as eps

        found: dict[str, Any] = {}
        for ep in eps(ENTRY_POINT_GROUP):
            if ep.name in found:
                a = found[ep.name].distribution().name
                b = ep.distribution().name
                raise PluginError(
                    f"two installed distributions declare the plugin `{ep.name}` ({a} and {b}); "
                    "uninstall one of them"
                )
            found[ep.name] = ep
        for name, ep in sorted(found.items()):
            dist = ep.distribution()
            _check_name(name, dist.name)
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not take the CLI down with a traceback
                raise PluginError(
                    f"plugin `{name}` ({ep.value}) failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            infos[name] = PluginInfo(name, obj, dist.name, dist.version, dist.editable)
    for name, target in (plugin_modules or {}).items():
        _check_name(name, str(target))
        if name in infos:
            raise PluginError(
                f"plugin `{name}` is both an installed distribution ({infos[name].distribution}) "
                "and a project plugin module; rename the project plugin"
            )
        if isinstance(target, str):
            try:
                obj = importlib.import_module(target)
            except Exception as exc:
                raise PluginError(
                    f"plugin module `{target}` (plugin `{name}`) failed to import: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        else:
            obj = target
        infos[name] = PluginInfo(name, obj, editable=True)
    for name, info in infos.items():
        try:
            pm.register(info.plugin, name=name)
        except ValueError as exc:
            raise PluginError(f"plugin `{name}` cannot be registered: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin `{pm.get_name(exc.plugin)}`: {exc}") from exc
    for info in infos.values():
        info.hooks = sorted(h.name for h in pm.get_hookcallers(info.plugin) or [])
        if not info.hooks and info.distribution is None:
            # A typo'd module (its models module, say): the plugin would look uninstalled,
            # every applied migration of it deleted, and --prune would forget them.
            raise PluginError(
                f"plugin module `{_module_name(info.plugin)}` (plugin `{info.name}`) implements "
                "no umbral hook: name the module that holds its @hookimpl functions in the "
                "configuration's plugin_modules"
            )
        # App plugins own models or migrations; everything else (backends, renderers, safety
        # rules) is always loaded, whatever the `plugins` allow-list says (SPEC §3).
        owns = {"umbral_models", "umbral_migrations_dir", "umbral_plugin_dependencies"}
        info.is_backend = not owns & set(info.hooks)
    return infos


def _module_name(obj: Any) -> str:
    return str(getattr(obj, "__name__", obj))


def _check_name(name: str, where: str) -> None:
    if name == APP:
        raise PluginError(
            f"a plugin may not be named `app` ({where}): that name is reserved for the project's "
            "own models"
        )


def call_own(pm: pluggy.PluginManager, hook: str, plugin: Any) -> Any:
    """Call one plugin's own implementation of a per-plugin hook (None if it has none)."""
    for impl in getattr(pm.hook, hook).get_hookimpls():
        if impl.plugin is plugin:
            return impl.function()
    return None


def declared_dependencies(infos: Mapping[str, PluginInfo]) -> dict[str, set[str]]:
    """Each app plugin's declared dependencies (``app`` aside), checked without its models.

    Raises PluginError for a dependency on an unknown plugin, PluginCycle for a cycle.
    """
    names = sorted(n for n in infos if n != APP)
    declared: dict[str, set[str]] = {n: set() for n in names}
    for n in names:
        for dep in infos[n].dependencies:
            if dep == APP:
                continue
            if dep not in infos:
                raise PluginError(
                    f"plugin `{n}` depends on unknown plugin `{dep}`; install it or enable it in "
                    "`plugins`"
                )
            declared[n].add(dep)
    cycle = _find_cycle(declared)
    if cycle:
        raise PluginCycle("plugin dependency cycle: " + " -> ".join(cycle))
    return declared


@frozen
class ForeignKey:
    """A key (a foreign-key column, or a many-to-many junction) from a model of ``plugin`` to
    the table ``target``, owned by ``target_plugin`` (None: no snapshot owns it)."""

    plugin: str
    table: str
    column: str
    target: str
    target_plugin: str | None
    #: The model that declares the key (for messages: ``Model.column``).
    model: str = ""


def foreign_keys(snapshots: Mapping[str, Snapshot]) -> Iterator[ForeignKey]:
    """Every key the database enforces between the snapshots' tables (a field declared
    ``db_constraint=False`` is a plain column), plugins in name order."""
    owner = {m.table: p for p, s in snapshots.items() for m in s.models.values()}
    for plugin, snapshot in sorted(snapshots.items()):
        for model in snapshot.models.values():
            targets = [(c.fk_target, c.name) for c in model.fields if c.is_fk and c.db_constraint]
            targets += [(r.target, r.field) for r in model.m2m]
            for target, column in targets:
                yield ForeignKey(
                    plugin, model.table, column, target, owner.get(target), model.name
                )


def plugin_order(infos: Mapping[str, PluginInfo], snapshots: Mapping[str, Snapshot]) -> list[str]:
    """Kahn-sort app plugins over declared dependencies + FK edges, ties by name, ``app`` last.

    Raises PluginError for a dependency on an unknown plugin, PluginCycle for a declared cycle,
    ForeignKeyCycle when foreign keys alone close a loop.
    """
    names = sorted(n for n in infos if n != APP)
    declared = declared_dependencies(infos)
    fk_edges: dict[str, set[str]] = {n: set() for n in names}
    why: dict[tuple[str, str], list[str]] = {}
    for key in foreign_keys(snapshots):
        plugin, other = key.plugin, key.target_plugin
        if plugin in fk_edges and other and other != plugin and other != APP:
            fk_edges[plugin].add(other)
            fields = why.setdefault((plugin, other), [])
            if f"`{key.model}.{key.column}`" not in fields:
                fields.append(f"`{key.model}.{key.column}`")
    combined = {n: declared[n] | fk_edges[n] for n in names}
    cycle = _find_cycle(combined)
    if cycle:
        # One entry per edge of the cycle, naming the fields that make it.
        edges = []
        for a, b in itertools.pairwise(cycle):
            fields = why.get((a, b))
            by = ", ".join(fields) if fields else "declared dependency"
            edges.append(f"`{a}` -> `{b}` ({by})")
        raise ForeignKeyCycle(
            "foreign keys between plugins form a cycle: "
            + ", ".join(edges)
            + ". Set db_constraint=False on one of these foreign keys (the plugins are ordered "
            "by the keys the database enforces, whatever the migration that adds them; a "
            "ManyToMany always is one), or move the models into one plugin"
        )
    order = toposort(combined, on_cycle="drop")  # a cycle was reported above
    if APP in infos:
        order.append(APP)
    return order


def _find_cycle(deps: Mapping[str, set[str]]) -> list[str] | None:
    """Return one cycle as [a, b, ..., a], or None."""
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for d in sorted(deps.get(n, ())):
            if color.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if color.get(d) is None:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for n in sorted(deps):
        if color.get(n) is None:
            found = visit(n)
            if found:
                return found
    return None
