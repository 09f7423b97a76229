"""Operations on one column: add, drop, alter, and its comment."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, ClassVar

from umbral.errors import IrreversibleOperation
from umbral.operations.base import Operation, State, _fk_refs, _require, _with_table
from umbral.operations.indexes import AddIndex
from umbral.schema import Column, backfill_problem
from umbral.values import frozen


@frozen
class AddColumn(Operation):
    kind: ClassVar[str] = "AddColumn"
    table: str
    column: Column
    #: A one-off value for the rows the table already has (a NOT NULL column without a
    #: default); never the column's default, which the snapshot keeps as the model says.
    backfill: Any = None

    def __post_init__(self) -> None:
        _check_backfill(self.kind, self.column, self.backfill)

    def describe(self) -> str:
        return f"Add column {self.column.name} to {self.table}" + _filling(self.backfill)

    def references(self) -> set[str]:
        return _fk_refs([self.column]) - {self.table}

    def apply(self, state: State) -> State:
        if self.table not in state:
            return state
        return _with_table(state, self.table, fields=(*state[self.table].fields, self.column))

    def reverse(self, state: State) -> list[Operation]:
        return [DropColumn(table=self.table, column=self.column.name)]


def _filling(backfill: Any) -> str:
    if backfill is None:
        return ""
    return f" (existing rows get {json.dumps(backfill, ensure_ascii=False)})"


def _check_backfill(kind: str, column: Column, backfill: Any) -> None:
    """A file's backfill must fit its column (SQLite would store "abc" in an INTEGER)."""
    if backfill is not None:
        problem = backfill_problem(column, backfill)
        if problem:
            raise ValueError(f"{kind}.backfill: {problem}")


def _drop_from_groups(groups: tuple[tuple[str, ...], ...], column: str) -> tuple:
    return tuple(g for g in groups if column not in g)


@frozen
class DropColumn(Operation):
    kind: ClassVar[str] = "DropColumn"
    irreversible: ClassVar[bool] = True
    table: str
    column: str

    def reverse(self, state: State) -> list[Operation]:
        model = _require(state, self.table, self)
        col = model.column(self.column)
        if col is None:
            raise IrreversibleOperation(f"column {self.table}.{self.column} is not in the state")
        if not col.nullable and not col.has_default and not (col.auto_now or col.auto_now_add):
            # Re-adding it to a populated table needs a value for every row: add it nullable.
            col = replace(col, nullable=True)
        ops: list[Operation] = [AddColumn(table=self.table, column=col)]
        ops += [
            AddIndex(table=self.table, columns=g, unique=True)
            for g in model.unique_together
            if self.column in g
        ]
        ops += [AddIndex(table=self.table, columns=g) for g in model.indexes if self.column in g]
        return ops

    def describe(self) -> str:
        return f"Drop column {self.column} from {self.table}"

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        return _with_table(
            state,
            self.table,
            fields=tuple(c for c in model.fields if c.name != self.column),
            unique_together=_drop_from_groups(model.unique_together, self.column),
            indexes=_drop_from_groups(model.indexes, self.column),
        )


@frozen
class AlterColumn(Operation):
    kind: ClassVar[str] = "AlterColumn"
    table: str
    column: str
    from_: Column
    to: Column
    #: A one-off value for the NULLs the column holds when it becomes NOT NULL without a
    #: default; never the column's default.
    backfill: Any = None

    def __post_init__(self) -> None:
        _check_backfill(self.kind, self.to, self.backfill)

    def describe(self) -> str:
        return f"Alter column {self.column} of {self.table}" + _filling(self.backfill)

    def references(self) -> set[str]:
        return _fk_refs([self.to]) - {self.table}

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        cols = tuple(self.to if c.name == self.column else c for c in model.fields)
        indexes = model.indexes
        if _own_index(self.from_) and not _own_index(self.to):
            # The change takes the column's own index (every backend drops it), also when an
            # AddIndex made it: the autodetector writes index=True added later as one.
            indexes = tuple(g for g in indexes if g != (self.column,))
        return _with_table(state, self.table, fields=cols, indexes=indexes)

    def reverse(self, state: State) -> list[Operation]:
        return [AlterColumn(table=self.table, column=self.column, from_=self.to, to=self.from_)]


def _own_index(col: Column) -> bool:
    """Whether the column has its own plain index (``ModelState.index_specs``)."""
    return (col.index or col.is_fk) and not col.unique and not col.primary_key


@frozen
class SetColumnComment(Operation):
    kind: ClassVar[str] = "SetColumnComment"
    table: str
    column: str
    comment: str | None = None

    def describe(self) -> str:
        return f"Set comment on {self.table}.{self.column}"

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        cols = tuple(
            replace(c, help=self.comment) if c.name == self.column else c for c in model.fields
        )
        return _with_table(state, self.table, fields=cols)

    def reverse(self, state: State) -> list[Operation]:
        model = state.get(self.table)
        col = model.column(self.column) if model else None
        return [SetColumnComment(self.table, self.column, col.help if col else None)]
