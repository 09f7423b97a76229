"""The SQLite dialect: types, autoincrement keys, and the table-recreation dance (SPEC §6).

SQLite cannot alter a column in place, cannot drop a column that a foreign key or the primary
key uses, and cannot add a column whose default is not a constant. Those changes rebuild the
table: create ``_umbral_new_<t>``, copy every row and the AUTOINCREMENT counter, drop the old
table, rename the new one into place and re-create every index. The executor runs such a
migration with foreign-key enforcement off and checks ``PRAGMA foreign_key_check`` before
committing. A table umbral did not create keeps the CHECK constraints, collations and foreign
keys its models do not describe (``tabledef.carry``, at run time); what a rebuild cannot keep
stops the migration. For a table exactly as its migrations left it, two rebuilds have shortcuts
(``run_shortcut``): an AlterColumn that changes only the column's definition text (NOT NULL
dropped, the declared type within its affinity) edits the stored definition, and a copy that
keeps every column in place uses ``SELECT *``.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from umbral import cancel
from umbral.backend import Backend, RenderContext, Shortcut, integer_pk
from umbral.database import driver_cursor
from umbral.errors import UnsupportedChange
from umbral.naming import index_name
from umbral.schema import Column, ModelState, Shim
from umbral.sqlscript import leading_words
from umbral_sqlite.tabledef import (
    CannotCarry,
    carry,
    index_columns,
    parse,
    tokenize,
    trigger_event,
    without_constraints_on,
)

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.engine import Connection, Engine

    from umbral import operations as ops

#: Seconds a connection waits on a locked database before giving up (also the ``--lock-wait``
#: default): concurrent ``migrate`` processes queue on ``BEGIN IMMEDIATE``.
DEFAULT_BUSY_TIMEOUT = 300.0


class SQLiteBackend(Backend):
    name: ClassVar[str] = "sqlite"
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    TYPES: ClassVar[dict[str, str]] = {
        "SmallInt": "SMALLINT",
        "Integer": "INTEGER",
        "BigInt": "BIGINT",
        "Real": "REAL",
        "Double": "DOUBLE",
        "Boolean": "BOOLEAN",
        "Text": "TEXT",
        "Date": "DATE",
        "Time": "TIME",
        "Timestamp": "TIMESTAMP",
        "Timestamptz": "TIMESTAMPTZ",
        "Uuid": "UUID",
        "Json": "JSON",
        "Bytes": "BLOB",
        "Decimal": "DECIMAL",
    }
    UNIQUE_AS_INDEX: ClassVar[bool] = True
    COLUMN_COMMENTS: ClassVar[bool] = False
    TRUE: ClassVar[str] = "1"
    FALSE: ClassVar[str] = "0"

    #: apply_plan runs consecutive migrations in one transaction, a savepoint each: every
    #: COMMIT costs an fsync of the journal and the database (~16 ms on a VM disk), the write
    #: lock is database-wide anyway, and PRAGMA foreign_keys still switches between batches.
    BATCH_MIGRATIONS: ClassVar[bool] = True

    busy_timeout: float = DEFAULT_BUSY_TIMEOUT

    #: Statements SQLite refuses inside a transaction.
    OUTSIDE_TRANSACTION: ClassVar[frozenset[str]] = frozenset({"VACUUM", "ATTACH", "DETACH"})

    def cannot_run_in_transaction(self, statement: str) -> str | None:
        reason = super().cannot_run_in_transaction(statement)
        words = leading_words(statement, 1)
        if reason is None and words and words[0] in self.OUTSIDE_TRANSACTION:
            return "cannot run inside a transaction on SQLite"
        return reason

    def pk_sql(self, table: str, col: Column) -> str:
        if integer_pk(col):
            # Only the exact type INTEGER aliases the rowid and auto-assigns ids.
            return f"{self.quote(col.name)} INTEGER PRIMARY KEY AUTOINCREMENT"
        return f"{self.quote(col.name)} {self.sql_type(col)} NOT NULL PRIMARY KEY"

    # -- operations that need a rebuild ---------------------------------------------------

    def render_add_column(self, op: ops.AddColumn, ctx: RenderContext) -> list[str]:
        col = op.column
        # ALTER TABLE ADD COLUMN refuses non-constant defaults (CURRENT_TIMESTAMP) and, with
        # foreign keys on, a REFERENCES column with a non-NULL default.
        # And a one-off backfill: ADD COLUMN would keep it as the column's default (SQLite
        # cannot drop a default without a rebuild); the rebuild writes it into the copied rows.
        if (
            col.auto_now_add
            or col.auto_now
            or (col.is_fk and col.default is not None)
            or op.backfill is not None
        ):
            old = self._table(op.table, ctx)
            new = replace(old, fields=(*old.fields, col))
            fill = {} if op.backfill is None else {col.name: op.backfill}
            return self.rebuild(old, new, ctx, fill)
        return super().render_add_column(op, ctx)

    def render_drop_column(self, op: ops.DropColumn, ctx: RenderContext) -> list[str]:
        old = self._table(op.table, ctx, required=False)
        if old is None:
            return super().render_drop_column(op, ctx)
        col = old.column(op.column)
        from umbral.operations import DropColumn

        new = DropColumn(table=op.table, column=op.column).apply({op.table: old})[op.table]
        if col is not None and (col.primary_key or (col.is_fk and col.db_constraint)):
            return self.rebuild(old, new, ctx)
        # SQLite refuses to drop an indexed column: drop its indexes first.
        out = []
        if col is not None and col.unique:
            out.append(self.drop_index_sql(op.table, (op.column,), True))
        out += [
            self.drop_index_sql(op.table, cols, u)
            for cols, u in old.index_specs()
            if op.column in cols
        ]
        drop = super().render_drop_column(op, ctx)
        unique = col is not None and (
            col.unique or any(u and op.column in cols for cols, u in old.index_specs())
        )
        if unique:
            # SQLite never drops a column of a UNIQUE constraint, and a table umbral did not
            # create may declare one in its definition: rebuild, unless the table is as its
            # migrations made it (its uniqueness then lives in the indexes dropped above).
            stmts = self.rebuild(old, new, ctx)
            expected = self.create_table_sql(op.table, old.fields)
            native = (*out, *drop)
            ctx.shortcuts.append(
                Shortcut("in place", op.table, tuple(stmts), expected, native[0], op.column, native)
            )
            return stmts
        # And the indexes the models do not know (made by hand, adopted under a legacy name),
        # found at run time: dropping a column drops the indexes that use it, as on PostgreSQL.
        ctx.shortcuts.append(Shortcut("drop column", op.table, tuple(drop), "", drop[0], op.column))
        return [*out, *drop]

    def render_alter_column(self, op: ops.AlterColumn, ctx: RenderContext) -> list[str]:
        old = self._table(op.table, ctx)
        new = op.apply({op.table: old})[op.table]
        if op.from_.db_attributes() == op.to.db_attributes():
            return []
        before = self.create_table_sql(op.table, old.fields)
        after = self.create_table_sql(op.table, new.fields)
        same_indexes = self.table_indexes_sql(old) == self.table_indexes_sql(new)
        if before == after and same_indexes:
            return []  # what changed is not stored by SQLite (``choices``: no CHECK here)
        fill = {} if op.backfill is None else {op.column: op.backfill}
        check: list[str] = []
        if op.to.unique and not op.from_.unique and not op.to.primary_key:
            check = self.unique_check(op.table, (op.column,), ctx)
        stmts = self.rebuild(old, new, ctx, fill)
        if same_indexes and self._definition_only(op):
            ctx.shortcuts.append(Shortcut("definition", op.table, tuple(stmts), before, after))
        return [*check, *stmts]

    def _definition_only(self, op: ops.AlterColumn) -> bool:
        """The rebuild would copy every stored value unchanged and check none of them: only
        the column's definition text differs. True when the change drops NOT NULL (never adds
        it) or changes the declared type within one SQLite type affinity (VARCHAR(20) to
        VARCHAR(40) or TEXT, INTEGER to BIGINT): the rebuild's copy converts a value only to
        the column's affinity, which every stored value already has, and SQLite enforces no
        length.

        Never a changed default, though SQLite's documentation lists it among the safe edits:
        rows written before an ``ADD COLUMN`` do not hold that column, and SQLite reads the
        column's current default for them, so editing the default would change their values.
        The rebuild stores every value as it reads it."""
        old, new = op.from_, op.to
        if old.primary_key or new.primary_key or old.is_fk != new.is_fk:
            return False
        if old.nullable and not new.nullable:
            return False  # NOT NULL must be checked against every row: the rebuild does
        if affinity(self.sql_type(old)) != affinity(self.sql_type(new)):
            return False
        relaxed = replace(old, **{a: getattr(new, a) for a in _DEFINITION_ONLY})
        return relaxed.db_attributes() == new.db_attributes()

    def compat_shim_sql(self, shim: Shim, model: ModelState | None) -> list[str]:
        """SQLite views are read-only: INSTEAD OF triggers write through to the table. The
        trigger cannot tell a column the writer left out from an explicit NULL: a NOT NULL
        column with a default gets its default for NULL (it could not hold NULL anyway), a
        nullable one gets NULL."""
        out = super().compat_shim_sql(shim, model)
        if model is None:
            return out
        q = self.quote

        def seen(col: str) -> str:  # the column's name in the view
            return shim.from_ if shim.from_ is not None and col == shim.to else col

        names = [c.name for c in model.fields]
        keys = [c.name for c in model.fields if c.primary_key] or names
        cols = ", ".join(q(n) for n in names)

        def value(c: Column) -> str:
            default = None if c.nullable else self.default_sql(c)
            new = f"NEW.{q(seen(c.name))}"
            return f"COALESCE({new}, {default})" if default is not None else new

        values = ", ".join(value(c) for c in model.fields)
        sets = ", ".join(f"{q(n)} = NEW.{q(seen(n))}" for n in names)
        where = " AND ".join(f"{q(k)} = OLD.{q(seen(k))}" for k in keys)
        view, table = q(shim.name), q(shim.table)
        trigger = f"umbral_compat_{shim.name}"
        out += [
            f"CREATE TRIGGER {q(trigger + '_insert')} INSTEAD OF INSERT ON {view} BEGIN "
            f"INSERT INTO {table} ({cols}) VALUES ({values}); END",
            f"CREATE TRIGGER {q(trigger + '_update')} INSTEAD OF UPDATE ON {view} BEGIN "
            f"UPDATE {table} SET {sets} WHERE {where}; END",
            f"CREATE TRIGGER {q(trigger + '_delete')} INSTEAD OF DELETE ON {view} BEGIN "
            f"DELETE FROM {table} WHERE {where}; END",
        ]
        return out

    def render_drop_table(self, op: ops.DropTable, ctx: RenderContext) -> list[str]:
        # SQLite's DROP TABLE deletes the rows first and checks that delete against the
        # table's own foreign keys: rows that reference each other through a RESTRICT key
        # would stop it. When nothing else points at the table (no cascade to keep),
        # enforcement is off for the migration instead.
        model = ctx.state.get(op.table)
        if model is not None and any(c.fk_target == op.table for c in model.fields):
            others = [m for m in ctx.state.values() if m.table != op.table]
            if not model.m2m and not any(
                any(c.fk_target == op.table for c in m.fields)
                or any(r.target == op.table for r in m.m2m)
                for m in others
            ):
                ctx.needs_fk_off = True
        return super().render_drop_table(op, ctx)

    def render_rename_table(self, op: ops.RenameTable, ctx: RenderContext) -> list[str]:
        # Index names embed the table name (SPEC §6): re-create them under the new name so
        # later operations (DropIndex, a rebuild) find them. SQLite cannot rename an index.
        out = super().render_rename_table(op, ctx)
        model = ctx.state.get(op.from_)
        if model is not None:
            renamed = replace(model, table=op.to)
            out += [self.drop_index_sql(op.from_, c, u) for c, u in self._indexes(model)]
            out += self._moved_indexes(op.to, self._indexes(renamed), ctx)
        for parent in ctx.state.values():
            if any(rel.table == op.from_ for rel in parent.m2m):  # a junction table
                out.append(self.drop_index_sql(op.from_, ("child_id",), False))
                out.append(self.index_sql(op.to, ("child_id",), False))
        return out

    def render_rename_column(self, op: ops.RenameColumn, ctx: RenderContext) -> list[str]:
        out = super().render_rename_column(op, ctx)
        model = ctx.state.get(op.table)
        if model is not None:
            renamed = op.apply({op.table: model})[op.table]
            old = [s for s in self._indexes(model) if op.from_ in s[0]]
            new = [s for s in self._indexes(renamed) if op.to in s[0]]
            out += [self.drop_index_sql(op.table, c, u) for c, u in old]
            out += self._moved_indexes(op.table, new, ctx)
        return out

    def _moved_indexes(
        self, table: str, specs: list[tuple[tuple[str, ...], bool]], ctx: RenderContext
    ) -> list[str]:
        """Re-create the models' indexes of ``table`` under the names a rename gives them. At
        run time one is left out when the table already has an index that indexes the same way
        under another name (adopted by inspectdb with its legacy name, which SQLite kept
        through the rename): the rename does not add a second one, as on PostgreSQL."""
        out = []
        for cols, unique in specs:
            create = self.index_sql(table, cols, unique)
            ctx.shortcuts.append(Shortcut("moved index", table, (create,), "", create))
            out.append(create)
        return out

    def _indexes(self, model: ModelState) -> list[tuple[tuple[str, ...], bool]]:
        own = [((c.name,), True) for c in model.fields if c.unique and not c.primary_key]
        return own + model.index_specs()

    def render_set_column_comment(self, op: ops.SetColumnComment, ctx: RenderContext) -> list[str]:
        return []  # SQLite has no column comments; the migration is still recorded

    def render_drop_index(self, op: ops.DropIndex, ctx: RenderContext) -> list[str]:
        """Drop the index, found at run time by what it is (``drop index``): an index adopted
        under its legacy name is the one the models drop. A UNIQUE constraint in the table's
        definition (a table umbral did not create) cannot be dropped but by a rebuild, which
        is what is rendered for a unique one; the run time takes the drop instead when the
        definition has no such constraint."""
        drop = self.drop_index_sql(op.table, op.columns, op.unique)
        what = (self.index_sql(op.table, op.columns, op.unique),)  # the index, as umbral makes it
        model = ctx.state.get(op.table) if op.unique else None
        if model is None:
            ctx.shortcuts.append(Shortcut("drop index", op.table, (drop,), "", drop, None, what))
            return [drop]
        offered = len(ctx.shortcuts)
        stmts = self.rebuild(model, op.apply({op.table: model})[op.table], ctx)
        # Offered before the rebuild's own steps: when taken, none of them runs.
        shortcut = Shortcut("drop index", op.table, tuple(stmts), "", drop, None, what)
        ctx.shortcuts.insert(offered, shortcut)
        return stmts

    def _table(self, table: str, ctx: RenderContext, required: bool = True) -> ModelState:
        model = ctx.state.get(table)
        if model is None and required:
            raise UnsupportedChange(
                f"{ctx.migration or 'migration'}: table `{table}` is not in the plugin's schema "
                "before this operation, so SQLite cannot rebuild it"
            )
        return model  # type: ignore[return-value]

    def rebuild(
        self,
        old: ModelState,
        new: ModelState,
        ctx: RenderContext,
        fill: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """The table-recreation dance, keeping every row and re-creating every index.

        ``fill``: one-off values (column -> value) the copy writes where a column of the new
        table is NULL or new, without making them its default."""
        fill = fill or {}
        ctx.needs_fk_off = True
        ctx.rebuilt.add(new.table)
        q = self.quote
        table = new.table
        tmp = f"_umbral_new_{table}"
        old_names = {c.name for c in old.fields}
        copied = [c for c in new.fields if c.name in old_names or c.name in fill]
        targets = ", ".join(q(c.name) for c in copied)
        exprs = ", ".join(self._copy_expr(c, fill, old_names) for c in copied)
        copy = f"INSERT INTO {q(tmp)} ({targets}) SELECT {exprs} FROM {q(table)}"
        expected = self.create_table_sql(table, old.fields)
        create = self.create_table_sql(tmp, new.fields)
        # A table umbral did not create may hold constraints its models do not describe: the
        # new table takes them from the stored definition (tabledef.carry), or the migration
        # stops before it would lose them.
        ctx.shortcuts.append(Shortcut("carry", table, (create,), expected, create))
        if [c.name for c in new.fields] == [c.name for c in old.fields] and targets == exprs:
            # The same columns in the same order, copied as they are: when the stored table is
            # laid out as `old` says, `SELECT *` copies the same values, and lets SQLite move
            # whole records without decoding them when the two definitions allow it.
            ctx.shortcuts.append(
                Shortcut(
                    "statement",
                    table,
                    (copy,),
                    expected,
                    f"INSERT INTO {q(tmp)} SELECT * FROM {q(table)}",
                )
            )
        swap = (
            f"DROP TABLE {q(table)}",
            # Legacy mode renames without re-parsing views and triggers that name the table
            # we just dropped; they keep pointing at the name, which is back after the rename.
            "PRAGMA legacy_alter_table = ON",
            f"ALTER TABLE {q(tmp)} RENAME TO {q(table)}",
            "PRAGMA legacy_alter_table = OFF",
            *self.table_indexes_sql(new),
        )
        # DROP TABLE takes the table's triggers and hand-made indexes with it: the swap reads
        # them just before and re-creates them after (``_swap``).
        # The indexes the models had before: one the table has under another name (adopted
        # by inspectdb) is theirs, and goes when they no longer have it.
        before = tuple(self.table_indexes_sql(old))
        ctx.shortcuts.append(Shortcut("swap", table, swap, "", swap[0], None, before))
        return [create, copy, *self._carry_counter_sql(old, new, table, tmp), *swap]

    def _carry_counter_sql(
        self, old: ModelState, new: ModelState, table: str, tmp: str
    ) -> list[str]:
        """Carry the AUTOINCREMENT counter (``sqlite_sequence``) to the new table.

        AUTOINCREMENT promises that no id is used twice, even one whose row was deleted: the
        counter keeps the largest id the table ever had. The copy sets the new table's counter
        only to the largest id still there (or leaves none), and dropping the old table deletes
        its counter, so the next insert would reuse the ids of deleted rows. The rename at the
        end of the rebuild renames the counter with the table.
        """
        old_pk = [c.name for c in old.fields if integer_pk(c)]
        new_pk = [c.name for c in new.fields if integer_pk(c)]
        if not old_pk or old_pk != new_pk:
            return []  # one of the two has no AUTOINCREMENT key: no counter to carry
        lit = self.literal
        both = f"{lit(table)}, {lit(tmp)}"
        return [
            f"UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence "
            f"WHERE name IN ({both})) WHERE name = {lit(tmp)}",
            f"INSERT INTO sqlite_sequence (name, seq) SELECT {lit(tmp)}, seq FROM sqlite_sequence "
            f"WHERE name = {lit(table)} AND NOT EXISTS "
            f"(SELECT 1 FROM sqlite_sequence WHERE name = {lit(tmp)})",
        ]

    def _copy_expr(self, col: Column, fill: Mapping[str, Any], old_names: set[str]) -> str:
        if col.name in fill:
            value = self.literal(fill[col.name])
            if col.name not in old_names:
                return value
            return f"COALESCE({self.quote(col.name)}, {value})"
        if not col.nullable and col.default is not None:
            return f"COALESCE({self.quote(col.name)}, {self.literal(col.default)})"
        return self.quote(col.name)

    # -- the tracking table and inspectdb ---------------------------------------------------

    DISPLAY_NAME: ClassVar[str] = "SQLite"

    def upsert_returning(self, conn: Connection) -> bool:
        """RETURNING with ON CONFLICT: SQLite from 3.35."""
        return (conn.dialect.server_version_info or (0,)) >= (3, 35)

    def inspect_fixup(self, conn: Connection, table: Any) -> None:
        from umbral_sqlite.inspect import fixup

        fixup(conn, table)

    def read_only_engine(self, url: str) -> Engine:
        """The file opened with ``mode=ro``: a source database must already exist, and
        reading it never writes (nor creates) it."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        def open_read_only() -> Any:
            import sqlite3

            path = url.split("://", 1)[1][1:].split("?", 1)[0]
            if path in ("", ":memory:"):
                return sqlite3.connect(":memory:")
            file = Path(path)
            if not file.is_file():
                # Opening would create it; a source database must already exist.
                raise FileNotFoundError(f"no SQLite database file at {file}")
            return sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)

        return create_engine("sqlite://", creator=open_read_only, poolclass=NullPool)

    # -- connections ----------------------------------------------------------------------

    def normalize_url(self, url: str, root: Path) -> str:
        # sqlite:///relative/path is relative to the project directory, not the cwd.
        prefix, _, rest = url.partition("://")
        if (
            rest.startswith("/")
            and not rest.startswith("//")
            and rest[1:]
            and not self.is_in_memory(url)
        ):
            path = rest[1:]
            query = ""
            if "?" in path:
                path, query = path.split("?", 1)
                query = "?" + query
            p = Path(path)
            if not p.is_absolute():
                p = root / p
            return f"{prefix}:///{p}{query}"
        return url

    def is_in_memory(self, url: str) -> bool:
        rest = url.partition("://")[2]
        path = rest.split("?", 1)[0]
        return path in ("", "/", "/:memory:") or ":memory:" in rest or "mode=memory" in rest

    def missing_database(self, url: str) -> str | None:
        if self.is_in_memory(url):
            return None
        path = _file_path(url)
        if not path or path.startswith("file:"):  # a URI filename: its own rules
            return None
        # A missing directory is not "empty": opening it fails, as `migrate` would.
        return path if Path(path).parent.is_dir() and not Path(path).exists() else None

    def empty_database_url(self) -> str:
        return "sqlite://"

    def create_engine(self, url: str) -> Engine:
        import sqlite3

        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import NullPool

        if not self.is_in_memory(url):
            path = _file_path(url)
            if path and not Path(path).parent.exists():
                # Without this check sqlite3 says only "unable to open database file".
                raise sqlite3.OperationalError(f"directory {Path(path).parent} does not exist")
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": self.busy_timeout})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # pysqlite would otherwise commit DDL behind our back (tech notes §3.3): we emit
            # BEGIN ourselves so a migration's statements and its tracking row are atomic.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()
            # Ctrl-C stops a long statement at once instead of after it (umbral.cancel).
            cancel.register(dbapi_conn, sqlite3.Connection.interrupt)

        @event.listens_for(engine, "close")
        def _close(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cancel.forget(dbapi_conn)

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql(conn.info.get("umbral_begin", "BEGIN"))

        return engine

    def begin_sql(self) -> str | None:
        # Take the write lock up front: the re-check of the applied set inside the transaction
        # then sees every migration another process committed before us.
        return "BEGIN IMMEDIATE"

    def lock_wait_expired(self, exc: BaseException) -> bool:
        # SQLITE_BUSY once the busy timeout (``--lock-wait``) ran out; a statement inside
        # BEGIN IMMEDIATE never waits, so this is BEGIN, or COMMIT waiting for readers.
        orig = getattr(exc, "orig", None) or exc
        return getattr(orig, "sqlite_errorcode", None) == _SQLITE_BUSY

    def foreign_keys_off(self, conn: Connection) -> None:
        # A no-op inside a transaction, so the executor calls it before BEGIN.
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")

    def foreign_keys_on(self, conn: Connection) -> None:
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")

    def foreign_key_violations(self, conn: Connection) -> int:
        return len(conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall())

    def run_shortcut(self, conn: Connection, shortcut: Shortcut) -> bool:
        """The run-time steps of ``rebuild``: ``carry`` (the new table takes what the stored
        one holds beyond its models) and ``swap`` (the old table's triggers and hand-made
        indexes survive the drop) always apply. The fast paths ``statement`` (copy with
        ``SELECT *``) and ``definition`` (edit the stored definition, no copy) are taken only
        when the stored table is exactly what the migrations created: its ``CREATE TABLE`` text
        is the one this backend renders for the table's state before the change (a table
        created by hand, or whose columns are not in the order the models say, does not match
        and is rebuilt)."""
        if shortcut.kind == "unique check":
            return super().run_shortcut(conn, shortcut)
        # The driver's cursor, as for the migration's own statements: a history that drops
        # NOT NULL a hundred times runs a thousand of these small statements.
        cur = driver_cursor(conn)
        if shortcut.kind == "swap":
            self._swap(cur, shortcut)
            return True
        if shortcut.kind == "moved index":
            return self._has_index_like(cur, shortcut.table, shortcut.sql)
        if shortcut.kind == "drop index":
            return self._drop_index(cur, shortcut.table, _spec_of(shortcut.statements[0]))
        row = cur.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (shortcut.table,)
        ).fetchone()
        stored = None if row is None else str(row[0])
        if shortcut.kind == "drop column":
            column = str(shortcut.column)
            self._drop_column(cur, shortcut.table, column, shortcut.replaces, stored)
            return True
        if shortcut.kind == "carry":
            return stored is not None and self._carry(cur, shortcut, stored)
        if stored != shortcut.expected:
            return False
        if shortcut.kind == "statement":
            cur.execute(shortcut.sql)
            return True
        if shortcut.kind == "in place":
            column = str(shortcut.column)
            self._drop_column(cur, shortcut.table, column, shortcut.statements, stored)
            return True
        if shortcut.kind == "definition":
            return self._edit_definition(cur, shortcut.table, shortcut.sql)
        return False

    def _drop_column(
        self,
        cur: sqlite3.Cursor,
        table: str,
        column: str,
        statements: Sequence[str],
        stored: str | None,
    ) -> None:
        """Drop ``column`` (``statements``: the ALTER TABLE) with what uses it, as PostgreSQL's
        DROP COLUMN does and SQLite's refuses to: the indexes the models do not know (made by
        hand, or adopted by inspectdb under a legacy name), and the CHECK constraints and
        foreign keys of a table umbral did not create that name it, removed by editing the
        stored definition (``stored``, SQLite's documented procedure for removing
        constraints)."""
        for name, sql in self._indexes_sql(cur, table):
            if column.lower() in index_columns(sql):
                cur.execute(f"DROP INDEX {self.quote(name)}")
        cut = without_constraints_on(stored, column) if stored else None
        if cut is not None:
            definition, removed = cut
            if not self._edit_definition(cur, table, definition, operator.eq):
                raise UnsupportedChange(
                    f"SQLite cannot drop column `{column}` of `{table}` while "
                    f"{' and '.join(removed)} name(s) it, and could not remove them (the table "
                    "has triggers, or the connection does not allow schema edits); drop the "
                    "column by hand in a RunSql migration"
                )
        for stmt in statements:
            cur.execute(stmt)

    def _carry(self, cur: sqlite3.Cursor, shortcut: Shortcut, stored: str) -> bool:
        """Create the rebuild's new table with what the stored definition holds beyond the
        models (``tabledef.carry``); False when there is nothing beyond them."""
        if stored == shortcut.expected:
            return False  # the table is as its migrations made it: the models say it all
        try:
            create = carry(stored, shortcut.expected, shortcut.sql)
        except (CannotCarry, ValueError) as exc:
            raise UnsupportedChange(
                f"SQLite table `{shortcut.table}` cannot be rebuilt without losing what its "
                f"models do not describe: {exc}; make this change by hand in a RunSql "
                'migration (docs/decisions.md, "What a SQLite rebuild carries")'
            ) from exc
        if create is None:
            return False
        cur.execute(create)
        return True

    def _swap(self, cur: sqlite3.Cursor, shortcut: Shortcut) -> None:
        """Put the rebuilt table in place of the old one (``shortcut.replaces``: drop, rename,
        the models' indexes), keeping the old table's triggers and the indexes that are not in
        its models (made by hand or by RunSql: partial, expression, unique ones).

        They are read just before the drop, so they are the table's objects at that point of
        the migration: one a RunSql created earlier in it is kept, one it dropped stays
        dropped. An index that uses a column the rebuild removed goes with the column, as on
        PostgreSQL. An index the models now make under umbral's name (the same columns, the
        same uniqueness: an index ``inspectdb`` adopted with its legacy name) is not made
        twice; one the models had before (``shortcut.statements``) and no longer have goes,
        whatever its name. A trigger the rebuild would break (one that names a removed
        column, here or on another table) stops the migration: SQLite would accept it and
        fail every write that fires it.
        """
        import sqlite3

        table = shortcut.table
        columns = f"PRAGMA table_info({self.quote(table)})"
        before = {r[1].lower() for r in cur.execute(columns)}
        specs = self._index_specs(cur, table)
        indexes = [
            (name, sql)
            for name, sql in self._indexes_sql(cur, table)
            if name not in specs or name != index_name(table, *specs[name][:2])
        ]
        triggers = cur.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
            "ORDER BY name",
            (table,),
        ).fetchall()
        broken = self._broken_triggers(cur)
        for stmt in shortcut.replaces:
            cur.execute(stmt)
        gone = before - {r[1].lower() for r in cur.execute(columns)}
        made = set(self._index_specs(cur, table).values())
        modelled = {_spec_of(create) for create in shortcut.statements}
        keep = [
            ("index", name, _CREATE_INDEX.sub(r"\1 IF NOT EXISTS ", sql, count=1))
            for name, sql in indexes
            # The models' indexes, just made, win a clash of names (IF NOT EXISTS).
            if specs.get(name) not in made
            and not index_columns(sql) & gone
            and not _plain(specs.get(name), modelled)
        ] + [("trigger", name, sql) for name, sql in triggers]
        for kind, name, sql in keep:
            try:
                cur.execute(sql)
            except sqlite3.Error as exc:
                raise UnsupportedChange(
                    f"the rebuild of `{table}` cannot re-create its {kind} `{name}` ({exc}); "
                    f"drop or change the {kind} in the same migration, before the change"
                ) from exc
        for name, error in self._broken_triggers(cur).items():
            if name not in broken:
                raise UnsupportedChange(
                    f"the rebuild of `{table}` would break trigger `{name}` ({error}); drop or "
                    "change the trigger in the same migration, before the change"
                )

    def _has_index_like(self, cur: sqlite3.Cursor, table: str, create: str) -> bool:
        """Whether ``table`` has an index that indexes as ``create`` (one of umbral's
        ``CREATE [UNIQUE] INDEX``, on plain ascending columns) would."""
        return bool(self._indexes_like(cur, table, _spec_of(create)))

    def _indexes_like(
        self, cur: sqlite3.Cursor, table: str, spec: tuple[tuple[str, ...], bool]
    ) -> list[str]:
        """The names of the indexes of ``table`` on plain ascending ``spec[0]`` (in that
        order) with uniqueness ``spec[1]``: a UNIQUE constraint's automatic index included."""
        return [
            name
            for name, (cols, unique, keys) in self._index_specs(cur, table).items()
            if (cols, unique) == spec and not any(d for d, _ in keys)
        ]

    def _drop_index(
        self, cur: sqlite3.Cursor, table: str, spec: tuple[tuple[str, ...], bool]
    ) -> bool:
        """Drop every index of ``table`` that indexes as ``spec`` says, whatever its name;
        False, having dropped nothing, when one of them is a UNIQUE constraint of the table's
        definition (only a rebuild removes it)."""
        found = self._indexes_like(cur, table, spec)
        # (seq, name, unique, origin, partial): origin "c" is a CREATE INDEX
        listed = cur.execute(f"PRAGMA index_list({self.quote(table)})").fetchall()
        if {r[1] for r in listed if r[3] != "c"} & set(found):
            return False
        for index in found:
            cur.execute(f"DROP INDEX {self.quote(index)}")
        return True

    def _indexes_sql(self, cur: sqlite3.Cursor, table: str) -> list[tuple[str, str]]:
        """(name, stored SQL) of the indexes of ``table`` made by CREATE INDEX."""
        return cur.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name = ? ORDER BY name",
            (table,),
        ).fetchall()

    def _broken_triggers(self, cur: sqlite3.Cursor) -> dict[str, str]:
        """The triggers that no longer compile, with SQLite's error: each is compiled by
        EXPLAIN of a statement that fires it (nothing runs)."""
        import sqlite3

        out = {}
        rows = cur.execute(
            "SELECT t.name, t.tbl_name, t.sql FROM sqlite_master t JOIN sqlite_master o "
            "ON o.name = t.tbl_name AND o.type = 'table' WHERE t.type = 'trigger'"
        ).fetchall()
        for name, table, sql in rows:
            q = self.quote(table)
            event = trigger_event(sql)
            if event == "INSERT":
                probe = f"INSERT INTO {q} DEFAULT VALUES"
            elif event == "DELETE":
                probe = f"DELETE FROM {q}"
            else:
                cols = [self.quote(r[1]) for r in cur.execute(f"PRAGMA table_info({q})")]
                probe = f"UPDATE {q} SET " + ", ".join(f"{c} = {c}" for c in cols)
            try:
                cur.execute(f"EXPLAIN {probe}").fetchall()
            except sqlite3.Error as exc:
                out[name] = str(exc)
        return out

    def _index_specs(self, cur: sqlite3.Cursor, table: str) -> dict[str, tuple]:
        """The full (not partial) indexes of ``table`` on columns (no expression), by name:
        (columns, unique, (descending, collation) of each column). Two indexes with the same
        spec index the same way; umbral names an index after its columns and uniqueness."""
        out = {}
        for _seq, name, unique, _origin, partial in cur.execute(
            f"PRAGMA index_list({self.quote(table)})"
        ).fetchall():
            # (seqno, cid, name, desc, coll, key); cid -2 is an expression
            keys = [r for r in cur.execute(f"PRAGMA index_xinfo({self.quote(name)})") if r[5]]
            if not partial and all(r[1] >= 0 for r in keys):
                cols = tuple(r[2] for r in keys)
                out[name] = (cols, bool(unique), tuple((r[3], r[4].upper()) for r in keys))
        return out

    def _edit_definition(
        self,
        cur: sqlite3.Cursor,
        table: str,
        definition: str,
        allowed: Callable[[list, list], bool] | None = None,
    ) -> bool:
        """Alter a column by editing the table's stored definition: no row is copied.

        This is the procedure SQLite documents for changes that do not touch the rows on disk
        (lang_altertable.html, "making other kinds of table schema changes": removing NOT NULL,
        and here a declared type of the same affinity, which decides how values are stored and
        so leaves the stored ones as they are; not a default, see ``_definition_only``): only
        the ``CREATE TABLE`` text in ``sqlite_master`` changes, and bumping ``schema_version``
        makes every connection re-read it. Taken only when the table has no triggers and schema
        edits are allowed (not ``SQLITE_DBCONFIG_DEFENSIVE``). It runs in a savepoint and is
        checked afterwards (``allowed`` compares ``PRAGMA table_info`` before and after; by
        default ``_edited_in_place``); anything unexpected undoes it and returns False.
        """
        import sqlite3

        if cur.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
        ).fetchone():
            return False
        info = f"PRAGMA table_info({self.quote(table)})"
        before = cur.execute(info).fetchall()
        # SQLite's advice: make sure the new text parses before it goes into the schema.
        probe = (
            f"CREATE TABLE {self.quote(f'_umbral_new_{table}')} "
            + definition[len(parse(definition).head) :].lstrip()
        )
        try:
            cur.execute(f"EXPLAIN {probe}").fetchall()
        except sqlite3.Error:
            return False
        cur.execute("SAVEPOINT umbral_edit_definition")
        try:
            cur.execute("PRAGMA writable_schema = ON")
            try:
                if cur.execute("PRAGMA writable_schema").fetchone() != (1,):
                    raise _Declined  # defensive mode ignores the pragma
                version = int(cur.execute("PRAGMA schema_version").fetchone()[0])
                cur.execute(
                    "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                    (definition, table),
                )
                cur.execute(f"PRAGMA schema_version = {version + 1}")
            finally:
                cur.execute("PRAGMA writable_schema = OFF")
            if not (allowed or _edited_in_place)(before, cur.execute(info).fetchall()):
                raise _Declined
        except (_Declined, sqlite3.Error):
            # Undone: the table is as it was, and the rebuild runs.
            cur.execute("ROLLBACK TO umbral_edit_definition")
            cur.execute("RELEASE umbral_edit_definition")
            return False
        cur.execute("RELEASE umbral_edit_definition")
        return True

    DEFERRED_CHECK: ClassVar[str] = (
        "PRAGMA foreign_key_check (deferred foreign keys, checked at the end of the migration)"
    )

    def deferred_state(self, conn: Connection) -> Counter[tuple]:
        return self._deferred_rows(driver_cursor(conn))

    def deferred_violations(self, conn: Connection, before: Counter[tuple] | None) -> str | None:
        """Rows violating a ``DEFERRABLE INITIALLY DEFERRED`` foreign key that were not there
        before the migration. SQLite checks such keys only at COMMIT, which in a batch would
        roll back the migrations before this one too; rows that violated them already (written
        while enforcement was off) are not this migration's doing, and COMMIT ignores them."""
        new = self._deferred_rows(driver_cursor(conn)) - (before or Counter())
        if not new:
            return None
        shown = sorted(new)[:3]
        where = ", ".join(f"{t} rowid {r} -> {p}" for t, r, p, _ in shown)
        more = f" and {sum(new.values()) - len(shown)} more" if sum(new.values()) > 3 else ""
        return (
            f"it would leave {sum(new.values())} row(s) violating a deferred foreign key "
            f"({where}{more}); such a key is checked only at the end of the migration, so no "
            "single statement failed"
        )

    def _deferred_rows(self, cur: sqlite3.Cursor) -> Counter[tuple]:
        """``PRAGMA foreign_key_check`` rows of the tables that have a deferred foreign key
        (the others are checked statement by statement)."""
        tables = [
            r[0]
            for r in cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND sql LIKE '%DEFERRED%' ORDER BY name"
            ).fetchall()
        ]
        found: Counter[tuple] = Counter()
        for table in tables:
            found.update(
                tuple(row) for row in cur.execute(f"PRAGMA foreign_key_check({self.quote(table)})")
            )
        return found

    def broken_views(self, conn: Connection) -> list[str]:
        names = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name"
            ).fetchall()
        ]
        broken = []
        for name in names:
            try:
                conn.exec_driver_sql(f"SELECT * FROM {self.quote(name)} LIMIT 0").fetchall()
            except Exception:
                broken.append(name)
        return broken

    @contextmanager
    def migration_lock(self, conn: Connection, wait: float) -> Iterator[None]:
        yield  # BEGIN IMMEDIATE per migration serialises writers; no run-wide lock needed


