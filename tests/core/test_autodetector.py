"""The autodetector (SPEC §7): two snapshots in, operations and notes out.

Each test builds a previous and a current snapshot from model classes, then asserts the
operation kinds first and their fields second.
"""

from __future__ import annotations

from typing import Any

import pytest

from umbral import Model, fields
from umbral import operations as ops
from umbral.autodetector import Diff, Note, diff, is_safe_cast
from umbral.errors import UnsafeAlter
from umbral.models import build_snapshots
from umbral.schema import EMPTY, Column, Snapshot


def model(name: str, /, _plugin: str = "app", _table: str | None = None, **attrs: Any) -> type:
    """A fresh model class; the same name twice gives two versions of one model."""
    kwargs: dict[str, Any] = {"plugin": _plugin}
    for key in ("unique_together", "indexes"):
        if key in attrs:
            kwargs[key] = attrs.pop(key)
    if _table:
        kwargs["table"] = _table
    return type(name, (Model,), attrs, **kwargs)


def snap(*models: type) -> Snapshot:
    return build_snapshots({"app": list(models)})["app"]


def kinds(d: Diff) -> list[str]:
    return [op.kind for op in d.operations]


def changes(before: list[type], after: list[type]) -> Diff:
    return diff(snap(*before), snap(*after))


# -- no change --------------------------------------------------------------------------------


def test_nothing_changed_gives_no_operations() -> None:
    a = model("Post", title=fields.Text(), author=fields.ForeignKey("Author"))
    b = model("Author", name=fields.Text())
    d = changes([a, b], [a, b])
    assert d.operations == []
    assert d.notes == []


def test_rebuilding_the_same_declarations_gives_no_operations() -> None:
    def declare() -> list[type]:
        return [model("Post", title=fields.Text(max_length=5, default="x", choices=["x"]))]

    assert changes(declare(), declare()).operations == []


# -- tables -----------------------------------------------------------------------------------


def test_create_tables_fk_targets_first_ties_alphabetical() -> None:
    new = [
        model("Zebra"),
        model("Comment", post=fields.ForeignKey("Post")),
        model("Post", author=fields.ForeignKey("Author")),
        model("Author"),
        model("Apple"),
    ]
    d = diff(EMPTY, snap(*new))
    assert kinds(d) == ["CreateTable"] * 5
    assert [op.table for op in d.operations] == ["apple", "author", "post", "comment", "zebra"]
    post = d.operations[2]
    assert isinstance(post, ops.CreateTable)
    assert post.columns == snap(*new).models["Post"].fields


def test_create_table_carries_unique_together_and_indexes() -> None:
    post = model(
        "Post", a=fields.Text(), b=fields.Text(), unique_together=[("a", "b")], indexes=[("b",)]
    )
    d = diff(EMPTY, snap(post))
    assert d.operations == [
        ops.CreateTable(
            table="post",
            columns=snap(post).models["Post"].fields,
            unique_together=(("a", "b"),),
            indexes=(("b",),),
        )
    ]


def test_fk_cycle_between_new_models_never_references_a_table_not_yet_created() -> None:
    new = [
        model("A", b=fields.ForeignKey("B", nullable=True)),
        model("B", a=fields.ForeignKey("A", nullable=True)),
    ]
    d = diff(EMPTY, snap(*new))
    created: set[str] = set()
    for op in d.operations:
        refs = op.references()
        assert refs <= created, f"{op.describe()} references {sorted(refs - created)}"
        if isinstance(op, ops.CreateTable):
            created.add(op.table)
    assert created == {"a", "b"}


def test_drop_tables_children_first() -> None:
    old = [
        model("Author"),
        model("Post", author=fields.ForeignKey("Author")),
        model("Comment", post=fields.ForeignKey("Post")),
        model("Keep"),
    ]
    d = changes(old, [model("Keep")])
    assert kinds(d) == ["DropTable"] * 3
    assert [op.table for op in d.operations] == ["comment", "post", "author"]


def test_create_table_comes_before_an_add_column_referencing_it() -> None:
    before = [model("Post", title=fields.Text())]
    after = [
        model("Post", title=fields.Text(), tag=fields.ForeignKey("Tag", nullable=True)),
        model("Tag", name=fields.Text()),
    ]
    d = changes(before, after)
    # The FK column's index comes with its AddColumn (no separate AddIndex).
    assert kinds(d) == ["CreateTable", "AddColumn"]
    assert d.operations[0].table == "tag"
    add = d.operations[1]
    assert isinstance(add, ops.AddColumn)
    assert (add.table, add.column.name, add.column.fk_target) == ("post", "tag", "tag")


