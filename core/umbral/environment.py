"""Everything one command needs to know, loaded once per invocation and without a database:
plugins, their models and snapshots, their order, their migration directories and files.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Collection, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from umbral import loadcache, loader
from umbral.backend import Backend
from umbral.config import backend_for_url, url_scheme
from umbral.errors import (
    ConfigError,
    MigrationGraphError,
    ModelDefinitionError,
    PluginError,
    UmbralError,
    UnknownModel,
)
from umbral.graph import leaves, missing_dependencies, missing_dependency_message
from umbral.migration import Migration, id_sequence
from umbral.plugins import (
    APP,
    PluginInfo,
    call_own,
    declared_dependencies,
    load_plugins,
    new_manager,
    plugin_order,
)
from umbral.schema import EMPTY, Snapshot
from umbral.toposort import toposort


class Environment:
    def __init__(
        self,
        *,
        root: Path,
        migrations: str = "migrations",
        models: Iterable[Any] = (),
        plugins: list[str] | None = None,
        plugin_modules: Mapping[str, str | ModuleType] | None = None,
        entry_points: bool = True,
    ) -> None:
        self.root = root
        self.migrations_root = (root / migrations).resolve()
        root_str = str(root)
        if root_str not in sys.path:
            # SPEC §3: the project's directory is importable without installing it.
            sys.path.insert(0, root_str)
        self.pm = new_manager()
        self.infos: dict[str, PluginInfo] = load_plugins(
            self.pm, plugin_modules, entry_points=entry_points
        )
        self._allow_list = plugins
        #: App plugins installed but left out of the `plugins` allow-list (turned off).
        self.disabled: set[str] = set()
        if plugins is not None:
            app_plugins = set(self.app_infos)
            unknown = sorted(set(plugins) - set(self.infos))
            if unknown:
                raise PluginError(
                    f"`plugins` names unknown plugin(s) {', '.join(unknown)}; installed app "
                    f"plugins: {', '.join(sorted(app_plugins)) or 'none'}"
                )
            for name in sorted(app_plugins - set(plugins)):
                self.pm.unregister(name=name)
                del self.infos[name]
                self.disabled.add(name)
        for name, info in self.app_infos.items():
            info.dependencies = list(
                call_own(self.pm, "umbral_plugin_dependencies", info.plugin) or []
            )
            shipped = call_own(self.pm, "umbral_migrations_dir", info.plugin)
            if shipped is not None:
                info.migrations_dir = Path(str(shipped))
                info.read_only = bool(info.distribution) and not info.editable
            else:
                info.migrations_dir = self.migrations_root / name
        # The project's models are imported only when something needs them (``snapshots``):
        # ``showmigrations`` reads migration files and tracking rows alone, so a models module
        # that does not import (an edit in progress) does not stop it, nor costs its import.
        self._model_entries = list(models)
        has_app = not self.plugin_names or (self.migrations_root / APP).is_dir()
        #: The implicit `app` exists only for its models: dropped if the entries hold none.
        self._app_needs_models = not has_app
        if has_app or self._model_entries:
            app = PluginInfo(APP, None, editable=True)
            app.migrations_dir = self.migrations_root / APP
            self.infos[APP] = app
        # Declared dependencies are checked now; foreign-key edges need the models (`order`).
        declared_dependencies(self.app_infos)
        self._migrations: dict[str, list[Migration]] = {}
        self._by_scheme: dict[str, Backend | None] = {}
        #: Load unmerged branches without the duplicate-sequence error (``--merge`` does).
        self.accept_branches = False

    # -- models ---------------------------------------------------------------------------

    @cached_property
    def snapshots(self) -> dict[str, Snapshot]:
        """Each app plugin's models as a snapshot. Built on first use: importing and resolving
        every plugin's models is most of what a command that only reads migration files and
        the tracking table (``showmigrations``) would otherwise pay."""
        app = self.infos.get(APP)
        if app is not None:
            app.models = _collect_models(self._model_entries)
            if self._app_needs_models and not app.models:
                del self.infos[APP]
        owned: dict[str, list[type]] = {}
        for name, info in self.app_infos.items():
            if name != APP:
                try:
                    info.models = list(call_own(self.pm, "umbral_models", info.plugin) or [])
                except UmbralError as exc:
                    raise self._blame(exc, name) from exc
                except Exception as exc:  # a broken plugin: one line, not a traceback
                    failure = PluginError(
                        f"plugin `{name}`: umbral_models() failed: {type(exc).__name__}: {exc}"
                    )
                    raise self._blame(failure, name) from exc
            owned[name] = info.models
        _check_single_owner(owned)
        from umbral.models import build_snapshots

        try:
            return build_snapshots(owned)
        except ModelDefinitionError as exc:
            if exc.plugin is None or exc.plugin == APP:
                raise
            raise self._blame(exc, exc.plugin) from exc

    def _blame(self, exc: UmbralError, plugin: str) -> UmbralError:
        """``exc``, about plugin ``plugin``'s models, naming the plugin and the `plugins`
        allow-list: with ``plugins`` absent every installed app plugin joins the project."""
        info = self.infos.get(plugin)
        dist = f" (from {info.distribution})" if info is not None and info.distribution else ""
        keep = sorted(p for p in self.app_infos if p not in (APP, plugin))
        example = "[" + ", ".join(f'"{p}"' for p in keep) + "]"
        listed = (
            "the configuration's `plugins` allow-list names it"
            if self._allow_list is not None
            else "the configuration has no `plugins` allow-list, so every installed app plugin "
            "joins"
        )
        message = str(exc)
        if not message.startswith(f"plugin `{plugin}`"):
            message = f"plugin `{plugin}`{dist}: {message}"
        if isinstance(exc, UnknownModel) and exc.removed:
            # The fields are what to change: leaving out the plugin that has them would only
            # hide them.
            new = UnknownModel(message, exc.target, exc.fields, exc.removed)
            new.details = exc.details
            return new
        cls = ModelDefinitionError if isinstance(exc, ModelDefinitionError) else PluginError
        new = cls(
            f"{message} ({listed}; fix or upgrade the plugin, or leave it out: "
            f"`plugins = {example}`)"
        )
        new.details = exc.details
        return new

    @cached_property
    def order(self) -> list[str]:
        """App plugins in dependency order: declared dependencies and foreign keys first."""
        snapshots = self.snapshots  # first: it settles whether the implicit `app` exists
        return plugin_order(self.app_infos, snapshots)

    @cached_property
    def file_order(self) -> list[str]:
        """App plugins in dependency order read from the migration files alone: declared
        dependencies and the files' cross-plugin ``depends_on``, ties by name, ``app`` last.

        ``migrate``, ``sqlmigrate`` and ``checkmigrations`` order by this, so they import no
        model module (a models module that does not import does not stop them). The files
        already hold every foreign key between plugins as a ``depends_on``; the order only
        breaks ties among migrations that do not depend on each other (``plan_order``)."""
        names = [n for n in self.plugin_names if n != APP]
        edges = declared_dependencies(self.app_infos)
        for name in names:
            for m in self.migrations(name):
                for dep in m.depends_on:
                    other = dep.partition("/")[0]
                    if other != name and other in edges:
                        edges[name].add(other)
        order = toposort(edges, on_cycle="drop")
        # Plugins whose files depend on each other both ways (legal between migrations) keep
        # their place by name after the rest.
        order += sorted(set(names) - set(order))
        if APP in self.infos:
            order.append(APP)
        return order

    # -- plugins ------------------------------------------------------------------------------

    @property
    def app_plugins(self) -> list[str]:
        return list(self.order)

    @property
    def app_infos(self) -> dict[str, PluginInfo]:
        """The app plugins (backends and other extension plugins aside)."""
        return {n: i for n, i in self.infos.items() if not i.is_backend}

    @property
    def plugin_names(self) -> list[str]:
        """App plugins by name, without loading their models (see ``snapshots``)."""
        return sorted(self.app_infos)

    def info(self, plugin: str) -> PluginInfo:
        try:
            return self.infos[plugin]
        except KeyError:
            raise PluginError(
                f"no plugin named `{plugin}`; known plugins: {', '.join(self.plugin_names)}"
            ) from None

    @cached_property
    def backends(self) -> list[Backend]:
        out: list[Backend] = []
        for result in self.pm.hook.umbral_backends(scheme=None):
            out.extend(result or [])
        return out

    def backend_for(self, url: str) -> Backend:
        """The backend serving ``url``: the plugins are asked for that scheme's backends only
        (the others are not built); the error naming every installed one asks for all."""
        if "://" in url and "backends" not in self.__dict__:
            scheme = url_scheme(url)
            if scheme not in self._by_scheme:
                found = self.pm.hook.umbral_backends(scheme=scheme)
                serving = [b for r in found for b in (r or ()) if scheme in b.schemes]
                self._by_scheme[scheme] = serving[0] if serving else None
            backend = self._by_scheme[scheme]
            if backend is not None:
                return backend
        return backend_for_url(url, self.backends)

    # -- migrations -----------------------------------------------------------------------

    def migrations(self, plugin: str) -> list[Migration]:
        if plugin not in self._migrations:
            directory = self.info(plugin).migrations_dir
            assert directory is not None
            self._migrations[plugin] = loader.load_plugin(
                plugin,
                directory,
                branches=self.accept_branches,
                store=loadcache.open_store(directory),
            )
        return self._migrations[plugin]

    def next_id(self, plugin: str, suffix: str) -> str:
        """The id of the next migration ``plugin`` writes: one past its highest sequence."""
        seqs = [m.sequence for m in self.migrations(plugin)]
        return f"{max(seqs, default=0) + 1:04d}_{suffix}"

    def conflicts(
        self, plugins: Iterable[str] | None = None, applied: Collection[str] | None = None
    ) -> list[str]:
        """One message per plugin whose graph has more than one leaf (SPEC §5), for
        ``plugins`` (default: every app plugin, in order). ``applied``: the tracking rows, when
        the caller has read them."""
        out = []
        for plugin in self.file_order if plugins is None else plugins:
            tips = leaves(self.migrations(plugin)).get(plugin, [])
            if len(tips) > 1:
                from umbral.merge import conflicts_message

                hole = self.dependency_hole(plugin, tips, applied)
                out.append(hole or conflicts_message(plugin, tips))
        return out

    def dependency_hole(
        self, plugin: str, tips: list[Migration], applied: Collection[str] | None = None
    ) -> str | None:
        """The error for a ``depends_on`` naming a migration of ``plugin`` that is nowhere,
        when that is why the plugin has several leaves ``tips`` (the migrations below the
        missing one lose their dependent), or None when they are real branches.

        Without the tracking rows (``applied`` None), a file that is not on disk counts when a
        leaf sits at or below its number: a file deleted after it was applied leaves no extra
        leaf there (see ``graph.leaves``)."""
        lowest = min(m.sequence for m in tips)
        for m, dep in missing_dependencies(self.migrations(plugin), applied or ()):
            if not dep.startswith(f"{plugin}/"):
                continue
            if applied is not None or lowest <= id_sequence(dep.split("/", 1)[1]):
                return missing_dependency_message(m, dep, applied_known=applied is not None)
        return None

    def forget_migrations(self) -> None:
        self._migrations.clear()

    def all_migrations(self) -> list[Migration]:
        """Every app plugin's migrations, in ``file_order`` (no model module is imported)."""
        return [m for p in self.file_order for m in self.migrations(p)]

    def latest(self, plugin: str) -> Migration | None:
        """The plugin's single leaf migration; two leaves are a conflict (SPEC §5)."""
        ms = self.migrations(plugin)
        if not ms:
            return None
        tips = leaves(ms).get(plugin, [])
        if len(tips) > 1:
            from umbral.merge import conflicts_message

            hole = self.dependency_hole(plugin, tips)
            raise MigrationGraphError(hole or conflicts_message(plugin, tips))
        return tips[0] if tips else ms[-1]

    def previous_snapshot(self, plugin: str) -> Snapshot:
        latest = self.latest(plugin)
        return latest.snapshot_after if latest else EMPTY

    def table_owner(self) -> dict[str, str]:
        return {m.table: p for p, s in self.snapshots.items() for m in s.models.values()}


