"""Declaring models and building snapshots from them (SPEC §2)."""

from __future__ import annotations

import datetime
import decimal
import re
import uuid

import pytest

from umbral import Model, fields
from umbral.errors import ModelDefinitionError
from umbral.models import build_snapshots
from umbral.schema import M2M, Column

SCALAR_FIELDS = [
    (fields.SmallInt, "SmallInt"),
    (fields.Integer, "Integer"),
    (fields.BigInt, "BigInt"),
    (fields.Real, "Real"),
    (fields.Double, "Double"),
    (fields.Boolean, "Boolean"),
    (fields.Text, "Text"),
    (fields.Date, "Date"),
    (fields.Time, "Time"),
    (fields.Timestamp, "Timestamp"),
    (fields.Timestamptz, "Timestamptz"),
    (fields.Uuid, "Uuid"),
    (fields.Json, "Json"),
    (fields.Bytes, "Bytes"),
    (fields.Decimal, "Decimal"),
]


def _model(name: str, plugin: str | None = None, **attrs: object) -> type[Model]:
    """A model class built at run time (so tests can vary its fields)."""
    kwargs = {"plugin": plugin} if plugin else {}
    return type(name, (Model,), dict(attrs), **kwargs)


@pytest.mark.parametrize(("field_cls", "type_name"), SCALAR_FIELDS)
def test_every_field_type_lands_in_the_snapshot(field_cls: type, type_name: str) -> None:
    m = _model("Thing", value=field_cls(nullable=True))
    snap = build_snapshots({"app": [m]})["app"]
    col = snap.models["Thing"].column("value")
    assert col == Column(name="value", type=type_name, nullable=True)


def test_implicit_id_is_a_bigint_primary_key_added_first() -> None:
    class Post(Model):
        title = fields.Text()

    state = build_snapshots({"app": [Post]})["app"].models["Post"]
    assert [c.name for c in state.fields] == ["id", "title"]
    assert state.fields[0] == Column(name="id", type="BigInt", primary_key=True)
    assert state.pk == state.fields[0]


def test_declared_primary_key_replaces_the_implicit_id() -> None:
    class Country(Model):
        code = fields.Text(primary_key=True, max_length=2)

    state = build_snapshots({"app": [Country]})["app"].models["Country"]
    assert [c.name for c in state.fields] == ["code"]
    assert state.pk == Column(name="code", type="Text", primary_key=True, max_length=2)


def test_every_option_lands_in_the_snapshot() -> None:
    class Author(Model):
        name = fields.Text()

    class Post(Model, unique_together=[("author", "slug")], indexes=[("status", "title")]):
        title = fields.Text(max_length=200, help="Shown in lists")
        slug = fields.Text(nullable=True, unique=True)
        status = fields.Text(default="draft", choices=["draft", "published"], index=True)
        score = fields.Integer(column="points", default=0)
        author = fields.ForeignKey(
            Author, on_delete="cascade", on_update="restrict", db_constraint=False
        )
        editor = fields.ForeignKey("Author", nullable=True, on_delete="set_null")
        created_at = fields.Timestamptz(auto_now_add=True)
        updated_at = fields.Timestamp(auto_now=True)
        published_on = fields.Date(nullable=True, default=datetime.date(2024, 1, 2))
        price = fields.Decimal(default=decimal.Decimal("1.50"))
        token = fields.Uuid(default=uuid.UUID(int=1))
        meta = fields.Json(default={"a": [1, 2]})

    post = build_snapshots({"app": [Author, Post]})["app"].models["Post"]
    cols = {c.name: c for c in post.fields}
    assert cols["title"] == Column(name="title", type="Text", max_length=200, help="Shown in lists")
    assert cols["slug"] == Column(name="slug", type="Text", nullable=True, unique=True)
    assert cols["status"] == Column(
        name="status", type="Text", default="draft", choices=("draft", "published"), index=True
    )
    # column= overrides the attribute name.
    assert "score" not in cols
    assert cols["points"] == Column(name="points", type="Integer", default=0)
    assert cols["author"] == Column(
        name="author",
        type="ForeignKey",
        fk_target="author",
        fk_column="id",
        on_delete="cascade",
        on_update="restrict",
        db_constraint=False,
    )
    assert cols["editor"] == Column(
        name="editor",
        type="ForeignKey",
        nullable=True,
        fk_target="author",
        fk_column="id",
        on_delete="set_null",
    )
    assert cols["created_at"] == Column(name="created_at", type="Timestamptz", auto_now_add=True)
    assert cols["updated_at"] == Column(name="updated_at", type="Timestamp", auto_now=True)
    # Non-JSON literals are normalised to their canonical text form.
    assert cols["published_on"].default == "2024-01-02"
    assert cols["price"].default == "1.50"
    assert cols["token"].default == "00000000-0000-0000-0000-000000000001"
    assert cols["meta"].default == {"a": [1, 2]}
    assert post.unique_together == (("author", "slug"),)
    assert post.indexes == (("status", "title"),)


