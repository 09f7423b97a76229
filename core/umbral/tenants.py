"""Tenant schemas: one project migrated into many schemas (``[tool.umbral.tenants]``).

The shared plugins live in the default schema and migrate there once; every other plugin
migrates in each tenant's schema, with that schema's own tracking table and migration lock.
A tenant runs with its schema first on the search path and the default schema after it
(``Backend.schema_session`` on a connection its worker keeps; ``Backend.schema_url`` for one
read on its own), so what umbral creates lands in the tenant's schema while its tables may
reference the shared ones. Tenants run in parallel over ``jobs`` workers; a migration renders
once for all of them (``umbral.migrate.RenderCache``). A tenant may live on another server
(``URL#schema``): each server's own locks are the only coordination.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import field
from typing import TYPE_CHECKING, Any

from umbral.config import DEFAULT_ALIAS, mask_url
from umbral.drift import State, detect
from umbral.errors import ConfigError, UmbralError
from umbral.graph import Graph
from umbral.values import frozen, record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.app import App
    from umbral.backend import Backend, RunOptions
    from umbral.drift import Entry
    from umbral.migrate import MigrateResult

#: How many tenants migrate at once when neither ``--jobs`` nor ``tenants.jobs`` says: each
#: worker holds one connection per server, well inside a server's defaults.
DEFAULT_JOBS = 8


@frozen
class Tenant:
    """One tenant: its schema, on the default database or on the server ``url`` names."""

    schema: str
    url: str | None = None

    @property
    def name(self) -> str:
        """How output names it: the schema, or ``URL#schema`` with the password masked."""
        return self.schema if self.url is None else f"{mask_url(self.url)}#{self.schema}"


@record
class Outcome:
    """How one tenant's run went: ``applied`` keys, or ``error``; ``ran`` is False for a
    tenant never started (``fail_fast`` after another's failure)."""

    tenant: Tenant
    applied: list[str] = field(default_factory=list)
    error: str | None = None
    ran: bool = True
    seconds: float = 0.0
    #: What its run warned about (an out-of-order file, a lock retry).
    warnings: list[str] = field(default_factory=list)
    #: What ``--fake`` recorded in it.
    message: str | None = None

    @property
    def state(self) -> str:
        if not self.ran:
            return "not run"
        if self.error is not None:
            return "failed"
        return "applied" if self.applied else "up to date"


@record
class FleetResult:
    """``migrate --tenants``: the default schema's run, then each tenant's, in the order
    they finished."""

    shared: MigrateResult | None = None
    #: The shared plugins' runs on the other servers tenants live on (or why one failed).
    servers: dict[str, MigrateResult | str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == "failed"]


@record
class TenantStatus:
    """``showmigrations --tenants``: one tenant's entries, or why they cannot be read."""

    tenant: Tenant
    entries: list[Entry] = field(default_factory=list)
    error: str | None = None


# -- which tenants --------------------------------------------------------------------------


def parse_entry(entry: str) -> Tenant:
    """``schema``, or ``URL#schema`` for a tenant on another server."""
    url, sep, schema = entry.rpartition("#")
    if not sep:
        return Tenant(entry)
    if "://" not in url or not schema:
        raise ConfigError(
            f"tenant {mask_url(entry)!r} is neither a schema name nor URL#schema "
            "(a database URL, then # and the schema)"
        )
    return Tenant(schema, url)


def tenants_of(app: App, only: str | None = None) -> list[Tenant]:
    """The configured tenants (``schemas``, or the rows of ``query`` on the default database),
    or only the one named ``only`` (its schema or its ``URL#schema``)."""
    config = _config(app)
    if config.schemas is not None:
        found = [parse_entry(s) for s in config.schemas]
    else:
        found = _queried(app, str(config.query))
    unique = list(dict.fromkeys(found))  # a tenant listed twice runs once
    if only is None:
        return unique
    chosen = [
        t for t in unique if only in (t.schema, t.name) or (t.url and only == f"{t.url}#{t.schema}")
    ]
    if not chosen:
        known = ", ".join(t.name for t in unique[:5]) + (", ..." if len(unique) > 5 else "")
        raise ConfigError(f"--tenant {only}: no such tenant (tenants: {known or 'none'})")
    return chosen


