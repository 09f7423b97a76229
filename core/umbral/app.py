"""``umbral.App``: the programmatic entry point (SPEC §3).

Every command is a method returning a structured result; the CLI only prints them. An App
mirrors the config keys: ``App(models=[...], database=..., plugins=[...], plugin_modules={...})``.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from umbral.config import (
    DEFAULT_ALIAS,
    ProjectConfig,
    TenantsConfig,
    is_count,
    is_seconds,
    resolve_database,
    resolve_env,
)
from umbral.database import db_errors
from umbral.errors import ConfigError, PartlyApplied, UmbralError
from umbral.values import record

if TYPE_CHECKING:
    from umbral.autodetector import Backfill
    from umbral.backend import Backend, RunOptions
    from umbral.drift import Entry
    from umbral.environment import Environment
    from umbral.executor import Rendered
    from umbral.graph import Graph
    from umbral.inspect import InspectResult
    from umbral.makemigrations import MakeMigrationsResult
    from umbral.migrate import MigrateRequest, MigrateResult
    from umbral.migration import Migration
    from umbral.plugins import PluginInfo
    from umbral.safety import CheckReport, Classified
    from umbral.schemadrift import Repair, SchemaCheck

Event = Callable[[str, dict[str, Any]], None]


@record
class GraphResult:
    nodes: list[Any]  # umbral.graphviz.Node
    edges: list[tuple[str, str]]
    unread: str | None = None  # why the database's states are not shown


class App:
    def __init__(
        self,
        models: Iterable[Any] = (),
        database: str | None = None,
        plugins: list[str] | None = None,
        plugin_modules: Mapping[str, str | ModuleType] | None = None,
        *,
        migrations: str = "migrations",
        root: str | Path | None = None,
        entry_points: bool = True,
        lock_wait: float | None = None,
    ) -> None:
        self.models = list(models)
        self.database = database
        self.plugin_names = plugins
        self.plugin_modules = dict(plugin_modules or {})
        self.migrations_dir = migrations
        self.root = Path(root).resolve() if root is not None else Path.cwd()
        self.entry_points = entry_points
        self.lock_wait = lock_wait
        #: ``lock_timeout`` / ``statement_timeout`` (seconds) and ``lock_retries`` for migrate;
        #: unset keys keep the backend's defaults.
        self.timeouts: dict[str, float | int | None] = {}
        self._config_database: str | None = None
        self._cli_database: str | None = None
        #: The config's ``env`` (``--env`` and UMBRAL_ENV win, see ``migrate``).
        self.environment: str | None = None
        #: ``[tool.umbral.tenants]``: with it, the default schema holds the shared plugins
        #: only, and ``umbral.tenants`` migrates the others in each tenant's schema.
        self.tenants: TenantsConfig | None = None
        #: ``[tool.umbral.databases]`` (alias -> URL, the default one aside) and
        #: ``[tool.umbral.routing]`` (plugin -> alias); ``alias`` is the database this App
        #: works on (``for_alias``).
        self.databases: dict[str, str] = {}
        self.routing: dict[str, str] = {}
        self.alias = DEFAULT_ALIAS

    @classmethod
    def from_config(cls, cfg: ProjectConfig, database: str | None = None) -> App:
        """The App a project's configuration describes; ``database`` is ``--database``."""
        if cfg.app:
            module_name, _, attr = cfg.app.partition(":")
            import sys

            if str(cfg.root) not in sys.path:
                sys.path.insert(0, str(cfg.root))
            try:
                obj = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(
                    f"{cfg.source}: `app = {cfg.app!r}` cannot be loaded: {exc}"
                ) from exc
            if not isinstance(obj, App):
                raise ConfigError(f"{cfg.source}: `app = {cfg.app!r}` is not an umbral.App")
            app = obj
            app.root = cfg.root
            app.migrations_dir = cfg.migrations
        else:
            app = cls(
                models=cfg.models,
                plugins=cfg.plugins,
                plugin_modules=cfg.plugin_modules,
                migrations=cfg.migrations,
                root=cfg.root,
            )
        app._config_database = cfg.database
        app._cli_database = database
        if cfg.tenants is not None:
            app.tenants = cfg.tenants
        app.databases, app.routing = dict(cfg.databases), dict(cfg.routing)
        if cfg.env is not None and app.environment is None:
            app.environment = cfg.env
        if cfg.lock_wait is not None and app.lock_wait is None:
            app.lock_wait = cfg.lock_wait
        for key in ("lock_timeout", "statement_timeout", "lock_retries"):
            if getattr(cfg, key) is not None and app.timeouts.get(key) is None:
                app.timeouts[key] = getattr(cfg, key)
        return app

    # -- plumbing -----------------------------------------------------------------------------

    @cached_property
    def env(self) -> Environment:
        from umbral.environment import Environment

        return Environment(
            root=self.root,
            migrations=self.migrations_dir,
            models=self.models,
            plugins=self.plugin_names,
            plugin_modules=self.plugin_modules,
            entry_points=self.entry_points,
        )

    @property
    def database_url(self) -> str:
        if self.alias != DEFAULT_ALIAS:
            return self.databases[self.alias]
        url = resolve_database(self._cli_database, self._config_database, self.database)
        if not url:
            raise ConfigError(
                "no database configured: set `database` in the project config, "
                "UMBRAL_DATABASE_URL, or pass --database URL"
            )
        return url

    def url_source(self, database: str | None = None) -> str:
        """Where the URL of this App's database was set, for a failed connection's advice:
        another alias's in its own key; ``database``, a URL passed in other than this App's,
        is a tenant's server (``umbral.tenants``)."""
        from umbral.database import DEFAULT_URL_SOURCE

        if database is not None and database != self.database_url:
            return "the tenant's URL#schema in `tenants`"
        if self.alias != DEFAULT_ALIAS:
            return f"`databases.{self.alias}` in the config"
        return DEFAULT_URL_SOURCE

    def missing_database(self) -> str | None:
        """The database file a read-only command reads as empty because it does not exist
        yet (``migrate`` creates it), or None."""
        backend, url = self._backend()
        return backend.missing_database(url)

    def _backend(self) -> tuple[Backend, str]:
        url = self.database_url
        backend = self.env.backend_for(url)
        return backend, backend.normalize_url(url, self.root)

    # -- commands -------------------------------------------------------------------------

    def makemigrations(
        self,
        *,
        check: bool = False,
        dry_run: bool = False,
        empty: str | None = None,
        name: str | None = None,
        merge: bool = False,
        compat: bool = False,
        drop_compat: str | None = None,
        backfill: Backfill | None = None,
        backfills: Mapping[str, Any] | None = None,
        python: bool = False,
    ) -> MakeMigrationsResult:
        """Diff models against the latest snapshots; write the files unless check/dry_run.

        ``compat``: renames leave an N-1 compatibility shim; ``drop_compat``: write the
        contract migration that drops the named shim (see ``umbral.compat``). ``backfills``
        (``Model.column`` -> value) then ``backfill`` (a questioner) give the one-off value of
        a NOT NULL column without a default for the rows its table already has
        (``makemigrations.plan_migrations``)."""
        from umbral import makemigrations as mk
        from umbral.routing import check_keys

        check_keys(self.env.snapshots, self.routing)
        if drop_compat is not None:
            from umbral.compat import drop_migration

            result = mk.MakeMigrationsResult(migrations=[drop_migration(self.env, drop_compat)])
        elif merge:
            from umbral.errors import MigrationGraphError
            from umbral.graph import leaves
            from umbral.merge import merge_migration

            self.env.accept_branches = True
            self.env.forget_migrations()
            for p in self.env.order:  # a missing dependency is no branch to merge
                tips = leaves(self.env.migrations(p)).get(p, [])
                hole = self.env.dependency_hole(p, tips) if len(tips) > 1 else None
                if hole:
                    raise MigrationGraphError(hole)
            merges = [
                merge_migration(p, self.env.migrations(p), self.env.info(p).migrations_dir)
                for p in self.env.order
            ]
            result = mk.MakeMigrationsResult(migrations=[m for m in merges if m is not None])
        elif empty is not None:
            make = mk.python_migration if python else mk.empty_migration
            result = mk.MakeMigrationsResult(migrations=[make(self.env, empty, name=name)])
        else:
            result = mk.plan_migrations(
                self.env, name=name, compat=compat, backfill=backfill, backfills=backfills
            )
        if result.migrations and not (check or dry_run):
            mk.write_all(result.migrations)
            result.written = True
            self.env.forget_migrations()  # the next command on this App must see the new files
        return result

    def migrate(
        self,
        target: str | None = None,
        *,
        fake: str | None = None,
        fake_initial: bool = False,
        prune: bool = False,
        allow_drift: bool = False,
        allow_in_memory: bool = False,
        allow_destructive: bool = False,
        allow_irreversible: bool = False,
        plan: bool = False,
        replay: bool = False,
        from_statement: int | None = None,
        record_only: bool = False,
        lock_wait: float | None = None,
        lock_timeout: float | None = None,
        statement_timeout: float | None = None,
        lock_retries: int | None = None,
        environment: str | None = None,
        on_event: Event | None = None,
        database: str | None = None,
        scope: Collection[str] | None = None,
    ) -> MigrateResult:
        """Apply pending migrations (SPEC §8). Warnings go to ``on_event("warning", ...)``.

        ``environment`` (else UMBRAL_ENV, else the config's ``env``) is where this database
        runs: a pending migration whose ``skip_on`` names it is recorded as skipped, not run.

        On a database that holds nothing of umbral's, the schema of the plan's end is built
        from the migrations' snapshots and they are recorded in one transaction, up to the
        first migration that has to run as written (see ``umbral.fastpath``); ``replay`` runs
        every migration instead. ``result.path`` says which path and why.

        A migration the database cannot roll back as a whole runs statement by statement; when
        one of its statements fails, the next run continues at that statement
        (``umbral.progress``), or at its statement ``from_statement``.

        ``record_only`` writes (and, backward, deletes) the plan's tracking rows without
        running any SQL: the schema was changed by hand.

        ``database`` (a URL) and ``scope`` (plugin names) run it on another database or
        schema than the configured one, for the plugins it holds: a tenant's
        (``umbral.tenants``). By default, a project with tenants migrates its shared plugins
        here.
        """
        from umbral.database import connect
        from umbral.guards import refuse_in_memory
        from umbral.migrate import Migrator
        from umbral.session import Session

        url = database or self.database_url
        shared = self.env.backend_for(url)
        refuse_in_memory(shared, url, allow_in_memory)
        request, options = self.migrate_request(
            target, fake=fake, fake_initial=fake_initial, prune=prune, allow_drift=allow_drift,
            allow_destructive=allow_destructive, allow_irreversible=allow_irreversible,
            plan=plan, replay=replay, from_statement=from_statement, scope=scope,
            record_only=record_only,
            environment=environment, lock_wait=lock_wait, lock_timeout=lock_timeout,
            statement_timeout=statement_timeout, lock_retries=lock_retries,
        )  # fmt: skip
        backend = shared.for_run(options)
        with (
            # --plan only reads, --prune only deletes rows: neither creates a database that is
            # not there (it holds no rows).
            connect(
                backend,
                backend.normalize_url(url, self.root),
                create=not (plan or prune),
                source=self.url_source(database),
            ) as conn,
            db_errors(url, backend, options.lock_wait),
            backend.migration_lock(conn, options.lock_wait),
        ):
            return Migrator(self.env, Session(conn, backend, on_event), request).run()

    def migrate_request(
        self,
        target: str | None = None,
        *,
        fake: str | None = None,
        fake_initial: bool = False,
        prune: bool = False,
        allow_drift: bool = False,
        allow_destructive: bool = False,
        allow_irreversible: bool = False,
        plan: bool = False,
        replay: bool = False,
        from_statement: int | None = None,
        scope: Collection[str] | None = None,
        record_only: bool = False,
        environment: str | None = None,
        lock_wait: float | None = None,
        lock_timeout: float | None = None,
        statement_timeout: float | None = None,
        lock_retries: int | None = None,
    ) -> tuple[MigrateRequest, RunOptions]:
        """``migrate``'s flags, parsed and checked (a malformed spec, an ill-formed
        environment, an invalid file fail here, before a database is touched), and its run
        options."""
        from umbral.migrate import MigrateRequest
        from umbral.plan import Target

        if scope is None:
            scope = self.default_scope()
        request = MigrateRequest(
            fake=Target.parse(fake, "--fake") if fake is not None else None,
            target=Target.parse(target) if target is not None else None,
            fake_initial=fake_initial,
            prune=prune,
            allow_drift=allow_drift,
            allow_destructive=allow_destructive,
            allow_irreversible=allow_irreversible,
            plan_only=plan,
            replay=replay,
            from_statement=from_statement,
            scope=frozenset(scope) if scope is not None else None,
            record_only=record_only,
        )
        self.env.all_migrations()  # validate every file before touching the database
        if request.fake is not None and request.scope is not None:
            self._refuse_fake_elsewhere(request.fake.key, request.scope)
        if request.target is not None and request.scope is not None:
            self._refuse_target_in_tenants(request.target.key, request.scope)
        request = replace(request, environment=resolve_env(environment, self.environment))
        options = self.run_options(lock_wait, lock_timeout, statement_timeout, lock_retries)
        return request, options

    def _refuse_fake_elsewhere(self, key: str, scope: frozenset[str]) -> None:
        """``--fake`` of a plugin this database (or schema) does not hold would write a
        tracking row without its schema change where nothing reads it but drift (``[!]``)."""
        plugin = key.partition("/")[0]
        self.env.info(plugin)  # an unknown plugin is an error naming the known ones
        if plugin in scope:
            return
        where = f"umbral migrate --fake {key}: plugin `{plugin}`"
        home = self.alias_of(plugin)
        if home != self.alias:
            raise ConfigError(
                f"{where} lives in database `{home}`, not in `{self.alias}`; nothing was "
                f"recorded; pass --alias {home}, or leave --alias out"
            )
        if self.tenants is not None and plugin not in self.tenants.shared:
            raise ConfigError(
                f"{where} {self._in_tenants()}; nothing was recorded; add --tenant NAME to "
                "record it in one tenant"
            )
        raise ConfigError(
            f"{where} is shared: it lives in the default schema, not in a tenant's; nothing "
            "was recorded; leave --tenant out"
        )

    def _refuse_target_in_tenants(self, key: str, scope: frozenset[str]) -> None:
        """A target naming a tenant plugin on the default schema would plan nothing there
        and say `No pending migrations`, the tenants untouched: a rollback silently not done.
        (With several databases, a target of a plugin held elsewhere is that database's.)"""
        plugin = key.partition("/")[0]
        if plugin in scope or self.tenants is None or plugin in self.tenants.shared:
            return
        if self.alias_of(plugin) != self.alias:
            return
        raise ConfigError(
            f"umbral migrate {key}: plugin `{plugin}` {self._in_tenants()}; nothing was run "
            "here or in any tenant: a target works on one database and has no tenant form yet"
        )

    def _in_tenants(self) -> str:
        assert self.tenants is not None
        shared = ", ".join(sorted(self.tenants.shared)) or "none"
        return (
            "lives in the tenant schemas, not in the default schema, which holds the shared "
            f"plugins ({shared})"
        )

    # -- several databases ------------------------------------------------------------------

    def alias_of(self, plugin: str) -> str:
        """The alias of the database ``plugin`` lives in."""
        return self.routing.get(plugin, DEFAULT_ALIAS)

    def partly_applied_aliases(self) -> list[str]:
        """The databases holding a partly applied migration (``[/]``), in ``aliases`` order;
        one that does not exist yet holds none."""
        from umbral.drift import State

        found = []
        for name in self.aliases():
            other = self.for_alias(name)
            if other.missing_database() is not None:
                continue
            if any(e.state is State.PARTIAL for e in other.showmigrations()):
                found.append(name)
        return found

    def aliases(self) -> list[str]:
        """The databases the project uses: ``default``, then each alias a plugin is routed
        to, in the order of the first plugin routed there (plugins in dependency order)."""
        if not self.routing:
            return [DEFAULT_ALIAS]  # one database: no plugin order to read
        self.alias_plugins(DEFAULT_ALIAS)  # checks the routing
        order = [DEFAULT_ALIAS]
        for plugin in self.env.file_order:
            alias = self.routing.get(plugin, DEFAULT_ALIAS)
            if alias not in order:
                order.append(alias)
        return order

    def for_alias(self, alias: str) -> App:
        """This App on the database ``alias`` names, holding the plugins routed there."""
        if alias != DEFAULT_ALIAS and alias not in self.databases:
            known = ", ".join([DEFAULT_ALIAS, *sorted(self.databases)])
            raise ConfigError(f"--alias {alias}: no such database alias (aliases: {known})")
        other = copy.copy(self)  # shares the loaded environment
        other.alias = alias
        return other

    def alias_plugins(self, alias: str) -> frozenset[str] | None:
        """The plugins that live in the database ``alias`` names, or None when nothing is
        routed (every plugin lives in the default one)."""
        if not self.routing:
            return None
        self._known_plugins("routing", self.routing)
        names = self.env.plugin_names
        return frozenset(p for p in names if self.routing.get(p, DEFAULT_ALIAS) == alias)

    def _known_plugins(self, key: str, named: Iterable[str]) -> None:
        """A configuration key that names plugins names installed ones only."""
        names = self.env.plugin_names
        unknown = sorted(set(named) - set(names))
        if unknown:
            raise ConfigError(
                f"`{key}` names unknown plugin(s) {', '.join(unknown)}; plugins: "
                f"{', '.join(names) or 'none'}"
            )

    def default_scope(self) -> frozenset[str] | None:
        """The plugins this App's database holds: every one, those routed to its alias, and
        on the default database with tenants only the shared ones (the others live in the
        tenants' schemas)."""
        scope = self.alias_plugins(self.alias)
        if self.tenants is None or self.alias != DEFAULT_ALIAS:
            return scope
        self._known_plugins("tenants.shared", self.tenants.shared)
        shared = frozenset(self.tenants.shared)
        elsewhere = sorted(shared - scope) if scope is not None else []
        if elsewhere:
            # Ignoring them would leave the user believing the tenants share them.
            where = ", ".join(f"{p} in `{self.routing[p]}`" for p in elsewhere)
            raise ConfigError(
                f"`tenants.shared` names plugin(s) that `routing` puts in another database "
                f"({where}); the shared plugins live in the default database beside the "
                "tenants' schemas: remove them from tenants.shared"
            )
        return shared if scope is None else shared & scope

    def run_options(
        self,
        lock_wait: float | None = None,
        lock_timeout: float | None = None,
        statement_timeout: float | None = None,
        lock_retries: int | None = None,
    ) -> RunOptions:
        """A migrate run's options: the flags given, else the config's keys (``timeouts``,
        ``lock_wait``), else the defaults."""
        from umbral.backend import DEFAULT_LOCK_WAIT, RunOptions

        def pick(key: str, given: float | None) -> Any:
            return given if given is not None else self.timeouts.get(key)

        if lock_wait is None:
            lock_wait = self.lock_wait if self.lock_wait is not None else DEFAULT_LOCK_WAIT
        options = RunOptions(
            lock_wait=lock_wait,
            lock_timeout=pick("lock_timeout", lock_timeout),
            statement_timeout=pick("statement_timeout", statement_timeout),
            lock_retries=pick("lock_retries", lock_retries),
        )
        _check_run_options(options)
        return options

    def showmigrations(
        self, database: str | None = None, scope: Collection[str] | None = None
    ) -> list[Entry]:
        """Every migration with its drift state (SPEC §9), plugins alphabetical.

        Reads the migration files and the tracking table only: the plugins' models are not
        loaded (a broken model does not hide where the database stands). ``database`` and
        ``scope`` as for ``migrate``."""
        from umbral import drift, progress, recorder
        from umbral.database import connect

        if database is None:
            backend, url = self._backend()
        else:
            backend = self.env.backend_for(database)
            url = backend.normalize_url(database, self.root)
        if scope is None:
            scope = self.default_scope()
        plugins = [p for p in self.env.plugin_names if scope is None or p in scope]
        migrations = [m for p in plugins for m in self.env.migrations(p)]
        with (
            connect(backend, url, create=False, source=self.url_source(database)) as conn,
            db_errors(url),
        ):
            return drift.detect(
                migrations, recorder.applied(conn), recorder.skipped(conn), progress.read(conn)
            )

    def sqlmigrate(self, spec: str) -> Rendered:
        """The SQL of one migration for the configured backend; no database is opened."""
        from umbral.executor import render_migration
        from umbral.migrate import state_before
        from umbral.plan import no_such_migration, parse_spec

        plugin, name = parse_spec(spec, "", "umbral sqlmigrate")
        self.env.info(plugin)
        # Rendered for the database the plugin lives in.
        backend, _ = self.for_alias(self.routing.get(plugin, DEFAULT_ALIAS))._backend()
        by_key = {m.key: m for m in self.env.all_migrations()}
        m = by_key.get(f"{plugin}/{name}")
        if m is None:
            raise UmbralError(no_such_migration("umbral sqlmigrate", f"{plugin}/{name}", by_key))
        rendered = render_migration(self.env.pm, backend, m, state_before(m, by_key))
        # Run by hand, the script must switch what migrate switches around it.
        rendered.script_before, rendered.script_after = backend.script_frame(rendered.needs_fk_off)
        return rendered

    def inspectdb(
        self,
        output: str | Path,
        *,
        source: str | None = None,
        plugin: str = "app",
        mark_applied: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> InspectResult:
        """Write models and an initial migration from ``source`` (default: this App's database).

        Read-only on the source; ``include`` / ``exclude`` are shell-style table name patterns.
        See :func:`umbral.inspect.inspectdb` (SPEC §11).
        """
        from umbral.inspect import inspectdb

        return inspectdb(
            source or self.database_url,
            self.root / output,
            plugin=plugin,
            mark_applied=mark_applied,
            include=include,
            exclude=exclude,
            root=self.root,
        )

    def squashmigrations(
        self, plugin: str, *, start: str | None = None, end: str | None = None
    ) -> Migration:
        """Write one migration replacing ``plugin``'s range ``start``..``end`` (SPEC §5)."""
        from umbral.makemigrations import write_all
        from umbral.squash import squash

        migration = squash(self.env, plugin, start=start, end=end)
        write_all([migration])
        self.env.forget_migrations()
        return migration

    def checkmigrations(self, allow_drift: bool = False) -> CheckReport:
        """Classify every operation ``migrate`` would run now (SPEC §10); refuse, as
        ``migrate`` does, missing or edited applied migrations unless ``allow_drift``."""
        from umbral.safety import CheckReport

        items = self.check_pending_safety(allow_drift)
        return CheckReport(items)

    def checkschema(self) -> SchemaCheck:
        """Compare the live schema with what each plugin's applied migrations promise; read
        only. ``render_repair`` turns the result into the SQL that repairs it."""
        from umbral import progress, recorder
        from umbral.database import connect
        from umbral.schemadrift import (
            LiveSchema,
            SchemaCheck,
            compare,
            junction_tables,
            outside,
            owned_tables,
            read_live,
        )

        backend, url = self._backend()
        scope = self.default_scope()
        with (
            connect(backend, url, create=False, source=self.url_source()) as conn,
            db_errors(url),
        ):
            partial = {
                key: p
                for key, p in progress.read(conn).items()
                if scope is None or key.partition("/")[0] in scope
            }
            if partial:
                # Between two snapshots: its finished statements are not drift.
                on_disk = {m.key for m in self.env.all_migrations()}
                gone = frozenset(partial) - on_disk
                return SchemaCheck([], [], [], LiveSchema(), partial, gone)
            applied = recorder.applied(conn)
            promises = _promises(self.env, applied, scope)
            live = read_live(conn, owned_tables(promises), junction_tables(promises))
        return SchemaCheck(
            promises=promises,
            differences=compare(promises, live, comments=backend.COLUMN_COMMENTS,
                                quote=backend.quote, actions_alike=backend.FK_ACTIONS_ALIKE,
                                integer_keys_alike=backend.INTEGER_KEYS_ALIKE,
                                drop_named=backend.drop_named_index,
                                types=_key_types(backend)),
            outside=outside(promises, live, recorder.OWN_TABLES),
            live=live,
        )  # fmt: skip

    def render_repair(self, check: SchemaCheck) -> Repair:
        """The repair operations rendered by the backend's renderers against the live tables,
        framed as ``migrate`` would run them."""
        from umbral.executor import render_migration
        from umbral.guards import not_compared
        from umbral.migration import Migration
        from umbral.safety import OpSafety, classify
        from umbral.schemadrift import Repair, by_plugin, live_state, lossy

        if check.partial:
            raise PartlyApplied(
                not_compared("umbral checkschema --sql", check.partial, check.partial_gone)
            )
        backend, url = self._backend()
        state = live_state(check.live, check.promises)
        promised = {p.plugin: p for p in check.promises}
        out = Repair([])
        rendered_ops = []
        needs_fk_off = False
        for plugin, diffs in by_plugin(check.differences).items():
            operations = [op for d in diffs for op in d.operations]
            if not operations:
                continue
            m = Migration(plugin, "checkschema", operations, promised[plugin].snapshot)
            rendered = render_migration(self.env.pm, backend, m, dict(state))
            needs_fk_off = needs_fk_off or rendered.needs_fk_off
            ctx = {"migration": m.key, "operations": operations}
            for op, (description, _), steps in zip(
                operations, rendered.parts, rendered.steps, strict=True
            ):
                unsafe = classify(self.env.pm, op, backend, ctx).tier is OpSafety.UNSAFE
                rendered_ops.append((description, steps, unsafe or lossy(op)))
        if not rendered_ops:
            return out
        from umbral.database import connect
        from umbral.errors import DatabaseError
        from umbral.steps import RunTimeStep, plain_sql
        from umbral.transaction import db_message, driver_errors

        # A step that looks the database up at run time (an index or a key found by its
        # columns, not its name) is looked up now: the script runs on this database, where
        # umbral's own name may not be the one it has.
        with (
            connect(backend, url, create=False, source=self.url_source()) as conn,
            db_errors(url),
        ):
            for description, steps, destructive in rendered_ops:
                statements: list[str] = []
                for step in steps:
                    if isinstance(step, RunTimeStep) and step.RESOLVES:
                        try:
                            statements += step.resolve(conn)
                        except driver_errors(conn) as exc:
                            raise DatabaseError(
                                f"umbral checkschema --sql: {db_message(exc)}"
                            ) from exc
                    else:
                        statements += plain_sql([step])
                out.operations.append((description, statements, destructive))
            conn.rollback()
        # Run by hand, the script must switch what migrate switches around it.
        out.before, out.after = backend.script_frame(needs_fk_off)
        return out

    def graph(self, plugin: str | None = None, *, states: bool = True) -> GraphResult:
        """The merged migration graph; with ``states``, each migration's drift state when the
        database can be read (``GraphResult.unread`` says why not otherwise)."""
        from umbral import graphviz

        if plugin is not None:
            self.env.info(plugin)  # an unknown plugin is an error naming the known ones
        self.env.accept_branches = True  # a graph is how one looks at two branches
        migrations = [m for p in self.env.plugin_names for m in self.env.migrations(p)]
        found: dict[str, tuple[str, str]] | None = None
        unread = None
        if states:
            try:  # every database's plugins: the graph spans them all
                found = {
                    e.key: (e.state.label, e.state.marker)
                    for alias in self.aliases()
                    for e in self.for_alias(alias).showmigrations()
                }
            except UmbralError as exc:
                unread = str(exc)
        nodes, edges = graphviz.build(migrations, found, plugin)
        return GraphResult(nodes, edges, unread)

    def plugins(self) -> list[PluginInfo]:
        """Every plugin: app plugins in order, then backends."""
        env = self.env
        apps = [env.infos[n] for n in env.order]
        backends = [i for n, i in sorted(env.infos.items()) if i.is_backend]
        return apps + backends

    def check_offline(
        self, since: str | None = None, backend: str | None = None
    ) -> tuple[str, list[Classified]]:
        """Classify, without a database, the migrations added since the git revision ``since``
        (default: the merge base of HEAD and ``main``); returns the revision and the findings.
        ``backend`` names the backend whose rules apply (default: the configured URL's)."""
        from umbral import vcs
        from umbral.safety import classify_migrations

        base = vcs.resolve_base(self.root, since)
        env = self.env
        directories = [d for p in env.plugin_names if (d := env.info(p).migrations_dir)]
        added = vcs.added_files(self.root, base, directories)
        migrations = [
            m
            for p in env.plugin_names
            for m in env.migrations(p)
            if m.path is not None and m.path.resolve() in added
        ]
        return base, classify_migrations(env.pm, migrations, self._named_backend(backend))

    def _named_backend(self, name: str | None) -> Backend:
        if name is None:
            return self.env.backend_for(self.database_url)
        for b in self.env.backends:
            if name == b.name or name in b.schemes:
                return b
        known = ", ".join(sorted(b.name for b in self.env.backends))
        raise ConfigError(
            f"umbral checkmigrations --offline: --backend {name!r}: no installed backend has "
            f"that name; known: {known}"
        )

    def check_pending_safety(self, allow_drift: bool = False) -> list[Classified]:
        """Classify every operation of every migration ``migrate`` would run; what
        ``migrate`` refuses (conflicts, drift unless ``allow_drift``) the check refuses."""
        from umbral import drift, recorder
        from umbral.database import connect
        from umbral.graph import Graph
        from umbral.guards import check_conflicts, refuse_drift
        from umbral.plan import forward
        from umbral.safety import classify_migrations

        backend, url = self._backend()
        graph = Graph(self.env.all_migrations(), self.env.file_order)
        with (
            connect(backend, url, create=False, source=self.url_source()) as conn,
            db_errors(url),
        ):
            applied = recorder.applied(conn)
            check_conflicts(self.env, applied)  # migrate would refuse: so does the check (SPEC §10)
            if not allow_drift:
                entries = drift.detect(graph, applied)
                refuse_drift(entries, self.env.disabled, "umbral checkmigrations")
            steps = forward(graph, applied)
        # A squash recorded without SQL runs none of its operations (SPEC §5).
        scope = self.default_scope()
        todo = [
            s.migration
            for s in steps
            if not s.record_only and (scope is None or s.migration.plugin in scope)
        ]
        if self.tenants is not None and self.alias == DEFAULT_ALIAS:
            todo += self._pending_in_tenants(graph)
        return classify_migrations(self.env.pm, todo, backend)

    def _pending_in_tenants(self, graph: Graph) -> list[Migration]:
        """The tenant plugins' migrations ``migrate --tenants`` would run in some tenant (a
        tenant that cannot be read is left out: its run fails first), each once, in order."""
        from umbral import tenants
        from umbral.drift import State

        waiting = (State.PENDING, State.OUT_OF_ORDER, State.PARTIAL)
        keys = {
            e.key
            for found in tenants.status(self, tenants.tenants_of(self))
            for e in found.entries
            if e.state in waiting and e.migration is not None
        }
        return [m for m in graph.order() if m.key in keys]


def _key_types(backend: Backend) -> dict[str, str]:
    """The SQL type the backend declares for a column holding a key of each field type (a
    junction's ``parent_id`` / ``child_id``: MySQL's for a ``Text`` key is a ``VARCHAR``)."""
    from umbral.schema import Column

    out = {}
    for storage in backend.TYPES:
        try:
            out[storage] = backend.sql_type(Column("key", "ForeignKey", fk_type=storage))
        except (KeyError, ValueError):
            continue
    return out


def _promises(
    env: Environment, applied: Mapping[str, str], scope: frozenset[str] | None
) -> list[Any]:
    """Per plugin with an applied migration (of ``scope``, when given): the snapshot of the
    last one applied; where two branches are applied without their merge, the merge of their
    snapshots."""
    from umbral.graph import leaves
    from umbral.migration import id_sequence
    from umbral.schemadrift import Promise

    out = []
    for plugin in env.plugin_names:  # names only: a broken models module does not matter here
        if scope is not None and plugin not in scope:
            continue
        done = [m for m in env.migrations(plugin) if m.key in applied]
        tips = leaves(done).get(plugin, [])
        if len(tips) > 1:
            merged = _merged_snapshot(plugin, done)
            if merged is not None:
                keys = " + ".join(sorted(t.key for t in tips))
                out.append(Promise(plugin, keys, merged))
                continue
        if done:
            last = max(done, key=lambda m: (id_sequence(m.id), m.id))
            out.append(Promise(plugin, last.key, last.snapshot_after))
    return out


def _merged_snapshot(plugin: str, done: list[Any]) -> Any:
    """The snapshot a merge of the applied branches would carry; None where they conflict."""
    from pathlib import Path

    from umbral.errors import MergeConflict
    from umbral.merge import merge_migration

    try:
        merge = merge_migration(plugin, done, Path())
    except MergeConflict:
        return None
    return merge.snapshot_after if merge is not None else None


def _check_run_options(options: RunOptions) -> None:
    """The CLI and the config refuse these; a caller of the Python API gets a ValueError."""
    for name in ("lock_wait", "lock_timeout", "statement_timeout"):
        value = getattr(options, name)
        if value is not None and not is_seconds(value):
            raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    retries = options.lock_retries
    if retries is not None and not is_count(retries):
        raise ValueError(f"lock_retries must be a whole number >= 0, not {retries!r}")
