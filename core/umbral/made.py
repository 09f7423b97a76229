"""The tables and columns made so far by a run of operations, followed through renames and
drops: what the destructive gate lets a run drop (its own) and what a backend's safety rules
know is new (no reader can be blocked on it yet)."""

from __future__ import annotations

from typing import Any


class MadeHere:
    """The tables and columns the operations taken so far made, under their current names."""

    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.columns: set[tuple[str, str]] = set()

    def take(self, op: Any) -> bool:
        """Take ``op`` in; whether it drops a table or column made earlier."""
        from umbral import operations as ops

        if isinstance(op, ops.CreateTable | ops.CreateM2MTable):
            self.tables.add(op.table)
        elif isinstance(op, ops.AddColumn):
            self.columns.add((op.table, op.column.name))
        elif isinstance(op, ops.RenameTable):  # the name goes with the table, made or not
            if op.from_ in self.tables:
                self.tables.add(op.to)
            self.tables.discard(op.from_)
            self.columns = {(op.to if t == op.from_ else t, c) for t, c in self.columns}
        elif isinstance(op, ops.RenameColumn) and (op.table, op.from_) in self.columns:
            self.columns.remove((op.table, op.from_))
            self.columns.add((op.table, op.to))
        elif isinstance(op, ops.DropTable | ops.DropM2MTable):
            own = op.table in self.tables
            self.tables.discard(op.table)
            self.columns = {(t, c) for t, c in self.columns if t != op.table}
            return own
        elif isinstance(op, ops.DropColumn):
            own = op.table in self.tables or (op.table, op.column) in self.columns
            self.columns.discard((op.table, op.column))
            return own
        return False