def _config(app: App) -> Any:
    if app.tenants is None:
        raise ConfigError(
            "no tenants configured: add [tool.umbral.tenants] with `schemas` or `query` "
            "(docs/tenants.md)"
        )
    return app.tenants


def _queried(app: App, query: str) -> list[Tenant]:
    """Tenants from a query on the default database: one column (``schema`` or
    ``URL#schema``) or two (the server's URL, NULL for the default one, and the schema)."""
    from umbral.database import connect, db_errors, driver_cursor
    from umbral.transaction import db_message, driver_errors

    backend, url = app._backend()
    with connect(backend, url, create=False) as conn, db_errors(url):
        # The driver's own cursor without parameters: a `%` of the query is not a placeholder.
        cursor = driver_cursor(conn)
        try:
            cursor.execute(query)
            rows = cursor.fetchall()
        except driver_errors(conn) as exc:
            raise ConfigError(f"tenants.query failed: {db_message(exc)}") from exc
        finally:
            conn.rollback()
    out = []
    for row in rows:
        if len(row) == 1 and isinstance(row[0], str):
            out.append(parse_entry(row[0]))
        elif len(row) == 2 and isinstance(row[1], str):
            out.append(Tenant(row[1], str(row[0]) if row[0] is not None else None))
        else:
            raise ConfigError(
                "tenants.query must return one column (the schema, or URL#schema) or two "
                f"(the server's URL or NULL, and the schema); it returned {tuple(row)!r}"
            )
    return out


def tenant_scope(app: App) -> frozenset[str]:
    """The plugins each tenant's schema holds: those of the default database but the shared
    ones."""
    shared = app.default_scope() or frozenset()
    home = app.alias_plugins(DEFAULT_ALIAS)
    return frozenset(
        p for p in app.env.plugin_names if p not in shared and (home is None or p in home)
    )


# -- the schemas ----------------------------------------------------------------------------


@record
class _Server:
    """What one server's schemas look like before the tenants run (``prepare``)."""

    url: str
    shared: str = ""
    #: Why none of its tenants can run (the server cannot be reached, or its own shared
    #: plugins failed to migrate), or None.
    error: str | None = None
    #: Schema -> why it cannot be migrated (missing, and not to be created).
    missing: dict[str, str] = field(default_factory=dict)
    #: Schema -> its tracking rows (``plugin/name`` -> checksum), read in a few queries for
    #: the whole server, and the schemas with a partly applied migration.
    tracked: dict[str, dict[str, str]] = field(default_factory=dict)
    partial: dict[str, dict[str, str]] = field(default_factory=dict)


def prepare(
    app: App, tenants: Sequence[Tenant], *, create: bool, write: bool, wait: float
) -> dict[str | None, _Server]:
    """Per server: create the tenants' schemas that are missing (``create``) and the tracking
    tables of those without (``write``), under the server's default-schema migration lock, so
    two runs never create the same one at once (a tenant's reads then never fall through to
    the default schema's tracking table); then read every tenant's tracking rows. A server
    that fails here fails its tenants only."""
    servers: dict[str | None, _Server] = {}
    for url in dict.fromkeys(t.url for t in tenants):
        schemas = [t.schema for t in tenants if t.url == url]
        server = servers[url] = _Server(url or app.database_url)
        try:
            _prepare_server(app, server, schemas, create=create, write=write, wait=wait)
        except UmbralError as exc:
            if url is None:
                raise  # the default database: nothing can run
            server.error = str(exc)
    return servers


