"""Apply migrations: render each one, then run it in one transaction with its tracking row.

The executor never prints; it reports through an ``on_event`` callback. Rendering happens
before the transaction opens, so a render error changes nothing and the executor knows whether
the migration rebuilds a table (foreign keys must be switched off before BEGIN on SQLite).
Concurrency: each migration is re-checked inside its transaction (which holds the write lock on
SQLite, ``BEGIN IMMEDIATE``) and skipped when another process applied it meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from umbral import recorder
from umbral.backend import Backend, RenderContext
from umbral.errors import MigrationFailed, UmbralError, UnsupportedChange
from umbral.migration import Migration
from umbral.operations import State

if TYPE_CHECKING:
    import pluggy
    from sqlalchemy.engine import Connection

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Rendered:
    migration: Migration
    statements: list[str]
    needs_fk_off: bool = False
    #: Tables the migration rebuilds (their triggers are re-created after it).
    rebuilt: set[str] = field(default_factory=set)
    #: True when this un-applies the migration (reverse operations; removes the tracking row).
    backward: bool = False
    #: Per operation: (description, statements), for sqlmigrate and --plan.
    parts: list[tuple[str, list[str]]] = field(default_factory=list)


def render_migration(
    pm: pluggy.PluginManager, backend: Backend, migration: Migration, state: State
) -> Rendered:
    """Render every operation of one migration, threading the table state through them."""
    ctx = RenderContext(state=state, migration=migration.key)
    out = Rendered(migration, [])
    for op in migration.operations:
        ctx.state = state
        stmts = pm.hook.umbral_render_operation(operation=op, backend=backend, context=ctx)
        if stmts is None:
            raise UnsupportedChange(
                f"migration {migration.key}: no plugin renders operation {op.kind} for the "
                f"{backend.name} backend; install the plugin that provides it"
            )
        out.parts.append((op.describe(), list(stmts)))
        out.statements.extend(stmts)
        state = op.apply(state)
    out.needs_fk_off = ctx.needs_fk_off
    out.rebuilt = set(ctx.rebuilt)
    return out


@contextmanager
def write_transaction(conn: Connection, backend: Backend) -> Iterator[None]:
    """A transaction that takes the backend's write lock up front (BEGIN IMMEDIATE on SQLite)."""
    conn.info["umbral_begin"] = backend.begin_sql() or "BEGIN"
    try:
        with conn.begin():
            yield
    finally:
        conn.info.pop("umbral_begin", None)


def apply_one(
    conn: Connection, backend: Backend, rendered: Rendered, *, fake: bool = False
) -> bool:
    """Run one migration and record it, atomically. Returns False if it was already applied.

    A failing statement rolls the whole migration back (its tracking row included) and raises
    MigrationFailed naming the migration, the statement and the database error.
    """
    from sqlalchemy.exc import DBAPIError

    m = rendered.migration
    fk_off = rendered.needs_fk_off and not fake
    if fk_off:
        backend.foreign_keys_off(conn)
    try:
        with write_transaction(conn, backend):
            # Re-checked inside the write transaction: another process may have got here first.
            if recorder.is_applied(conn, m.plugin, m.id) != rendered.backward:
                return False
            current = ""
            try:
                if not fake:
                    keep = backend.dependent_objects_sql(conn, rendered.rebuilt)
                    for stmt in [*rendered.statements, *keep]:
                        current = stmt
                        run_statement(conn, stmt)
                    if fk_off:
                        current = "PRAGMA foreign_key_check"
                        dangling = backend.foreign_key_violations(conn)
                        if dangling:
                            raise MigrationFailed(
                                m.key, current,
                                f"it would leave {dangling} dangling foreign-key reference(s)",
                            )  # fmt: skip
                    current = "checking views"
                    broken = backend.broken_views(conn) if rendered.rebuilt else []
                    if broken:
                        raise MigrationFailed(
                            m.key, current,
                            f"it would break view(s) {', '.join(broken)}; drop or change them "
                            "in the same migration",
                        )  # fmt: skip
                if rendered.backward:
                    current = f"DELETE FROM {recorder.TABLE} ..."
                    recorder.unrecord(conn, m.plugin, m.id)
                else:
                    current = f"INSERT INTO {recorder.TABLE} ..."
                    recorder.record(conn, m.plugin, m.id, m.checksum)
            except DBAPIError as exc:
                raise MigrationFailed(m.key, current, _db_message(exc)) from exc
        return True
    finally:
        if fk_off:
            backend.foreign_keys_on(conn)


def run_statement(conn: Connection, sql: str) -> None:
    # exec_driver_sql: the SQL goes to the driver as written (no bind-parameter parsing of
    # `:name` inside string literals).
    conn.exec_driver_sql(sql)


def _db_message(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def apply_plan(
    conn: Connection,
    backend: Backend,
    plan: Sequence[Rendered],
    on_event: Event | None = None,
) -> list[str]:
    """Apply each migration in order; stop at the first failure (earlier ones stay applied)."""
    done: list[str] = []
    total = len(plan)
    for i, rendered in enumerate(plan, 1):
        key = rendered.migration.key
        if on_event:
            on_event("start", {"migration": key, "index": i, "total": total})
        ran = apply_one(conn, backend, rendered)
        if ran:
            done.append(key)
        if on_event:
            on_event("done" if ran else "skipped", {"migration": key, "index": i, "total": total})
    return done


__all__ = ["Rendered", "UmbralError", "apply_one", "apply_plan", "render_migration"]
