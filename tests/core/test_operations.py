"""Operations are data: dict round trip for every kind, and ``apply`` on table state (SPEC §6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from umbral import Model, fields
from umbral import operations as ops
from umbral.autodetector import diff
from umbral.models import build_snapshots
from umbral.schema import Column, ModelState

ID = Column("id", "BigInt", primary_key=True)
TITLE = Column("title", "Text", max_length=80)
AUTHOR = Column("author", "ForeignKey", fk_target="author", fk_column="id", on_delete="cascade")

SAMPLES: list[ops.Operation] = [
    ops.CreateTable(
        table="post",
        columns=(ID, TITLE, AUTHOR),
        unique_together=(("author", "title"),),
        indexes=(("title",),),
    ),
    ops.DropTable(table="post"),
    ops.AddColumn(table="post", column=Column("slug", "Text", nullable=True, default="x")),
    ops.DropColumn(table="post", column="slug"),
    ops.AlterColumn(table="post", column="title", from_=TITLE, to=Column("title", "Text")),
    ops.RenameTable(from_="post", to="article"),
    ops.RenameColumn(table="post", from_="title", to="headline"),
    ops.RenameColumn(table="post", from_="title", to="headline", compat=True),
    ops.CreateCompatShim(name="post", table="article"),
    ops.DropCompatShim(name="post_compat", table="post", from_="title", to="headline"),
    ops.CreateM2MTable(
        table="post_tags",
        parent_table="post",
        parent_column="id",
        child_table="tag",
        child_column="code",
        child_type="Uuid",
    ),
    ops.DropM2MTable(table="post_tags"),
    ops.AlterM2MKey(
        table="post_tags", column="child_id", key_table="tag", from_="Integer", to="BigInt"
    ),
    ops.AddIndex(table="post", columns=("author", "title"), unique=True),
    ops.DropIndex(table="post", columns=("title",)),
    ops.SetColumnComment(table="post", column="title", comment="Shown in lists"),
    ops.CreateView(name="recent", sql="SELECT * FROM post"),
    ops.DropView(name="recent", sql="SELECT * FROM post"),
    ops.RunSql(sql="UPDATE post SET title = 'x'", reverse_sql="SELECT 1"),
    ops.RunSql(sql="DELETE FROM post", acknowledged="reviewed"),
    ops.RunPython(code="app.data:forward", reverse_code="app.data:backward"),
    ops.RunPython(code="app.data:forward", elidable=True),
]


def test_samples_cover_every_kind() -> None:
    assert {op.kind for op in SAMPLES} == set(ops.OPERATIONS)


@pytest.mark.parametrize("op", SAMPLES, ids=lambda op: op.kind)
def test_dict_round_trip(op: ops.Operation) -> None:
    data = op.to_dict()
    assert data["kind"] == op.kind
    # What is written must survive JSON as is.
    assert ops.Operation.from_dict(json.loads(json.dumps(data))) == op
    assert isinstance(op.describe(), str) and op.describe()


def test_dict_form_uses_the_file_format_keys() -> None:
    assert ops.RenameColumn(table="t", from_="a", to="b").to_dict() == {
        "kind": "RenameColumn",
        "table": "t",
        "from": "a",
        "to": "b",
    }
    assert ops.AddColumn(table="t", column=Column("c", "Text", nullable=True)).to_dict() == {
        "kind": "AddColumn",
        "table": "t",
        "column": {"name": "c", "type": "Text", "primary_key": False, "nullable": True},
    }
    # DropColumn's column and index columns are names (SPEC §5); `unique` is always written.
    assert ops.DropColumn(table="t", column="c").to_dict()["column"] == "c"
    assert ops.AddIndex(table="t", columns=("a",)).to_dict() == {
        "kind": "AddIndex",
        "table": "t",
        "columns": ["a"],
        "unique": False,
    }
    assert "reverse_sql" not in ops.RunSql(sql="SELECT 1").to_dict()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "Nope"}, "unknown operation kind 'Nope'"),
        ({"table": "t"}, "unknown operation kind None"),
        ({"kind": "DropTable"}, "DropTable: missing key 'table'"),
        ({"kind": "DropTable", "table": "t", "if_exists": True}, "unknown key(s) if_exists"),
        ({"kind": "DropTable", "table": 3}, "DropTable.table: expected a string"),
        (
            {"kind": "AddIndex", "table": "t", "columns": ["a"], "unique": "yes"},
            "AddIndex.unique: expected true or false",
        ),
        (
            {"kind": "AddColumn", "table": "t", "column": {"name": "c"}},
            "AddColumn.column: column is missing",
        ),
    ],
)
def test_from_dict_rejects_bad_data(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        ops.Operation.from_dict(data)
    assert message in str(exc.value)


# -- apply ------------------------------------------------------------------------------------


def post_state() -> ops.State:
    return {
        "post": ModelState(
            "post",
            "post",
            (ID, TITLE, AUTHOR),
            unique_together=(("author", "title"),),
            indexes=(("title",),),
        )
    }


def test_apply_create_and_drop_table() -> None:
    state = ops.CreateTable(table="tag", columns=(ID,)).apply({})
    assert list(state) == ["tag"]
    assert state["tag"].fields == (ID,)
    assert ops.DropTable(table="tag").apply(state) == {}


def test_apply_add_drop_and_alter_column() -> None:
    slug = Column("slug", "Text", nullable=True)
    state = ops.AddColumn(table="post", column=slug).apply(post_state())
    assert [c.name for c in state["post"].fields] == ["id", "title", "author", "slug"]
    # Dropping a column takes the groups that name it along.
    state = ops.DropColumn(table="post", column="title").apply(state)
    assert [c.name for c in state["post"].fields] == ["id", "author", "slug"]
    assert (state["post"].unique_together, state["post"].indexes) == ((), ())
    wide = Column("slug", "Text")
    state = ops.AlterColumn(table="post", column="slug", from_=slug, to=wide).apply(state)
    assert state["post"].column("slug") == wide


def test_apply_renames() -> None:
    state = ops.RenameColumn(table="post", from_="title", to="headline").apply(post_state())
    post = state["post"]
    assert [c.name for c in post.fields] == ["id", "headline", "author"]
    assert post.column("headline") == TITLE.renamed("headline")
    assert (post.unique_together, post.indexes) == ((("author", "headline"),), (("headline",),))
    state = ops.RenameTable(from_="post", to="article").apply(state)
    assert list(state) == ["article"]
    assert state["article"].table == "article"


def test_apply_indexes_and_comments() -> None:
    state = ops.DropIndex(table="post", columns=("author", "title"), unique=True).apply(
        post_state()
    )
    assert state["post"].unique_together == ()
    state = ops.DropIndex(table="post", columns=("title",)).apply(state)
    assert state["post"].indexes == ()
    state = ops.AddIndex(table="post", columns=("title", "id")).apply(state)
    assert state["post"].indexes == (("title", "id"),)
    state = ops.SetColumnComment(table="post", column="title", comment="hi").apply(state)
    assert state["post"].column("title").help == "hi"


def test_apply_never_mutates_its_input() -> None:
    before = post_state()
    snapshot = dict(before)
    for op in SAMPLES:
        op.apply(before)
    assert before == snapshot


def _db_view(state: ops.State) -> dict[str, Any]:
    """What reaches the database per table: columns (no help) and the set of indexes."""
    return {
        t: ([(c.name, c.db_attributes()) for c in m.fields], sorted(m.index_specs()))
        for t, m in state.items()
    }


def _versions() -> list[list[type]]:
    def v1() -> list[type]:
        class Author(Model):
            name = fields.Text()

        class Post(Model, unique_together=[("author", "title")]):
            title = fields.Text(max_length=50)
            status = fields.Text(index=True)
            author = fields.ForeignKey(Author)

        return [Author, Post]

    def v2() -> list[type]:
        class Author(Model, table="writer"):
            name = fields.Text(nullable=True, help="display name")
            email = fields.Text(nullable=True)
            views = fields.BigInt(default=0)

        class Post(Model, indexes=[("headline", "author")]):
            headline = fields.Text(max_length=50)
            status = fields.Text()
            author = fields.ForeignKey(Author, on_delete="cascade")

        class Tag(Model):
            label = fields.Text()

        return [Author, Post, Tag]

    return [v1(), v2()]


def test_applying_the_autodetected_operations_reaches_the_new_state() -> None:
    v1, v2 = (build_snapshots({"app": v})["app"] for v in _versions())
    d = diff(v1, v2)
    assert {op.kind for op in d.operations} >= {
        "RenameTable",
        "CreateTable",
        "AlterColumn",
        "AddColumn",
        "RenameColumn",
        "DropIndex",
        "AddIndex",
    }
    state = ops.apply_all(ops.state_from_snapshot(v1.models), d.operations)
    assert _db_view(state) == _db_view(ops.state_from_snapshot(v2.models))


def test_a_run_sql_description_says_when_it_shows_only_part_of_the_sql() -> None:
    long = "UPDATE post SET tag = 'misc' WHERE tag IS NULL AND legacy_flag = 'abcdefghij'"
    assert ops.RunSql(sql=long).describe() == (
        "Run SQL: UPDATE post SET tag = 'misc' WHERE tag IS NULL AND legacy..."
    )
    assert ops.RunSql(sql="CREATE TABLE a (id int);\nDROP TABLE b;").describe() == (
        "Run SQL: CREATE TABLE a (id int); ..."
    )
    assert ops.RunSql(sql="  SELECT 1\n").describe() == "Run SQL: SELECT 1"