# -- renames ----------------------------------------------------------------------------------


def test_rename_pass_1_same_class_name_new_table() -> None:
    before = [model("Post", title=fields.Text())]
    after = [model("Post", _table="article", title=fields.Text())]
    d = changes(before, after)
    assert d.operations == [ops.RenameTable(from_="post", to="article")]
    assert d.notes == [
        Note("stdout", "rename detected (class-name match): table `post` -> `article`")
    ]


def test_rename_pass_2_identical_column_shape() -> None:
    before = [model("Foo", title=fields.Text(), n=fields.Integer(nullable=True))]
    after = [model("Bar", title=fields.Text(), n=fields.Integer(nullable=True))]
    d = changes(before, after)
    assert d.operations == [ops.RenameTable(from_="foo", to="bar")]
    assert d.notes == [
        Note(
            "stderr",
            "umbral makemigrations: rename detected (column-shape match): `foo` -> `bar` - please "
            "verify this is a rename and not a coincidental column-shape match between two "
            "unrelated models",
        )
    ]


def test_pass_2_rename_then_column_changes_apply_to_the_renamed_table() -> None:
    before = [model("Foo", title=fields.Text(help="old"))]
    after = [model("Bar", title=fields.Text(help="new"))]
    d = changes(before, after)
    assert d.operations == [
        ops.RenameTable(from_="foo", to="bar"),
        ops.SetColumnComment(table="bar", column="title", comment="new"),
    ]


def test_different_shapes_are_a_drop_and_a_create() -> None:
    before = [model("Foo", title=fields.Text())]
    after = [model("Bar", title=fields.Text(nullable=True))]
    d = changes(before, after)
    assert kinds(d) == ["CreateTable", "DropTable"]
    assert (d.operations[0].table, d.operations[1].table) == ("bar", "foo")
    assert d.notes == []


def test_two_candidates_with_one_shape_are_not_guessed() -> None:
    before = [model("Foo", title=fields.Text())]
    after = [model("Bar", title=fields.Text()), model("Baz", title=fields.Text())]
    d = changes(before, after)
    assert kinds(d) == ["CreateTable", "CreateTable", "DropTable"]
    assert d.notes == []


def test_rename_column() -> None:
    before = [model("Post", title=fields.Text(max_length=80))]
    after = [model("Post", headline=fields.Text(max_length=80))]
    d = changes(before, after)
    assert d.operations == [ops.RenameColumn(table="post", from_="title", to="headline")]
    assert d.notes == [
        Note(
            "stderr",
            "umbral makemigrations: rename detected (column-shape match): column `post.title` -> "
            "`headline` - please verify this is a rename and not a drop and an add of two "
            "unrelated columns",
        )
    ]


def test_rename_column_keeps_its_groups() -> None:
    before = [model("Post", a=fields.Text(), b=fields.Text(), unique_together=[("a", "b")])]
    after = [model("Post", a=fields.Text(), c=fields.Text(), unique_together=[("a", "c")])]
    d = changes(before, after)
    # The group follows the rename: no index churn.
    assert d.operations == [ops.RenameColumn(table="post", from_="b", to="c")]


# -- columns ----------------------------------------------------------------------------------


def test_add_and_drop_columns() -> None:
    before = [model("Post", title=fields.Text(), legacy=fields.Integer())]
    after = [
        model(
            "Post",
            title=fields.Text(),
            summary=fields.Text(nullable=True, default="-"),
            views=fields.Integer(default=0),
        )
    ]
    d = changes(before, after)
    assert kinds(d) == ["DropColumn", "AddColumn", "AddColumn"]
    assert d.operations[0] == ops.DropColumn(table="post", column="legacy")
    assert d.operations[1] == ops.AddColumn(
        table="post", column=Column("summary", "Text", nullable=True, default="-")
    )
    assert d.operations[2] == ops.AddColumn(
        table="post", column=Column("views", "Integer", default=0)
    )


