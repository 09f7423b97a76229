"""The PostgreSQL dialect (SPEC §6) and its connection plumbing (SPEC §8).

Rendering: identity primary keys, named constraints (``<t>_<c>_key``, ``<t>_<c>_fkey``,
``<t>_<c>_check``), native ``ALTER COLUMN``, ``COMMENT ON COLUMN``, views through alembic-utils
entities (imported lazily: ``umbral --help`` must not pay for it), and concurrent index builds for
migrations marked ``"atomic": false``.

Connections use SQLAlchemy with psycopg 3; ``postgres://`` and ``postgresql://`` URLs both mean
that driver. DDL is transactional, so a migration and its tracking row commit together. A whole
``migrate`` run holds a session-level advisory lock taken on a dedicated connection, and its DDL
runs under ``lock_timeout`` (set only once that lock is held, so the wait for the migration lock
is governed by ``--lock-wait`` alone).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from umbral.backend import Backend, RenderContext, integer_pk
from umbral.database import driver_cursor
from umbral.errors import UmbralError, UnsupportedChange
from umbral.naming import index_name
from umbral.schema import Column, ModelState
from umbral.sqlscript import leading_words
from umbral_postgres.catalog import (
    drop_indexes_sql,
    drop_unique_sql,
    rename_constraint_sql,
    replace_foreign_keys_sql,
)

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Connection, Engine

    from umbral import operations as ops


class MigrationLockTimeout(UmbralError):
    """Another process held the Postgres migration lock for longer than ``--lock-wait``."""


def _fnv1a_64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


#: The advisory-lock key of the migration lock in the ``public`` schema, stable across umbral
#: versions and processes (advisory locks are scoped to the database they are taken in).
LOCK_KEY = _signed64(_fnv1a_64(b"umbral_migrations\0default"))


def lock_key(schema: str | None) -> int:
    """The migration lock of the project migrated into ``schema`` (the connection's current
    schema): projects in different schemas of one database have their own tracking tables and
    do not wait for each other. ``public`` keeps the key older versions took."""
    if schema is None or schema == "public":
        return LOCK_KEY
    return _signed64(_fnv1a_64(b"umbral_migrations\0schema\0" + schema.encode()))


#: SQLSTATE of "canceling statement due to lock timeout" (lock_not_available).
LOCK_NOT_AVAILABLE = "55P03"

_CIC_RE = re.compile(
    r'^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+("(?:[^"]|"")+")',
    re.IGNORECASE,
)


def _interval(seconds: float) -> str:
    """A GUC duration in milliseconds; 0 turns the timeout off."""
    return f"{round(seconds * 1000)}ms"


class PostgresBackend(Backend):
    name: ClassVar[str] = "postgres"
    schemes: ClassVar[tuple[str, ...]] = ("postgres", "postgresql")
    TYPES: ClassVar[dict[str, str]] = {
        "SmallInt": "SMALLINT",
        "Integer": "INTEGER",
        "BigInt": "BIGINT",
        "Real": "REAL",
        "Double": "DOUBLE PRECISION",
        "Boolean": "BOOLEAN",
        "Text": "TEXT",
        "Date": "DATE",
        "Time": "TIME",
        "Timestamp": "TIMESTAMP",
        "Timestamptz": "TIMESTAMPTZ",
        "Uuid": "UUID",
        "Json": "JSONB",
        "Bytes": "BYTEA",
        "Decimal": "NUMERIC",
    }
    UNIQUE_AS_INDEX: ClassVar[bool] = False
    NON_ATOMIC_MIGRATIONS: ClassVar[bool] = True
    #: Placeholder schema of alembic-utils view entities, which are always schema-qualified;
    #: the rendered statement drops it, so a view goes where every other object umbral
    #: creates goes: the connection's current schema (the first existing one on its
    #: ``search_path``).
    VIEW_SCHEMA: ClassVar[str] = "public"
    #: How often the orphaned server process of a killed client checks that its client is
    #: still there (PostgreSQL 14+), so a killed ``migrate`` stops holding locks quickly.
    CLIENT_CHECK_INTERVAL: ClassVar[str] = "1s"
    #: Defaults of the run's timeouts (SPEC §8): DDL waits at most 2 s for a table lock, so a
    #: long transaction on the table never queues the application's traffic behind our
    #: ACCESS EXCLUSIVE request for long; a timed-out migration is retried 5 times with
    #: backoff (0.5, 1, 2, 4, 8 s). No statement timeout unless configured.
    lock_timeout: float | None = 2.0
    lock_retries: int = 5

    #: Statements PostgreSQL refuses inside a transaction block, by their first words
    #: (``CONCURRENTLY`` is looked for in the first few words of CREATE/DROP/REINDEX).
    OUTSIDE_TRANSACTION: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("VACUUM",), ("CREATE", "DATABASE"), ("DROP", "DATABASE"), ("CREATE", "TABLESPACE"),
        ("DROP", "TABLESPACE"), ("ALTER", "SYSTEM"), ("CREATE", "SUBSCRIPTION"),
        ("DROP", "SUBSCRIPTION"), ("REINDEX", "DATABASE"), ("REINDEX", "SYSTEM"),
        ("DISCARD", "ALL"),
    )  # fmt: skip

    def cannot_run_in_transaction(self, statement: str) -> str | None:
        reason = super().cannot_run_in_transaction(statement)
        if reason is not None:
            return reason
        words = leading_words(statement, 5)
        if words[:2] == ["PREPARE", "TRANSACTION"]:
            return "controls the transaction"
        if words[:1] in (["CREATE"], ["DROP"], ["REINDEX"]) and "CONCURRENTLY" in words:
            return "cannot run inside a transaction (CONCURRENTLY)"
        if any(tuple(words[: len(w)]) == w for w in self.OUTSIDE_TRANSACTION):
            return "cannot run inside a transaction on PostgreSQL"
        return None

    # -- column definitions ---------------------------------------------------------------

    def pk_sql(self, table: str, col: Column) -> str:
        if integer_pk(col):
            return (
                f"{self.quote(col.name)} {self.sql_type(col)} GENERATED BY DEFAULT AS IDENTITY "
                "PRIMARY KEY"
            )
        return f"{self.quote(col.name)} {self.sql_type(col)} NOT NULL PRIMARY KEY"

    def references_sql(self, table: str, col: Column) -> str:
        name = self.quote(f"{table}_{col.name}_fkey")
        return f" CONSTRAINT {name}" + super().references_sql(table, col)

    def check_sql(self, table: str, col: Column) -> str:
        """The ``choices`` constraint, named ``<t>_<c>_check`` (SPEC §6)."""
        values = ", ".join(self.literal(v) for v in col.choices or ())
        name = self.quote(f"{table}_{col.name}_check")
        return f"CONSTRAINT {name} CHECK ({self.quote(col.name)} IN ({values}))"

    def column_sql(self, table: str, col: Column, *, with_unique: bool = True) -> str:
        sql = super().column_sql(table, col, with_unique=with_unique)
        if col.choices and not col.primary_key:
            sql += " " + self.check_sql(table, col)
        return sql

    def comment_sql(self, table: str, column: str, comment: str | None) -> str:
        text = "NULL" if not comment else self.literal(comment)
        return f"COMMENT ON COLUMN {self.quote(table)}.{self.quote(column)} IS {text}"

    # -- tables and columns ---------------------------------------------------------------

    def render_create_table(self, op: ops.CreateTable, ctx: RenderContext) -> list[str]:
        out = super().render_create_table(op, ctx)
        out += [self.comment_sql(op.table, c.name, c.help) for c in op.columns if c.help]
        return out

    def render_drop_table(self, op: ops.DropTable, ctx: RenderContext) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.quote(op.table)}"]

    def render_drop_m2m_table(self, op: ops.DropM2MTable, ctx: RenderContext) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.quote(op.table)}"]

    def render_add_column(self, op: ops.AddColumn, ctx: RenderContext) -> list[str]:
        out = super().render_add_column(op, ctx)
        if op.column.help:
            out.append(self.comment_sql(op.table, op.column.name, op.column.help))
        return out

    def render_set_column_comment(self, op: ops.SetColumnComment, ctx: RenderContext) -> list[str]:
        return [self.comment_sql(op.table, op.column, op.comment)]

    def render_alter_column(self, op: ops.AlterColumn, ctx: RenderContext) -> list[str]:
        """Native ALTERs in a fixed order, each only when it applies (SPEC §6)."""
        old, new = op.from_, op.to
        q = self.quote
        table, col = q(op.table), q(op.column)
        alter = f"ALTER TABLE {table} ALTER COLUMN {col}"
        out: list[str] = []
        old_type, new_type = self.sql_type(old), self.sql_type(new)
        old_default, new_default = self.default_sql(old), self.default_sql(new)
        check = q(f"{op.table}_{op.column}_check")
        # The CHECK of the choices compares with the old type's literals (`text = integer`
        # once the type changes): it goes before a type change and comes back after it.
        recheck = old.choices != new.choices or (old_type != new_type and bool(old.choices))
        if old_type != new_type:
            if old.choices:
                out.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}")
            # The old default may not cast to the new type on its own: drop it first and set
            # the new one afterwards.
            if old_default is not None:
                out.append(f"{alter} DROP DEFAULT")
                old_default = None
            out.append(f"{alter} TYPE {new_type} USING {col}::{new_type}")
        if new_default != old_default:
            action = "DROP DEFAULT" if new_default is None else f"SET DEFAULT {new_default}"
            out.append(f"{alter} {action}")
        if not new.primary_key and old.nullable != new.nullable:
            if new.nullable:
                out.append(f"{alter} DROP NOT NULL")
            else:
                # Backfill first: SET NOT NULL fails on existing NULLs. A one-off backfill
                # fills them without becoming the column's default.
                fill = new_default
                if fill is None and op.backfill is not None:
                    fill = self.default_sql(replace(new, default=op.backfill))
                if fill is not None:
                    out.append(f"UPDATE {table} SET {col} = {fill} WHERE {col} IS NULL")
                out.append(f"{alter} SET NOT NULL")
        out += self._alter_unique(op, old, new, ctx)
        out += self._alter_fk(op, old, new, ctx)
        if recheck:
            if not (old_type != new_type and old.choices):  # not dropped above
                out.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}")
            if new.choices:
                out.append(f"ALTER TABLE {table} ADD {self.check_sql(op.table, new)}")
        return out

    def _auto_indexed(self, col: Column) -> bool:
        return (col.index or col.is_fk) and not col.unique and not col.primary_key

    def _alter_unique(
        self, op: ops.AlterColumn, old: Column, new: Column, ctx: RenderContext
    ) -> list[str]:
        q = self.quote
        out: list[str] = []
        key = q(f"{op.table}_{op.column}_key")
        if new.unique and not old.unique and not new.primary_key:
            out += self.unique_check(op.table, (op.column,), ctx)
            out.append(f"ALTER TABLE {q(op.table)} ADD CONSTRAINT {key} UNIQUE ({q(op.column)})")
        elif old.unique and not new.unique:
            # Whatever its name: an adopted table's constraint or unique index.
            out += drop_unique_sql(op.table, (op.column,))
        return out

    def _alter_fk(
        self, op: ops.AlterColumn, old: Column, new: Column, ctx: RenderContext
    ) -> list[str]:
        q = self.quote
        out: list[str] = []

        def fk(c: Column) -> tuple[Any, ...] | None:
            if not (c.is_fk and c.db_constraint):
                return None
            return (c.fk_target, c.fk_column, c.on_delete, c.on_update)

        if fk(old) != fk(new):
            add = None
            if fk(new) is not None:
                name = q(f"{op.table}_{op.column}_fkey")
                ref = super().references_sql(op.table, new)
                add = (
                    f"ALTER TABLE {q(op.table)} ADD CONSTRAINT {name} FOREIGN KEY "
                    f"({q(op.column)}){ref}"
                )
            if fk(old) is not None:
                # The old one found by what it is (an adopted table names it its own way): the
                # column and the table it references, under its old name or the new one.
                targets = [str(old.fk_target), *([str(new.fk_target)] if add else [])]
                out.append(replace_foreign_keys_sql(op.table, (op.column,), targets, add))
            elif add is not None:
                out.append(add)
        # The auto index of FK / index=True columns follows the column (SPEC §6 index names),
        # unless the table keeps an index on it for another reason (``indexes``).
        idx = (op.column,)
        if self._auto_indexed(new) and not self._auto_indexed(old):
            out.append(self.index_sql(op.table, idx, False, if_not_exists=True))
        elif self._auto_indexed(old) and not self._auto_indexed(new):
            model = ctx.state.get(op.table)
            after = op.apply({op.table: model})[op.table] if model is not None else None
            if after is None or (idx, False) not in after.index_specs():
                out.append(drop_indexes_sql(op.table, idx, unique=False))
        return out

    def render_rename_table(self, op: ops.RenameTable, ctx: RenderContext) -> list[str]:
        """Rename the table and the names derived from it, so later operations find them."""
        q = self.quote
        out = super().render_rename_table(op, ctx)
        out.append(f"ALTER INDEX IF EXISTS {q(op.from_ + '_pkey')} RENAME TO {q(op.to + '_pkey')}")
        model = ctx.state.get(op.from_)
        if model is not None:
            out += self._rename_derived(op.to, model, op.from_, op.to, lambda c: c)
        if any(rel.table == op.from_ for parent in ctx.state.values() for rel in parent.m2m):
            # A junction table: its index, and the foreign keys PostgreSQL named after it.
            idx = ("child_id",)
            old_idx, new_idx = q(index_name(op.from_, idx, False)), q(index_name(op.to, idx, False))
            out.append(f"ALTER INDEX IF EXISTS {old_idx} RENAME TO {new_idx}")
            out += [
                rename_constraint_sql(op.to, f"{op.from_}_{c}_fkey", f"{op.to}_{c}_fkey")
                for c in ("parent_id", "child_id")
            ]
        return out

    def render_rename_column(self, op: ops.RenameColumn, ctx: RenderContext) -> list[str]:
        out = super().render_rename_column(op, ctx)
        model = ctx.state.get(op.table)
        if model is not None:

            def ren(c: str) -> str:
                return op.to if c == op.from_ else c

            out += self._rename_derived(op.table, model, op.table, op.table, ren, only=op.from_)
        return out

    def _rename_derived(
        self,
        table: str,
        model: ModelState,
        old_table: str,
        new_table: str,
        ren: Any,
        only: str | None = None,
    ) -> list[str]:
        """Renames of the constraints and indexes whose names embed the table or column."""
        q = self.quote
        out: list[str] = []
        for c in model.fields:
            if c.primary_key or (only is not None and c.name != only):
                continue
            names = []
            if c.unique:
                names.append("key")
            if c.is_fk and c.db_constraint:
                names.append("fkey")
            if c.choices:
                names.append("check")
            for suffix in names:
                old_name = f"{old_table}_{c.name}_{suffix}"
                new_name = f"{new_table}_{ren(c.name)}_{suffix}"
                if old_name != new_name:
                    # Only when it has umbral's name: an adopted table's keeps its own.
                    out.append(rename_constraint_sql(table, old_name, new_name))
        for cols, unique in model.index_specs():
            if only is not None and only not in cols:
                continue
            old_name = index_name(old_table, cols, unique)
            new_name = index_name(new_table, tuple(ren(c) for c in cols), unique)
            if old_name != new_name:
                out.append(f"ALTER INDEX IF EXISTS {q(old_name)} RENAME TO {q(new_name)}")
        return out

    # -- indexes --------------------------------------------------------------------------

    def index_sql(
        self,
        table: str,
        columns: tuple[str, ...],
        unique: bool,
        *,
        concurrent: bool = False,
        if_not_exists: bool = False,
    ) -> str:
        name = index_name(table, columns, unique)
        cols = ", ".join(self.quote(c) for c in columns)
        kw = "UNIQUE INDEX" if unique else "INDEX"
        if concurrent:
            # IF NOT EXISTS: a non-atomic migration re-runs its statements after a crash.
            kw += " CONCURRENTLY IF NOT EXISTS"
        elif if_not_exists:
            kw += " IF NOT EXISTS"
        return f"CREATE {kw} {self.quote(name)} ON {self.quote(table)} ({cols})"

    def _require_non_atomic(self, op: ops.AddIndex | ops.DropIndex, ctx: RenderContext) -> None:
        if ctx.atomic:
            raise UnsupportedChange(
                f"migration {ctx.migration or '?'}: {op.kind} on `{op.table}` has "
                '"concurrent": true but the migration is atomic; PostgreSQL cannot build or '
                'drop an index CONCURRENTLY inside a transaction. Add "atomic": false to the '
                "migration file (and keep the concurrent operation in a migration of its own)"
            )

    def render_add_index(self, op: ops.AddIndex, ctx: RenderContext) -> list[str]:
        if op.concurrent:
            self._require_non_atomic(op, ctx)
            return [self.index_sql(op.table, op.columns, op.unique, concurrent=True)]
        return super().render_add_index(op, ctx)

    def render_drop_index(self, op: ops.DropIndex, ctx: RenderContext) -> list[str]:
        if op.concurrent:
            self._require_non_atomic(op, ctx)
            name = self.quote(index_name(op.table, op.columns, op.unique))
            return [f"DROP INDEX CONCURRENTLY IF EXISTS {name}"]
        # Whatever its name: an index adopted under its legacy name is the one to drop.
        if op.unique:
            return drop_unique_sql(op.table, op.columns)
        return [drop_indexes_sql(op.table, op.columns, unique=False)]

    # -- views and raw SQL ----------------------------------------------------------------

    def _view(self, name: str, sql: str) -> Any:
        # Lazy: alembic-utils imports alembic.autogenerate (~0.4 s); only rendering a view
        # pays for it.
        from alembic_utils.pg_view import PGView

        return PGView(schema=self.VIEW_SCHEMA, signature=name, definition=sql.strip().rstrip(";"))

    def _unqualified(self, stmt: str, name: str) -> str:
        """``stmt`` naming the view without its placeholder schema."""
        qualified = f"{self.quote(self.VIEW_SCHEMA)}.{self.quote(name)}"
        return stmt.replace(qualified, self.quote(name), 1).strip().rstrip(";").strip()

    def render_create_view(self, op: ops.CreateView, ctx: RenderContext) -> list[str]:
        stmt = str(self._view(op.name, op.sql).to_sql_statement_create())
        return [self._unqualified(stmt, op.name)]

    def render_drop_view(self, op: ops.DropView, ctx: RenderContext) -> list[str]:
        stmt = str(self._view(op.name, op.sql or "SELECT 1").to_sql_statement_drop())
        stmt = re.sub(r"^\s*DROP VIEW\s+", "DROP VIEW IF EXISTS ", stmt)
        return [self._unqualified(stmt, op.name)]

    def render_run_sql(self, op: ops.RunSql, ctx: RenderContext) -> list[str]:
        return split_pg_sql(op.sql)

    # -- connections ----------------------------------------------------------------------

    # -- the tracking table and inspectdb ---------------------------------------------------

    DISPLAY_NAME: ClassVar[str] = "PostgreSQL"

    def upsert_returning(self, conn: Connection) -> bool:
        return True

    def inspect_fixup(self, conn: Connection, table: Any) -> None:
        from umbral_postgres.inspect import fixup

        fixup(conn, table)

    def read_only(self, conn: Connection) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    def normalize_url(self, url: str, root: Path) -> str:
        scheme, _sep, rest = url.partition("://")
        if scheme in ("postgres", "postgresql"):
            return f"postgresql+psycopg://{rest}"
        return url

    def create_engine(self, url: str) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        # No server-side prepared statements: psycopg prepares a query after five runs, and
        # every DDL statement then costs an extra DEALLOCATE ALL round trip (the schema
        # changed under the prepared plans). A migration run is all DDL.
        connect_args: dict[str, Any] = {"prepare_threshold": None}
        if "application_name=" not in url:
            # Shown in pg_stat_activity: tells whoever waits for the migration lock who has it.
            # (socket is imported here: every command creates this backend to know its URL
            # schemes, a SQLite project's included.)
            import socket

            host = socket.gethostname()
            connect_args["application_name"] = f"umbral {host} pid {os.getpid()}"[:63]
        return create_engine(url, poolclass=NullPool, connect_args=connect_args)

    DEFERRED_CHECK: ClassVar[str] = (
        "SET CONSTRAINTS ALL IMMEDIATE (deferred constraints, checked at the end of the migration)"
    )
    #: Checks every deferred constraint now (raising the violation it finds) instead of at
    #: COMMIT, where the error would name no migration. It lasts to the end of the migration's
    #: transaction, which holds only the tracking row and the view check more.
    DEFERRED_CHECK_SQL: ClassVar[str | None] = "SET CONSTRAINTS ALL IMMEDIATE"

    def deferred_violations(self, conn: Connection, before: Any) -> str | None:
        driver_cursor(conn).execute(self.DEFERRED_CHECK_SQL)
        return None

    def can_run_script(self, conn: Connection) -> bool:
        # Before PostgreSQL 13 a statement_timeout covers a whole multi-statement query, not
        # each statement in it: the script would change what the timeout means.
        version = conn.connection.driver_connection.info.server_version  # type: ignore[union-attr]
        return self.statement_timeout is None or version >= 130000

    def run_script(self, conn: Connection, statements: Sequence[str]) -> None:
        """Send the statements as one simple-protocol query: one round trip for a migration
        instead of one per statement (half of a long history's run time here). The server runs
        them in order and stops at the first error; a line break before each `;` keeps a
        trailing `--` comment from swallowing the next statement."""
        sql = "\n;\n".join(statements)
        conn.connection.driver_connection.cursor().execute(sql)  # type: ignore[union-attr]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", None) or exc
        return getattr(orig, "sqlstate", None) == LOCK_NOT_AVAILABLE

    def session_setup(self, conn: Connection) -> None:
        """Session settings for the run's DDL, applied once the migration lock is held."""
        stmts = []
        if self.lock_timeout is not None:
            stmts.append(f"SET lock_timeout = '{_interval(self.lock_timeout)}'")
        if self.statement_timeout is not None:
            stmts.append(f"SET statement_timeout = '{_interval(self.statement_timeout)}'")
        # Each migration still commits on its own, but without waiting for its WAL flush (a
        # few ms each, most of a long history's run time). A crash can lose only whole
        # migrations committed in the last moments, tracking rows with them, which the next
        # run re-applies; migration_lock makes everything durable before the run ends.
        stmts.append("SET synchronous_commit = off")
        version = conn.exec_driver_sql("SHOW server_version_num").scalar()
        if int(str(version)) >= 140000:
            stmts.append(f"SET client_connection_check_interval = '{self.CLIENT_CHECK_INTERVAL}'")
        for stmt in stmts:
            conn.exec_driver_sql(stmt)
        # Plain SET inside a transaction is undone by a rollback: commit it into the session.
        conn.commit()

    @contextmanager
    def migration_lock(self, conn: Connection, wait: float) -> Iterator[None]:
        """Hold a session-level advisory lock on a dedicated connection for the whole run.

        Acquired by polling ``pg_try_advisory_lock``: a blocking ``pg_advisory_lock`` waiter
        keeps a transaction open, which a CREATE INDEX CONCURRENTLY in the holder then waits
        for, forever (Flyway #1654). The connection is in autocommit, so it never holds a
        snapshot either. Session-scoped: released on exit, or by the server when the process
        dies (no stale lock rows).
        """
        lock_conn = conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            # Same URL, same search_path: the schema this run migrates.
            key = lock_key(lock_conn.exec_driver_sql("SELECT current_schema()").scalar())
            self._acquire(lock_conn, key, wait)
            try:
                self.session_setup(conn)
                yield
            finally:
                self._make_durable(lock_conn)
                self._release(lock_conn, key)
        finally:
            lock_conn.close()

    def _acquire(self, lock_conn: Connection, key: int, wait: float) -> None:
        deadline = time.monotonic() + max(wait, 0.0)
        pause = 0.05
        while True:
            got = lock_conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
            if got:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MigrationLockTimeout(self._lock_timeout_message(lock_conn, key, wait))
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.5)

    def _make_durable(self, lock_conn: Connection) -> None:
        """Flush the WAL of every migration the run committed asynchronously.

        The lock connection keeps the server's own ``synchronous_commit``: a transaction that
        gets an xid there commits synchronously, and flushing its commit record flushes all WAL
        before it (WAL is one sequence), so ``migrate`` reports success only once every
        migration it applied is durable (and, with synchronous standbys, replicated).
        """
        from sqlalchemy.exc import DBAPIError

        with suppress(DBAPIError):
            lock_conn.exec_driver_sql("SELECT txid_current()")

    def _release(self, lock_conn: Connection, key: int) -> None:
        from sqlalchemy.exc import DBAPIError

        # If the connection is already gone, the server released the session lock with it.
        with suppress(DBAPIError):
            lock_conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")

    def _lock_timeout_message(self, lock_conn: Connection, key: int, wait: float) -> str:
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        # A bigint advisory key shows in pg_locks as classid = high half, objid = low half,
        # objsubid = 1.
        row = lock_conn.exec_driver_sql(
            "SELECT a.pid, a.application_name, a.backend_start, current_database() "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            f"AND l.classid::bigint = {unsigned >> 32} "
            f"AND l.objid::bigint = {unsigned & 0xFFFFFFFF} "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).first()
        head = f"umbral migrate: timed out after {wait:g}s waiting for the migration lock"
        if row is None:
            return (
                f"{head}; PostgreSQL did not say who holds it (it may have just been released, "
                "or this role cannot see other sessions); re-run, or raise --lock-wait"
            )
        pid, app_name, started, database = row
        since = started.isoformat(sep=" ", timespec="seconds") if started else "unknown"
        return (
            f"{head} on database `{database}`: it is held by server pid {pid} "
            f"(application_name {app_name or ''!r}, connected since {since}). Another "
            "`umbral migrate` is probably running: wait for it and re-run, raise --lock-wait, or "
            f"end that session with SELECT pg_terminate_backend({pid})"
        )

    def non_atomic_prelude(self, conn: Connection, sql: str) -> list[str]:
        """Drop the INVALID index a failed concurrent build of ``sql`` left behind.

        ``CREATE INDEX CONCURRENTLY`` that fails (lock timeout, duplicate key, killed client)
        leaves an invalid index of that name; ``IF NOT EXISTS`` would then skip the rebuild
        and leave a useless index forever.
        """
        match = _CIC_RE.match(sql)
        if match is None:
            return []
        from sqlalchemy import text

        name = match.group(1)
        invalid = conn.execute(
            text("SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(:name)"),
            {"name": name},
        ).scalar()
        return [f"DROP INDEX CONCURRENTLY IF EXISTS {name}"] if invalid else []


def split_pg_sql(sql: str) -> list[str]:
    """Split a script on top-level ``;``, respecting quotes, comments and dollar quoting."""
    out: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote inside
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j == -1 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j == -1 else j + 2
        elif ch == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                tag = m.group(0)
                j = sql.find(tag, i + len(tag))
                i = n if j == -1 else j + len(tag)
            else:
                i += 1
        elif ch == ";":
            _append_statement(out, sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    _append_statement(out, sql[start:])
    return out


def _append_statement(out: list[str], chunk: str) -> None:
    stmt = chunk.strip()
    meaningful = re.sub(r"--[^\n]*|/\*.*?\*/", "", stmt, flags=re.DOTALL).strip()
    if meaningful:
        out.append(stmt)