def _prepare_server(
    app: App, server: _Server, schemas: list[str], *, create: bool, write: bool, wait: float
) -> None:
    from umbral import progress, recorder
    from umbral.database import connect, db_errors

    backend = app.env.backend_for(server.url)
    normalized = backend.normalize_url(server.url, app.root)
    source = app.url_source(server.url)
    with connect(backend, normalized, create=write, source=source) as conn, db_errors(normalized):
        server.shared = str(conn.dialect.default_schema_name)
        # A backend without schemas says so here, before anything is written.
        backend.schema_url(server.url, server.shared, server.shared)
        unfit = {s: why for s in schemas if (why := _unfit(backend, server.shared, s))}
        schemas = [s for s in schemas if s not in unfit]
        if not write:
            existing = _schemas(conn)
            server.missing = {s: _missing(s) for s in schemas if s not in existing} | unfit
            tables = {t: _schemas_with(conn, t) for t in (recorder.TABLE, progress.TABLE)}
            _read(conn, server, [s for s in schemas if s in existing], tables)
            conn.rollback()
            return
        with backend.for_run(app.run_options(lock_wait=wait)).migration_lock(conn, wait):
            existing = _schemas(conn)
            quote = conn.dialect.identifier_preparer.quote
            server.missing = {s: _missing(s) for s in schemas if s not in existing and not create}
            server.missing |= unfit
            have = {t: _schemas_with(conn, t) for t in (recorder.TABLE, progress.TABLE)}
            conn.commit()
            for schema in schemas:
                if schema in server.missing:
                    continue
                # A transaction per schema: one for a thousand would run out of locks.
                if schema not in existing:
                    conn.exec_driver_sql(f"CREATE SCHEMA {quote(schema)}")
                for table, sql in (
                    (recorder.TABLE, backend.tracking_table_sql),
                    (progress.TABLE, backend.progress_table_sql),
                ):
                    if schema not in have[table]:
                        conn.exec_driver_sql(sql(f"{quote(schema)}.{quote(table)}"))
                conn.commit()
            ready = [s for s in schemas if s not in server.missing]
            _read(conn, server, ready, {t: set(ready) for t in have})  # all have both now
            conn.rollback()


def _read(
    conn: Connection, server: _Server, schemas: list[str], tables: dict[str, set[str]]
) -> None:
    """The tracking rows of each of ``schemas`` and which have a partly applied migration;
    ``tables``: umbral's table -> the schemas that have it (the others have no rows)."""
    from umbral import progress, recorder

    def rows(table: str, columns: str) -> dict[str, dict[str, str]]:
        found = {s: {} for s in schemas}
        found.update(_rows(conn, [s for s in schemas if s in tables[table]], table, columns))
        return found

    server.tracked = rows(recorder.TABLE, "plugin, name, checksum")
    server.partial = {s: r for s, r in rows(progress.TABLE, "plugin, name, done").items() if r}


def _rows(conn: Connection, schemas: list[str], table: str, columns: str) -> dict[str, Any]:
    """Each schema's rows of ``table`` (three columns: ``plugin/name`` -> the third), a few
    hundred schemas a query: one round trip instead of a connection per tenant."""
    quote = conn.dialect.identifier_preparer.quote
    out: dict[str, dict[str, str]] = {s: {} for s in schemas}
    for start in range(0, len(schemas), 250):
        chunk = schemas[start : start + 250]
        sql = " UNION ALL ".join(
            f"SELECT {i + start}, {columns} FROM {quote(s)}.{quote(table)}"
            for i, s in enumerate(chunk)
        )
        for index, plugin, name, value in conn.exec_driver_sql(sql):
            out[schemas[index]][f"{plugin}/{name}"] = str(value)
    return out


def _unfit(backend: Backend, shared: str, schema: str) -> str | None:
    """Why ``schema`` cannot be a tenant's, or None."""
    if schema == shared:
        return (
            f"schema `{schema}` is the database's default schema, where the shared plugins "
            "and the default tracking table live: a tenant needs a schema of its own"
        )
    refused = backend.system_schema(schema)
    if refused is not None:
        return f"schema `{schema}` is {refused}: a tenant needs a schema of its own"
    if "%" in schema:
        return f"schema name `{schema}` holds `%`, which umbral's statements cannot carry"
    if backend.fit(schema) != schema:
        return (
            f"schema name `{schema}` is longer than the database keeps "
            f"({backend.IDENTIFIER_LIMIT}): it would be cut short; give the tenant a shorter one"
        )
    return None


def _missing(schema: str) -> str:
    return f"schema `{schema}` does not exist: create it, or pass --create"


def _schemas(conn: Connection) -> set[str]:
    rows = conn.exec_driver_sql("SELECT schema_name FROM information_schema.schemata")
    return {str(r[0]) for r in rows}


def _schemas_with(conn: Connection, table: str) -> set[str]:
    from umbral.recorder import placeholders

    rows = conn.exec_driver_sql(
        placeholders(
            conn, "SELECT table_schema FROM information_schema.tables WHERE table_name = ?"
        ),
        (table,),
    )
    return {str(r[0]) for r in rows}


# -- migrate and showmigrations -------------------------------------------------------------