def _plain(spec: tuple | None, specs: set[tuple[tuple[str, ...], bool]]) -> bool:
    """Whether an index of ``spec`` (``SQLiteBackend._index_specs``) indexes as one of
    ``specs`` (columns, unique) does: the same columns, ascending, and uniqueness."""
    return spec is not None and spec[:2] in specs and not any(d for d, _ in spec[2])


def _spec_of(create: str) -> tuple[tuple[str, ...], bool]:
    """(columns, unique) of one of umbral's ``CREATE [UNIQUE] INDEX`` statements."""
    tokens = tokenize(create)
    start = next(i for i, t in enumerate(tokens) if t.text == "(")
    columns = tuple(str(t.name) for t in tokens[start:] if t.kind == "ident")
    return columns, tokens[1].word == "UNIQUE"


#: The primary result code of "database is locked".
_SQLITE_BUSY = 5

#: The start of an index's stored ``CREATE [UNIQUE] INDEX`` text.
_CREATE_INDEX = re.compile(r"^\s*(CREATE\s+(?:UNIQUE\s+)?INDEX)\s+", re.IGNORECASE)


class _Declined(Exception):
    """A shortcut found the database not as it requires (its savepoint is rolled back)."""


#: Column attributes whose change the in-place definition edit may carry (``_definition_only``
#: decides which changes of them qualify).
_DEFINITION_ONLY = ("nullable", "max_length", "type", "fk_type", "choices")


def affinity(declared: str) -> str:
    """The type affinity SQLite gives a column declared with type ``declared`` (the rules of
    datatype3.html, section 3.1, in their order)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def _edited_in_place(before: list, after: list) -> bool:
    """``PRAGMA table_info`` rows (cid, name, type, notnull, dflt_value, pk) after an in-place
    edit: the same columns in the same order, one of them changed, and only in what the edit
    may change: NOT NULL dropped (never added), the declared type within its affinity; never
    the default (``SQLiteBackend._definition_only``)."""
    if len(before) != len(after):
        return False
    changed = [(tuple(b), tuple(a)) for b, a in zip(before, after, strict=True) if b != a]
    if len(changed) != 1:
        return False
    (cid, name, type_, notnull, default, pk), new = changed[0]
    return (
        new[:2] == (cid, name)
        and new[4] == default
        and new[5] == pk
        and new[3] <= notnull
        and affinity(new[2]) == affinity(type_)
    )


def _file_path(url: str) -> str:
    """The database file of a ``sqlite:///path?query`` URL."""
    return url.partition("://")[2][1:].split("?", 1)[0]