def test_abstract_fields_are_inherited_and_abstract_models_have_no_table() -> None:
    class Timestamped(Model, abstract=True):
        created_at = fields.Timestamptz(auto_now_add=True)

    class Named(Timestamped, abstract=True):
        name = fields.Text()

    class Tag(Named):
        slug = fields.Text()

    snap = build_snapshots({"app": [Timestamped, Named, Tag]})["app"]
    assert list(snap.models) == ["Tag"]
    assert [c.name for c in snap.models["Tag"].fields] == ["id", "created_at", "name", "slug"]


def test_fk_target_by_class_name_and_plugin_qualified_name() -> None:
    class User(Model, plugin="auth"):
        email = fields.Text()

    class Post(Model, plugin="blog"):
        by_class = fields.ForeignKey(User)
        by_name = fields.ForeignKey("User")
        by_qualified = fields.ForeignKey("auth.User")

    snaps = build_snapshots({"auth": [User], "blog": [Post]})
    post = snaps["blog"].models["Post"]
    for name in ("by_class", "by_name", "by_qualified"):
        col = post.column(name)
        assert col is not None
        assert (col.fk_target, col.fk_column, col.fk_type) == ("auth_user", "id", None)


def test_fk_name_prefers_the_same_plugin() -> None:
    # Two plugins each have a model named "Member": the same plugin's wins.
    a = _model("Member", "auth")
    s = _model("Member", "shop")
    order = _model("Order", "shop", member=fields.ForeignKey("Member"))
    snaps = build_snapshots({"auth": [a], "shop": [s, order]})
    assert snaps["shop"].models["Order"].column("member").fk_target == "shop_member"


def test_ambiguous_fk_name_is_an_error_naming_the_plugins() -> None:
    a = _model("Member", "auth")
    s = _model("Member", "shop")
    post = _model("Post", "blog", member=fields.ForeignKey("Member"))
    with pytest.raises(ModelDefinitionError) as exc:
        build_snapshots({"auth": [a], "shop": [s], "blog": [post]})
    msg = str(exc.value)
    assert "`Post.member`" in msg
    assert "auth, shop" in msg
    assert '"plugin.Member"' in msg


@pytest.mark.parametrize("target", ["Nope", "auth.Nope", "blog.User"])
def test_unknown_fk_target_is_an_error(target: str) -> None:
    user = _model("User", "auth")
    post = _model("Post", "blog", author=fields.ForeignKey(target))
    with pytest.raises(
        ModelDefinitionError, match=re.escape(f"`Post.author` references unknown model `{target}`")
    ):
        build_snapshots({"auth": [user], "blog": [post]})


def test_fk_to_a_class_no_active_plugin_owns_is_an_error() -> None:
    orphan = _model("Orphan")
    post = _model("Post", author=fields.ForeignKey(orphan))
    with pytest.raises(ModelDefinitionError, match="Orphan, which no active plugin owns"):
        build_snapshots({"app": [post]})


