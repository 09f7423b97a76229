"""Operations on whole tables: create and drop a table, and the junction table of a
many-to-many field."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from umbral.errors import IrreversibleOperation
from umbral.operations.base import Operation, State, _fk_refs, _require, _with_table
from umbral.schema import M2M, Column, ModelState
from umbral.values import frozen


@frozen
class CreateTable(Operation):
    kind: ClassVar[str] = "CreateTable"
    table: str
    columns: tuple[Column, ...]
    unique_together: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    def describe(self) -> str:
        return f"Create table {self.table}"

    def references(self) -> set[str]:
        return _fk_refs(self.columns) - {self.table}

    def apply(self, state: State) -> State:
        new = dict(state)
        new[self.table] = ModelState(
            self.table, self.table, self.columns, self.unique_together, self.indexes
        )
        return new

    def reverse(self, state: State) -> list[Operation]:
        return [DropTable(table=self.table)]


@frozen
class DropTable(Operation):
    kind: ClassVar[str] = "DropTable"
    table: str

    def describe(self) -> str:
        return f"Drop table {self.table}"

    irreversible: ClassVar[bool] = True

    def apply(self, state: State) -> State:
        new = dict(state)
        new.pop(self.table, None)
        return new

    def reverse(self, state: State) -> list[Operation]:
        model = _require(state, self.table, self)
        return [CreateTable(self.table, model.fields, model.unique_together, model.indexes)]


@frozen
class CreateM2MTable(Operation):
    kind: ClassVar[str] = "CreateM2MTable"
    table: str
    parent_table: str
    parent_column: str
    child_table: str
    child_column: str
    parent_type: str = "BigInt"
    child_type: str = "BigInt"

    @classmethod
    def of(cls, model: ModelState, rel: M2M) -> CreateM2MTable:
        """The junction of ``model``'s ManyToMany ``rel`` (the model has a primary key)."""
        pk = model.pk
        assert pk is not None
        return cls(
            table=rel.table,
            parent_table=model.table,
            parent_column=pk.name,
            child_table=rel.target,
            child_column=rel.target_column,
            parent_type=pk.storage_type,
            child_type=rel.target_type,
        )

    def describe(self) -> str:
        return f"Create junction table {self.table}"

    def references(self) -> set[str]:
        return {self.parent_table, self.child_table}

    def apply(self, state: State) -> State:
        parent = state.get(self.parent_table)
        if parent is None:
            return state
        field = self.table[len(self.parent_table) + 1 :]
        rel = M2M(field, self.table, self.child_table, self.child_column, self.child_type)
        others = tuple(m for m in parent.m2m if m.table != self.table)
        return _with_table(state, self.parent_table, m2m=(*others, rel))

    def reverse(self, state: State) -> list[Operation]:
        return [DropM2MTable(table=self.table)]


@frozen
class DropM2MTable(Operation):
    kind: ClassVar[str] = "DropM2MTable"
    table: str

    irreversible: ClassVar[bool] = True

    def describe(self) -> str:
        return f"Drop junction table {self.table}"

    def apply(self, state: State) -> State:
        for model in state.values():
            if any(m.table == self.table for m in model.m2m):
                kept = tuple(m for m in model.m2m if m.table != self.table)
                return _with_table(state, model.table, m2m=kept)
        return state

    def reverse(self, state: State) -> list[Operation]:
        for model in state.values():
            for rel in model.m2m:
                if rel.table == self.table and model.pk is not None:
                    return [
                        CreateM2MTable(
                            table=rel.table,
                            parent_table=model.table,
                            parent_column=model.pk.name,
                            child_table=rel.target,
                            child_column=rel.target_column,
                            parent_type=model.pk.storage_type,
                            child_type=rel.target_type,
                        )
                    ]
        raise IrreversibleOperation(f"junction table {self.table} is not in the state")


#: The two key columns of every junction table: the parent's key, and the target's.
JUNCTION_KEYS = ("parent_id", "child_id")


@frozen
class AlterM2MKey(Operation):
    """A junction's key column follows the type of the primary key it holds (``key_table``'s):
    ``parent_id`` the key of the model that owns the ManyToMany, ``child_id`` its target's. The
    primary key's own ``AlterColumn`` comes first (in the target's plugin, for another
    plugin's target), as a foreign-key column follows its target."""

    kind: ClassVar[str] = "AlterM2MKey"
    table: str
    column: str
    key_table: str
    from_: str
    to: str

    def describe(self) -> str:
        return f"Alter junction column {self.table}.{self.column} ({self.from_} -> {self.to})"

    def references(self) -> set[str]:
        return {self.key_table}

    def apply(self, state: State) -> State:
        if self.column != "child_id":
            return state  # the parent's key type is its model's primary key's
        for model in state.values():
            for rel in model.m2m:
                if rel.table == self.table:
                    rels = tuple(
                        replace(r, target_type=self.to) if r is rel else r for r in model.m2m
                    )
                    return _with_table(state, model.table, m2m=rels)
        return state

    def reverse(self, state: State) -> list[Operation]:
        return [replace(self, from_=self.to, to=self.from_)]