@pytest.mark.parametrize(
    "new_field",
    [
        fields.Text(nullable=True),
        fields.Text(default=""),
        fields.Timestamptz(auto_now_add=True),
        fields.Timestamp(auto_now=True),
    ],
)
def test_adding_a_column_that_existing_rows_can_fill_is_allowed(new_field: fields.Field) -> None:
    d = changes([model("Post")], [model("Post", extra=new_field)])
    assert kinds(d) == ["AddColumn"]


def test_an_added_column_brings_its_own_index() -> None:
    before = [model("Post", old=fields.Text(index=True))]
    after = [model("Post", new=fields.Integer(nullable=True, index=True), old=fields.Text())]
    d = changes(before, after)
    # Index drops come before column changes; the new column's index is part of its AddColumn.
    assert d.operations == [
        ops.DropIndex(table="post", columns=("old",), unique=False),
        ops.AddColumn(table="post", column=Column("new", "Integer", nullable=True, index=True)),
    ]


# -- indexes ----------------------------------------------------------------------------------


def test_index_flag_adds_and_drops_an_index() -> None:
    plain = [model("Post", status=fields.Text())]
    indexed = [model("Post", status=fields.Text(index=True))]
    assert changes(plain, indexed).operations == [
        ops.AddIndex(table="post", columns=("status",), unique=False)
    ]
    assert changes(indexed, plain).operations == [
        ops.DropIndex(table="post", columns=("status",), unique=False)
    ]


def test_unique_together_adds_and_drops_a_unique_index() -> None:
    plain = [model("Post", a=fields.Text(), b=fields.Text())]
    grouped = [model("Post", a=fields.Text(), b=fields.Text(), unique_together=[("a", "b")])]
    assert changes(plain, grouped).operations == [
        ops.AddIndex(table="post", columns=("a", "b"), unique=True)
    ]
    assert changes(grouped, plain).operations == [
        ops.DropIndex(table="post", columns=("a", "b"), unique=True)
    ]


def test_indexes_add_and_drop_composite_indexes() -> None:
    plain = [model("Post", a=fields.Text(), b=fields.Text())]
    grouped = [model("Post", a=fields.Text(), b=fields.Text(), indexes=[("b", "a")])]
    assert changes(plain, grouped).operations == [
        ops.AddIndex(table="post", columns=("b", "a"), unique=False)
    ]
    assert changes(grouped, plain).operations == [
        ops.DropIndex(table="post", columns=("b", "a"), unique=False)
    ]


def test_dropping_a_column_drops_no_index_separately() -> None:
    # The column's own drop takes its index with it; a DropIndex for it would be redundant.
    before = [model("Post", a=fields.Text(index=True), b=fields.Text())]
    after = [model("Post", b=fields.Text())]
    assert changes(before, after).operations == [ops.DropColumn(table="post", column="a")]


# -- many-to-many -----------------------------------------------------------------------------


def test_m2m_added_and_removed() -> None:
    tag = model("Tag")
    plain = [tag, model("Post")]
    linked = [tag, model("Post", tags=fields.ManyToMany("Tag"))]
    d = changes(plain, linked)
    assert d.operations == [
        ops.CreateM2MTable(
            table="post_tags",
            parent_table="post",
            parent_column="id",
            child_table="tag",
            child_column="id",
        )
    ]
    assert changes(linked, plain).operations == [ops.DropM2MTable(table="post_tags")]


def test_new_model_with_m2m_creates_both_tables_junction_last() -> None:
    d = diff(EMPTY, snap(model("Tag"), model("Post", tags=fields.ManyToMany("Tag"))))
    assert kinds(d) == ["CreateTable", "CreateTable", "CreateM2MTable"]


def test_m2m_to_a_uuid_key_carries_the_types() -> None:
    tag = model("Tag", code=fields.Uuid(primary_key=True))
    d = diff(EMPTY, snap(tag, model("Post", tags=fields.ManyToMany("Tag"))))
    m2m = d.operations[-1]
    assert isinstance(m2m, ops.CreateM2MTable)
    assert (m2m.child_column, m2m.parent_type, m2m.child_type) == ("code", "BigInt", "Uuid")


def test_renamed_parent_renames_its_junction() -> None:
    tag = model("Tag")
    before = [tag, model("Post", tags=fields.ManyToMany("Tag"))]
    after = [tag, model("Post", _table="article", tags=fields.ManyToMany("Tag"))]
    d = changes(before, after)
    assert d.operations == [
        ops.RenameTable(from_="post", to="article"),
        ops.RenameTable(from_="post_tags", to="article_tags"),
    ]


