"""The SQLite dialect: types, autoincrement keys, and the table-recreation dance (SPEC §6).

SQLite cannot alter a column in place, cannot drop a column that a foreign key or the primary
key uses, and cannot add a column whose default is not a constant. Those changes rebuild the
table: create ``_umbral_new_<t>``, copy every row and the AUTOINCREMENT counter, drop the old
table, rename the new one into place and re-create every index. The rebuild renders as one
step (``steps.Rebuild``) that the run time adapts to the table the database holds: a table
umbral did not create keeps the CHECK constraints, collations and foreign keys its models do
not describe (``tabledef.carry``), and what a rebuild cannot keep stops the migration; for a
table exactly as its migrations left it, an AlterColumn that changes only the column's
definition text (NOT NULL dropped, the declared type within its affinity) edits the stored
definition, and a copy that keeps every column in place uses ``SELECT *``. The executor runs
such a migration with foreign-key enforcement off and checks ``PRAGMA foreign_key_check``
before committing. What the run time reads and edits is in ``catalog``; connections, the
write lock and the checks before a commit are in ``connection``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from umbral.backend import RenderContext, integer_pk
from umbral.errors import UnsupportedChange
from umbral.schema import Column, ModelState, Shim
from umbral.sqlscript import leading_words
from umbral.steps import RunTimeStep
from umbral_sqlite.connection import SQLiteConnection

if TYPE_CHECKING:
    from umbral import operations as ops
    from umbral_sqlite.steps import Way

# The run-time steps (``umbral_sqlite.steps``, with the table-definition parser) are imported
# by the renderers that make them: a command that renders nothing never loads them.

#: What a renderer returns: statements, and steps the run time adapts to the database.
Step = str | RunTimeStep


class SQLiteBackend(SQLiteConnection):
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
    #: Every integer primary key is ``INTEGER PRIMARY KEY`` (the 64-bit rowid).
    INTEGER_KEYS_ALIKE: ClassVar[bool] = True
    COLUMN_COMMENTS: ClassVar[bool] = False
    ENFORCES_MAX_LENGTH: ClassVar[bool] = False
    ENFORCES_CHOICES: ClassVar[bool] = False  # no CHECK of the choices here
    TRUE: ClassVar[str] = "1"
    FALSE: ClassVar[str] = "0"

    #: apply_plan runs consecutive migrations in one transaction, a savepoint each: every
    #: COMMIT costs an fsync of the journal and the database (~16 ms on a VM disk), the write
    #: lock is database-wide anyway, and PRAGMA foreign_keys still switches between batches.
    BATCH_MIGRATIONS: ClassVar[bool] = True

    #: Statements SQLite refuses inside a transaction.
    OUTSIDE_TRANSACTION: ClassVar[frozenset[str]] = frozenset({"VACUUM", "ATTACH", "DETACH"})

    def cannot_run_in_transaction(self, statement: str) -> str | None:
        reason = super().cannot_run_in_transaction(statement)
        if reason is not None:
            return reason
        words = leading_words(statement, 1)
        if words and words[0] in self.OUTSIDE_TRANSACTION:
            return "cannot run inside a transaction on SQLite"
        return None

    def pk_sql(self, table: str, col: Column) -> str:
        if integer_pk(col):
            # Only the exact type INTEGER aliases the rowid and auto-assigns ids.
            return f"{self.quote(col.name)} INTEGER PRIMARY KEY AUTOINCREMENT"
        return f"{self.quote(col.name)} {self.sql_type(col)} NOT NULL PRIMARY KEY"

    # -- operations that need a rebuild ---------------------------------------------------

    def render_add_column(self, op: ops.AddColumn, ctx: RenderContext) -> list[Step]:
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

    def render_drop_column(self, op: ops.DropColumn, ctx: RenderContext) -> list[Step]:
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
        from umbral_sqlite.steps import Adapted, DropInPlace, DropWithDependents

        if unique:
            # SQLite never drops a column of a UNIQUE constraint, and a table umbral did not
            # create may declare one in its definition: rebuild, unless the table is as its
            # migrations made it (its uniqueness then lives in the indexes dropped above).
            expected = self.create_table_sql(op.table, old.fields)
            in_place = DropInPlace(op.column, (*out, *drop), expected)
            return self.rebuild(old, new, ctx, instead=(in_place,))
        # And the indexes the models do not know (made by hand, adopted under a legacy name),
        # found at run time: dropping a column drops the indexes that use it, as on PostgreSQL.
        dependents = DropWithDependents(op.column, tuple(drop))
        return [*out, Adapted(op.table, tuple(drop), (dependents,))]

    def render_alter_column(self, op: ops.AlterColumn, ctx: RenderContext) -> list[Step]:
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
        check: list[Step] = []
        if op.to.unique and not op.from_.unique and not op.to.primary_key:
            check = [*self.unique_check(op.table, (op.column,), ctx)]
        edit: tuple[Way, ...] = ()
        if same_indexes and self._definition_only(op):
            from umbral_sqlite.steps import EditDefinition

            edit = (EditDefinition(before, after),)
        return [*check, *self.rebuild(old, new, ctx, fill, edit)]

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
        from umbral_sqlite.catalog import affinity

        if affinity(self.sql_type(old)) != affinity(self.sql_type(new)):
            return False
        relaxed = replace(old, **{a: getattr(new, a) for a in _DEFINITION_ONLY})
        return relaxed.db_attributes() == new.db_attributes()

    def compat_shim_sql(
        self, shim: Shim, model: ModelState | None, *, listed: bool = False
    ) -> list[str]:
        """SQLite views are read-only: INSTEAD OF triggers write through to the table. The
        trigger cannot tell a column the writer left out from an explicit NULL: a NOT NULL
        column with a default gets its default for NULL (it could not hold NULL anyway), a
        nullable one gets NULL."""
        out = super().compat_shim_sql(shim, model, listed=listed)
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

    def render_drop_table(self, op: ops.DropTable, ctx: RenderContext) -> list[Step]:
        # SQLite's DROP TABLE deletes the rows first and checks that delete against the
        # table's own foreign keys: rows that reference each other through a RESTRICT key
        # would stop it. When nothing else points at the table (no cascade to keep),
        # enforcement is off for the migration instead. At run time the drop stops while
        # another table's foreign key references the table (``StillReferenced``).
        from umbral_sqlite.steps import Adapted, StillReferenced

        model = ctx.state.get(op.table)
        if model is not None and any(c.fk_target == op.table for c in model.fields):
            others = [m for m in ctx.state.values() if m.table != op.table]
            if not model.m2m and not any(
                any(c.fk_target == op.table for c in m.fields)
                or any(r.target == op.table for r in m.m2m)
                for m in others
            ):
                ctx.needs_fk_off = True
        (drop,) = super().render_drop_table(op, ctx)
        return [Adapted(op.table, (drop,), (StillReferenced(drop),))]

    def render_rename_table(self, op: ops.RenameTable, ctx: RenderContext) -> list[Step]:
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

    def render_alter_m2m_key(self, op: ops.AlterM2MKey, ctx: RenderContext) -> list[Step]:
        """SQLite cannot change a column's declared type: the junction is rebuilt as a table
        is (``steps.Rebuild``), so a trigger or hand-made index on it is kept too. No other
        table references a junction, so foreign-key enforcement may stay on."""
        from umbral import operations as ops
        from umbral_sqlite.steps import Rebuild

        found = [
            (model, rel) for model in ctx.state.values() for rel in model.m2m
            if rel.table == op.table and model.pk is not None
        ]  # fmt: skip
        if not found:
            raise UnsupportedChange(
                f"{ctx.migration or 'migration'}: junction table `{op.table}` is not in the "
                "plugin's schema before this operation, so SQLite cannot rebuild it"
            )
        before = ops.CreateM2MTable.of(*found[0])
        side = "parent_type" if op.column == "parent_id" else "child_type"
        q, table, tmp = self.quote, op.table, f"_umbral_new_{op.table}"
        expected, index = self.render_create_m2m_table(before, ctx)
        create = self.render_create_m2m_table(replace(before, table=tmp, **{side: op.to}), ctx)[0]
        keys = f"{q('parent_id')}, {q('child_id')}"
        swap = self._swap(table, tmp, (index,))
        copy = f"INSERT INTO {q(tmp)} ({keys}) SELECT {keys} FROM {q(table)}"
        copy_all = f"INSERT INTO {q(tmp)} SELECT * FROM {q(table)}"
        return [Rebuild(table, create, copy, (), swap, expected, (index,), copy_all)]

    def render_rename_column(self, op: ops.RenameColumn, ctx: RenderContext) -> list[Step]:
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
    ) -> list[Step]:
        """Re-create the models' indexes of ``table`` under the names a rename gives them. At
        run time one is left out when the table already has an index that indexes the same way
        under another name (adopted by inspectdb with its legacy name, which SQLite kept
        through the rename): the rename does not add a second one, as on PostgreSQL."""
        from umbral_sqlite.steps import Adapted, SkipIfIndexed

        out: list[Step] = []
        for cols, unique in specs:
            create = self.index_sql(table, cols, unique)
            out.append(Adapted(table, (create,), (SkipIfIndexed(create),)))
        return out

    def _indexes(self, model: ModelState) -> list[tuple[tuple[str, ...], bool]]:
        own = [((c.name,), True) for c in model.fields if c.unique and not c.primary_key]
        return own + model.index_specs()

    def render_set_column_comment(self, op: ops.SetColumnComment, ctx: RenderContext) -> list[str]:
        return []  # SQLite has no column comments; the migration is still recorded

    def render_add_index(self, op: ops.AddIndex, ctx: RenderContext) -> list[Step]:
        """As elsewhere, with a guard at run time against a column the table lacks."""
        from umbral_sqlite.steps import Adapted, NoSuchColumn

        *check, create = super().render_add_index(op, ctx)
        assert isinstance(create, str)
        return [*check, Adapted(op.table, (create,), (NoSuchColumn(create, op.columns),))]

    def render_drop_index(self, op: ops.DropIndex, ctx: RenderContext) -> list[Step]:
        """Drop the index, found at run time by what it is (``drop index``): an index adopted
        under its legacy name is the one the models drop. A UNIQUE constraint in the table's
        definition (a table umbral did not create) cannot be dropped but by a rebuild, which
        is what is rendered for a unique one; the run time takes the drop instead when the
        definition has no such constraint."""
        from umbral_sqlite.steps import Adapted, DropIndexesLike

        drop = self.drop_index_sql(op.table, op.columns, op.unique)
        # The index as umbral makes it: what the ones to drop index as.
        like = DropIndexesLike(drop, self.index_sql(op.table, op.columns, op.unique))
        model = ctx.state.get(op.table) if op.unique else None
        if model is None:
            return [Adapted(op.table, (drop,), (like,))]
        # Tried before the rebuild: when taken, none of it runs.
        return self.rebuild(model, op.apply({op.table: model})[op.table], ctx, instead=(like,))

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
        instead: tuple[Way, ...] = (),
    ) -> list[Step]:
        """The table-recreation dance as one step (``steps.Rebuild``), keeping every row and
        re-creating every index.

        ``fill``: one-off values (column -> value) the copy writes where a column of the new
        table is NULL or new, without making them its default. ``instead``: ways to reach the
        same table without the rebuild, which the run time tries first."""
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
        copy_all = None
        if [c.name for c in new.fields] == [c.name for c in old.fields] and targets == exprs:
            # The same columns in the same order, copied as they are (``CopyAll``).
            copy_all = f"INSERT INTO {q(tmp)} SELECT * FROM {q(table)}"
        swap = self._swap(table, tmp, self.table_indexes_sql(new))
        # DROP TABLE takes the table's triggers and hand-made indexes with it: the swap reads
        # them just before and re-creates them after (``KeepTriggersAndIndexes``). The indexes
        # the models had before: one the table has under another name (adopted by inspectdb)
        # is theirs, and goes when they no longer have it.
        modelled = tuple(self.table_indexes_sql(old))
        counter = tuple(self._carry_counter_sql(old, new, table, tmp))
        from umbral_sqlite.steps import Rebuild

        return [Rebuild(table, create, copy, counter, swap, expected, modelled, copy_all, instead)]

    def _swap(self, table: str, tmp: str, indexes: Iterable[str]) -> tuple[str, ...]:
        """Drop ``table``, rename ``tmp`` to its name and make its indexes."""
        q = self.quote
        return (
            f"DROP TABLE {q(table)}",
            # Legacy mode renames without re-parsing views and triggers that name the table
            # we just dropped; they keep pointing at the name, which is back after the rename.
            "PRAGMA legacy_alter_table = ON",
            f"ALTER TABLE {q(tmp)} RENAME TO {q(table)}",
            "PRAGMA legacy_alter_table = OFF",
            *indexes,
        )

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


#: Column attributes whose change the in-place definition edit may carry (``_definition_only``
#: decides which changes of them qualify).
_DEFINITION_ONLY = ("nullable", "max_length", "type", "fk_type", "choices")
