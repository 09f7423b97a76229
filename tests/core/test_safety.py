"""Safety classification (SPEC §10): the core rules as a table, plugin rules, and the CLI."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Project
from umbral import Finding, hookimpl
from umbral import operations as ops
from umbral.migrate import OpSafety, classify_operation
from umbral.plugins import new_manager
from umbral.safety import TAGS, classify
from umbral.schema import Column

S, W, U = OpSafety.SAFE, OpSafety.WARNING, OpSafety.UNSAFE
ID = Column("id", "BigInt", primary_key=True)
TITLE = Column("title", "Text")

# (case id, operation, tier, tag, what a WARNING/UNSAFE message must name)
CASES: list[tuple[str, ops.Operation, OpSafety, str, tuple[str, ...]]] = [
    ("create table", ops.CreateTable(table="post", columns=(ID, TITLE)), S, "CREATE TABLE", ()),
    ("drop table", ops.DropTable(table="post"), U, "DROP TABLE", ("`post`",)),
    ("add nullable column",
     ops.AddColumn(table="post", column=Column("slug", "Text", nullable=True)), S, "ADD COL", ()),
    ("add NOT NULL column with default",
     ops.AddColumn(table="post", column=Column("views", "Integer", default=0)), S, "ADD COL", ()),
    ("add NOT NULL column with a falsy default",
     ops.AddColumn(table="post", column=Column("draft", "Boolean", default=False)), S, "ADD COL",
     ()),
    ("add NOT NULL column without default",
     ops.AddColumn(table="post", column=Column("views", "Integer")), W, "ADD COL",
     ("`post.views`",)),
    ("add NOT NULL auto_now_add column",
     ops.AddColumn(table="post", column=Column("created", "Timestamptz", auto_now_add=True)), S,
     "ADD COL", ()),
    ("add NOT NULL auto_now column",
     ops.AddColumn(table="post", column=Column("edited", "Timestamptz", auto_now=True)), S,
     "ADD COL", ()),
    ("drop column", ops.DropColumn(table="post", column="slug"), U, "DROP COL", ("`post.slug`",)),
    ("alter column",
     ops.AlterColumn(table="post", column="views", from_=Column("views", "Integer"),
                     to=Column("views", "BigInt")), W, "ALTER COL", ("`post.views`",)),
    ("rename table", ops.RenameTable(from_="post", to="article"), W, "RENAME TABLE",
     ("`post`", "`article`")),
    ("rename column", ops.RenameColumn(table="post", from_="title", to="headline"), W,
     "RENAME COL", ("`post.title`", "`headline`")),
    ("create junction table",
     ops.CreateM2MTable(table="post_tags", parent_table="post", parent_column="id",
                        child_table="tag", child_column="id"), S, "CREATE M2M", ()),
    ("drop junction table", ops.DropM2MTable(table="post_tags"), U, "DROP M2M",
     ("`post_tags`",)),
    ("junction key follows its primary key",
     ops.AlterM2MKey(table="post_tags", column="child_id", key_table="tag", from_="Integer",
                     to="BigInt"), W, "ALTER M2M", ("`post_tags.child_id`", "`tag`")),
    ("add index", ops.AddIndex(table="post", columns=("title",)), S, "ADD INDEX", ()),
    ("add unique index", ops.AddIndex(table="post", columns=("author", "slug"), unique=True), W,
     "ADD UNIQUE", ("`post(author, slug)`",)),
    ("drop index", ops.DropIndex(table="post", columns=("title",)), S, "DROP INDEX", ()),
    ("drop unique index", ops.DropIndex(table="post", columns=("slug",), unique=True), S,
     "DROP INDEX", ()),
    ("set column comment",
     ops.SetColumnComment(table="post", column="title", comment="Shown in lists"), S,
     "COMMENT COL", ()),
    ("clear column comment", ops.SetColumnComment(table="post", column="title"), S,
     "COMMENT COL", ()),
    ("create view", ops.CreateView(name="recent", sql="SELECT * FROM post"), S, "CREATE VIEW",
     ()),
    ("rename table with shim", ops.RenameTable(from_="post", to="article", compat=True), S,
     "RENAME TABLE", ()),
    ("rename column with shim",
     ops.RenameColumn(table="post", from_="title", to="headline", compat=True), S,
     "RENAME COL", ()),
    ("create shim", ops.CreateCompatShim(name="post", table="article"), S, "CREATE SHIM", ()),
    ("drop shim", ops.DropCompatShim(name="post", table="article"), W, "DROP SHIM",
     ("`post`",)),
    ("drop view", ops.DropView(name="recent", sql="SELECT * FROM post"), W, "DROP VIEW",
     ("`recent`",)),
    ("run sql with reverse", ops.RunSql(sql="UPDATE post SET n = 1", reverse_sql="SELECT 1"), W,
     "RUN SQL", ()),
    ("run sql without reverse", ops.RunSql(sql="DELETE FROM post"), W, "RUN SQL", ()),
    ("elidable run sql", ops.RunSql(sql="UPDATE post SET n = 1", elidable=True), W, "RUN SQL",
     ()),
    ("run python", ops.RunPython(code="app.data:forward"), W, "RUN PYTHON",
     ("app.data:forward",)),
]  # fmt: skip


def test_cases_cover_every_kind_and_tag() -> None:
    assert {op.kind for _, op, *_ in CASES} == set(ops.OPERATIONS)
    assert {tag for *_, tag, _ in CASES} == {*TAGS.values(), "ADD UNIQUE"}


@pytest.mark.parametrize(("op", "tier", "tag", "names"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_classify_operation(
    op: ops.Operation, tier: OpSafety, tag: str, names: tuple[str, ...]
) -> None:
    finding = classify_operation(op)
    assert isinstance(finding, Finding)
    assert (finding.tier, finding.tag) == (tier, tag)
    if tier is S:
        return
    for name in names:
        assert name in finding.message
    # SPEC §10: the message ends with its expand-contract advice.
    *_, advice = finding.message.split(". ")
    assert advice.startswith("Expand-contract: "), finding.message


def test_classify_operation_is_pure_and_ignores_the_acknowledgement() -> None:
    op = ops.DropColumn(table="post", column="slug")
    acked = ops.DropColumn(table="post", column="slug", acknowledged="unused since v2")
    assert classify_operation(op) == classify_operation(op)
    # Acknowledging is a reporting decision (checkmigrations), not a different verdict.
    assert classify_operation(acked) == classify_operation(op)


def test_op_safety_tiers() -> None:
    assert [t.name for t in sorted(OpSafety)] == ["SAFE", "WARNING", "UNSAFE"]
    assert S < W < U
    assert [t.is_unsafe() for t in (S, W, U)] == [False, False, True]


# -- classify: every plugin's findings, the worst tier wins ------------------------------------


class Reviewer:
    """A plugin rule set; records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    @hookimpl
    def umbral_classify_operation(
        self, operation: ops.Operation, backend: Any, context: dict[str, Any]
    ) -> list[Any] | None:
        self.calls.append((operation.kind, backend, context))
        if isinstance(operation, ops.AddColumn) and operation.table == "payment":
            # Plain tuples, an int tier, and two findings of which the worse must win.
            return [(1, "PAYMENT", "payment is busy"), (2, "PAYMENT LOCK", "locks payment")]
        if isinstance(operation, ops.RenameColumn):
            return [Finding(W, "RENAME API", "the public API exposes `post.title`")]
        if isinstance(operation, ops.DropTable):
            return [(OpSafety.SAFE, "DROP TABLE", "an empty table, fine")]
        if isinstance(operation, ops.CreateView):
            return []
        return None