def test_shape_renamed_parent_renames_its_junction() -> None:
    tag = model("Tag")
    before = [tag, model("Foo", title=fields.Text(), tags=fields.ManyToMany("Tag"))]
    after = [tag, model("Bar", title=fields.Text(), tags=fields.ManyToMany("Tag"))]
    assert changes(before, after).operations == [
        ops.RenameTable(from_="foo", to="bar"),
        ops.RenameTable(from_="foo_tags", to="bar_tags"),
    ]


def test_dropping_a_model_drops_its_junction_first() -> None:
    tag = model("Tag")
    before = [tag, model("Post", tags=fields.ManyToMany("Tag"))]
    assert changes(before, [tag]).operations == [
        ops.DropM2MTable(table="post_tags"),
        ops.DropTable(table="post"),
    ]


def test_m2m_retargeted_is_a_drop_and_a_create() -> None:
    a, b = model("A"), model("B")
    before = [a, b, model("Post", links=fields.ManyToMany("A"))]
    after = [a, b, model("Post", links=fields.ManyToMany("B"))]
    d = changes(before, after)
    assert kinds(d) == ["DropM2MTable", "CreateM2MTable"]
    assert d.operations[1].child_table == "b"


# -- alterations ------------------------------------------------------------------------------


SAFE_CASTS = [
    *[
        (t, "Text")
        for t in (
            "SmallInt",
            "Integer",
            "BigInt",
            "Real",
            "Double",
            "Boolean",
            "Date",
            "Time",
            "Timestamp",
            "Timestamptz",
            "Uuid",
            "Decimal",
        )
    ],
    ("SmallInt", "Integer"),
    ("SmallInt", "BigInt"),
    ("Integer", "BigInt"),
    ("Real", "Double"),
    ("Timestamp", "Timestamptz"),
    ("Timestamptz", "Timestamp"),
]


def _field(type_name: str, **kwargs: Any) -> fields.Field:
    return getattr(fields, type_name)(**kwargs)


@pytest.mark.parametrize(("old", "new"), SAFE_CASTS)
def test_safe_casts_produce_alter_column(old: str, new: str) -> None:
    before = [model("Post", value=_field(old, nullable=True))]
    after = [model("Post", value=_field(new, nullable=True))]
    d = changes(before, after)
    assert kinds(d) == ["AlterColumn"]
    op = d.operations[0]
    assert isinstance(op, ops.AlterColumn)
    assert (op.table, op.column, op.from_.type, op.to.type) == ("post", "value", old, new)


def test_bigint_to_foreign_key_and_back_are_safe_casts() -> None:
    target = model("User")
    as_int = [target, model("Post", owner=fields.BigInt(nullable=True))]
    as_fk = [target, model("Post", owner=fields.ForeignKey("User", nullable=True))]
    d = changes(as_int, as_fk)
    # An FK column gets idx_<t>_<c>: the AlterColumn makes it (and drops it), not a second
    # operation that would make it twice.
    assert kinds(d) == ["AlterColumn"]
    assert d.operations[0].to.fk_target == "user"
    d = changes(as_fk, as_int)
    assert kinds(d) == ["AlterColumn"]


def test_an_index_that_comes_with_a_column_change_is_left_to_the_alter() -> None:
    plain = [model("Item", label=fields.Text())]
    indexed = [model("Item", label=fields.Text(index=True, default="x"))]
    assert kinds(changes(plain, indexed)) == ["AlterColumn"]
    assert kinds(changes(indexed, plain)) == ["AlterColumn"]
    # An index alone, or one the table declares apart from the column, is its own operation.
    assert kinds(changes(plain, [model("Item", label=fields.Text(index=True))])) == ["AddIndex"]


@pytest.mark.parametrize(
    ("old_kwargs", "new_kwargs"),
    [
        ({}, {"nullable": True}),  # loosening
        ({"nullable": True}, {"default": "x"}),  # tightening with a default backfills
        ({}, {"default": "x"}),
        ({"unique": True}, {}),  # unique removal
        ({"max_length": 10}, {"max_length": 20}),  # widening
        ({"max_length": 10}, {}),  # unbounded is wider still
        ({"choices": ["a"]}, {"choices": ["a", "b"]}),
    ],
)
def test_db_attribute_changes_produce_alter_column(old_kwargs: dict, new_kwargs: dict) -> None:
    before = [model("Post", title=fields.Text(**old_kwargs))]
    after = [model("Post", title=fields.Text(**new_kwargs))]
    d = changes(before, after)
    assert kinds(d) == ["AlterColumn"]
    op = d.operations[0]
    assert op.from_ == snap(*before).models["Post"].column("title")
    assert op.to == snap(*after).models["Post"].column("title")