@pytest.mark.parametrize(
    ("pk_field", "fk_type", "storage"),
    [
        (fields.BigInt(primary_key=True), None, "BigInt"),
        (fields.Integer(primary_key=True), "Integer", "Integer"),
        (fields.SmallInt(primary_key=True), "SmallInt", "SmallInt"),
        (fields.Uuid(primary_key=True), "Uuid", "Uuid"),
        (fields.Text(primary_key=True), "Text", "Text"),
    ],
)
def test_fk_column_type_comes_from_the_target_primary_key(
    pk_field: fields.Field, fk_type: str | None, storage: str
) -> None:
    target = _model("Target", key=pk_field)
    ref = _model("Ref", target=fields.ForeignKey(target))
    col = build_snapshots({"app": [target, ref]})["app"].models["Ref"].column("target")
    assert col is not None
    assert (col.fk_column, col.fk_type, col.storage_type) == ("key", fk_type, storage)


def test_many_to_many_becomes_a_junction_not_a_column() -> None:
    class Tag(Model, plugin="blog"):
        code = fields.Uuid(primary_key=True)

    class Post(Model, plugin="blog"):
        tags = fields.ManyToMany("Tag")

    post = build_snapshots({"blog": [Tag, Post]})["blog"].models["Post"]
    assert [c.name for c in post.fields] == ["id"]
    assert post.m2m == (
        M2M(
            field="tags",
            table="blog_post_tags",
            target="blog_tag",
            target_column="code",
            target_type="Uuid",
        ),
    )


def test_two_models_with_one_class_name_in_a_plugin_is_an_error_naming_both() -> None:
    first = _model("Post", "blog")
    second = _model("Post", "blog")
    with pytest.raises(ModelDefinitionError) as exc:
        build_snapshots({"blog": [first, second]})
    msg = str(exc.value)
    assert "plugin `blog` has two models named `Post`" in msg
    assert msg.count("Post") >= 3  # both qualified names are listed


def test_a_table_declared_twice_is_an_error() -> None:
    a = type("A", (Model,), {}, table="shared")
    b = type("B", (Model,), {}, table="shared")
    with pytest.raises(ModelDefinitionError, match="table `shared` is declared twice"):
        build_snapshots({"app": [a, b]})


def test_returning_something_other_than_a_model_is_an_error() -> None:
    with pytest.raises(ModelDefinitionError, match="not a Model class"):
        build_snapshots({"blog": [object]})  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("attrs", "class_kwargs", "message"),
    [
        (
            {"a": fields.ForeignKey("X", on_delete="explode")},
            {},
            "on_delete='explode' is not one of",
        ),
        ({"a": fields.ForeignKey("X", on_update="nope")}, {}, "on_update='nope' is not one of"),
        ({"a": fields.ForeignKey("X", on_delete="set_null")}, {}, "needs nullable=True"),
        ({"a": fields.Text(max_length=0)}, {}, "max_length must be a positive integer"),
        ({"a": fields.Text(max_length="10")}, {}, "max_length must be a positive integer"),
        ({"a": fields.Integer(default=lambda: 1)}, {}, "not a callable"),
        ({"a": fields.Integer(default=object())}, {}, "is not a literal"),
        ({"a": fields.Integer(primary_key=True, nullable=True)}, {}, "cannot be nullable"),
        ({"a": fields.Timestamp(auto_now=True, default="2020-01-01")}, {}, "exclusive"),
        (
            {"a": fields.Integer(primary_key=True), "b": fields.Integer(primary_key=True)},
            {},
            "several primary keys (a, b)",
        ),
        ({"a": fields.Integer()}, {"unique_together": [("a", "zz")]}, "unknown column `zz`"),
        ({"a": fields.Integer()}, {"indexes": [("zz",)]}, "unknown column `zz`"),
        # Written into a migration, these made a file every command then refused.
        ({"a": fields.Integer(nullable=None)}, {}, "nullable must be True or False, not None"),
        ({"a": fields.Integer(unique="false")}, {}, "unique must be True or False, not 'false'"),
        ({"a": fields.Integer(help=5)}, {}, "help must be a string, not 5"),
        ({"a": fields.Integer(column="")}, {}, "column must be a string, not ''"),
        (
            {"a": fields.BigInt(default=1), "b": fields.Integer(column="a")},
            {},
            "fields `a` and `b` both map to the column `a`",
        ),
        (
            {"title": fields.Text(), "t2": fields.Integer(column="Title")},
            {},
            "fields `title` and `t2` both map to the column `Title`",
        ),
        ({"a": fields.Text(max_length=True)}, {}, "max_length must be a positive integer"),
        ({"a": fields.Text(choices="ab")}, {}, "choices must be a list or tuple of values"),
    ],
)
def test_invalid_options_are_errors_naming_the_field(
    attrs: dict, class_kwargs: dict, message: str
) -> None:
    with pytest.raises(ModelDefinitionError) as exc:
        type("Bad", (Model,), dict(attrs), **class_kwargs)
    assert message in str(exc.value)
    assert "Bad" in str(exc.value)