@pytest.fixture
def reviewer() -> Reviewer:
    return Reviewer()


@pytest.fixture
def pm(reviewer: Reviewer) -> Any:
    pm = new_manager()
    pm.register(reviewer, name="reviewer")
    return pm


def test_a_plugin_finding_worse_than_the_core_wins(pm: Any, reviewer: Reviewer) -> None:
    add = ops.AddColumn(table="payment", column=Column("note", "Text", nullable=True))
    assert classify_operation(add).tier is S
    ctx = {"migration": "app/0002_add_payment_note"}
    backend = object()
    assert classify(pm, add, backend, ctx) == Finding(U, "PAYMENT LOCK", "locks payment")
    assert reviewer.calls == [("AddColumn", backend, ctx)]
    # The same operation on another table keeps the core verdict.
    other = ops.AddColumn(table="post", column=Column("note", "Text", nullable=True))
    assert classify(pm, other, None, ctx) == classify_operation(other)


def test_a_milder_plugin_finding_does_not_overrule_the_core(pm: Any) -> None:
    drop = ops.DropTable(table="post")
    assert classify(pm, drop, None, {"migration": "app/0003_drop_post"}) == classify_operation(drop)


def test_on_a_tie_the_plugin_finding_is_preferred(pm: Any) -> None:
    rename = ops.RenameColumn(table="post", from_="title", to="headline")
    finding = classify(pm, rename, None, {"migration": "app/0004_x"})
    assert finding == Finding(W, "RENAME API", "the public API exposes `post.title`")


