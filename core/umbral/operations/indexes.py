"""Index and unique-constraint operations."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from umbral.operations.base import Operation, State, _with_table
from umbral.values import frozen


@frozen
class AddIndex(Operation):
    kind: ClassVar[str] = "AddIndex"
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    #: Postgres only: build with CREATE INDEX CONCURRENTLY (needs "atomic": false).
    concurrent: bool = False

    def describe(self) -> str:
        what = "unique index" if self.unique else "index"
        return f"Add {what} on {self.table} ({', '.join(self.columns)})"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["unique"] = self.unique  # always written: it names the index
        return out

    def apply(self, state: State) -> State:
        # Index flags live on columns/groups in snapshots; the table state keeps them as groups.
        model = state.get(self.table)
        if model is None:
            return state
        if self.unique:
            return _with_table(
                state, self.table, unique_together=(*model.unique_together, self.columns)
            )
        return _with_table(state, self.table, indexes=(*model.indexes, self.columns))

    def reverse(self, state: State) -> list[Operation]:
        return [DropIndex(table=self.table, columns=self.columns, unique=self.unique,
                          concurrent=self.concurrent)]  # fmt: skip


@frozen
class DropIndex(Operation):
    kind: ClassVar[str] = "DropIndex"
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    concurrent: bool = False

    def describe(self) -> str:
        what = "unique index" if self.unique else "index"
        return f"Drop {what} on {self.table} ({', '.join(self.columns)})"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["unique"] = self.unique
        return out

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        if self.unique:
            groups = tuple(g for g in model.unique_together if g != self.columns)
            return _with_table(state, self.table, unique_together=groups)
        groups = tuple(g for g in model.indexes if g != self.columns)
        cols = model.fields
        if len(self.columns) == 1:
            cols = tuple(replace(c, index=False) if c.name == self.columns[0] else c for c in cols)
        return _with_table(state, self.table, indexes=groups, fields=cols)

    def reverse(self, state: State) -> list[Operation]:
        return [AddIndex(table=self.table, columns=self.columns, unique=self.unique,
                         concurrent=self.concurrent)]  # fmt: skip
