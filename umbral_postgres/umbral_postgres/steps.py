"""The PostgreSQL backend's run-time steps (``umbral.steps``): what a migration reads from the
catalog as it runs, where a ``DO`` block (``catalog``) cannot say it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from umbral.database import driver_cursor
from umbral.steps import Note, RunTimeStep
from umbral.values import frozen

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: The column's collation, with its schema; ``to_regclass`` finds the table as every other
#: statement of the migration does, through the search path.
_COLLATION = (
    "SELECT n.nspname, c.collname FROM pg_attribute a "
    "JOIN pg_collation c ON c.oid = a.attcollation "
    "JOIN pg_namespace n ON n.oid = c.collnamespace "
    "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped"
)


@frozen
class Retype(RunTimeStep):
    """``ALTER COLUMN … TYPE`` to a type that takes a collation (``VARCHAR(n)``, ``TEXT``),
    keeping the column's own. Without ``COLLATE`` PostgreSQL gives the column the new type's
    default collation, and the models cannot say the old one (an adopted
    ``name varchar(50) COLLATE "C"``): it is read from the catalog at run time and repeated
    when it is not the database's default. Otherwise the statement runs as rendered."""

    table: str
    column: str
    #: The statement up to its type (``ALTER TABLE … ALTER COLUMN … TYPE VARCHAR(80)``) and
    #: what follows the type (`` USING …`` or ''): ``COLLATE`` goes between them.
    head: str
    tail: str
    quote: Callable[[str], str]

    RESOLVES: ClassVar[bool] = True

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.head + self.tail,)

    def alternatives(self) -> list[str]:
        return [
            "Retype (keeps the column's collation, as pg_attribute has it, when it is not "
            "the database's default)"
        ]

    def resolve(self, conn: Connection) -> list[str]:
        collation = self._collation(conn)
        if collation is None:
            return [self.head + self.tail]
        return [f"{self.head} COLLATE {collation}{self.tail}"]

    def run(self, conn: Connection, note: Note) -> bool:
        note(str(self))  # what a failure of the look-up names
        for statement in self.resolve(conn):
            note(statement)
            driver_cursor(conn).execute(statement)
        return True

    def _collation(self, conn: Connection) -> str | None:
        """The column's collation as ``COLLATE`` names it, or None when it has the default
        one (or none: a type without collations, which the change replaces)."""
        cur = driver_cursor(conn)
        cur.execute(_COLLATION, (self.quote(self.table), self.column))
        found = cur.fetchone()
        if found is None:
            return None
        schema, name = str(found[0]), str(found[1])
        if schema == "pg_catalog":
            # "default" is the database's own: what the plain statement gives the column.
            return None if name == "default" else self.quote(name)
        return f"{self.quote(schema)}.{self.quote(name)}"