def test_no_finding_from_the_plugin_keeps_the_core_verdict(pm: Any) -> None:
    view = ops.CreateView(name="recent", sql="SELECT 1")
    assert classify(pm, view, None, {}) == classify_operation(view)
    drop_view = ops.DropView(name="recent")
    assert classify(pm, drop_view, None, {}) == classify_operation(drop_view)


def test_without_any_rule_an_operation_is_safe() -> None:
    pm = new_manager()
    pm.unregister(name="umbral.safety")
    finding = classify(pm, ops.DropTable(table="post"), None, {})
    assert (finding.tier, finding.tag) == (S, "DROP TABLE")


# -- a project plugin's rule through the CLI ----------------------------------------------------

GUARD = """
from umbral import OpSafety, hookimpl


@hookimpl
def umbral_classify_operation(operation, backend, context):
    if operation.kind == "AddColumn" and operation.table == "payment":
        return [(OpSafety.UNSAFE, "HOT TABLE",
                 f"adds `payment.{operation.column.name}` to a table written every second. "
                 "Expand-contract: ship it in the maintenance window")]
    return None
"""


def test_a_project_plugin_rule_fails_checkmigrations(project: Project) -> None:
    p = project
    body = "class Payment(Model):\n    amount = fields.Integer()\n"
    p.models(body)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    p.models(body + "    note = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0

    # Core rules alone: a nullable AddColumn is safe.
    r = p.run("checkmigrations", "--strict")
    assert r.code == 0, r
    assert r.out_lines[-1] == "All pending operations are safe for a rolling deploy."

    p.write("guard.py", GUARD)
    p.write_config(plugin_modules={"guard": "guard"}, plugins=["guard"])
    r = p.run("checkmigrations")
    assert r.code == 1, r
    assert r.out_lines == [
        "Checking 1 operation(s) across 1 pending migration(s)...",
        "",
        "UNSAFE (1):",
        "  [HOT TABLE] app/0002_add_payment_note: adds `payment.note` to a table written every "
        "second. Expand-contract: ship it in the maintenance window",
        "",
        "Summary: 0 safe, 0 warning, 1 unsafe.",
    ]
    assert r.err_lines == [
        "error: checkmigrations: 1 unsafe operation(s) found. Review the expand-contract notes "
        "above before deploying."
    ]
    # migrate applies the same rules: the operation is refused as destructive.
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[1] == (
        "    [UNSAFE] app/0002_add_payment_note: adds `payment.note` to a table written every "
        "second. Expand-contract: ship it in the maintenance window"
    )