def test_fk_actions_change_produces_alter_column() -> None:
    user = model("User")
    before = [user, model("Post", owner=fields.ForeignKey("User"))]
    after = [user, model("Post", owner=fields.ForeignKey("User", on_delete="cascade"))]
    d = changes(before, after)
    assert kinds(d) == ["AlterColumn"]
    assert (d.operations[0].from_.on_delete, d.operations[0].to.on_delete) == (
        "no_action",
        "cascade",
    )


def test_help_change_is_only_a_comment() -> None:
    before = [model("Post", title=fields.Text(help="old"))]
    after = [model("Post", title=fields.Text(help="new"))]
    assert changes(before, after).operations == [
        ops.SetColumnComment(table="post", column="title", comment="new")
    ]
    removed = [model("Post", title=fields.Text())]
    assert changes(before, removed).operations == [
        ops.SetColumnComment(table="post", column="title", comment=None)
    ]


def test_help_and_type_change_together() -> None:
    before = [model("Post", n=fields.Integer(help="old"))]
    after = [model("Post", n=fields.BigInt(help="new"))]
    assert kinds(changes(before, after)) == ["AlterColumn", "SetColumnComment"]


def _refusal(before: list[type], after: list[type]) -> UnsafeAlter:
    with pytest.raises(UnsafeAlter) as exc:
        changes(before, after)
    return exc.value


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Text", "BigInt"),
        ("BigInt", "SmallInt"),
        ("Integer", "SmallInt"),
        ("Double", "Real"),
        ("Text", "Date"),
        ("Text", "Uuid"),
        ("Json", "Text"),
        ("Bytes", "Text"),
        ("Boolean", "Integer"),
    ],
)
def test_type_change_outside_the_whitelist_is_refused(old: str, new: str) -> None:
    e = _refusal(
        [model("Post", value=_field(old, nullable=True))],
        [model("Post", value=_field(new, nullable=True))],
    )
    assert (e.model, e.column) == ("Post", "value")
    assert str(e).startswith("umbral makemigrations: unsafe column change on `Post.value`: ")
    assert f"type change {old} -> {new} is not in the safe-cast whitelist" in str(e)
    assert "add a new column, copy the data over" in str(e)


def test_primary_key_flip_is_refused() -> None:
    e = _refusal(
        [model("Post", code=fields.Text())], [model("Post", code=fields.Text(primary_key=True))]
    )
    assert "`Post.code`" in str(e)
    assert "primary-key flip" in str(e)


def test_nullable_to_not_null_without_default_is_refused() -> None:
    e = _refusal(
        [model("Post", title=fields.Text(nullable=True))], [model("Post", title=fields.Text())]
    )
    assert "`Post.title`" in str(e)
    assert "nullable -> NOT NULL without a default" in str(e)
    assert "give it a default" in str(e)


@pytest.mark.parametrize(("old", "new"), [(20, 10), (None, 10)])
def test_narrowing_max_length_is_refused(old: int | None, new: int) -> None:
    e = _refusal(
        [model("Post", title=fields.Text(max_length=old))],
        [model("Post", title=fields.Text(max_length=new))],
    )
    assert "`Post.title`" in str(e)
    assert "narrowing max_length" in str(e)


def test_adding_not_null_column_without_default_is_refused_with_the_ways_forward() -> None:
    e = _refusal([model("Post")], [model("Post", title=fields.Text())])
    assert (e.model, e.column) == ("Post", "title")
    assert "`Post.title`" in str(e)
    assert "make it nullable, give it a default, or use auto_now_add" in str(e)


def test_the_column_name_in_a_refusal_is_the_database_column() -> None:
    e = _refusal(
        [model("Post", title=fields.Text(column="heading", nullable=True))],
        [model("Post", title=fields.Text(column="heading"))],
    )
    assert "`Post.heading`" in str(e)


