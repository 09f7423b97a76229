"""Renames of tables and columns, and the compatibility views (shims) that let the previous
release keep reading the old names (SPEC §10)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from umbral.operations.base import Operation, State, _with_table
from umbral.schema import M2M, Column, Shim
from umbral.values import frozen


@frozen
class RenameTable(Operation):
    kind: ClassVar[str] = "RenameTable"
    from_: str
    to: str
    #: Leave a compatibility shim under the old name (``makemigrations --compat``).
    compat: bool = False

    def describe(self) -> str:
        shim = f" (compat view {self.from_})" if self.compat else ""
        return f"Rename table {self.from_} to {self.to}{shim}"

    def shim(self, since: str = "") -> Shim:
        """The view that keeps the old name working: it reads and writes the renamed table."""
        return Shim(name=self.from_, table=self.to, since=since)

    def apply(self, state: State) -> State:
        new = dict(state)
        if self.from_ in new:
            new[self.to] = replace(new.pop(self.from_), table=self.to, name=self.to)
        # What refers to the table follows it, as the database's foreign keys do: the targets
        # of foreign keys and ManyToMany relations, and a renamed junction's own name.
        for table, model in new.items():
            if any(c.fk_target == self.from_ for c in model.fields) or any(
                self.from_ in (r.target, r.table) for r in model.m2m
            ):
                new[table] = replace(
                    model,
                    fields=tuple(
                        replace(c, fk_target=self.to) if c.fk_target == self.from_ else c
                        for c in model.fields
                    ),
                    m2m=tuple(self._follow(r, table) for r in model.m2m),
                )
        return new

    def _follow(self, rel: M2M, parent_table: str) -> M2M:
        if rel.target == self.from_:
            rel = replace(rel, target=self.to)
        if rel.table == self.from_:
            prefix = parent_table + "_"
            field = self.to[len(prefix) :] if self.to.startswith(prefix) else rel.field
            rel = replace(rel, table=self.to, field=field)
        return rel

    def reverse(self, state: State) -> list[Operation]:
        back = RenameTable(from_=self.to, to=self.from_)
        return [DropCompatShim.of(self.shim()), back] if self.compat else [back]


@frozen
class RenameColumn(Operation):
    kind: ClassVar[str] = "RenameColumn"
    table: str
    from_: str
    to: str
    #: Leave a compatibility shim: a view of the table with the old column name.
    compat: bool = False

    def describe(self) -> str:
        shim = f" (compat view {compat_view_name(self.table)})" if self.compat else ""
        return f"Rename column {self.from_} of {self.table} to {self.to}{shim}"

    def shim(self, since: str = "") -> Shim:
        return Shim(compat_view_name(self.table), self.table, since, self.from_, self.to)

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state

        def ren(group: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(self.to if c == self.from_ else c for c in group)

        new = _with_table(
            state,
            self.table,
            fields=tuple(c.renamed(self.to) if c.name == self.from_ else c for c in model.fields),
            unique_together=tuple(ren(g) for g in model.unique_together),
            indexes=tuple(ren(g) for g in model.indexes),
        )
        if not any(c.primary_key and c.name == self.from_ for c in model.fields):
            return new
        # What refers to the key follows it, as the database's foreign keys do: the key
        # column of foreign keys and ManyToMany relations to the table.
        for table, other in list(new.items()):
            fks = [c for c in other.fields if self._refers(c)]
            rels = [r for r in other.m2m if (r.target, r.target_column) == (self.table, self.from_)]
            if fks or rels:
                new[table] = replace(
                    other,
                    fields=tuple(
                        replace(c, fk_column=self.to) if self._refers(c) else c
                        for c in other.fields
                    ),
                    m2m=tuple(
                        replace(r, target_column=self.to) if r in rels else r for r in other.m2m
                    ),
                )
        return new

    def _refers(self, col: Column) -> bool:
        return col.is_fk and (col.fk_target, col.fk_column or "id") == (self.table, self.from_)

    def reverse(self, state: State) -> list[Operation]:
        back = RenameColumn(table=self.table, from_=self.to, to=self.from_)
        return [DropCompatShim.of(self.shim()), back] if self.compat else [back]


def compat_view_name(table: str) -> str:
    """The shim view of a column rename: SQL cannot give a view the name of a table that is
    still there, so it is the table's name with ``_compat``."""
    return f"{table}_compat"


@frozen
class CreateCompatShim(Operation):
    """Create the view of ``shim`` (a renamed table's old name, or a renamed column's view)."""

    kind: ClassVar[str] = "CreateCompatShim"
    name: str
    table: str
    from_: str | None = None
    to: str | None = None
    #: The table's columns the view shows (None: all of them). Un-applying a shim's drop
    #: re-creates it over the columns it had when made: the table may have gained some since,
    #: whose migrations, un-applied next, drop them.
    columns: tuple[str, ...] | None = None

    @classmethod
    def of(cls, shim: Shim) -> CreateCompatShim:
        return cls(name=shim.name, table=shim.table, from_=shim.from_, to=shim.to)

    def shim(self, since: str = "") -> Shim:
        return Shim(self.name, self.table, since, self.from_, self.to)

    def describe(self) -> str:
        return f"Create compatibility view {self.name} of {self.table}"

    def reverse(self, state: State) -> list[Operation]:
        return [DropCompatShim.of(self.shim())]


@frozen
class DropCompatShim(Operation):
    """Drop a compatibility shim's view (the contract step: N-1 no longer runs)."""

    kind: ClassVar[str] = "DropCompatShim"
    name: str
    table: str
    from_: str | None = None
    to: str | None = None

    @classmethod
    def of(cls, shim: Shim) -> DropCompatShim:
        return cls(name=shim.name, table=shim.table, from_=shim.from_, to=shim.to)

    def shim(self, since: str = "") -> Shim:
        return Shim(self.name, self.table, since, self.from_, self.to)

    def describe(self) -> str:
        return f"Drop compatibility view {self.name} of {self.table}"

    def reverse(self, state: State) -> list[Operation]:
        return [CreateCompatShim.of(self.shim())]