def test_declaring_a_model_registers_nothing_globally() -> None:
    _model("Lonely")
    assert build_snapshots({}) == {}
    assert build_snapshots({"app": []})["app"].models == {}


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (fields.Integer(default="zero"), 'default "zero" is not a whole number (Integer column)'),
        (fields.Boolean(default=1), "default 1 is not true or false (Boolean column)"),
        (fields.Real(default="1.5"), 'default "1.5" is not a number (Real column)'),
        (fields.Text(default=3), "default 3 is not a string (Text column)"),
        (fields.Text(max_length=2, default="abc"), 'default "abc" is longer than max_length 2'),
        (fields.Text(choices=["a", "b"], default="c"), 'default "c" is not one of the choices'),
        (fields.Decimal(default="x"), 'default "x" is not a number (Decimal column)'),
    ],
)
def test_a_default_the_column_cannot_store_is_a_model_error(declared, expected: str) -> None:
    item = _model("Item", qty=declared)
    with pytest.raises(ModelDefinitionError) as exc:
        build_snapshots({"app": [item]})
    assert str(exc.value) == f"field `Item.qty`: {expected}"


def test_defaults_of_the_right_kind_are_kept() -> None:
    item = _model(
        "Item", a=fields.Decimal(default=decimal.Decimal("1.50")), b=fields.Real(default=2),
        c=fields.Boolean(default=False), d=fields.Text(choices=["x"], default="x"),
    )  # fmt: skip
    snap = build_snapshots({"app": [item]})["app"].models["Item"]
    assert [snap.column(n).default for n in "abcd"] == ["1.50", 2, False, "x"]


@pytest.mark.parametrize("option", ["unique_together", "indexes"])
@pytest.mark.parametrize("value", [("name", "qty"), ["name"], [("name", 3)], [()]])
def test_index_options_of_the_wrong_shape_say_what_shape(option: str, value: object) -> None:
    with pytest.raises(ModelDefinitionError) as exc:
        type("Item", (Model,), {"name": fields.Text(), "qty": fields.Integer()}, **{option: value})
    assert str(exc.value) == (
        f"model `Item`: {option} must be a list of groups of column names, e.g. "
        f'{option}=[("author", "slug")], not {value!r}'
    )


@pytest.mark.parametrize(
    ("attrs", "field"),
    [({"id": fields.Integer()}, "id"), ({"ident": fields.Integer(column="id")}, "ident")],
)
def test_a_field_named_id_without_primary_key_is_a_model_error(attrs, field: str) -> None:
    with pytest.raises(ModelDefinitionError) as exc:
        type("X", (Model,), {"name": fields.Text(), **attrs})
    assert str(exc.value) == (
        f"model `X`: field `{field}` takes the name `id` of the implicit primary key; add "
        "primary_key=True to it, or name it otherwise"
    )


def test_a_field_named_id_beside_an_explicit_primary_key_is_a_column() -> None:
    model = type("X", (Model,), {"code": fields.Text(primary_key=True), "id": fields.Integer()})
    snap = build_snapshots({"app": [model]})["app"].models["X"]
    assert [(c.name, c.primary_key) for c in snap.fields] == [("code", True), ("id", False)]