def test_is_safe_cast_is_not_symmetric_for_widenings() -> None:
    assert is_safe_cast("Integer", "BigInt")
    assert not is_safe_cast("BigInt", "Integer")
    assert is_safe_cast("Text", "Text")
    assert not is_safe_cast("Text", "Json")


# -- views ------------------------------------------------------------------------------------


def test_views_are_created_last_and_dropped_first() -> None:
    post = model("Post", title=fields.Text())
    view_v1 = type("Recent", (Model,), {}, view="SELECT 1")
    view_v2 = type("Recent", (Model,), {}, view="SELECT 2")
    d = diff(EMPTY, snap(post, view_v1))
    assert kinds(d) == ["CreateTable", "CreateView"]
    assert d.operations[1] == ops.CreateView(name="recent", sql="SELECT 1")
    d = changes([post, view_v1], [post, view_v2])
    assert d.operations == [
        ops.DropView(name="recent", sql="SELECT 1"),
        ops.CreateView(name="recent", sql="SELECT 2"),
    ]


# -- renames beside other changes -------------------------------------------------------------


def test_a_column_rename_is_found_beside_an_added_column_of_another_shape() -> None:
    before = [model("Order", total=fields.Integer(default=0))]
    after = [model("Order", amount=fields.Integer(default=0), note=fields.Text(nullable=True))]
    d = changes(before, after)
    assert kinds(d) == ["RenameColumn", "AddColumn"]
    assert d.operations[0] == ops.RenameColumn(table="order", from_="total", to="amount")
    assert [n.stream for n in d.notes] == ["stderr"]


def test_two_column_renames_of_different_shapes_in_one_model() -> None:
    before = [model("Order", total=fields.Integer(default=0), memo=fields.Text(nullable=True))]
    after = [model("Order", amount=fields.Integer(default=0), note=fields.Text(nullable=True))]
    d = changes(before, after)
    assert d.operations == [
        ops.RenameColumn(table="order", from_="total", to="amount"),
        ops.RenameColumn(table="order", from_="memo", to="note"),
    ]
    assert len(d.notes) == 2


def test_a_renamed_column_whose_comment_changes_is_renamed_before_the_comment() -> None:
    before = [model("Order", total=fields.Integer(default=0), status=fields.Text())]
    after = [
        model(
            "Order",
            amount=fields.Integer(default=0, help="in cents"),
            code=fields.Boolean(nullable=True),
        )
    ]
    d = changes(before, after)
    assert kinds(d) == ["RenameColumn", "SetColumnComment", "DropColumn", "AddColumn"]
    assert d.operations[1] == ops.SetColumnComment(
        table="order", column="amount", comment="in cents"
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            {"a": fields.Text(nullable=True)},
            {"b": fields.Text(nullable=True), "c": fields.Text(nullable=True)},
        ),
        (
            {"a": fields.Text(nullable=True), "b": fields.Text(nullable=True)},
            {"c": fields.Text(nullable=True)},
        ),
    ],
    ids=["two-added", "two-removed"],
)
def test_a_shape_shared_by_two_candidates_is_never_guessed(before: dict, after: dict) -> None:
    d = changes([model("Post", **before)], [model("Post", **after)])
    assert "RenameColumn" not in kinds(d)
    assert d.notes == []


def test_a_json_default_does_not_stop_rename_detection() -> None:
    before = [model("Post", meta=fields.Json(default={"a": [1]}), x=fields.Text())]
    after = [model("Post", data=fields.Json(default={"a": [1]}), y=fields.Integer(default=0))]
    d = changes(before, after)
    assert d.operations[0] == ops.RenameColumn(table="post", from_="meta", to="data")


# -- ManyToMany renames -----------------------------------------------------------------------


def test_a_renamed_target_keeps_the_junction() -> None:
    before = [model("Tag"), model("Post", tags=fields.ManyToMany("Tag"))]
    after = [model("Tag", _table="label"), model("Post", tags=fields.ManyToMany("Tag"))]
    assert changes(before, after).operations == [ops.RenameTable(from_="tag", to="label")]


