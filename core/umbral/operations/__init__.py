"""Operations are data (SPEC §6).

Each operation is a frozen dataclass tagged by ``kind`` with ``to_dict``/``from_dict``,
``describe()``, ``references()`` (tables it reads, for ``depends_on``) and ``apply(state)``, which
returns the table state after the operation. No SQL and no connection here: backends render
operations through the ``umbral_render_operation`` hook.

``state`` is a mapping ``table name -> ModelState``: the tables of one plugin as its migrations
have shaped them. Backends get it in their render context so that, say, a SQLite table rebuild
knows the full definition of the table it rebuilds.

The kinds live in modules by what they change (``tables``, ``columns``, ``indexes``,
``renames``, ``custom``); this package is the one import surface: ``from umbral import
operations as ops``.
"""

from __future__ import annotations

from umbral.errors import IrreversibleOperation
from umbral.operations.base import OPERATIONS, Operation, State
from umbral.operations.columns import AddColumn, AlterColumn, DropColumn, SetColumnComment
from umbral.operations.custom import CreateView, DropView, RunPython, RunSql
from umbral.operations.indexes import AddIndex, DropIndex
from umbral.operations.renames import (
    CreateCompatShim,
    DropCompatShim,
    RenameColumn,
    RenameTable,
    compat_view_name,
)
from umbral.operations.state import LazyState, StateThread, apply_all, state_from_snapshot
from umbral.operations.tables import (
    AlterM2MKey,
    CreateM2MTable,
    CreateTable,
    DropM2MTable,
    DropTable,
)

OPERATIONS.update({
    cls.kind: cls
    for cls in (
        CreateTable, DropTable, AddColumn, DropColumn, AlterColumn, RenameTable, RenameColumn,
        CreateM2MTable, DropM2MTable, AddIndex, DropIndex, SetColumnComment, CreateView,
        DropView, RunSql, CreateCompatShim, DropCompatShim, RunPython, AlterM2MKey,
    )
})  # fmt: skip

__all__ = [
    "OPERATIONS", "AddColumn", "AddIndex", "AlterColumn", "AlterM2MKey", "CreateCompatShim",
    "CreateM2MTable", "CreateTable", "CreateView", "DropColumn", "DropCompatShim", "DropIndex",
    "DropM2MTable", "DropTable", "DropView", "IrreversibleOperation", "LazyState", "Operation",
    "RenameColumn", "RenameTable", "RunPython", "RunSql", "SetColumnComment", "State",
    "StateThread", "apply_all", "compat_view_name", "state_from_snapshot",
]  # fmt: skip