def migrate(
    app: App,
    tenants: Sequence[Tenant],
    *,
    jobs: int | None = None,
    create: bool = False,
    fail_fast: bool = False,
    lock_wait: float | None = None,
    on_shared: Callable[[MigrateResult], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    fake: str | None = None,
    from_statement: int | None = None,
    prune: bool = False,
    **options: Any,
) -> FleetResult:
    """Migrate the default schema (its shared plugins), then every tenant in parallel over
    ``jobs`` connections. One tenant's failure does not stop the others unless ``fail_fast``;
    ``on_shared`` hears the default schema's run, ``on_outcome`` each tenant as it finishes
    (both from the calling thread). ``fake``, ``from_statement`` and ``prune`` are a tenant's
    own (the default schema migrates without them): the CLI allows them for one tenant only."""
    from umbral.database import db_errors
    from umbral.migrate import Migrator, RenderCache
    from umbral.session import Session

    result = FleetResult()
    result.shared = app.migrate(lock_wait=lock_wait, **options)
    if on_shared is not None:
        on_shared(result.shared)
    wait = app.run_options(lock_wait=lock_wait).lock_wait
    for url in dict.fromkeys(t.url for t in tenants if t.url is not None):
        try:  # each other server holds the shared plugins too, for its tenants' keys
            result.servers[url] = app.migrate(database=url, lock_wait=lock_wait, **options)
        except UmbralError as exc:
            result.servers[url] = str(exc)
    servers = prepare(app, tenants, create=create, write=True, wait=wait)
    for url, done in result.servers.items():
        if isinstance(done, str):
            servers[url].error = f"its server's shared plugins failed to migrate: {done}"
    scope = tenant_scope(app)
    graph = Graph(app.env.all_migrations(), app.env.file_order)  # loaded before the threads
    given = {k: v for k, v in options.items() if k != "allow_in_memory"}
    request, run = app.migrate_request(
        scope=scope, lock_wait=lock_wait, fake=fake, from_statement=from_statement,
        prune=prune, **given,
    )  # fmt: skip
    # Bookkeeping asked for by name is done even where the rows read say nothing is behind.
    asked = fake is not None or from_statement is not None or prune
    renders = RenderCache()
    stop = threading.Event()

    def one(
        tenant: Tenant, held: dict[str, tuple[Connection, Backend]], stack: ExitStack
    ) -> Outcome:
        server = servers[tenant.url]
        if server.error is not None:
            return Outcome(tenant, error=server.error)
        if tenant.schema in server.missing:
            return Outcome(tenant, error=server.missing[tenant.schema])
        if not asked and _up_to_date(graph, scope, server, tenant.schema):
            return Outcome(tenant)  # known from the rows read for the whole server
        if stop.is_set():
            return Outcome(tenant, ran=False)
        started = time.perf_counter()
        try:
            if server.url not in held:
                held[server.url] = _open(app, server.url, run, stack)
            conn, backend = held[server.url]
            with (
                db_errors(server.url, backend, wait),
                backend.schema_session(conn, tenant.schema, server.shared, wait),
            ):
                done = Migrator(app.env, Session(conn, backend), request, renders).run()
        except UmbralError as exc:
            # Its connection may have died with it: the worker's next tenant opens another.
            dropped = held.pop(server.url, None)
            if dropped is not None:
                with suppress(Exception):
                    dropped[0].invalidate()
            if fail_fast:
                stop.set()
            # The whole message: a refusal's details say what and how (its first line alone
            # told neither).
            error = "\n".join([str(exc), *getattr(exc, "details", ())])
            return Outcome(tenant, error=error, seconds=time.perf_counter() - started)
        return Outcome(
            tenant, done.applied, seconds=time.perf_counter() - started,
            warnings=done.warnings, message=_said(done, prune),
        )  # fmt: skip

    for outcome in _workers(one, tenants, _jobs(app, jobs, len(tenants)), stop):
        result.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return result


def _said(done: MigrateResult, prune: bool) -> str | None:
    """What a tenant's ``--fake`` or ``--prune`` did, in the words of a one-database run."""
    if not prune:
        return done.message or None
    if not done.pruned:
        return "No orphan tracking rows to prune"
    return "\n".join(
        f"Pruned {key} (tracking row deleted; the schema is not touched)" for key in done.pruned
    )


def _open(app: App, url: str, run: RunOptions, stack: ExitStack) -> tuple[Connection, Backend]:
    """A connection a worker keeps for the tenants of one server, with the run's session
    settings; closed when the worker ends."""
    from umbral.database import connect

    backend = app.env.backend_for(url).for_run(run)
    normalized = backend.normalize_url(url, app.root)
    conn = stack.enter_context(connect(backend, normalized, source=app.url_source(url)))
    backend.session_setup(conn)
    stack.callback(_flush, conn, backend)  # before it closes: the run's commits are durable
    return conn, backend


def _flush(conn: Connection, backend: Backend) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    with suppress(SQLAlchemyError):  # a connection that died has nothing left to flush
        backend.flush(conn)


def _workers(
    work: Callable[[Tenant, dict[str, Any], ExitStack], Outcome],
    tenants: Sequence[Tenant],
    jobs: int,
    stop: threading.Event,
) -> Iterator[Outcome]:
    """``work`` for each tenant on ``jobs`` threads, each keeping its connections across the
    tenants it takes (a connection per tenant would cost more than most tenants' SQL);
    outcomes are yielded in the calling thread as they come. A bug in a worker is raised
    here, after the others were told to stop."""
    todo: queue.SimpleQueue[Tenant] = queue.SimpleQueue()
    for tenant in tenants:
        todo.put(tenant)
    done: queue.SimpleQueue[Outcome | BaseException | None] = queue.SimpleQueue()

    def worker() -> None:
        try:
            held: dict[str, Any] = {}
            with ExitStack() as stack:
                while True:
                    try:
                        tenant = todo.get_nowait()
                    except queue.Empty:
                        break
                    done.put(work(tenant, held, stack))
        except BaseException as exc:  # re-raised by the calling thread
            done.put(exc)
        finally:
            done.put(None)

    threads = [
        threading.Thread(target=worker, name=f"umbral-tenant-{i}", daemon=True) for i in range(jobs)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    while running:
        try:
            item = done.get(timeout=0.5)  # a timeout keeps Ctrl-C deliverable
        except queue.Empty:
            continue
        if item is None:
            running -= 1
        elif isinstance(item, BaseException):
            stop.set()
            raise item
        else:
            yield item
    for thread in threads:
        thread.join()


def _up_to_date(graph: Graph, scope: frozenset[str], server: _Server, schema: str) -> bool:
    """Whether the tenant's rows show every migration of its plugins applied, none partly,
    none edited or missing: then its run would do nothing, and no connection is opened. Read
    before its lock is taken: a tenant found behind runs as usual, under its lock."""
    if schema in server.partial or schema not in server.tracked:
        return False
    done = (State.APPLIED, State.SKIPPED)
    entries = detect(graph, server.tracked[schema])
    return all(e.state in done for e in entries if e.plugin in scope)


def status(app: App, tenants: Sequence[Tenant], *, full: bool = False) -> list[TenantStatus]:
    """Each tenant's migrations with their states, in the tenants' order; read only. The
    tenants are read in a few queries per server (the states, without a partly applied
    migration's details or a skipped one's environment); ``full`` reads each as
    ``showmigrations`` reads a database, details included."""
    servers = prepare(app, tenants, create=False, write=False, wait=0.0)
    scope = tenant_scope(app)
    migrations = [m for m in app.env.all_migrations() if m.plugin in scope]
    graph = Graph(migrations, app.env.file_order)

    def one(tenant: Tenant) -> TenantStatus:
        server = servers[tenant.url]
        if server.error is not None:
            return TenantStatus(tenant, error=server.error)
        if tenant.schema in server.missing:
            return TenantStatus(tenant, error=server.missing[tenant.schema])
        if not full:
            stopped = dict.fromkeys(server.partial.get(tenant.schema, {}))
            rows = server.tracked[tenant.schema]
            return TenantStatus(tenant, detect(graph, rows, {}, stopped))  # type: ignore[arg-type]
        backend = app.env.backend_for(server.url)
        url = backend.schema_url(server.url, tenant.schema, server.shared)
        try:
            return TenantStatus(tenant, app.showmigrations(database=url, scope=scope))
        except UmbralError as exc:
            return TenantStatus(tenant, error=str(exc))

    return [one(t) for t in tenants]


def _jobs(app: App, jobs: int | None, count: int) -> int:
    chosen = jobs or (app.tenants.jobs if app.tenants else None) or DEFAULT_JOBS
    return max(1, min(chosen, count))