def test_a_renamed_field_renames_the_junction() -> None:
    before = [model("Tag"), model("Post", tags=fields.ManyToMany("Tag"))]
    after = [model("Tag"), model("Post", labels=fields.ManyToMany("Tag"))]
    d = changes(before, after)
    assert d.operations == [ops.RenameTable(from_="post_tags", to="post_labels")]
    assert d.notes == [
        Note(
            "stderr",
            "umbral makemigrations: rename detected (same target): many-to-many `post.tags` -> "
            "`labels` - please verify this is a rename and not a drop and an add of two "
            "unrelated relations",
        )
    ]


def test_a_renamed_field_beside_a_new_relation_to_another_table() -> None:
    tag, genre = model("Tag"), model("Genre")
    before = [tag, genre, model("Post", tags=fields.ManyToMany("Tag"))]
    after = [
        tag,
        genre,
        model("Post", labels=fields.ManyToMany("Tag"), genres=fields.ManyToMany("Genre")),
    ]
    d = changes(before, after)
    assert kinds(d) == ["RenameTable", "CreateM2MTable"]
    assert d.operations[0] == ops.RenameTable(from_="post_tags", to="post_labels")


def test_a_foreign_key_to_a_renamed_table_is_not_altered() -> None:
    before = [model("Tag"), model("Post", tag=fields.ForeignKey("Tag"))]
    after = [model("Tag", _table="label"), model("Post", tag=fields.ForeignKey("Tag"))]
    assert changes(before, after).operations == [ops.RenameTable(from_="tag", to="label")]


def test_a_target_renamed_by_another_plugin_is_followed() -> None:
    def post() -> type:
        return model("Post", tags=fields.ManyToMany("Tag"), tag=fields.ForeignKey("Tag"))

    tag_before = build_snapshots({"shelf": [model("Tag", _plugin="shelf")], "app": [post()]})
    tag_after = build_snapshots(
        {"shelf": [model("Tag", _plugin="shelf", _table="shelf_label")], "app": [post()]}
    )
    shelf = diff(tag_before["shelf"], tag_after["shelf"])
    assert shelf.renamed == {"shelf_tag": "shelf_label"}
    app = diff(tag_before["app"], tag_after["app"], shelf.renamed)
    assert app.operations == []
    assert app.follows == {"shelf_label"}
    # Without the other plugin's renames it is a new relation, as before.
    assert "DropM2MTable" in kinds(diff(tag_before["app"], tag_after["app"]))


def test_a_rename_applied_to_the_state_moves_what_refers_to_the_table() -> None:
    before = snap(
        model("Tag"), model("Post", tags=fields.ManyToMany("Tag"), tag=fields.ForeignKey("Tag"))
    )
    state = ops.state_from_snapshot(before.models)
    state = ops.RenameTable(from_="tag", to="label").apply(state)
    state = ops.RenameTable(from_="post_tags", to="post_labels").apply(state)
    post = state["post"]
    assert post.column("tag").fk_target == "label"  # type: ignore[union-attr]
    assert [(r.field, r.table, r.target) for r in post.m2m] == [("labels", "post_labels", "label")]


@pytest.mark.parametrize(
    ("sql", "warned"),
    [
        ("SELECT c.id FROM customer c", True),  # the old name, as its user forgot to change
        ("SELECT c.id FROM client AS customer", True),  # an alias: a word, warned all the same
        ("SELECT i.id FROM invoice i JOIN client c ON i.customer = c.id", False),  # a column
        ("SELECT c.id FROM client c", False),
        ("SELECT 'customer' AS kind, c.id FROM client c", False),  # a string
    ],
)
def test_a_view_naming_a_renamed_table_is_warned_about(sql: str, warned: bool) -> None:
    customer = type("Customer", (Model,), {"name": fields.Text()})
    client = type("Customer", (Model,), {"name": fields.Text()}, table="client")
    view = type("Names", (Model,), {}, view="SELECT 1")
    renamed = type("Names", (Model,), {}, view=sql)
    d = diff(snap(customer, view), snap(client, renamed))
    said = [n.text for n in d.notes if n.text.startswith("warning:")]
    assert bool(said) == warned, said


# -- renames of a model and of a model referencing it, in one run ---------------------------


