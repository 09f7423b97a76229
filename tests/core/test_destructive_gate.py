"""The destructive gate lets a forward run drop what the run itself made first, and nothing
else (``guards.destructive_gate``)."""

from __future__ import annotations

import pytest

from umbral import operations as ops
from umbral.errors import Refused
from umbral.executor import Rendered
from umbral.guards import destructive_gate
from umbral.migration import Migration
from umbral.plugins import new_manager
from umbral.schema import Column, Snapshot
from umbral_sqlite.backend import SQLiteBackend

ID = Column("id", "BigInt", primary_key=True)
NAME = Column("name", "Text", nullable=True)


def gate(*operations: ops.Operation, backward: bool = False) -> None:
    m = Migration("app", "0001_x", list(operations), Snapshot({}))
    destructive_gate(new_manager(), SQLiteBackend(), [Rendered(m, [], backward=backward)])


def test_what_the_run_made_may_be_dropped() -> None:
    gate(
        ops.CreateTable("post", (ID, NAME)),
        ops.DropColumn("post", "name"),
        ops.AddColumn("tag", NAME),
        ops.RenameColumn("tag", "name", "label"),
        ops.DropColumn("tag", "label"),
        ops.RenameTable("post", "article"),
        ops.DropTable("article"),
    )


@pytest.mark.parametrize(
    "operations",
    [
        # The run made `post`, then renamed a table it did not make to that name.
        (ops.CreateTable("post", (ID,)), ops.RenameTable("post", "old"),
         ops.RenameTable("legacy", "post"), ops.DropTable("post")),
        # The same with a column of a table the run did not make.
        (ops.AddColumn("tag", NAME), ops.RenameColumn("tag", "name", "x"),
         ops.RenameColumn("tag", "label", "name"), ops.DropColumn("tag", "name")),
        # Made, dropped, and a table the run did not make renamed to the name.
        (ops.CreateTable("post", (ID,)), ops.DropTable("post"),
         ops.RenameTable("legacy", "post"), ops.DropTable("post")),
    ],
)  # fmt: skip
def test_what_the_database_held_under_a_made_name_is_gated(
    operations: tuple[ops.Operation, ...],
) -> None:
    with pytest.raises(Refused):
        gate(*operations)


def test_a_backward_run_is_gated() -> None:
    with pytest.raises(Refused):
        gate(ops.CreateTable("post", (ID,)), ops.DropTable("post"), backward=True)