def _collect_models(items: Iterable[Any]) -> list[type]:
    """Model classes from a mix of classes, modules and module paths (config ``models``)."""
    # Imported here: showmigrations and migrate need no model class.
    from umbral.models import Model

    out: list[type] = []
    for item in items:
        if isinstance(item, str):
            try:
                item = importlib.import_module(item)
            except ModelDefinitionError:
                raise
            except Exception as exc:
                raise ConfigError(
                    f"models module `{item}` failed to import: {type(exc).__name__}: {exc}"
                ) from exc
        if isinstance(item, ModuleType):
            # Only models defined in the module: one imported from a plugin is the plugin's.
            out.extend(
                obj
                for _, obj in inspect.getmembers(item, inspect.isclass)
                if issubclass(obj, Model) and obj is not Model and obj.__module__ == item.__name__
            )
        elif isinstance(item, type) and issubclass(item, Model):
            out.append(item)
        else:
            raise ConfigError(f"`models` entry {item!r} is not a Model class or a module")
    return list(dict.fromkeys(out))


def _check_single_owner(owned: Mapping[str, list[type]]) -> None:
    seen: dict[type, str] = {}
    for plugin, models in owned.items():
        for m in models:
            if m in seen and seen[m] != plugin:
                raise PluginError(
                    f"model `{m.__name__}` is returned by two plugins ({seen[m]} and {plugin}); "
                    "exactly one plugin must own it"
                )
            seen[m] = plugin
