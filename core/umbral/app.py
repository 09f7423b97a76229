"""``umbral.App``: the programmatic entry point (SPEC §3).

Every command is a method returning a structured result; the CLI only prints them. An App
mirrors the config keys: ``App(models=[...], database=..., plugins=[...], plugin_modules={...})``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from umbral.config import ProjectConfig, resolve_database, resolve_env
from umbral.errors import ConfigError, Refused, UmbralError

if TYPE_CHECKING:
    from umbral.autodetector import Backfill
    from umbral.backend import Backend
    from umbral.drift import Entry
    from umbral.environment import Environment
    from umbral.executor import Rendered
    from umbral.inspect import InspectResult
    from umbral.makemigrations import MakeMigrationsResult
    from umbral.migrate import MigrateResult
    from umbral.migration import Migration
    from umbral.plugins import PluginInfo
    from umbral.safety import CheckReport, Classified
    from umbral.schemadrift import SchemaCheck

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class GraphResult:
    nodes: list[Any]  # umbral.graphviz.Node
    edges: list[tuple[str, str]]
    unread: str | None = None  # why the database's states are not shown


DEFAULT_LOCK_WAIT = 300.0


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
        url = resolve_database(self._cli_database, self._config_database, self.database)
        if not url:
            raise ConfigError(
                "no database configured: set `database` in the project config, "
                "UMBRAL_DATABASE_URL, or pass --database URL"
            )
        return url

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
        lock_wait: float | None = None,
        lock_timeout: float | None = None,
        statement_timeout: float | None = None,
        lock_retries: int | None = None,
        environment: str | None = None,
        on_event: Event | None = None,
    ) -> MigrateResult:
        """Apply pending migrations (SPEC §8). Warnings go to ``on_event("warning", ...)``.

        ``environment`` (else UMBRAL_ENV, else the config's ``env``) is where this database
        runs: a pending migration whose ``skip_on`` names it is recorded as skipped, not run.

        On a database that holds nothing of umbral's, the schema of the plan's end is built
        from the migrations' snapshots and they are recorded in one transaction, up to the
        first migration that has to run as written (see ``umbral.fastpath``); ``replay`` runs
        every migration instead. ``result.path`` says which path and why.
        """
        from umbral import executor, recorder
        from umbral.database import connect
        from umbral.drift import State
        from umbral.migrate import MigrateResult, Migrator

        result = MigrateResult()

        def warn(text: str) -> None:
            result.warnings.append(text)
            if on_event:
                on_event("warning", {"message": text})

        url = self.database_url
        backend = self.env.backend_for(url)
        if backend.is_in_memory(url) and not allow_in_memory:
            raise Refused(
                "umbral migrate: refusing to migrate an in-memory database: the schema would "
                "vanish when this process exits (is the project config being found?); pass "
                "--allow-in-memory if this is intended"
            )
        if fake is not None:
            from umbral.migrate import parse_spec

            parse_spec(fake, "--fake")  # a malformed spec fails before anything else
        if target is not None:
            from umbral.migrate import parse_spec

            parse_spec(target, "")
        self.env.all_migrations()  # validate every file before touching the database
        env_name = resolve_env(environment, self.environment)
        wait = lock_wait if lock_wait is not None else (self.lock_wait or DEFAULT_LOCK_WAIT)
        if hasattr(backend, "busy_timeout"):
            backend.busy_timeout = wait
        given = {"lock_timeout": lock_timeout, "statement_timeout": statement_timeout,
                 "lock_retries": lock_retries}  # fmt: skip
        for key, value in given.items():
            value = value if value is not None else self.timeouts.get(key)
            if value is not None:
                setattr(backend, key, value)
            else:  # backends are shared objects: drop what an earlier run set
                vars(backend).pop(key, None)
        with (
            # --plan only reads: it does not create a database that is not there.
            connect(backend, backend.normalize_url(url, self.root), create=not plan) as conn,
            _db_errors(url, backend, wait),
            backend.migration_lock(conn, wait),
        ):
            m = Migrator(self.env, backend, conn)
            applied = m.applied()
            m.skipped = recorder.skipped(conn)
            # After reading the tracking rows: a dependency that is neither on disk nor
            # applied is named as such, not taken for two branches.
            m.check_conflicts(applied)
            if fake is not None:
                result.message = m.fake(fake)
                return result
            if prune:  # bookkeeping only: drift is what it clears, so it is not checked
                result.pruned = m.orphans(applied)
                if not plan and result.pruned:
                    m.prune(result.pruned)
                return result
            entries = m.entries(applied)
            m.check_drift(entries, allow_drift, warn)
            for e in entries:
                if e.state is State.OUT_OF_ORDER:
                    warn(
                        f"umbral migrate: migration {e.key} is on disk but appears before the "
                        "last applied migration of its plugin; applying it out of order"
                    )
            if target is not None and m.is_backward(target, applied):
                undo = [
                    m.render_backward(x, allow_irreversible)
                    for x in m.backward_plan(target, applied)
                ]
                if not allow_destructive:
                    _destructive_gate(self.env.pm, backend, undo)
                result.plan = undo
                if not plan:
                    result.unapplied = executor.apply_plan(conn, backend, undo, on_event)
                return result
            if fake_initial:  # decided before anything is written, so --plan can show it
                result.faked = m.initial_to_fake(applied)
                applied = {**applied, **{k: m.by_key[k].checksum for k in result.faked}}
            todo = m.pending_plan(applied, target)
            covered = 0
            if todo and not fake_initial and not applied:
                covered, result.path = _choose_path(conn, todo, replay)
            if covered:
                from umbral import fastpath

                result.fast = fastpath.render(
                    self.env.pm, backend, todo[:covered], self.env.file_order
                )
            rendered = [m.render(x, env_name) for x in todo[covered:]]
            if not allow_destructive:
                # The same refusal as a replay: the covered migrations are gated as well.
                head = [executor.Rendered(x, []) for x in todo[:covered]]
                _destructive_gate(self.env.pm, backend, head + rendered)
            result.plan = rendered
            if plan:
                return result
            with executor.write_transaction(conn, backend):
                recorder.ensure_table(conn)
                if any(r.skipped for r in rendered):
                    recorder.ensure_skip_column(conn)
            if fake_initial:
                m.record_faked(result.faked)
                if on_event:
                    on_event("faked", {"count": len(result.faked)})
            done: list[str] = []
            if result.fast is not None:
                done = _apply_fast(conn, backend, result, todo, m, env_name, warn, on_event)
                rendered = result.plan
            done += executor.apply_plan(conn, backend, rendered, on_event)
            # A squash recorded because its last originals ran in this run is bookkeeping of
            # those, not one more applied migration.
            gated = {r.migration.key for r in rendered if r.skipped}
            result.skipped = [k for k in done if k in gated]
            result.applied = [k for k in done if k not in m.completed_squashes and k not in gated]
        return result

    def showmigrations(self) -> list[Entry]:
        """Every migration with its drift state (SPEC §9), plugins alphabetical.

        Reads the migration files and the tracking table only: the plugins' models are not
        loaded (a broken model does not hide where the database stands)."""
        from umbral import drift, recorder
        from umbral.database import connect

        backend, url = self._backend()
        migrations = [m for p in self.env.plugin_names for m in self.env.migrations(p)]
        with connect(backend, url, create=False) as conn, _db_errors(url):
            return drift.detect(migrations, recorder.applied(conn), recorder.skipped(conn))

    def sqlmigrate(self, spec: str) -> Rendered:
        """The SQL of one migration for the configured backend; no database is opened."""
        from umbral.executor import render_migration
        from umbral.migrate import no_such_migration, parse_spec, state_before

        plugin, name = parse_spec(spec, "", "umbral sqlmigrate")
        self.env.info(plugin)
        backend, _ = self._backend()
        by_key = {m.key: m for m in self.env.all_migrations()}
        m = by_key.get(f"{plugin}/{name}")
        if m is None:
            raise UmbralError(no_such_migration("umbral sqlmigrate", f"{plugin}/{name}", by_key))
        return render_migration(self.env.pm, backend, m, state_before(m, by_key))

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

    def checkmigrations(self) -> CheckReport:
        """Classify every operation ``migrate`` would run now (SPEC §10)."""
        from umbral.safety import CheckReport

        items = self.check_pending_safety()
        return CheckReport(items)

    def checkschema(self) -> SchemaCheck:
        """Compare the live schema with what each plugin's applied migrations promise; read
        only. ``render_repair`` turns the result into the SQL that repairs it."""
        from umbral import recorder
        from umbral.database import connect
        from umbral.schemadrift import SchemaCheck, compare, outside, owned_tables, read_live

        backend, url = self._backend()
        with connect(backend, url, create=False) as conn, _db_errors(url):
            applied = recorder.applied(conn)
            promises = _promises(self.env, applied)
            live = read_live(conn, owned_tables(promises))
        return SchemaCheck(
            promises=promises,
            differences=compare(promises, live, comments=backend.COLUMN_COMMENTS,
                                quote=backend.quote),
            outside=outside(promises, live, recorder.TABLE),
            live=live,
        )  # fmt: skip

    def render_repair(self, check: SchemaCheck) -> list[tuple[str, list[str], bool]]:
        """``(description, statements, destructive)`` per repair operation, in order, rendered
        by the backend's renderers against the live tables."""
        from umbral.executor import render_migration
        from umbral.migration import Migration
        from umbral.safety import OpSafety, classify
        from umbral.schemadrift import by_plugin, live_state, lossy

        backend, _ = self._backend()
        state = live_state(check.live, check.promises)
        promised = {p.plugin: p for p in check.promises}
        out: list[tuple[str, list[str], bool]] = []
        for plugin, diffs in by_plugin(check.differences).items():
            operations = [op for d in diffs for op in d.operations]
            if not operations:
                continue
            m = Migration(plugin, "checkschema", operations, promised[plugin].snapshot)
            rendered = render_migration(self.env.pm, backend, m, dict(state))
            ctx = {"migration": m.key, "operations": operations}
            for op, (description, statements) in zip(operations, rendered.parts, strict=True):
                unsafe = classify(self.env.pm, op, backend, ctx).tier is OpSafety.UNSAFE
                out.append((description, statements, unsafe or lossy(op)))
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
            try:
                found = {e.key: (e.state.label, e.state.marker) for e in self.showmigrations()}
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

    def check_pending_safety(self) -> list[Classified]:
        """Classify every operation of every migration ``migrate`` would run."""
        from umbral.database import connect
        from umbral.migrate import Migrator
        from umbral.safety import classify_migrations

        backend, url = self._backend()
        self.env.all_migrations()
        with connect(backend, url, create=False) as conn, _db_errors(url):
            m = Migrator(self.env, backend, conn)
            applied = m.applied()
            m.check_conflicts(applied)  # migrate would refuse: so does the check (SPEC §10)
            todo = m.pending_plan(applied)
            # A squash recorded without SQL runs none of its operations (SPEC §5).
            todo = [x for x in todo if x.key not in m.record_only]
        return classify_migrations(self.env.pm, todo, backend)


def _choose_path(conn: Any, todo: list[Migration], replay: bool) -> tuple[int, str]:
    """How many migrations at the head of ``todo`` the fast path covers on this database
    without tracking rows, and the sentence saying which path the run takes and why."""
    from umbral import fastpath, recorder

    if recorder.has_table(conn):
        conn.rollback()  # the inspector's read opened a transaction
        return 0, ""  # tracked, even if empty: the database is not fresh
    conn.rollback()
    found = fastpath.umbral_tables(conn, todo)
    if found:
        return 0, (
            f"replay: the database already holds {', '.join(found)}, so the schema is not "
            "built from the snapshots"
        )
    if replay:
        return 0, "replay: --replay given; every migration runs as written"
    covered, why = fastpath.split(todo)
    if not covered:
        tail = "" if why.endswith("does not show") else ", whose effect no snapshot holds"
        return 0, f"replay: the database is empty, but {why}{tail}"
    head = (
        f"fast path: the database is empty; the schema of {todo[covered - 1].key} is built "
        f"from the snapshots and {covered} migration(s) are recorded in one transaction"
    )
    if why is None:
        return covered, head
    return covered, f"{head}; then replay from {todo[covered].key}: {why.split(' ', 1)[1]}"


def _apply_fast(
    conn: Any,
    backend: Backend,
    result: MigrateResult,
    todo: list[Migration],
    migrator: Any,
    environment: str | None,
    warn: Callable[[str], None],
    on_event: Event | None,
) -> list[str]:
    """Run the fast path of ``result``; if the database refuses its SQL, nothing of it stays
    and every migration is replayed instead (``result.plan`` then holds them all). Progress
    is reported as one step from the first covered migration to the last."""
    from umbral import executor, fastpath

    assert result.fast is not None
    covered = result.fast.covered
    try:
        if on_event:
            on_event("start", {"migration": covered[0].key, "index": 1, "total": len(covered)})
        done = fastpath.apply(conn, backend, result.fast)
        if on_event:
            on_event("done", {"migration": covered[-1].key, "index": len(covered),
                              "total": len(covered)})  # fmt: skip
        return done
    except executor.driver_errors(conn) as exc:
        from umbral.migrate import translate_db_errors

        reason = translate_db_errors(exc, "")
        warn(
            f"umbral migrate: building the schema from the snapshots failed ({reason}); "
            "nothing of it was kept, replaying every migration instead"
        )
        result.fast = None
        result.plan = [migrator.render(x, environment) for x in todo]
        return []


def _promises(env: Environment, applied: Mapping[str, str]) -> list[Any]:
    """Per plugin with an applied migration: the snapshot of the last one applied."""
    from umbral.migration import id_sequence
    from umbral.schemadrift import Promise

    out = []
    for plugin in env.plugin_names:  # names only: a broken models module does not matter here
        done = [m for m in env.migrations(plugin) if m.key in applied]
        if done:
            last = max(done, key=lambda m: (id_sequence(m.id), m.id))
            out.append(Promise(plugin, last.key, last.snapshot_after))
    return out


# What to do about a refused run. Forward, the operations come from files not yet applied, so
# they can still be deleted and written again; a rename written as a drop and a create is the
# usual surprise.
_DESTRUCTIVE = (
    "Nothing was applied. If this data is not meant to go (a model or field removed by "
    "mistake, or a rename makemigrations wrote as a drop and a create), delete the unapplied "
    "migration file(s) named above, correct the models and run makemigrations again, or write "
    "the rename by hand (RenameTable, RenameColumn); if the data loss is intended, re-run with "
    "--allow-destructive."
)
_DESTRUCTIVE_BACKWARD = (
    "Nothing was un-applied. Un-applying these migrations removes what they added, with its "
    "data; if that is intended, re-run with --allow-destructive."
)


def _destructive_gate(pm: Any, backend: Any, rendered: list[Rendered]) -> None:
    """Refuse the run when any operation about to run is UNSAFE (SPEC §8 guards)."""
    from umbral.safety import OpSafety, classify

    lines = []
    for r in rendered:
        if r.record_only:  # a squash whose replaced migrations all ran: no SQL runs (SPEC §5)
            continue
        for op in r.migration.operations:  # for a backward run: the reverse operations
            ctx = {"migration": r.migration.key, "operations": r.migration.operations}
            finding = classify(pm, op, backend, ctx)
            if finding.tier is OpSafety.UNSAFE:
                lines.append(f"    [UNSAFE] {r.migration.key}: {finding.message}")
    if lines:
        err = Refused(
            f"umbral migrate: {len(lines)} pending destructive operation(s) would DESTROY DATA:"
        )
        err.details = (*lines, _DESTRUCTIVE_BACKWARD if rendered[0].backward else _DESTRUCTIVE)
        raise err


class _db_errors:
    """Turn driver errors raised outside a migration into one-line DatabaseErrors. With the
    run's backend and ``--lock-wait``, an expired wait for another process's lock says so."""

    def __init__(self, url: str, backend: Backend | None = None, wait: float = 0.0) -> None:
        self.url = url
        self.backend = backend
        self.wait = wait

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc is None:
            return False
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):
            from umbral.config import mask_url
            from umbral.database import scrub
            from umbral.errors import DatabaseError

            if self.backend is not None and self.backend.lock_wait_expired(exc):
                raise DatabaseError(
                    f"umbral migrate: another process holds the write lock on database "
                    f"{mask_url(self.url)} (another `umbral migrate`, or an application "
                    f"writing to it); waited {self.wait:g}s for it, as --lock-wait allows. "
                    "Re-run when it is done, or give it longer with --lock-wait SECONDS"
                ) from exc
            orig = getattr(exc, "orig", None) or exc
            reason = scrub(str(orig).strip().splitlines()[0], self.url)
            raise DatabaseError(f"database {mask_url(self.url)}: {reason}") from exc
        return False
