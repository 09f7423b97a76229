"""The MySQL backend's run-time steps (``umbral.steps``): what a migration looks up in the
catalog as it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from umbral.steps import Note, RunTimeStep

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class DropForeignKeys(RunTimeStep):
    """Drop the foreign keys of ``table`` on ``column`` by what they are, not by name: the
    names come from the catalog at run time (``statements`` shows umbral's own name)."""

    table: str
    column: str
    sql: str
    quote: Callable[[str], str]

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,)

    def alternatives(self) -> list[str]:
        return [
            "DropForeignKeys (drop every foreign key on the column, whatever its name, "
            "as information_schema lists them)"
        ]

    def run(self, conn: Connection, note: Note) -> None:
        note(self.sql)
        names = (
            conn.exec_driver_sql(
                "SELECT DISTINCT k.CONSTRAINT_NAME FROM information_schema.KEY_COLUMN_USAGE k "
                "JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = "
                "k.CONSTRAINT_SCHEMA AND t.TABLE_NAME = k.TABLE_NAME AND t.CONSTRAINT_NAME = "
                "k.CONSTRAINT_NAME WHERE t.CONSTRAINT_TYPE = 'FOREIGN KEY' "
                "AND k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = %s AND k.COLUMN_NAME = %s",
                (self.table, self.column),
            )
            .scalars()
            .all()
        )
        for name in names:
            statement = (
                f"ALTER TABLE {self.quote(self.table)} DROP FOREIGN KEY {self.quote(str(name))}"
            )
            note(statement)
            conn.exec_driver_sql(statement)
