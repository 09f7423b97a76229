"""Refusals of the autodetector (SPEC §7): exit 1, one ``error:`` line, nothing written."""

from __future__ import annotations

import pytest

from conftest import Project

SHOP = """
from umbral import Model, fields, hookimpl


class Item(Model, plugin="shop"):
    name = fields.Text()
{extra}

@hookimpl
def umbral_models():
    return [Item]
"""

# (app model before, app model after, the Model.column named, words of the reason)
CASES = {
    "not_null_without_default": (
        "x = fields.Text(nullable=True)",
        "x = fields.Text(nullable=True)\n    y = fields.Integer()",
        "Post.y",
        "make it nullable, give it a default, or use auto_now_add",
    ),
    "text_to_bigint": ("x = fields.Text()", "x = fields.BigInt()", "Post.x", "Text -> BigInt"),
    "nullable_to_not_null": (
        "x = fields.Text(nullable=True)",
        "x = fields.Text()",
        "Post.x",
        "nullable -> NOT NULL without a default",
    ),
    "narrow_max_length": (
        "x = fields.Text(max_length=10)",
        "x = fields.Text(max_length=5)",
        "Post.x",
        "max_length 10 -> 5",
    ),
    "pk_flip": (
        "x = fields.BigInt()",
        "x = fields.BigInt(primary_key=True)",
        "Post.x",
        "primary-key flip",
    ),
}


def post(body: str) -> str:
    return f"class Post(Model):\n    {body}\n"


def two_plugin_project(p: Project) -> None:
    p.write_config(plugins=["shop"], plugin_modules={"shop": "shop"})
    p.write("shop.py", SHOP.format(extra=""))


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_writes_nothing_for_any_plugin(project: Project, case: str) -> None:
    before_body, after_body, culprit, reason = CASES[case]
    p = project
    two_plugin_project(p)
    p.models(post(before_body))
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert p.run("migrate").code == 0
    # shop gets a valid change; app gets the refused one.
    p.write("shop.py", SHOP.format(extra="    price = fields.Integer(default=0)"))
    p.models(post(after_body))
    before = p.tree()
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert r.out_lines == []
    assert len(r.err_lines) == 1, r
    line = r.err_lines[0]
    assert line.startswith(
        f"error: umbral makemigrations: unsafe column change on `{culprit}`: "
    ), line
    assert reason in line
    assert p.tree() == before
    assert p.migration_files("shop") == ["0001_create_shop_item.json"]


def test_refusal_in_a_plugin_stops_the_app_file_too(project: Project) -> None:
    p = project
    two_plugin_project(p)
    p.models(post("x = fields.Text()"))
    assert p.run("makemigrations").code == 0
    p.write("shop.py", SHOP.format(extra="    qty = fields.Integer()"))
    p.models(post("x = fields.Text()\n    y = fields.Text(nullable=True)"))
    before = p.tree()
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral makemigrations: unsafe column change on `Item.qty`: adding NOT NULL "
        "column `shop_item.qty` without a default fails on every existing row; make it "
        "nullable, give it a default, or use auto_now_add; or give the existing rows a one-off "
        "value: run makemigrations on a terminal, or pass --backfill Item.qty=VALUE"
    ]
    assert p.tree() == before


def test_refusal_under_check_is_also_exit_1(project: Project) -> None:
    p = project
    p.models(post("x = fields.Text()"))
    assert p.run("makemigrations").code == 0
    p.models(post("x = fields.Date()"))
    before = p.tree()
    r = p.run("makemigrations", "--check")
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and "`Post.x`" in r.err_lines[0]
    assert p.tree() == before


@pytest.mark.parametrize(
    ("before_body", "after_body", "kind"),
    [
        ("x = fields.SmallInt()", "x = fields.BigInt()", "AlterColumn"),
        ("x = fields.Integer()", "x = fields.Text()", "AlterColumn"),
        ("x = fields.Text(max_length=5)", "x = fields.Text(max_length=10)", "AlterColumn"),
        ("x = fields.Text(unique=True)", "x = fields.Text()", "AlterColumn"),
        ("x = fields.Text(nullable=True)", "x = fields.Text(default='a')", "AlterColumn"),
        ("x = fields.Timestamp()", "x = fields.Timestamptz()", "AlterColumn"),
    ],
)
def test_safe_changes_are_accepted_and_applied(
    project: Project, before_body: str, after_body: str, kind: str
) -> None:
    p = project
    p.models(post(before_body))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    p.models(post(after_body))
    r = p.run("makemigrations")
    assert r.out_lines == ["Wrote migrations/app/0002_alter_post_x.json"], r
    data = p.load_migration("app", "0002_alter_post_x.json")
    assert [o["kind"] for o in data["operations"]] == [kind]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
