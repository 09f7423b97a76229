"""Snapshot data and its canonical dict form (SPEC §5)."""

from __future__ import annotations

import pytest

from umbral.schema import M2M, Column, ModelState, Snapshot


def test_column_to_dict_always_carries_the_four_keys_and_omits_defaults() -> None:
    assert Column(name="title", type="Text").to_dict() == {
        "name": "title",
        "type": "Text",
        "primary_key": False,
        "nullable": False,
    }


def test_column_to_dict_writes_every_non_default_attribute() -> None:
    col = Column(
        name="author",
        type="ForeignKey",
        nullable=True,
        default=3,
        unique=True,
        index=True,
        help="who",
        max_length=9,
        choices=(1, 2),
        fk_target="user",
        fk_column="id",
        fk_type="Integer",
        on_delete="cascade",
        on_update="restrict",
        db_constraint=False,
        auto_now_add=True,
        auto_now=True,
    )
    assert col.to_dict() == {
        "name": "author",
        "type": "ForeignKey",
        "primary_key": False,
        "nullable": True,
        "default": 3,
        "unique": True,
        "index": True,
        "help": "who",
        "max_length": 9,
        "choices": [1, 2],
        "fk_target": "user",
        "fk_column": "id",
        "fk_type": "Integer",
        "on_delete": "cascade",
        "on_update": "restrict",
        "db_constraint": False,
        "auto_now_add": True,
        "auto_now": True,
    }
    assert Column.from_dict(col.to_dict()) == col


def test_falsy_defaults_that_differ_from_none_are_kept() -> None:
    # default=0 / "" / False are real defaults, not "no default".
    for value in (0, "", False):
        d = Column(name="c", type="Text", default=value).to_dict()
        assert d["default"] == value
        assert Column.from_dict(d).default == value


def test_model_and_snapshot_round_trip() -> None:
    post = ModelState(
        name="Post",
        table="blog_post",
        fields=(
            Column(name="id", type="BigInt", primary_key=True),
            Column(name="slug", type="Text", choices=("a", "b")),
            Column(name="author", type="ForeignKey", fk_target="blog_author", fk_column="id"),
        ),
        unique_together=(("author", "slug"),),
        indexes=(("slug",),),
        m2m=(M2M("tags", "blog_post_tags", "blog_tag", "id", "Uuid"),),
    )
    view = ModelState(name="Recent", table="recent", fields=(), view="SELECT 1")
    author = ModelState("Author", "blog_author", (Column("id", "BigInt", primary_key=True),))
    snap = Snapshot({"Post": post, "Recent": view, "Author": author})
    data = snap.to_dict()
    # Models are sorted by name; optional model keys appear only when set.
    assert [m["name"] for m in data["models"]] == ["Author", "Post", "Recent"]
    assert set(data["models"][0]) == {"name", "table", "fields"}
    assert data["models"][1]["m2m"] == [
        {
            "field": "tags",
            "table": "blog_post_tags",
            "target": "blog_tag",
            "target_column": "id",
            "target_type": "Uuid",
        }
    ]
    assert data["models"][2]["view"] == "SELECT 1"
    assert Snapshot.from_dict(data) == snap


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "c", "type": "Text", "primary_key": False, "nullable": False, "colour": 1},
            "unknown column attribute(s): colour",
        ),
        ({"name": "c", "type": "Text", "primary_key": False}, "column is missing nullable"),
        (
            {"name": "c", "type": "Varchar", "primary_key": False, "nullable": False},
            "unknown column type 'Varchar'",
        ),
    ],
)
def test_column_from_dict_rejects_bad_data(data: dict, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        Column.from_dict(data)
    assert message in str(exc.value)


def test_model_from_dict_rejects_unknown_and_missing_attributes() -> None:
    with pytest.raises(ValueError, match=r"unknown model attribute\(s\): colour"):
        ModelState.from_dict({"name": "P", "table": "p", "fields": [], "colour": "red"})
    with pytest.raises(ValueError, match="model is missing 'table'"):
        ModelState.from_dict({"name": "P", "fields": []})


def test_snapshot_from_dict_needs_a_models_list() -> None:
    with pytest.raises(ValueError, match="`models` list"):
        Snapshot.from_dict({"models": {}})


def test_index_specs_list_every_index_once() -> None:
    model = ModelState(
        name="Post",
        table="post",
        fields=(
            Column("id", "BigInt", primary_key=True),
            Column("author", "ForeignKey", fk_target="user", fk_column="id"),
            Column("editor", "ForeignKey", fk_target="user", fk_column="id", unique=True),
            Column("status", "Text", index=True),
            Column("title", "Text"),
        ),
        unique_together=(("author", "title"),),
        indexes=(("status",),),
    )
    # A unique FK needs no extra index; ("status",) from `indexes` and index=True coincide.
    assert model.index_specs() == [
        (("author", "title"), True),
        (("status",), False),
        (("author",), False),
    ]


@pytest.mark.parametrize(
    "values",
    [
        {"name": "id", "type": "BigInt", "primary_key": True, "nullable": False},
        {"name": "t", "type": "Text", "primary_key": False, "nullable": True, "max_length": 20,
         "choices": ("a", "b"), "default": "a", "index": True, "help": "why"},
        {"name": "fk", "type": "ForeignKey", "primary_key": False, "nullable": False,
         "fk_target": "p", "fk_column": "id", "fk_type": "Uuid", "on_delete": "cascade",
         "db_constraint": False},
    ],
)  # fmt: skip
def test_column_build_is_the_dataclass_constructor(values: dict) -> None:
    built, made = Column.build(dict(values)), Column(**values)
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    assert built.to_dict() == made.to_dict()
    assert Column.from_dict(made.to_dict()) == made
    with pytest.raises(AttributeError):
        built.name = "other"  # type: ignore[misc]  # still frozen


def test_consecutive_snapshots_share_unchanged_models_and_rebuild_changed_ones() -> None:
    def snap(title_nullable: bool) -> dict:
        return {
            "models": [
                {"name": "Author", "table": "shared_author",
                 "fields": [{"name": "id", "type": "BigInt", "primary_key": True,
                             "nullable": False}]},
                {"name": "Post", "table": "shared_post",
                 "fields": [{"name": "title", "type": "Text", "primary_key": False,
                             "nullable": title_nullable}]},
            ]
        }  # fmt: skip

    first = Snapshot.from_dict(snap(False))
    second = Snapshot.from_dict(snap(True))
    assert second.models["Author"] is first.models["Author"]
    assert second.models["Post"].fields[0].nullable is True
    assert first.models["Post"].fields[0].nullable is False
    assert second == Snapshot(
        {m.name: m for m in (ModelState.from_dict(x) for x in snap(True)["models"])}
    )
    with pytest.raises(ValueError, match="unknown model attribute"):
        Snapshot.from_dict({"models": [snap(True)["models"][0], {"bogus": 1}]})
