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


def _indexes(conn: Connection, table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """``name -> (columns in order, unique)`` for every index of ``table`` but its primary
    key, as ``information_schema`` lists them."""
    rows = conn.exec_driver_sql(
        "SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND INDEX_NAME <> 'PRIMARY' "
        "ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (table,),
    ).all()
    found: dict[str, tuple[list[str], bool]] = {}
    for name, column, non_unique in rows:
        found.setdefault(str(name), ([], not int(non_unique)))[0].append(str(column))
    return {name: (tuple(cols), unique) for name, (cols, unique) in found.items()}


@dataclass(frozen=True)
class DropIndexes(RunTimeStep):
    """Drop the indexes of ``table`` that a change removes by what they are, not by name: on
    exactly ``columns`` with that uniqueness, or, with ``containing``, every index of several
    columns that holds that column (a dropped column takes them with it, as on PostgreSQL;
    MySQL would narrow them). ``statements`` shows umbral's own name; an adopted table names
    its indexes its own way."""

    table: str
    sql: str
    quote: Callable[[str], str]
    columns: tuple[str, ...] = ()
    unique: bool = False
    containing: str = ""

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,) if self.sql else ()

    def alternatives(self) -> list[str]:
        if self.containing:
            return [
                f"DropIndexes (drop every index of several columns holding `{self.containing}`, "
                "whatever its name, as information_schema lists them)"
            ]
        return [
            "DropIndexes (drop the index on these columns whatever its name, as "
            "information_schema lists it)"
        ]

    def run(self, conn: Connection, note: Note) -> None:
        for name, (columns, unique) in _indexes(conn, self.table).items():
            if self.containing:
                hit = len(columns) > 1 and self.containing in columns
            else:
                hit = columns == self.columns and unique == self.unique
            if hit:
                statement = f"DROP INDEX {self.quote(name)} ON {self.quote(self.table)}"
                note(statement)
                conn.exec_driver_sql(statement)


@dataclass(frozen=True)
class RenameIndexes(RunTimeStep):
    """Rename the indexes of ``table`` that have umbral's old names (``renames``: old, new) to
    umbral's new ones; an index under another name (adopted) keeps it, as on PostgreSQL."""

    table: str
    renames: tuple[tuple[str, str], ...]
    quote: Callable[[str], str]

    @property
    def statements(self) -> tuple[str, ...]:
        q = self.quote
        parts = ", ".join(f"RENAME INDEX {q(old)} TO {q(new)}" for old, new in self.renames)
        return (f"ALTER TABLE {q(self.table)} {parts}",)

    def alternatives(self) -> list[str]:
        return ["RenameIndexes (only the indexes that have umbral's names; others keep theirs)"]

    def run(self, conn: Connection, note: Note) -> None:
        q = self.quote
        present = _indexes(conn, self.table)
        parts = [
            f"RENAME INDEX {q(old)} TO {q(new)}" for old, new in self.renames if old in present
        ]
        if parts:
            statement = f"ALTER TABLE {q(self.table)} {', '.join(parts)}"
            note(statement)
            conn.exec_driver_sql(statement)
