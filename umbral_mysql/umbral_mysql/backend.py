"""The MySQL / MariaDB dialect (SPEC §6); its connection plumbing is ``connection.py``.

Rendering: backquoted names, ``BIGINT AUTO_INCREMENT`` integer primary keys, InnoDB tables in
``utf8mb4`` (binary collation: text compares as on the other backends), foreign keys and
``choices`` checks as named table constraints (an inline ``REFERENCES`` is ignored by the
server), ``MODIFY COLUMN`` with the whole new definition, column comments in the definition.
Text without ``max_length`` is ``LONGTEXT``; a plain index on it gets a prefix of
``TEXT_INDEX_PREFIX`` characters, a unique one is left to MariaDB's hash-backed long unique
keys (MySQL refuses it: give the field a ``max_length``). Foreign keys and indexes are dropped
by what they are, found in the catalog at run time (``steps.py``): an adopted table names them
its own way.

The server commits before and after each DDL statement, so a migration with DDL runs statement
by statement and resumes where it failed (``runs_in_steps``; ``umbral.progress``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from umbral.backend import RenderContext, integer_pk
from umbral.errors import UnsupportedChange
from umbral.schema import Column, ModelState
from umbral.steps import RunTimeStep
from umbral_mysql.connection import MySQLConnection
from umbral_mysql.steps import (
    Backfill,
    DropChecks,
    DropForeignKeys,
    DropIndexes,
    FollowTarget,
    ModifyColumn,
    PrefixedIndex,
    ReindexAround,
    RenameIndexes,
    RetypeReferenced,
)

if TYPE_CHECKING:
    from umbral import operations as ops


_AUTO_DEFAULTS = {
    "Timestamp": "CURRENT_TIMESTAMP(6)",
    "Timestamptz": "CURRENT_TIMESTAMP(6)",
    "Date": "(CURRENT_DATE)",
    "Time": "(CURRENT_TIME)",
}
_FK_ACTION_SQL = {"cascade": "CASCADE", "restrict": "RESTRICT", "set_null": "SET NULL"}
#: Types whose literal default must be written as an expression (MySQL 8.0.13+).
_BLOB_LIKE = ("LONGTEXT", "LONGBLOB", "JSON")


class MySQLBackend(MySQLConnection):
    name: ClassVar[str] = "mysql"
    #: MySQL casts to CHAR, not TEXT.
    TEXT_CAST: ClassVar[str] = "CHAR"
    schemes: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")
    IDENTIFIER_LIMIT: ClassVar[int | None] = 64  # characters; a longer name is an error
    IDENTIFIER_IN_BYTES: ClassVar[bool] = False
    LONG_NAMES_REFUSED: ClassVar[bool] = True
    TYPES: ClassVar[dict[str, str]] = {
        "SmallInt": "SMALLINT",
        "Integer": "INT",
        "BigInt": "BIGINT",
        "Real": "FLOAT",
        "Double": "DOUBLE",
        "Boolean": "BOOL",
        "Text": "LONGTEXT",
        "Date": "DATE",
        "Time": "TIME(6)",
        "Timestamp": "DATETIME(6)",
        "Timestamptz": "TIMESTAMP(6)",
        "Uuid": "CHAR(36)",
        "Json": "JSON",
        "Bytes": "LONGBLOB",
        "Decimal": "DECIMAL(65, 30)",
    }
    UNIQUE_AS_INDEX: ClassVar[bool] = True
    #: InnoDB checks RESTRICT and NO ACTION alike (immediately), and SHOW CREATE TABLE, from
    #: which the inspector reads a key, leaves RESTRICT out.
    FK_ACTIONS_ALIKE: ClassVar[dict[str, str]] = {"restrict": "no_action"}
    #: Characters of an unbounded text column a plain index covers (191 x 4 bytes of utf8mb4
    #: fits InnoDB's 767-byte key part of old row formats; lookups stay exact, the index only
    #: narrows them down).
    TEXT_INDEX_PREFIX: ClassVar[int] = 191
    #: SPEC §8 defaults, as on PostgreSQL: DDL waits at most 2 s for a metadata lock, and a
    #: migration that timed out before changing anything is retried 5 times with backoff.
    lock_timeout: float | None = 2.0
    lock_retries: int = 5

    def quote(self, ident: str) -> str:
        return "`" + ident.replace("`", "``") + "`"

    def literal(self, value: Any) -> str:
        # Backslashes are escapes in MySQL string literals (unless NO_BACKSLASH_ESCAPES).
        text = super().literal(value)
        if text.startswith("'"):
            return "'" + text[1:-1].replace("\\", "\\\\") + "'"
        return text

    def sql_type(self, col: Column) -> str:
        storage = col.storage_type
        if storage == "Text" and col.max_length and not col.is_fk:
            return f"VARCHAR({col.max_length})"
        if col.is_fk and storage == "Text":
            # A key cannot be LONGTEXT: a reference to a text key is sized like a key.
            return f"VARCHAR({col.max_length or 255})"
        if col.primary_key and storage == "Text":
            return f"VARCHAR({col.max_length or 255})"
        return self.TYPES[storage]

    def default_sql(self, col: Column) -> str | None:
        if col.auto_now_add or col.auto_now:
            return _AUTO_DEFAULTS.get(col.type)
        if col.default is None:
            return None
        lit = self.literal(col.default)
        if self.sql_type(col) in _BLOB_LIKE:
            return f"({lit})"
        return lit

    # -- column definitions ---------------------------------------------------------------

    def pk_sql(self, table: str, col: Column) -> str:
        auto = " AUTO_INCREMENT" if integer_pk(col) else ""
        return f"{self.quote(col.name)} {self.sql_type(col)} NOT NULL{auto} PRIMARY KEY"

    def column_def(self, col: Column, *, default: bool = True) -> str:
        """A column's definition without constraints (``MODIFY COLUMN`` repeats it whole)."""
        if col.primary_key:
            auto = " AUTO_INCREMENT" if integer_pk(col) else ""
            sql = f"{self.quote(col.name)} {self.sql_type(col)} NOT NULL{auto}"
        else:
            sql = f"{self.quote(col.name)} {self.sql_type(col)}"
            sql += " NULL" if col.nullable else " NOT NULL"
            value = self.default_sql(col) if default else None
            if value is not None:
                sql += f" DEFAULT {value}"
        if col.help:
            sql += f" COMMENT {self.literal(col.help)}"
        return sql

    def column_sql(self, table: str, col: Column, *, with_unique: bool = True) -> str:
        if col.primary_key:
            sql = self.pk_sql(table, col)
            return sql + (f" COMMENT {self.literal(col.help)}" if col.help else "")
        return self.column_def(col)

    def fk_name(self, table: str, column: str) -> str:
        return self.constraint_name(table, column, "fk")

    def fk_sql(self, table: str, col: Column) -> str:
        q = self.quote
        sql = (
            f"CONSTRAINT {q(self.fk_name(table, col.name))} FOREIGN KEY ({q(col.name)}) "
            f"REFERENCES {q(col.fk_target or '')} ({q(col.fk_column or 'id')})"
        )
        if col.on_delete in _FK_ACTION_SQL:
            sql += f" ON DELETE {_FK_ACTION_SQL[col.on_delete]}"
        if col.on_update in _FK_ACTION_SQL:
            sql += f" ON UPDATE {_FK_ACTION_SQL[col.on_update]}"
        return sql

    def check_sql(self, table: str, col: Column) -> str:
        values = ", ".join(self.literal(v) for v in col.choices or ())
        name = self.quote(self.constraint_name(table, col.name, "check"))
        return f"CONSTRAINT {name} CHECK ({self.quote(col.name)} IN ({values}))"

    def _key_part(self, table: str, column: str, ctx_col: Column | None) -> str:
        """A column of an index: unbounded text gets a prefix (a key cannot hold LONGTEXT)."""
        if ctx_col is not None and self.sql_type(ctx_col) == "LONGTEXT":
            return f"{self.quote(column)}({self.TEXT_INDEX_PREFIX})"
        return self.quote(column)

    def _index_body(
        self, table: str, columns: tuple[str, ...], unique: bool, cols: dict[str, Column]
    ) -> str:
        parts = []
        for c in columns:
            col = cols.get(c)
            if unique and col is not None and self.sql_type(col) == "LONGTEXT":
                parts.append(self.quote(c))  # MariaDB: a hash-backed long unique key
            else:
                parts.append(self._key_part(table, c, col))
        return ", ".join(parts)

    def index_def(
        self, table: str, columns: tuple[str, ...], unique: bool, cols: dict[str, Column]
    ) -> str:
        name = self.quote(self.index_name(table, columns, unique))
        kw = "UNIQUE INDEX" if unique else "INDEX"
        return f"{kw} {name} ({self._index_body(table, columns, unique, cols)})"

    def index_sql(
        self,
        table: str,
        columns: tuple[str, ...],
        unique: bool,
        cols: dict[str, Column] | None = None,
    ) -> str:
        name = self.quote(self.index_name(table, columns, unique))
        kw = "UNIQUE INDEX" if unique else "INDEX"
        body = self._index_body(table, columns, unique, cols or {})
        return f"CREATE {kw} {name} ON {self.quote(table)} ({body})"

    def drop_index_sql(self, table: str, columns: tuple[str, ...], unique: bool) -> str:
        name = self.quote(self.index_name(table, columns, unique))
        return f"DROP INDEX IF EXISTS {name} ON {self.quote(table)}"

    def drop_named_index(
        self, table: str, columns: tuple[str, ...], unique: bool, name: str
    ) -> ops.Operation:
        from umbral import operations as ops

        return ops.RunSql(sql=f"DROP INDEX {self.quote(name)} ON {self.quote(table)}")

    def drop_indexes(self, table: str, columns: tuple[str, ...], unique: bool) -> DropIndexes:
        """Drop the index on ``columns`` whatever its name (an adopted one has its own)."""
        sql = self.drop_index_sql(table, columns, unique)
        return DropIndexes(
            table, sql, self.quote, columns=columns, unique=unique,
            index_name=lambda cols: self.index_name(table, cols, False),
        )  # fmt: skip

    def _cols(self, model: ModelState | None, *extra: Column) -> dict[str, Column]:
        out = {c.name: c for c in model.fields} if model is not None else {}
        out.update({c.name: c for c in extra})
        return out

    def _table_indexes(self, model: ModelState) -> list[str]:
        cols = self._cols(model)
        out = [
            self.index_def(model.table, (c.name,), True, cols)
            for c in model.fields
            if c.unique and not c.primary_key
        ]
        out += [self.index_def(model.table, ix, u, cols) for ix, u in model.index_specs()]
        return out

    # -- tables ---------------------------------------------------------------------------

    def render_create_table(self, op: ops.CreateTable, ctx: RenderContext) -> list[str]:
        model = ModelState(op.table, op.table, op.columns, op.unique_together, op.indexes)
        parts = [self.column_sql(op.table, c) for c in op.columns]
        parts += self._table_indexes(model)
        parts += [
            self.check_sql(op.table, c) for c in op.columns if c.choices and not c.primary_key
        ]
        parts += [self.fk_sql(op.table, c) for c in op.columns if c.is_fk and c.db_constraint]
        return [f"CREATE TABLE {self.quote(op.table)} ({', '.join(parts)}) {self.TABLE_OPTIONS}"]

    def create_table_sql(self, table: str, columns: tuple[Column, ...]) -> str:
        model = ModelState(table, table, columns, (), ())
        return self.render_create_table_model(model)

    def render_create_table_model(self, model: ModelState) -> str:
        parts = [self.column_sql(model.table, c) for c in model.fields]
        parts += self._table_indexes(model)
        return f"CREATE TABLE {self.quote(model.table)} ({', '.join(parts)}) {self.TABLE_OPTIONS}"

    def render_drop_table(self, op: ops.DropTable, ctx: RenderContext) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.quote(op.table)}"]

    def render_drop_m2m_table(self, op: ops.DropM2MTable, ctx: RenderContext) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.quote(op.table)}"]

    def render_rename_table(self, op: ops.RenameTable, ctx: RenderContext) -> list[str]:
        """Rename the table and the names derived from it, so later operations find them.
        Foreign-key names are unique per database: its keys are dropped and added back under
        the new table's names (the old name may be taken again)."""
        q = self.quote
        out = [f"RENAME TABLE {q(op.from_)} TO {q(op.to)}"]
        model = ctx.state.get(op.from_)
        renames, fks, checks = [], [], []
        if model is not None:
            specs = [((c.name,), True) for c in model.fields if c.unique and not c.primary_key]
            specs += list(model.index_specs())
            for cols, unique in specs:
                old, new = (
                    self.index_name(op.from_, cols, unique),
                    self.index_name(op.to, cols, unique),
                )
                if old != new:
                    renames.append((old, new))
            # A key to the table itself follows it to its new name.
            fks = [
                replace(c, fk_target=op.to) if c.fk_target == op.from_ else c
                for c in model.fields
                if c.is_fk and c.db_constraint
            ]
            # A choices CHECK is named after its table, and MariaDB cannot rename one.
            checks = [
                f"DROP CONSTRAINT IF EXISTS {q(self.constraint_name(op.from_, c.name, 'check'))}, "
                f"ADD {self.check_sql(op.to, c)}"
                for c in model.fields
                if c.choices
            ]
        for parent in ctx.state.values():
            for rel in parent.m2m:
                if rel.table != op.from_:
                    continue
                idx = ("child_id",)
                renames.append(
                    (self.index_name(op.from_, idx, False), self.index_name(op.to, idx, False))
                )
                pk = next((c for c in parent.fields if c.primary_key), None)
                fks += [
                    Column("parent_id", "ForeignKey", fk_target=parent.table,
                           fk_column=pk.name if pk else "id", on_delete="cascade"),
                    Column("child_id", "ForeignKey", fk_target=rel.target,
                           fk_column=rel.target_column, on_delete="cascade"),
                ]  # fmt: skip
        if renames:
            out.append(RenameIndexes(op.to, tuple(renames), q))
        out += [f"ALTER TABLE {q(op.to)} {check}" for check in checks]
        for col in fks:
            out += self.drop_foreign_keys(op.to, col.name, ctx, self.fk_name(op.from_, col.name))
            out.append(f"ALTER TABLE {q(op.to)} ADD {self.fk_sql(op.to, col)}")
        return out

    def render_rename_column(self, op: ops.RenameColumn, ctx: RenderContext) -> list[str]:
        q = self.quote
        renames: list[tuple[str, str]] = []
        model = ctx.state.get(op.table)
        out: list[Any] = []
        if model is not None:
            specs = [((c.name,), True) for c in model.fields if c.unique and not c.primary_key]
            specs += list(model.index_specs())
            for cols, unique in specs:
                if op.from_ not in cols:
                    continue
                new_cols = tuple(op.to if c == op.from_ else c for c in cols)
                old = self.index_name(op.table, cols, unique)
                new = self.index_name(op.table, new_cols, unique)
                renames.append((old, new))
            col = next((c for c in model.fields if c.name == op.from_), None)
            if col is not None and col.is_fk and col.db_constraint:
                # The key keeps working under its old name; renamed so that name is free.
                was = self.fk_name(op.table, op.from_)
                out += self.drop_foreign_keys(op.table, op.to, ctx, was)
                out.append(f"ALTER TABLE {q(op.table)} ADD "
                           f"{self.fk_sql(op.table, replace(col, name=op.to))}")  # fmt: skip
            if col is not None and col.choices:
                # The choices CHECK is named after its column, and MariaDB cannot rename one:
                # a later change of the choices finds it by its new name.
                out.append(
                    f"ALTER TABLE {q(op.table)} DROP CONSTRAINT IF EXISTS "
                    f"{q(self.constraint_name(op.table, op.from_, 'check'))}, "
                    f"ADD {self.check_sql(op.table, replace(col, name=op.to))}"
                )
        rename = f"ALTER TABLE {q(op.table)} RENAME COLUMN {q(op.from_)} TO {q(op.to)}"
        indexes = [RenameIndexes(op.table, tuple(renames), q)] if renames else []
        return [rename, *indexes, *out]

    def render_alter_m2m_key(self, op: ops.AlterM2MKey, ctx: RenderContext) -> list[str]:
        """Nothing: the primary key's own change (``steps.RetypeReferenced``) gave every
        column whose foreign key references it, a junction's included, the key's new type
        before adding the key back (MySQL refuses a key between two integer types)."""
        return []

    def render_create_m2m_table(self, op: ops.CreateM2MTable, ctx: RenderContext) -> list[str]:
        q = self.quote
        ptype = self.sql_type(Column("parent_id", "ForeignKey", fk_type=op.parent_type))
        ctype = self.sql_type(Column("child_id", "ForeignKey", fk_type=op.child_type))
        child_idx = q(self.index_name(op.table, ("child_id",), False))
        return [
            f"CREATE TABLE {q(op.table)} ("
            f"{q('parent_id')} {ptype} NOT NULL, {q('child_id')} {ctype} NOT NULL, "
            f"PRIMARY KEY ({q('parent_id')}, {q('child_id')}), "
            f"INDEX {child_idx} ({q('child_id')}), "
            f"CONSTRAINT {q(self.fk_name(op.table, 'parent_id'))} FOREIGN KEY ({q('parent_id')}) "
            f"REFERENCES {q(op.parent_table)} ({q(op.parent_column)}) ON DELETE CASCADE, "
            f"CONSTRAINT {q(self.fk_name(op.table, 'child_id'))} FOREIGN KEY ({q('child_id')}) "
            f"REFERENCES {q(op.child_table)} ({q(op.child_column)}) ON DELETE CASCADE"
            f") {self.TABLE_OPTIONS}"
        ]

    # -- columns --------------------------------------------------------------------------

    def render_add_column(self, op: ops.AddColumn, ctx: RenderContext) -> list[str]:
        q = self.quote
        col = op.column
        table = q(op.table)
        cols = {col.name: col}  # its indexes are on it alone: no need to read the table
        filled = replace(col, default=op.backfill) if op.backfill is not None else col
        parts = [f"ADD COLUMN {self.column_sql(op.table, filled)}"]
        if col.unique and not col.primary_key:
            parts.append("ADD " + self.index_def(op.table, (col.name,), True, cols))
        elif col.index or col.is_fk:
            parts.append("ADD " + self.index_def(op.table, (col.name,), False, cols))
        if col.choices:
            parts.append("ADD " + self.check_sql(op.table, col))
        if col.is_fk and col.db_constraint:
            parts.append("ADD " + self.fk_sql(op.table, col))
        out = [f"ALTER TABLE {table} {', '.join(parts)}"]
        if op.backfill is not None:
            # The rows take the backfill; the column keeps the model's default (or none).
            default = self.default_sql(col)
            action = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
            out.append(f"ALTER TABLE {table} ALTER COLUMN {q(col.name)} {action}")
        return out

    def render_drop_column(self, op: ops.DropColumn, ctx: RenderContext) -> list[str]:
        q = self.quote
        model = ctx.state.get(op.table)
        col = next((c for c in model.fields if c.name == op.column), None) if model else None
        out: list[str] = []
        if col is None or (col.is_fk and col.db_constraint):
            # The server refuses to drop a column a foreign key uses: drop the key first,
            # whatever its name.
            out += self.drop_foreign_keys(op.table, op.column, None)
        if col is not None and col.choices:
            out.append(
                f"ALTER TABLE {q(op.table)} DROP CONSTRAINT IF EXISTS "
                f"{q(self.constraint_name(op.table, op.column, 'check'))}"
            )
        # Indexes of several columns go with the column, as on PostgreSQL (MySQL would narrow
        # them, and refuses to for a unique one another tool made).
        out.append(
            DropIndexes(
                op.table, "", q, containing=op.column,
                index_name=lambda cols: self.index_name(op.table, cols, False),
            )
        )  # fmt: skip
        out.append(DropChecks(op.table, op.column, q))
        out.append(f"ALTER TABLE {q(op.table)} DROP COLUMN {q(op.column)}")
        return out

    def drop_foreign_keys(
        self, table: str, column: str, ctx: RenderContext | None, named: str | None = None
    ) -> list[Any]:
        """Drop every foreign key of ``table`` on ``column`` whatever its name: the statement
        shown drops umbral's name (``named``: the name the key has before a rename, for a
        script run by hand); at run time the step looks the keys up in the catalog (an
        adopted table names them its own way)."""
        sql = (
            f"ALTER TABLE {self.quote(table)} DROP FOREIGN KEY IF EXISTS "
            f"{self.quote(named or self.fk_name(table, column))}"
        )
        return [DropForeignKeys(table, column, sql, self.quote)]

    def render_alter_column(self, op: ops.AlterColumn, ctx: RenderContext) -> list[str]:
        """Drop what the change affects, MODIFY the whole definition, then add back."""
        old, new = op.from_, op.to
        q = self.quote
        table, col = q(op.table), q(op.column)
        cols = {new.name: new}  # the indexes below are on it alone
        out: list[str] = []

        def fk(c: Column) -> tuple[Any, ...] | None:
            if not (c.is_fk and c.db_constraint):
                return None
            return (c.fk_target, c.fk_column, c.on_delete, c.on_update)

        fk_changed = fk(old) != fk(new)
        type_changed = self.sql_type(old) != self.sql_type(new)
        retyped = (old.storage_type in _TEXTS) != (new.storage_type in _TEXTS)
        if fk(old) is not None and (fk_changed or type_changed):
            out += self.drop_foreign_keys(op.table, op.column, ctx)
        check = q(self.constraint_name(op.table, op.column, "check"))
        recheck = old.choices != new.choices or (type_changed and bool(old.choices))
        if recheck and old.choices:
            out.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}")
        if old.unique and not new.unique and not old.primary_key:
            out.append(self.drop_indexes(op.table, (op.column,), True))
        # The auto index of FK / index=True columns follows the column, unless the table
        # keeps an index on it for another reason (``indexes``) before or after the change.
        auto_old, auto_new = self._auto_indexed(old), self._auto_indexed(new)
        idx_spec = ((op.column,), False)

        def kept_by(model: ModelState) -> bool:
            return idx_spec in model.index_specs()

        # The table is read only when the auto index comes or goes (most changes read none).
        before = (ctx.state.get(op.table) or _EMPTY) if auto_old != auto_new else _EMPTY
        if auto_old and not auto_new and not kept_by(_after(op, ctx)):
            out.append(self.drop_indexes(op.table, (op.column,), False))
        if not new.nullable and old.nullable and not new.primary_key:
            fill = self.default_sql(new)
            if fill is None and op.backfill is not None:
                fill = self.default_sql(replace(new, default=op.backfill))
            if fill is not None:
                if type_changed and _a_string(fill) and old.storage_type not in _TEXTS:
                    # The fill is a value of the new type ('e' into a BIGINT fails): the
                    # column takes that type first, still nullable.
                    out.append(
                        self.modify_column(op.table, replace(new, nullable=True), retyped=retyped)
                    )
                fill_sql = f"UPDATE {table} SET {col} = {fill} WHERE {col} IS NULL"
                out.append(Backfill(op.table, op.column, fill_sql, q))
        if (
            type_changed
            or old.nullable != new.nullable
            or self.default_sql(old) != self.default_sql(new)
            or old.help != new.help
        ):
            # A default the models do not say (an adopted ``DEFAULT (uuid())``) stays through
            # a type change that keeps the column's kind (VARCHAR widened, INT to BIGINT); a
            # change between text and another type (or JSON) leaves it behind, as it was
            # written for the old type.
            kind = retyped or (old.storage_type == "Json") != (new.storage_type == "Json")
            keep = not kind and not _has_own_default(old) and not _has_own_default(new)
            out.append(
                self.modify_column(
                    op.table, new, retyped=retyped, keep_default=keep, keep_type=not type_changed
                )
            )
        if new.unique and not old.unique and not new.primary_key:
            check_first = not (old.nullable and not new.nullable)  # else NULLs are filled first
            at = 0 if check_first else len(out)
            # The look for duplicates before any DDL of the change: each one commits here.
            out[at:at] = self.unique_check(op.table, (op.column,), ctx)
            out.append(self.add_index(op.table, (op.column,), True, cols))
        if auto_new and not auto_old and not kept_by(before):
            out.append(self.add_index(op.table, (op.column,), False, cols))
        if recheck and new.choices:
            out.append(f"ALTER TABLE {table} ADD {self.check_sql(op.table, new)}")
        later = fk(new) is not None and self._target_retyped_later(new, ctx)
        if fk(new) is not None and (fk_changed or type_changed) and not later:
            out.append(f"ALTER TABLE {table} ADD {self.fk_sql(op.table, new)}")
        if type_changed and self.sql_type(new) == "LONGTEXT" and self.sql_type(old) != "LONGTEXT":
            modify = next(s for s in reversed(out) if isinstance(s, ModifyColumn))
            model = ctx.state.get(op.table)
            specs = [
                (cols, unique)
                for cols, unique in (model.index_specs() if model is not None else ())
                if op.column in cols
            ]
            after = {c.name: c for c in model.fields} if model is not None else {}
            after[op.column] = new
            around = tuple(
                (
                    f"DROP INDEX IF EXISTS {q(self.index_name(op.table, c, u))} ON {table}",
                    self.index_sql(op.table, c, u, after),
                )
                for c, u in specs
            )
            out[out.index(modify)] = ReindexAround(
                op.table, op.column, modify, self.TEXT_INDEX_PREFIX, q, around
            )
        if old.primary_key and type_changed:
            # MySQL refuses to change a column a foreign key references (error 1833), even
            # with the checks off: the keys go, and come back once both types agree.
            modify = next(s for s in reversed(out) if isinstance(s, ModifyColumn))
            retyped_key = new.storage_type
            children = tuple(
                (
                    m.table,
                    c.name,
                    self.fk_name(m.table, c.name),
                    f"ALTER TABLE {q(m.table)} ADD {self.fk_sql(m.table, c)}",
                    f"ALTER TABLE {q(m.table)} MODIFY COLUMN "
                    f"{self.column_def(replace(c, fk_type=retyped_key))}",
                )
                for m in ctx.state.values()
                for c in m.fields
                if c.is_fk
                and c.db_constraint
                and (c.fk_target, c.fk_column or "id") == (op.table, op.column)
            )
            out[out.index(modify)] = RetypeReferenced(
                op.table, op.column, modify, children, self.sql_type(new), q
            )
        if (
            fk(new) is not None
            and type_changed
            and replace(old, fk_type=new.fk_type) == new
            and new.fk_target not in ctx.state
        ):
            # Only the type follows another plugin's key: when that key has not the new type
            # yet (un-applying, this migration goes back first), the key's change carries it.
            out = [
                FollowTarget(
                    op.table, op.column, new.fk_target or "", new.fk_column or "id",
                    self.sql_type(new), tuple(out),
                )
            ]  # fmt: skip
        return out

    def _target_retyped_later(self, col: Column, ctx: RenderContext) -> bool:
        """Whether the key column ``col`` now has a type its target's column has not yet: the
        target's own change in this migration comes later and adds the key back
        (``steps.RetypeReferenced``; MySQL refuses a key between two integer types)."""
        target = ctx.state.get(col.fk_target or "")
        pk = target.column(col.fk_column or "id") if target is not None else None
        # By field type: a text key's reference is sized on its own (VARCHAR(255) against a
        # VARCHAR(8) key), which MySQL accepts; only another type waits for the key's change.
        return pk is not None and pk.storage_type != col.storage_type

    def _auto_indexed(self, col: Column) -> bool:
        return (col.index or col.is_fk) and not col.unique and not col.primary_key

    def render_set_column_comment(self, op: ops.SetColumnComment, ctx: RenderContext) -> list[str]:
        model = ctx.state.get(op.table)
        col = next((c for c in model.fields if c.name == op.column), None) if model else None
        if col is None:
            raise UnsupportedChange(
                f"cannot set the comment of `{op.table}.{op.column}`: MySQL restates the whole "
                "column definition, and the column is not known to the migrations"
            )
        # Only the comment changes: the default and ON UPDATE the database has stay too.
        keep = not _has_own_default(col)
        commented = replace(col, help=op.comment or None)
        return [self.modify_column(op.table, commented, keep_default=keep, keep_type=True)]

    def modify_column(
        self,
        table: str,
        col: Column,
        retyped: bool = False,
        keep_default: bool = False,
        keep_type: bool = False,
    ) -> ModifyColumn:
        """``MODIFY COLUMN`` with the column's whole new definition, keeping a CHECK the
        database wrote on the column (``steps.ModifyColumn``; ``retyped``: the column changes
        between text and another type; ``keep_default``: the models give it no default, and
        the one the database has is repeated; ``keep_type``: the change leaves the type alone,
        and the type the database has is repeated). A text column's character set and
        collation are repeated as the database has them."""
        head = f"ALTER TABLE {self.quote(table)} MODIFY COLUMN {self.quote(col.name)}"
        sql = f"ALTER TABLE {self.quote(table)} MODIFY COLUMN {self.column_def(col)}"
        # A JSON column's collation is the type's own (MySQL refuses one on it).
        collates = col.storage_type in _TEXTS and col.storage_type != "Json"
        return ModifyColumn(
            table, col.name, sql, retyped, keep_default, keep_type, head, self.sql_type(col),
            collates,
        )  # fmt: skip

    # -- indexes --------------------------------------------------------------------------

    def render_add_index(self, op: ops.AddIndex, ctx: RenderContext) -> list[str]:
        cols = self._cols(ctx.state.get(op.table))
        check = self.unique_check(op.table, op.columns, ctx) if op.unique else []
        return [*check, self.add_index(op.table, op.columns, op.unique, cols)]

    def add_index(
        self, table: str, columns: tuple[str, ...], unique: bool, cols: dict[str, Column]
    ) -> str | PrefixedIndex:
        """An index added to an existing table: a key part with a prefix is checked against
        the column the database has (``steps.PrefixedIndex``)."""
        sql = self.index_sql(table, columns, unique, cols)
        parts = tuple(
            (c, part)
            for c in columns
            if (part := self._key_part(table, c, cols.get(c))) != self.quote(c) and not unique
        )
        return PrefixedIndex(table, sql, parts, self.TEXT_INDEX_PREFIX) if parts else sql

    def render_drop_index(self, op: ops.DropIndex, ctx: RenderContext) -> list[str]:
        return [self.drop_indexes(op.table, op.columns, op.unique)]

    # -- views and raw SQL ----------------------------------------------------------------

    def render_create_view(self, op: ops.CreateView, ctx: RenderContext) -> list[str]:
        return [f"CREATE VIEW {self.quote(op.name)} AS {op.sql.strip().rstrip(';')}"]

    def render_run_sql(self, op: ops.RunSql, ctx: RenderContext) -> list[str]:
        from umbral_mysql.script import split_mysql_sql  # compiles its tokenizer on import

        return split_mysql_sql(op.sql)

    def runs_in_steps(self, steps: Sequence[Any], atomic: bool) -> bool:
        """Every migration with DDL: the server commits before and after each DDL statement,
        so such a migration runs statement by statement and resumes where it failed. A
        migration that only reads and writes rows stays one transaction."""
        from umbral_mysql.script import commits_on_its_own

        return any(
            isinstance(s, RunTimeStep) or (isinstance(s, str) and commits_on_its_own(s))
            for s in steps
        )


_EMPTY = ModelState("", "", (), (), ())


#: Storage types whose columns hold any string literal a fill may be.
_TEXTS = frozenset({"Text", "Uuid", "Json"})


def _after(op: ops.AlterColumn, ctx: RenderContext) -> ModelState:
    """The changed table after ``op``."""
    if op.table not in ctx.state:
        return _EMPTY
    return op.apply({op.table: ctx.state[op.table]})[op.table]


def _a_string(sql: str) -> bool:
    """Whether a default's SQL is a string literal (``'e'``, or ``('e')`` for a LONGTEXT)."""
    return sql.lstrip("(").startswith("'")


def _has_own_default(col: Column) -> bool:
    """Whether the models give the column its default: a value, one of ``auto_now``, or the
    primary key's numbering."""
    return col.default is not None or col.auto_now_add or col.auto_now or col.primary_key