def test_two_plugins_rename_a_model_and_one_that_references_it() -> None:
    """people.Author -> Writer and content.Post -> Article (Post's foreign key to Author): the
    second rename was lost (CreateTable + DropTable) because the foreign key's target changed
    with the first; it is compared through that rename."""

    def snaps(author: str, post: str) -> dict[str, Snapshot]:
        return build_snapshots(
            {
                "people": [model(author, _plugin="people", name=fields.Text(max_length=10))],
                "content": [
                    model(
                        post,
                        _plugin="content",
                        title=fields.Text(max_length=10),
                        author=fields.ForeignKey(f"people.{author}", on_delete="cascade"),
                    )
                ],
            }
        )

    before, after = snaps("Author", "Post"), snaps("Writer", "Article")
    people = diff(before["people"], after["people"])
    assert people.renamed == {"people_author": "people_writer"}
    content = diff(before["content"], after["content"], people.renamed)
    assert content.operations == [ops.RenameTable(from_="content_post", to="content_article")]
    # Without the other plugin's rename the foreign key points elsewhere: a new model.
    assert kinds(diff(before["content"], after["content"])) == ["CreateTable", "DropTable"]


@pytest.mark.parametrize(
    ("child", "parent"), [("Article", "Writer"), ("Zine", "Writer"), ("Article", "Alpha")]
)
def test_one_plugin_renames_a_model_and_one_that_references_it(child: str, parent: str) -> None:
    """Within one plugin, whichever of the two new names sorts first: the referencing model
    matches once the referenced one's rename is found."""
    before = [
        model("Author", name=fields.Text()),
        model("Post", title=fields.Text(), author=fields.ForeignKey("Author")),
    ]
    after = [
        model(parent, name=fields.Text()),
        model(child, title=fields.Text(), author=fields.ForeignKey(parent)),
    ]
    d = changes(before, after)
    assert sorted(op.kind for op in d.operations) == ["RenameTable", "RenameTable"]
    assert set(d.operations) == {
        ops.RenameTable(from_="author", to=parent.lower()),
        ops.RenameTable(from_="post", to=child.lower()),
    }


def test_a_renamed_model_referencing_itself_is_a_rename() -> None:
    before = [model("Node", parent=fields.ForeignKey("Node", nullable=True))]
    after = [model("Vertex", parent=fields.ForeignKey("Vertex", nullable=True))]
    assert changes(before, after).operations == [ops.RenameTable(from_="node", to="vertex")]


def test_a_foreign_key_to_another_table_still_tells_two_models_apart() -> None:
    """The target compared through the renames only: a foreign key that now points at
    another (not renamed) table is another model."""
    before = [model("Tag"), model("Shelf"), model("Post", ref=fields.ForeignKey("Tag"))]
    after = [model("Tag"), model("Shelf"), model("Article", ref=fields.ForeignKey("Shelf"))]
    assert kinds(changes(before, after)) == ["CreateTable", "DropTable"]


# -- a renamed primary-key column of a referenced model -------------------------------------


def _keyed(key: str, plugin: str = "app") -> type:
    return model(
        "Author",
        _plugin=plugin,
        **{key: fields.Text(primary_key=True, max_length=20)},
        name=fields.Text(),
    )


def test_a_renamed_key_column_of_a_target_in_the_same_plugin_is_only_renamed() -> None:
    def post() -> type:
        return model(
            "Post",
            author=fields.ForeignKey("Author", on_delete="cascade"),
            readers=fields.ManyToMany("Author"),
        )

    before = [_keyed("code"), post()]
    after = [_keyed("ident"), post()]
    d = changes(before, after)
    assert d.operations == [ops.RenameColumn(table="author", from_="code", to="ident")]
    assert d.follows == set()
    # The state the rename leaves is the new snapshot's: the references follow the key.
    state = {m.table: m for m in snap(*before).models.values()}
    assert d.operations[0].apply(state) == {m.table: m for m in snap(*after).models.values()}


def test_a_renamed_key_column_of_another_plugins_target_is_followed() -> None:
    def snaps(key: str) -> dict[str, Snapshot]:
        post = model(
            "Post",
            author=fields.ForeignKey("people.Author", on_delete="cascade"),
            readers=fields.ManyToMany("people.Author"),
        )
        return build_snapshots({"people": [_keyed(key, "people")], "app": [post]})

    before, after = snaps("code"), snaps("ident")
    people = diff(before["people"], after["people"])
    assert people.operations == [ops.RenameColumn(table="people_author", from_="code", to="ident")]
    app = diff(before["app"], after["app"], people.renamed)
    assert app.operations == []  # no AlterColumn, no DropM2MTable + CreateM2MTable
    assert app.follows == {"people_author"}  # a migration records it, after the rename
