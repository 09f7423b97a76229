"""SQLite's run-time steps: a table rebuild as one object, and the ways the run time adapts
a step to the table the database holds (``umbral.steps``).

Rendering cannot see the database, so a step carries its SQL as rendered (what ``sqlmigrate``
shows) and the ways it may be carried out instead, each one small class: ``applies`` reads
what it needs from the database, ``run`` does it. The first way that applies replaces what it
stands for; when none does, the statements run as rendered. Two kinds of ways:

- a guard, which applies only to stop the migration: an index naming a column the table does
  not have (``NoSuchColumn``);
- adaptations, which always apply when there is something to adapt to: a rebuild's new table
  takes what the stored definition holds beyond its models (``CarryStored``), the swap keeps
  the old table's triggers and hand-made indexes (``KeepTriggersAndIndexes``), a dropped
  column takes the indexes and constraints that name it (``DropWithDependents``), a rename
  does not make an index the table has under another name twice (``SkipIfIndexed``), a
  dropped index takes every index that indexes as it does (``DropIndexesLike``);
- fast paths, taken only when the stored table is exactly what the migrations created (its
  ``CREATE TABLE`` text is the one the backend renders for the table's state before the
  change): copying with ``SELECT *`` (``CopyAll``), editing the stored definition instead of
  copying any row (``EditDefinition``), dropping a unique column in place (``DropInPlace``).

``Rebuild`` owns the whole table recreation, as Alembic's batch operation and Django's
``_remake_table`` do: it is rendered, shown and run as one step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

from umbral.errors import UnsupportedChange
from umbral.steps import Note, RunTimeStep
from umbral.values import frozen, record
from umbral_sqlite import catalog
from umbral_sqlite.tabledef import CannotCarry, carry

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.engine import Connection


@record
class Live:
    """The table a step works on, as the database holds it when the step runs."""

    cur: sqlite3.Cursor
    table: str
    #: Told each statement a way runs, so a failure names the one that failed.
    note: Note | None = None

    @cached_property
    def definition(self) -> str | None:
        """Its stored ``CREATE TABLE`` text (None when there is no such table)."""
        return catalog.stored_definition(self.cur, self.table)


class Way(ABC):
    """One way of carrying out (part of) a step instead of its statements as rendered."""

    @property
    @abstractmethod
    def sql(self) -> str:
        """The statement a failure of this way names."""

    @abstractmethod
    def applies(self, live: Live) -> bool:
        """Whether the database is as this way requires."""

    @abstractmethod
    def run(self, live: Live) -> bool:
        """Do it. False, having changed nothing, when the database turns out not to allow
        it after all: the statements then run as rendered."""

    #: What the way does, as ``sqlmigrate`` names it under the SQL it may replace.
    summary: ClassVar[str] = ""
    #: Whether ``sqlmigrate`` names it (a guard that only stops a broken file is not shown).
    shown: ClassVar[bool] = True

    def describe(self) -> str:
        return f"{type(self).__name__} ({self.summary})"


def run_part(live: Live, statements: tuple[str, ...], ways: tuple[Way, ...], note: Note) -> None:
    """Take the first of ``ways`` that applies, or run ``statements``."""
    for way in ways:
        note(way.sql)
        if way.applies(live) and way.run(live):
            return
    for stmt in statements:
        note(stmt)
        live.cur.execute(stmt)


def _cursor(conn: Connection) -> sqlite3.Cursor:
    # The driver's cursor, as for the migration's own statements.
    from umbral.database import driver_cursor

    return driver_cursor(conn)


# -- the ways ------------------------------------------------------------------------------


@frozen
class CarryStored(Way):
    """The new table takes what the stored definition holds beyond the models
    (``tabledef.carry``: CHECKs, collations, foreign keys of a table umbral did not create),
    or the migration stops before it would lose it."""

    summary: ClassVar[str] = (
        "the new table keeps the CHECKs, collations and foreign keys its stored definition "
        "holds beyond the models"
    )

    #: The definition umbral renders for the table's state before the change.
    expected: str
    #: The new table's ``CREATE TABLE``, from the models.
    create: str

    @property
    def sql(self) -> str:
        return self.create

    def applies(self, live: Live) -> bool:
        # The table as its migrations made it: the models say it all.
        return live.definition is not None and live.definition != self.expected

    def run(self, live: Live) -> bool:
        try:
            create = carry(str(live.definition), self.expected, self.create)
        except (CannotCarry, ValueError) as exc:
            raise UnsupportedChange(
                f"SQLite table `{live.table}` cannot be rebuilt without losing what its "
                f"models do not describe: {exc}; make this change by hand in a RunSql "
                'migration (docs/decisions.md, "What a SQLite rebuild carries")'
            ) from exc
        if create is None:
            return False  # nothing beyond the models
        live.cur.execute(create)
        return True


@frozen
class CopyAll(Way):
    """Copy with ``SELECT *``: the same columns in the same order, copied as they are. When the
    stored table is laid out as its state says, it copies the same values, and lets SQLite
    move whole records without decoding them when the two definitions allow it."""

    summary: ClassVar[str] = (
        "copy with SELECT * when the table is laid out as its migrations made it"
    )

    expected: str
    copy: str

    @property
    def sql(self) -> str:
        return self.copy

    def applies(self, live: Live) -> bool:
        return live.definition == self.expected

    def run(self, live: Live) -> bool:
        live.cur.execute(self.copy)
        return True


@frozen
class KeepTriggersAndIndexes(Way):
    """The swap (drop, rename, the models' indexes) keeps the old table's triggers and the
    indexes its models do not know (``catalog.swap``)."""

    summary: ClassVar[str] = "the swap keeps the old table's triggers and hand-made indexes"

    statements: tuple[str, ...]
    #: The models' ``CREATE INDEX`` before the change.
    modelled: tuple[str, ...]

    @property
    def sql(self) -> str:
        return self.statements[0]

    def applies(self, live: Live) -> bool:
        return True

    def run(self, live: Live) -> bool:
        catalog.swap(live.cur, live.table, self.statements, self.modelled, live.note)
        return True


@frozen
class EditDefinition(Way):
    """Instead of the whole rebuild: edit the stored definition, no row copied
    (``catalog.edit_definition``; only the column's definition text changes)."""

    summary: ClassVar[str] = (
        "edit the stored definition instead of rebuilding, when the table is as its "
        "migrations made it"
    )

    expected: str
    definition: str

    @property
    def sql(self) -> str:
        return self.definition

    def applies(self, live: Live) -> bool:
        return live.definition == self.expected

    def run(self, live: Live) -> bool:
        return catalog.edit_definition(live.cur, live.table, self.definition)


@frozen
class DropWithDependents(Way):
    """Drop a column with the indexes and constraints that name it, as PostgreSQL's DROP
    COLUMN does (``catalog.drop_column``)."""

    summary: ClassVar[str] = "drop the column with the indexes and constraints that name it"

    column: str
    #: The statements that drop it (``ALTER TABLE ... DROP COLUMN`` last).
    statements: tuple[str, ...]

    @property
    def sql(self) -> str:
        return self.statements[0]

    def applies(self, live: Live) -> bool:
        return True

    def run(self, live: Live) -> bool:
        catalog.drop_column(live.cur, live.table, self.column, self.statements, live.definition)
        return True


@frozen
class DropInPlace(DropWithDependents):
    """Instead of the rebuild that drops a unique column (SQLite never drops a column of a
    UNIQUE constraint, which a table umbral did not create may declare): drop its indexes and
    the column in place, when the table is as its migrations made it."""

    summary: ClassVar[str] = (
        "drop the unique column in place, when the table is as its migrations made it"
    )

    expected: str = ""

    def applies(self, live: Live) -> bool:
        return live.definition == self.expected


@frozen
class SkipIfIndexed(Way):
    """Leave out an index a rename re-creates when the table already has one that indexes the
    same way under another name (adopted by inspectdb with its legacy name, which SQLite kept
    through the rename): the rename does not add a second one, as on PostgreSQL."""

    summary: ClassVar[str] = "leave the index out when the table has one that indexes the same way"

    create: str

    @property
    def sql(self) -> str:
        return self.create

    def applies(self, live: Live) -> bool:
        return catalog.has_index_like(live.cur, live.table, self.create)

    def run(self, live: Live) -> bool:
        return True  # nothing to make


@frozen
class DropIndexesLike(Way):
    """Drop every index that indexes as the dropped one does, whatever its name (adopted
    under a legacy name), unless one is a UNIQUE constraint of the table's definition: only a
    rebuild removes that."""

    summary: ClassVar[str] = "drop every index that indexes the same way, whatever its name"

    drop: str
    #: The index as umbral makes it (``CREATE [UNIQUE] INDEX``).
    create: str

    @property
    def sql(self) -> str:
        return self.drop

    def applies(self, live: Live) -> bool:
        spec = catalog.spec_of(self.create)
        return not catalog.defines_unique_like(live.cur, live.table, spec)

    def run(self, live: Live) -> bool:
        catalog.drop_indexes_like(live.cur, live.table, catalog.spec_of(self.create))
        return True


@frozen
class NoSuchColumn(Way):
    """Stop an index on a column the table does not have (a hand-edited migration): SQLite
    would read the quoted name as a text constant and index that, where the other databases
    fail on it."""

    summary: ClassVar[str] = "stop when the table has no column the index names"
    shown: ClassVar[bool] = False

    create: str
    columns: tuple[str, ...]

    @property
    def sql(self) -> str:
        return self.create

    def _missing(self, live: Live) -> list[str]:
        info = live.cur.execute(f"PRAGMA table_info({catalog.quote(live.table)})")
        have = {row[1] for row in info}
        # No table: the CREATE INDEX itself fails, naming it.
        return [c for c in self.columns if c not in have] if have else []

    def applies(self, live: Live) -> bool:
        return bool(self._missing(live))

    def run(self, live: Live) -> bool:
        missing = ", ".join(self._missing(live))
        raise UnsupportedChange(
            f"table `{live.table}` has no column {missing} for the index to cover; correct the "
            "migration's AddIndex"
        )


@frozen
class StillReferenced(Way):
    """Stop a ``DROP TABLE`` while a foreign key of another table references the table. With
    enforcement on, SQLite's ``DROP TABLE`` first deletes every row, and that delete deletes
    (``CASCADE``) or changes (``SET NULL``, ``SET DEFAULT``) the rows that reference them;
    PostgreSQL and MySQL refuse such a drop. A table umbral did not create counts too."""

    summary: ClassVar[str] = "stop when a foreign key of another table references the table"

    drop: str

    @property
    def sql(self) -> str:
        return self.drop

    def _referencing(self, live: Live) -> list[str]:
        rows = live.cur.execute(
            'SELECT m.name, f."from" FROM sqlite_master AS m, pragma_foreign_key_list(m.name) '
            "AS f WHERE m.type = 'table' AND m.name <> ? COLLATE NOCASE "
            'AND f."table" = ? COLLATE NOCASE ORDER BY m.name, f.id, f.seq',
            (live.table, live.table),
        ).fetchall()
        return [f"`{table}.{column}`" for table, column in rows]

    def applies(self, live: Live) -> bool:
        return bool(self._referencing(live))

    def run(self, live: Live) -> bool:
        found = self._referencing(live)
        raise UnsupportedChange(
            f"cannot drop table `{live.table}`: the foreign key(s) of {', '.join(found)} "
            "reference it, and SQLite's DROP TABLE would delete or change the rows that "
            "reference it; drop or change those foreign keys first (PostgreSQL and MySQL "
            "refuse this drop too)"
        )


# -- the steps ------------------------------------------------------------------------------


@frozen
class Adapted(RunTimeStep):
    """Statements with the ways the run time may carry them out instead."""

    table: str
    sql: tuple[str, ...]
    ways: tuple[Way, ...]

    @property
    def statements(self) -> tuple[str, ...]:
        return self.sql

    def run(self, conn: Connection, note: Note) -> None:
        run_part(Live(_cursor(conn), self.table, note), self.sql, self.ways, note)

    def alternatives(self) -> list[str]:
        return [way.describe() for way in self.ways if way.shown]


@frozen
class Rebuild(RunTimeStep):
    """The table-recreation dance as one step: create ``_umbral_new_<t>``, copy every row,
    carry the AUTOINCREMENT counter, drop the old table, rename the new one into place and
    re-create every index. ``instead``: ways to reach the same table without it, tried
    first (a fast path, or an in-place change that may turn out possible)."""

    table: str
    create: str
    copy: str
    counter: tuple[str, ...]
    swap: tuple[str, ...]
    #: The definition umbral renders for the table's state before the change.
    expected: str
    #: The models' ``CREATE INDEX`` before the change.
    modelled: tuple[str, ...]
    #: The copy with ``SELECT *``, when the columns stay as they are (``CopyAll``).
    copy_all: str | None = None
    instead: tuple[Way, ...] = ()

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.create, self.copy, *self.counter, *self.swap)

    def parts(self) -> list[tuple[tuple[str, ...], tuple[Way, ...]]]:
        """The rebuild's statements, part by part, with the ways each may be carried out."""
        copy = () if self.copy_all is None else (CopyAll(self.expected, self.copy_all),)
        return [
            ((self.create,), (CarryStored(self.expected, self.create),)),
            ((self.copy,), copy),
            (self.counter, ()),
            (self.swap, (KeepTriggersAndIndexes(self.swap, self.modelled),)),
        ]

    def ways(self) -> list[Way]:
        """Every way the run time may take, in the order it tries them."""
        return [*self.instead, *(way for _, ways in self.parts() for way in ways)]

    def alternatives(self) -> list[str]:
        return [way.describe() for way in self.ways()]

    def run(self, conn: Connection, note: Note) -> None:
        live = Live(_cursor(conn), self.table, note)
        for way in self.instead:
            note(way.sql)
            if way.applies(live) and way.run(live):
                return
        for statements, ways in self.parts():
            run_part(live, statements, ways, note)
