"""The backend base class: shared DDL rendering and connection plumbing.

A backend turns one operation into SQL statements for its dialect. Differences between
databases are data on the subclass (``TYPES``, ``UNIQUE_AS_INDEX``, ``bool_literals``...) and a few
overridden ``render_<kind>`` methods, never ``if name == ...`` branches in the core.
Backends are provided by backend plugins (``umbral-sqlite``, ``umbral-postgres``) through the
``umbral_backends`` hook; this module never imports a driver, and imports SQLAlchemy only inside
the methods that open connections.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from umbral.naming import fit_identifier, index_name
from umbral.schema import INTEGER_TYPES, Column, ModelState, Shim
from umbral.sqlscript import split_sql, transaction_control
from umbral.steps import UniqueCheck
from umbral.values import frozen, record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from umbral import operations as ops


@record
class RenderContext:
    """What a renderer may know besides the operation itself."""

    #: Tables of the migration's plugin before this operation (``table -> ModelState``): a
    #: read-only mapping, built on first read.
    state: Mapping[str, ModelState] = field(default_factory=dict)
    #: ``plugin/id`` of the migration being rendered, when there is one.
    migration: str | None = None
    #: Set by renderers that need foreign-key enforcement off for the whole migration
    #: (a SQLite table rebuild). The executor reads it before opening the transaction.
    needs_fk_off: bool = False
    #: False for a migration marked ``"atomic": false`` (runs outside a transaction); a
    #: renderer refuses operations that need one or the other (SPEC §5).
    atomic: bool = True
    #: Tables rebuilt by the rendered operations (set by renderers that rebuild).
    rebuilt: set[str] = field(default_factory=set)


_FK_ACTION_SQL = {"cascade": "CASCADE", "restrict": "RESTRICT", "set_null": "SET NULL"}
_AUTO_DEFAULTS = {
    "Timestamp": "CURRENT_TIMESTAMP",
    "Timestamptz": "CURRENT_TIMESTAMP",
    "Date": "CURRENT_DATE",
    "Time": "CURRENT_TIME",
}


#: Seconds ``migrate`` waits for another process's migration (or write) lock by default.
DEFAULT_LOCK_WAIT = 300.0


@frozen
class RunOptions:
    """A run's options; None keeps the backend's default."""

    #: Seconds to wait for the migration lock (and, on a database-wide write lock, for it).
    lock_wait: float = DEFAULT_LOCK_WAIT
    #: Seconds a DDL statement may wait for a table lock before it is cancelled.
    lock_timeout: float | None = None
    #: Seconds any statement may run.
    statement_timeout: float | None = None
    #: How many times a migration whose statement hit the lock timeout is retried.
    lock_retries: int | None = None


class Backend:
    """Base class of every backend. Subclasses fill in the class attributes."""

    name: ClassVar[str] = ""
    #: URL schemes this backend serves (the part before ``+driver`` and ``://``).
    schemes: ClassVar[tuple[str, ...]] = ()
    #: SQL type per umbral type.
    TYPES: ClassVar[dict[str, str]] = {}
    #: Render a column's ``unique`` as a separate ``uniq_<t>_<c>`` index (SQLite) instead of an
    #: inline named constraint.
    UNIQUE_AS_INDEX: ClassVar[bool] = True
    TRUE: ClassVar[str] = "TRUE"
    FALSE: ClassVar[str] = "FALSE"
    #: Whether the database stores column comments (``help``).
    COLUMN_COMMENTS: ClassVar[bool] = True
    #: Whether the database refuses a value longer than a column's ``max_length`` (SQLite does
    #: not: it keeps the value whole). ``umbral.preflight`` looks for such values before a
    #: migration narrows a column, where the database would fail it part way through a run.
    ENFORCES_MAX_LENGTH: ClassVar[bool] = True
    #: Whether the database enforces ``choices`` with a CHECK (SQLite: not enforced).
    #: ``umbral.preflight`` looks for other values before a migration limits the choices.
    ENFORCES_CHOICES: ClassVar[bool] = True
    #: Foreign-key actions the database does not tell apart, each to the one it reads back
    #: as (``checkschema`` compares them as equal).
    FK_ACTIONS_ALIKE: ClassVar[dict[str, str]] = {}
    #: The database stores every integer primary key as one type (SQLite's rowid): such a key,
    #: and a foreign key to one, reads back as BigInt whatever integer the models say.
    INTEGER_KEYS_ALIKE: ClassVar[bool] = False
    #: Whether ``"atomic": false`` migrations really run outside a transaction here (else they
    #: run in one like any other).
    NON_ATOMIC_MIGRATIONS: ClassVar[bool] = False
    #: Seconds a DDL statement may wait for a table lock before it is cancelled (None: the
    #: database default), seconds any statement may run, and how many times a migration whose
    #: statement hit the lock timeout is retried (SPEC §8). A run sets them on its own copy
    #: (``for_run``).
    lock_timeout: float | None = None
    statement_timeout: float | None = None
    lock_retries: int = 0
    #: First pause before a retry after a lock timeout; it doubles each time, up to 30 s.
    lock_retry_backoff: float = 0.5
    #: Where the database lists its sessions, which the advice after a lock timeout names.
    SESSIONS_VIEW: ClassVar[str] = ""

    def render_key(self) -> str | None:
        """Everything besides the operations and umbral's code that this backend's rendering
        depends on (a server's version, a setting read at connect), as text; None: renderings
        are not kept between runs (``umbral.sqlcache``). A backend whose renderer reads the
        connected database returns None."""
        return None

    def for_run(self, options: RunOptions) -> Self:
        """A copy of this backend with one ``migrate`` run's options: the backend found by URL
        is shared by every command of the process, and keeps its defaults."""
        run = copy.copy(self)
        for key in ("lock_timeout", "statement_timeout", "lock_retries"):
            value = getattr(options, key)
            if value is not None:
                setattr(run, key, value)
        return run

    # -- identifiers and literals -----------------------------------------------------------

    #: The longest name the database keeps whole (None: no limit), in bytes or characters.
    IDENTIFIER_LIMIT: ClassVar[int | None] = None
    IDENTIFIER_IN_BYTES: ClassVar[bool] = True
    #: The database refuses a longer name of the user's (a table, column or view), rather than
    #: cutting it: a migration giving one is refused before anything runs.
    LONG_NAMES_REFUSED: ClassVar[bool] = False

    def fit(self, name: str) -> str:
        """A generated name as this database gets it (``naming.fit_identifier``)."""
        return fit_identifier(name, self.IDENTIFIER_LIMIT, in_bytes=self.IDENTIFIER_IN_BYTES)

    def index_name(self, table: str, columns: Iterable[str], unique: bool) -> str:
        """The name of umbral's index on ``columns`` of ``table`` (SPEC §6)."""
        return self.fit(index_name(table, columns, unique))

    def constraint_name(self, table: str, column: str, suffix: str) -> str:
        """``<table>_<column>_<suffix>`` (``key``, ``fkey``, ``check``...), fitted."""
        return self.fit(f"{table}_{column}_{suffix}")

    def quote(self, ident: str) -> str:
        return '"' + ident.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        if isinstance(value, bool):
            return self.TRUE if value else self.FALSE
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, list | dict):
            value = json.dumps(value, sort_keys=True)
        return "'" + str(value).replace("'", "''") + "'"

    def sql_type(self, col: Column) -> str:
        storage = col.storage_type
        if storage == "Text" and col.max_length and not col.is_fk:
            return f"VARCHAR({col.max_length})"
        return self.TYPES[storage]

    def default_sql(self, col: Column) -> str | None:
        if col.auto_now_add or col.auto_now:
            return _AUTO_DEFAULTS.get(col.type)
        if col.default is None:
            return None
        return self.literal(col.default)

    # -- column definitions -----------------------------------------------------------------

    def pk_sql(self, table: str, col: Column) -> str:
        """The definition of a primary-key column."""
        return f"{self.quote(col.name)} {self.sql_type(col)} NOT NULL PRIMARY KEY"

    def references_sql(self, table: str, col: Column) -> str:
        sql = f" REFERENCES {self.quote(col.fk_target or '')} ({self.quote(col.fk_column or 'id')})"
        if col.on_delete in _FK_ACTION_SQL:
            sql += f" ON DELETE {_FK_ACTION_SQL[col.on_delete]}"
        if col.on_update in _FK_ACTION_SQL:
            sql += f" ON UPDATE {_FK_ACTION_SQL[col.on_update]}"
        return sql

    def column_sql(self, table: str, col: Column, *, with_unique: bool = True) -> str:
        if col.primary_key:
            return self.pk_sql(table, col)
        sql = f"{self.quote(col.name)} {self.sql_type(col)}"
        if not col.nullable:
            sql += " NOT NULL"
        default = self.default_sql(col)
        if default is not None:
            sql += f" DEFAULT {default}"
        if col.unique and with_unique and not self.UNIQUE_AS_INDEX:
            key = self.constraint_name(table, col.name, "key")
            sql += f" CONSTRAINT {self.quote(key)} UNIQUE"
        if col.is_fk and col.db_constraint:
            sql += self.references_sql(table, col)
        return sql

    def index_sql(self, table: str, columns: tuple[str, ...], unique: bool) -> str:
        name = self.index_name(table, columns, unique)
        cols = ", ".join(self.quote(c) for c in columns)
        kw = "UNIQUE INDEX" if unique else "INDEX"
        return f"CREATE {kw} {self.quote(name)} ON {self.quote(table)} ({cols})"

    def system_schema(self, schema: str) -> str | None:
        """What the database keeps ``schema`` for, when it is one of its own (a tenant's
        schema cannot be), or None."""
        return None

    def drop_named_index(
        self, table: str, columns: tuple[str, ...], unique: bool, name: str
    ) -> ops.Operation:
        """What drops an index another tool or a person made under ``name``, in a script
        (``checkschema --sql``: no run-time look-up finds it by its columns there)."""
        from umbral import operations as ops

        return ops.RunSql(sql=f"DROP INDEX {self.quote(name)}")

    def drop_index_sql(self, table: str, columns: tuple[str, ...], unique: bool) -> str:
        return f"DROP INDEX IF EXISTS {self.quote(self.index_name(table, columns, unique))}"

    def table_indexes_sql(self, model: ModelState) -> list[str]:
        """Every index a table has besides its primary key (SPEC §6 index names)."""
        out = []
        if self.UNIQUE_AS_INDEX:
            out += [
                self.index_sql(model.table, (c.name,), True)
                for c in model.fields
                if c.unique and not c.primary_key
            ]
        out += [self.index_sql(model.table, cols, u) for cols, u in model.index_specs()]
        return out

    def create_table_sql(self, table: str, columns: tuple[Column, ...]) -> str:
        body = ", ".join(self.column_sql(table, c) for c in columns)
        return f"CREATE TABLE {self.quote(table)} ({body})"

    # -- rendering ----------------------------------------------------------------------------

    def render(self, operation: ops.Operation, context: RenderContext) -> list[str] | None:
        """Render through ``render_<kind>``; None when this backend has no renderer for it."""
        method = getattr(self, "render_" + _snake(operation.kind), None)
        if method is None:
            return None
        out = method(operation, context)
        if getattr(operation, "compat", False):  # a rename that leaves a shim behind
            after = operation.apply(dict(context.state))
            out = [*out, *self.compat_shim_sql(operation.shim(), after.get(operation.shim().table))]
        return out

    # -- compatibility shims (makemigrations --compat) ------------------------------------

    def compat_shim_sql(
        self, shim: Shim, model: ModelState | None, *, listed: bool = False
    ) -> list[str]:
        """The view that keeps a renamed table's old name (or a renamed column's old name)
        working for the previous release: a plain view of the table that a database which
        updates simple views (PostgreSQL) reads and writes through. ``model`` is the table
        as it is after the rename (``listed``: only the columns the view shows, named one by
        one); a backend whose views are read-only adds triggers."""
        q = self.quote
        if model is None or (shim.from_ is None and not listed):
            return [f"CREATE VIEW {q(shim.name)} AS SELECT * FROM {q(shim.table)}"]
        cols = ", ".join(
            f"{q(c.name)} AS {q(shim.from_)}" if c.name == shim.to else q(c.name)
            for c in model.fields
        )
        return [f"CREATE VIEW {q(shim.name)} AS SELECT {cols} FROM {q(shim.table)}"]

    def render_create_compat_shim(self, op: ops.CreateCompatShim, ctx: RenderContext) -> list[str]:
        model = ctx.state.get(op.table)
        if model is None or op.columns is None:
            return self.compat_shim_sql(op.shim(), model)
        shown = tuple(c for c in model.fields if c.name in op.columns)
        return self.compat_shim_sql(op.shim(), replace(model, fields=shown), listed=True)

    def render_drop_compat_shim(self, op: ops.DropCompatShim, ctx: RenderContext) -> list[str]:
        return [f"DROP VIEW IF EXISTS {self.quote(op.name)}"]

    def render_create_table(self, op: ops.CreateTable, ctx: RenderContext) -> list[str]:
        model = ModelState(op.table, op.table, op.columns, op.unique_together, op.indexes)
        return [self.create_table_sql(op.table, op.columns), *self.table_indexes_sql(model)]

    def render_drop_table(self, op: ops.DropTable, ctx: RenderContext) -> list[str]:
        return [f"DROP TABLE {self.quote(op.table)}"]

    def render_add_column(self, op: ops.AddColumn, ctx: RenderContext) -> list[str]:
        col = op.column
        if op.backfill is not None:
            # The existing rows take the backfill as a default the column then drops: it is
            # not the model's default (Django's preserve_default=False).
            filled = self.column_sql(op.table, replace(col, default=op.backfill))
            out = [
                f"ALTER TABLE {self.quote(op.table)} ADD COLUMN {filled}",
                f"ALTER TABLE {self.quote(op.table)} ALTER COLUMN {self.quote(col.name)} "
                "DROP DEFAULT",
            ]
        else:
            out = [
                f"ALTER TABLE {self.quote(op.table)} ADD COLUMN {self.column_sql(op.table, col)}"
            ]
        if col.unique and self.UNIQUE_AS_INDEX:
            out.append(self.index_sql(op.table, (col.name,), True))
        if (col.index or col.is_fk) and not col.unique:
            out.append(self.index_sql(op.table, (col.name,), False))
        return out

    def render_drop_column(self, op: ops.DropColumn, ctx: RenderContext) -> list[str]:
        return [f"ALTER TABLE {self.quote(op.table)} DROP COLUMN {self.quote(op.column)}"]

    def render_rename_table(self, op: ops.RenameTable, ctx: RenderContext) -> list[str]:
        return [f"ALTER TABLE {self.quote(op.from_)} RENAME TO {self.quote(op.to)}"]

    def render_rename_column(self, op: ops.RenameColumn, ctx: RenderContext) -> list[str]:
        return [
            f"ALTER TABLE {self.quote(op.table)} RENAME COLUMN {self.quote(op.from_)} "
            f"TO {self.quote(op.to)}"
        ]

    def render_create_m2m_table(self, op: ops.CreateM2MTable, ctx: RenderContext) -> list[str]:
        ptype = self.TYPES[op.parent_type]
        ctype = self.TYPES[op.child_type]
        q = self.quote
        return [
            f"CREATE TABLE {q(op.table)} ("
            f"{q('parent_id')} {ptype} NOT NULL REFERENCES {q(op.parent_table)} "
            f"({q(op.parent_column)}) ON DELETE CASCADE, "
            f"{q('child_id')} {ctype} NOT NULL REFERENCES {q(op.child_table)} "
            f"({q(op.child_column)}) ON DELETE CASCADE, "
            f"PRIMARY KEY ({q('parent_id')}, {q('child_id')}))",
            self.index_sql(op.table, ("child_id",), False),
        ]

    def render_drop_m2m_table(self, op: ops.DropM2MTable, ctx: RenderContext) -> list[str]:
        return [f"DROP TABLE {self.quote(op.table)}"]

    def render_alter_m2m_key(self, op: ops.AlterM2MKey, ctx: RenderContext) -> list[str]:
        """A junction's key column takes the new type of the primary key it holds."""
        return [
            f"ALTER TABLE {self.quote(op.table)} ALTER COLUMN {self.quote(op.column)} "
            f"TYPE {self.TYPES[op.to]}"
        ]

    def render_add_index(self, op: ops.AddIndex, ctx: RenderContext) -> list[str]:
        check = self.unique_check(op.table, op.columns, ctx) if op.unique else []
        return [*check, self.index_sql(op.table, op.columns, op.unique)]

    #: How many duplicated values a failed unique check names.
    DUPLICATES_SHOWN: ClassVar[int] = 5

    def unique_check(
        self, table: str, columns: tuple[str, ...], ctx: RenderContext
    ) -> list[UniqueCheck]:
        """The look for duplicates before a unique index or constraint is added to existing
        rows (``steps.UniqueCheck``: at run time it stops the migration naming them)."""
        sql = self.duplicates_sql(table, columns)
        return [UniqueCheck(table, columns, sql, self.DUPLICATES_SHOWN)]

    def duplicates_sql(self, table: str, columns: Sequence[str]) -> str:
        """The values ``columns`` of ``table`` hold in more than one row, each with its count,
        the most repeated first (at most ``DUPLICATES_SHOWN`` and one more)."""
        q = self.quote
        cols = ", ".join(q(c) for c in columns)
        # NULLs never collide in a unique index.
        present = " AND ".join(f"{q(c)} IS NOT NULL" for c in columns)
        return (
            f"SELECT {cols}, COUNT(*) FROM {q(table)} WHERE {present} GROUP BY {cols} "
            f"HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC, {cols} "
            f"LIMIT {self.DUPLICATES_SHOWN + 1}"
        )

    def first_row_sql(self, table: str) -> str:
        """A query that returns a row when ``table`` holds any (``umbral.preflight``)."""
        return f"SELECT 1 FROM {self.quote(table)} LIMIT 1"

    def longer_values_sql(self, table: str, column: str, length: int) -> str:
        """A query of one row: how many rows of ``table`` hold a value of ``column`` longer than
        ``length`` characters, and one of them (``umbral.preflight``)."""
        c = self.quote(column)
        return (
            f"SELECT COUNT(*), MIN({c}) FROM {self.quote(table)} WHERE CHAR_LENGTH({c}) > {length}"
        )

    def second_row_sql(self, table: str) -> str:
        """A query that returns a row when ``table`` holds two or more (``umbral.preflight``:
        a unique column every row would get one value in cannot hold there)."""
        return f"SELECT 1 FROM {self.quote(table)} LIMIT 1 OFFSET 1"

    def render_drop_index(self, op: ops.DropIndex, ctx: RenderContext) -> list[str]:
        return [self.drop_index_sql(op.table, op.columns, op.unique)]

    def render_create_view(self, op: ops.CreateView, ctx: RenderContext) -> list[str]:
        return [f"CREATE VIEW {self.quote(op.name)} AS {op.sql}"]

    def render_drop_view(self, op: ops.DropView, ctx: RenderContext) -> list[str]:
        return [f"DROP VIEW IF EXISTS {self.quote(op.name)}"]

    def render_run_sql(self, op: ops.RunSql, ctx: RenderContext) -> list[str]:
        return split_sql(op.sql)

    def render_run_python(self, op: ops.RunPython, ctx: RenderContext) -> list[Any]:
        """One step that calls the function in the migration's transaction (no SQL)."""
        from umbral.runpython import PythonStep

        return [PythonStep(op.code, ctx.state)]

    # -- the tracking table ---------------------------------------------------------------

    def tracking_table_sql(self, table: str) -> str:
        """The ``CREATE TABLE IF NOT EXISTS`` of the tracking table (SPEC §8). A backend whose
        keys cannot be unbounded text sizes them here."""
        return (
            f"CREATE TABLE IF NOT EXISTS {table} (plugin TEXT NOT NULL, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (plugin, name))"
        )

    def progress_table_sql(self, table: str) -> str:
        """The ``CREATE TABLE IF NOT EXISTS`` of the statement-progress table
        (``umbral.progress``), its keys sized as the tracking table's."""
        return (
            f"CREATE TABLE IF NOT EXISTS {table} (plugin TEXT NOT NULL, name TEXT NOT NULL, "
            "checksum TEXT NOT NULL, backward INTEGER NOT NULL, done INTEGER NOT NULL, "
            "total INTEGER NOT NULL, error TEXT, updated_at TEXT NOT NULL, "
            "PRIMARY KEY (plugin, name))"
        )

    def runs_in_steps(self, steps: Sequence[Any], atomic: bool) -> bool:
        """Whether a migration of these rendered steps can be left partly applied here, so
        that it runs statement by statement with its progress recorded and a failed run
        continues at the failed statement (``umbral.progress``). Default: a migration marked
        ``"atomic": false`` where such migrations run outside a transaction. A backend whose
        DDL commits on its own adds every migration with DDL."""
        return not atomic and self.NON_ATOMIC_MIGRATIONS

    def upsert_returning(self, conn: Connection) -> bool:
        """Whether ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` and ``DELETE ... RETURNING``
        work on this connection (the tracking row is then claimed in one statement)."""
        return False

    def inspect_fixup(self, conn: Connection, table: Any) -> None:
        """Correct what SQLAlchemy's reflection got wrong or lost about one table read by
        ``inspectdb`` (a ``umbral.inspect.reader.RawTable``, changed in place). Default:
        the inspector is right."""

    def read_only(self, conn: Connection) -> None:
        """Make a freshly opened connection refuse writes for the rest of its transaction,
        where the database can (``inspectdb`` reads through it). Default: nothing."""

    #: How ``inspectdb`` names this database in the models it writes ("PostgreSQL").
    DISPLAY_NAME: ClassVar[str] = ""

    # -- connections ----------------------------------------------------------------------

    def normalize_url(self, url: str, root: Path) -> str:
        """Turn a configured URL into a SQLAlchemy URL (driver, relative paths)."""
        return url

    @contextmanager
    def schema_session(
        self, conn: Connection, schema: str, shared: str, wait: float
    ) -> Iterator[None]:
        """Point ``conn``, a connection kept for many tenants, at ``schema`` (``shared``
        after it, as ``schema_url`` does) and hold that schema's migration lock on it for the
        block. Default: the database has no schemas."""
        self.schema_url("", schema, shared)  # raises the reason
        yield

    def flush(self, conn: Connection) -> None:
        """Make every migration committed on ``conn`` durable before the run reports success
        (a backend that commits without waiting for the disk). Default: nothing to do."""

    def schema_url(self, url: str, schema: str, shared: str) -> str:
        """``url`` on a connection whose current schema is ``schema``, where the names it
        does not hold are found in ``shared`` (a tenant's, ``umbral.tenants``): what umbral
        creates there, tracking table included, lands in ``schema``. Default: the database
        has no schemas, so it has no tenants."""
        from umbral.errors import ConfigError

        raise ConfigError(
            f"tenant schemas need a database with schemas; the {self.name} backend has none: "
            "remove [tool.umbral.tenants], or use a backend whose databases have schemas"
        )

    def is_in_memory(self, url: str) -> bool:
        return False

    def missing_database(self, url: str) -> str | None:
        """What opening ``url`` would create because it does not exist yet (a file), or None.

        Commands that only read do not create it: they read ``empty_database_url()`` instead,
        the empty database it would be."""
        return None

    def empty_database_url(self) -> str:
        """A database with nothing in it, created and gone with its connection."""
        raise NotImplementedError

    def create_engine(self, url: str) -> Engine:
        from sqlalchemy import create_engine

        return create_engine(url)

    def read_only_engine(self, url: str) -> Engine:
        """An engine whose connections ``inspectdb`` reads through: one that cannot create
        or change the database where the backend can say so (``read_only`` does the rest)."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        return create_engine(url, poolclass=NullPool)

    def begin_sql(self) -> str | None:
        """The statement that opens a migration transaction, or None for the driver default."""
        return None

    #: Whether ``migration_lock`` keeps every other ``migrate`` out for the whole run, so a
    #: migration planned under it cannot be applied by another process meanwhile.
    RUN_LOCK: ClassVar[bool] = False

    @contextmanager
    def migration_lock(self, conn: Connection, wait: float) -> Iterator[None]:
        """Hold the cross-process migration lock for a whole run (no-op by default)."""
        yield

    def session_setup(self, conn: Connection) -> None:
        """Apply session settings (timeouts) once the migration lock is held (no-op default)."""

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Whether a driver error means "gave up waiting for a lock" (worth a retry)."""
        return False

    def is_statement_timeout(self, exc: BaseException) -> bool:
        """Whether a driver error means the statement outran ``statement_timeout``."""
        return False

    def lock_wait_expired(self, exc: BaseException) -> bool:
        """Whether a driver error means another process held the database's write lock for
        longer than ``--lock-wait`` (where the backend waits for it per connection)."""
        return False

    def non_atomic_prelude(self, conn: Connection, sql: str) -> list[str]:
        """Statements that clean up what a failed earlier run of ``sql`` (a statement of a
        non-atomic migration) left behind, run before each attempt. Default: none."""
        return []

    def foreign_keys_off(self, conn: Connection) -> None:
        """Turn foreign-key enforcement off before a migration that rebuilds a table."""

    def foreign_keys_on(self, conn: Connection) -> None:
        """Turn it back on after that migration, whatever happened."""

    def script_frame(self, needs_fk_off: bool) -> tuple[list[str], list[str]]:
        """Statements a printed migration (``sqlmigrate``) runs before its first operation
        and after its last, so that the script run by hand does what ``foreign_keys_off``,
        the transaction and ``foreign_key_violations`` do around it in ``migrate``.
        ``needs_fk_off``: the migration runs with enforcement off. Default: none."""
        return [], []

    def foreign_key_state(self, conn: Connection) -> Any:
        """The dangling references there are now, as ``foreign_key_violations`` compares
        them (taken before a migration that runs with enforcement off)."""
        return None

    def foreign_key_violations(self, conn: Connection, before: Any) -> int:
        """Count the dangling references that were not there ``before`` (checked before
        committing a migration that ran with enforcement off). Those there before are not the
        migration's doing: a database enforcement never guarded may hold some."""
        return 0

    #: The SQL type a value is cast to for ``as_text``.
    TEXT_CAST: ClassVar[str] = "TEXT"

    def as_text(self, expr: str) -> str:
        """``expr`` as text, to compare values of two types (an integer key and a text one)."""
        return f"CAST({expr} AS {self.TEXT_CAST})"

    def foreign_key_example(self, conn: Connection, before: Any) -> str:
        """One of the new dangling references ``foreign_key_violations`` counted, for its
        error: the table, the column and the value with no target. Empty: cannot say."""
        return ""

    #: The check ``foreign_key_violations`` makes, as a failure of it names it.
    FOREIGN_KEY_CHECK: ClassVar[str] = "checking foreign keys"

    #: Operation kinds whose SQL never deletes rows and runs no user SQL: they create, rename
    #: or re-index (a dropped table deletes its rows, with cascades when enforcement is on).
    #: A migration of only these runs the same with foreign-key enforcement on or off (so it
    #: joins a batch of either mode) and cannot violate a deferred constraint (so that check
    #: is skipped). A backend whose rendering of one of them may delete rows leaves it out.
    FK_NEUTRAL: ClassVar[frozenset[str]] = frozenset({
        "CreateTable", "AddColumn", "DropColumn", "AlterColumn", "RenameTable", "RenameColumn",
        "CreateM2MTable", "AddIndex", "DropIndex", "SetColumnComment", "CreateView", "DropView",
        "AlterM2MKey",
    })  # fmt: skip

    #: The check of deferred constraints at the end of a migration, as its error names it.
    DEFERRED_CHECK: ClassVar[str] = ""
    #: The statement that checks them, raising the violation it finds, when the check is one
    #: statement: the one-round-trip script (``run_script``) then carries it.
    DEFERRED_CHECK_SQL: ClassVar[str | None] = None

    def deferred_state(self, conn: Connection) -> Any:
        """What ``deferred_violations`` compares against, read before a migration runs its
        statements (inside its transaction). Default: nothing."""
        return None

    def deferred_violations(self, conn: Connection, before: Any) -> str | None:
        """Check deferred constraints at the end of a migration, inside its transaction, so
        that a violation fails that migration rather than the COMMIT (which on SQLite may end
        a batch of migrations). Returns what is violated, or None; may instead raise the
        driver's error. ``before``: what ``deferred_state`` returned. Default: no check."""
        return None

    def broken_views(self, conn: Connection) -> list[str]:
        """Views that no longer compile (checked before committing a migration)."""
        return []

    def cannot_run_in_transaction(self, statement: str) -> str | None:
        """Why ``statement`` must not run inside a migration's transaction, or None.

        Base: it controls the transaction (``BEGIN``, ``COMMIT``, ``SAVEPOINT``...), which would
        commit part of the migration, or its tracking row, on its own. A backend adds what its
        database cannot run inside a transaction (and calls this). The executor refuses such a
        statement before anything runs, in every migration that runs in a transaction.
        """
        word = transaction_control(statement)
        return "controls the transaction" if word else None

    def can_run_script(self, conn: Connection) -> bool:
        """Whether ``run_script`` can run a migration on this connection. Default: no."""
        return False

    def run_script(
        self,
        conn: Connection,
        statements: Sequence[str],
        *,
        commit: bool = False,
        chain: bool = False,
    ) -> None:
        """Run ``statements`` in order in one round trip, inside the current transaction,
        raising the driver's error when one fails (the executor then rolls back).

        ``commit``: no SQLAlchemy transaction is open; the script runs in a transaction of the
        driver's and ends with its ``COMMIT``, and a failure rolls that transaction back before
        the error is raised. ``chain`` (with ``commit``): after the ``COMMIT`` the script opens
        the next migration's transaction, which then runs without a ``BEGIN`` of its own."""
        raise NotImplementedError

    def can_count(self, conn: Connection, statement: str) -> bool:
        """Whether ``statement`` may go in a ``run_counted`` script on this connection.
        Default: no backend sends such scripts."""
        return False

    def run_counted(
        self, conn: Connection, statements: Sequence[str]
    ) -> tuple[int, BaseException | None]:
        """Run ``statements`` in order in one round trip, outside any transaction of
        SQLAlchemy's (each ends its own where it says so: a migration that runs statement by
        statement sends each statement with its progress and a ``COMMIT``), stopping at the
        first that fails. Returns how many completed and the driver's error of the next one
        (None when all did); after a failure the open transaction is rolled back. Only for
        statements ``can_count`` accepts."""
        raise NotImplementedError


def backend_of(conn: Connection) -> Backend:
    """The backend a connection was opened through (``umbral.database.connect`` notes it);
    for a connection opened otherwise, the installed backend whose URL schemes name the
    connection's SQLAlchemy dialect, else a plain ``Backend`` (portable SQL only)."""
    from umbral.database import BACKEND_KEY

    found = conn.info.get(BACKEND_KEY)
    if isinstance(found, Backend):
        return found
    return _installed_backend(conn.dialect.name)


@cache
def _installed_backend(dialect: str) -> Backend:
    from umbral.errors import UmbralError
    from umbral.plugins import load_plugins, new_manager

    pm = new_manager()
    try:
        load_plugins(pm)
    except UmbralError:  # a broken plugin elsewhere: the portable default still works
        return Backend()
    for found in pm.hook.umbral_backends(scheme=dialect):
        for backend in found or ():
            if dialect in backend.schemes:
                return backend
    return Backend()


def _snake(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower().replace("m2_m", "m2m")


def integer_pk(col: Column) -> bool:
    return col.primary_key and col.storage_type in INTEGER_TYPES
