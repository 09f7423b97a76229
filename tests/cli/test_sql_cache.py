"""Rendered SQL kept between runs (``umbral.sqlcache``): a fresh database built from kept SQL
is the one rendering builds, and an edit to a migration file or to the code that renders it is
never answered with the SQL of before."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_fast_path import MODELS_1 as MODELS

from conftest import Project, rows, schema_of

#: A plugin that renders every CreateTable as the backend does, and makes a marker table beside
#: it naming the version of this module: the database tells which code rendered it.
RENDERER = """
from umbral import hookimpl


@hookimpl(tryfirst=True)
def umbral_render_operation(operation, backend, context):
    if operation.kind != "CreateTable":
        return None
    marker = f'CREATE TABLE "marker_{operation.table}_VERSION" (x INTEGER)'
    return [*backend.render(operation, context), marker]
"""


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def migrate_fresh(p: Project, cache: Path, name: str, *args: str) -> str:
    """``umbral migrate`` into a new SQLite database ``name``; returns its URL."""
    url = f"sqlite:///{p.root.parent / name}"
    r = p.run("migrate", "--database", url, *args, UMBRAL_CACHE_DIR=str(cache))
    assert r.code == 0, r
    return url


def kept(cache: Path) -> dict[str, dict]:
    """The kept renderings, by migration file name: which parts are kept for it."""
    out: dict[str, dict] = {}
    for file in cache.glob("rendered-*.json"):
        out.update(json.loads(file.read_text())["files"])
    return out


def table_data(url: str) -> list[tuple]:
    return rows(url, "SELECT type, name, sql FROM sqlite_master ORDER BY name")


def test_a_second_fresh_database_is_the_same_as_the_first(project: Project, cache: Path) -> None:
    p = project
    p.models(MODELS)
    assert p.run("makemigrations").code == 0
    p.models(MODELS + "    body = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "body").code == 0
    first = migrate_fresh(p, cache, "one.sqlite3")
    replayed = migrate_fresh(p, cache, "two.sqlite3", "--replay")
    # Both paths kept what they rendered: the head of the last file, every file as written.
    assert {k: sorted(set(v) - {"content", "code"}) for k, v in kept(cache).items()} == {
        "0001_initial.json": ["forward"],
        "0002_body.json": ["forward", "head"],
    }
    again = migrate_fresh(p, cache, "three.sqlite3")
    replayed_again = migrate_fresh(p, cache, "four.sqlite3", "--replay")
    assert table_data(again) == table_data(first)
    assert table_data(replayed_again) == table_data(replayed)
    assert schema_of(again) == schema_of(replayed_again)


def test_an_edited_file_is_rendered_anew(project: Project, cache: Path) -> None:
    p = project
    p.models(MODELS)
    assert p.run("makemigrations").code == 0
    migrate_fresh(p, cache, "one.sqlite3")
    migrate_fresh(p, cache, "two.sqlite3", "--replay")
    # A hand edit renaming a column in the file (its operation and its snapshot alike).
    path = p.root / "migrations" / "app" / "0001_initial.json"
    path.write_text(path.read_text().replace('"title"', '"heading"'))
    for name, args in (("three.sqlite3", ()), ("four.sqlite3", ("--replay",))):
        url = migrate_fresh(p, cache, name, *args)
        columns = [c[0] for c in schema_of(url)["post"]["columns"]]
        assert "heading" in columns and "title" not in columns, (name, columns)


#: Where a render plugin's code lives: (the file that changes, the files beside it, the module
#: ``plugin_modules`` names). A namespace package has no file of its own; a re-exported hook
#: is defined in another module than the one registered.
PLACES = {
    "module": ("render.py", {}, "render"),
    "namespace package": (
        "acme/audit/render.py", {"acme/audit/__init__.py": ""}, "acme.audit.render"
    ),
    "re-exported": (
        "impl.py", {"render.py": "from impl import umbral_render_operation\n"}, "render"
    ),
}  # fmt: skip


@pytest.mark.parametrize("place", PLACES)
def test_a_changed_renderer_renders_anew(project: Project, cache: Path, place: str) -> None:
    """The code that renders is part of the key: an edit to a plugin implementing the render
    hook (or to umbral or the backend) is not answered with SQL it would no longer write."""
    p = project
    changed, beside, module = PLACES[place]
    for path, text in beside.items():
        p.write(path, text)
    p.write(changed, RENDERER.replace("VERSION", "v1"))
    p.write_config(plugin_modules={"render": module}, plugins=["render"])
    p.models("class Note(Model):\n    body = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    for name, args in (("one.sqlite3", ()), ("two.sqlite3", ("--replay",))):
        assert "marker_note_v1" in schema_of(migrate_fresh(p, cache, name, *args))
    path = p.write(changed, RENDERER.replace("VERSION", "v2"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    for name, args in (("three.sqlite3", ()), ("four.sqlite3", ("--replay",))):
        tables = schema_of(migrate_fresh(p, cache, name, *args))
        assert "marker_note_v2" in tables and "marker_note_v1" not in tables, (name, tables)


def test_the_order_of_two_renderers_is_part_of_the_key(project: Project, cache: Path) -> None:
    """Two plugins overriding one operation: the one registered last runs first, so swapping
    them in ``plugin_modules`` changes the SQL with no file changed."""
    p = project
    p.write("one.py", RENDERER.replace("VERSION", "one"))
    p.write("two.py", RENDERER.replace("VERSION", "two"))
    p.models("class Note(Model):\n    body = fields.Text()\n")
    p.write_config(plugin_modules={"one": "one", "two": "two"}, plugins=["one", "two"])
    assert p.run("makemigrations").code == 0
    first = set(schema_of(migrate_fresh(p, cache, "one.sqlite3"))) & {
        "marker_note_one",
        "marker_note_two",
    }
    p.write_config(plugin_modules={"two": "two", "one": "one"}, plugins=["two", "one"])
    again = set(schema_of(migrate_fresh(p, cache, "two.sqlite3"))) & {
        "marker_note_one",
        "marker_note_two",
    }
    uncached = p.root.parent / "three.sqlite3"
    r = p.run("migrate", "--database", f"sqlite:///{uncached}", UMBRAL_CACHE_DIR="")
    assert r.code == 0, r
    assert len(first) == 1 and first != again, (first, again)
    assert again == set(schema_of(f"sqlite:///{uncached}")) & {"marker_note_one", "marker_note_two"}


def test_a_file_rewritten_keeping_size_mtime_and_inode_is_rendered_anew(
    project: Project, cache: Path
) -> None:
    """An archive extracted with fixed mtimes over the same path: the validation cache knows
    the file by its size, mtime and inode and keeps the old checksum, but the SQL follows the
    bytes."""
    p = project
    p.models("class Tag(Model):\n    label = fields.Text(max_length=40)\n")
    assert p.run("makemigrations").code == 0
    [path] = (p.root / "migrations" / "app").glob("0001_*.json")
    old = path.stat().st_mtime_ns - 60 * 10**9  # old enough for the validation cache
    os.utime(path, ns=(old, old))
    for name, args in (("one.sqlite3", ()), ("two.sqlite3", ("--replay",))):
        migrate_fresh(p, cache, name, *args)
    with path.open("r+b") as f:  # in place: same inode, same size
        text = f.read().replace(b'"max_length": 40', b'"max_length": 80')
        f.seek(0)
        f.write(text)
    os.utime(path, ns=(old, old))
    for name, args in (("three.sqlite3", ()), ("four.sqlite3", ("--replay",))):
        [(sql,)] = rows(
            migrate_fresh(p, cache, name, *args), "SELECT sql FROM sqlite_master WHERE name = 'tag'"
        )
        assert '"label" VARCHAR(80)' in sql, (name, sql)


def test_a_kept_rendering_of_another_shape_is_no_cache(project: Project, cache: Path) -> None:
    p = project
    p.models(MODELS)
    assert p.run("makemigrations").code == 0
    first = migrate_fresh(p, cache, "one.sqlite3")
    migrate_fresh(p, cache, "two.sqlite3", "--replay")
    for file in cache.glob("rendered-*.json"):
        data = json.loads(file.read_text())
        for entry in data["files"].values():
            entry["head"] = {**entry.get("head", {}), "owned": None}
            entry["forward"] = {**entry["forward"], "parts": None}
        file.write_text(json.dumps(data))
    assert table_data(migrate_fresh(p, cache, "three.sqlite3")) == table_data(first)
    migrate_fresh(p, cache, "four.sqlite3", "--replay")


def test_no_cache_when_turned_off(project: Project, tmp_path: Path) -> None:
    p = project
    p.models(MODELS)
    assert p.run("makemigrations").code == 0
    r = p.run("migrate", UMBRAL_CACHE_DIR="")
    assert r.code == 0, r
    assert not list(tmp_path.rglob("rendered-*.json"))


#: Renders an AddColumn as the backend does, with a marker table naming the columns the table
#: had before it (read from ``context.state``, which depends on the earlier files).
STATE_READER = """
from umbral import hookimpl


@hookimpl(tryfirst=True)
def umbral_render_operation(operation, backend, context):
    if operation.kind != "AddColumn":
        return None
    before = "_".join(c.name for c in context.state[operation.table].fields)
    marker = f'CREATE TABLE "marker_{before}" (x INTEGER)'
    return [*backend.render(operation, context), marker]
"""


def test_a_rendering_that_read_the_tables_before_is_not_kept(project: Project, cache: Path) -> None:
    """Such a rendering depends on the files before its own: an edit of one of them leaves the
    file's checksum as it was, and the rendering must still follow it."""
    p = project
    p.write("render.py", STATE_READER)
    p.write_config(plugin_modules={"render": "render"}, plugins=["render"])
    p.models("class Note(Model):\n    body = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    p.models("class Note(Model):\n    body = fields.Text()\n    x = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "x").code == 0
    assert "marker_id_body" in schema_of(migrate_fresh(p, cache, "one.sqlite3", "--replay"))
    [path] = (p.root / "migrations" / "app").glob("0001_*.json")
    path.write_text(path.read_text().replace('"body"', '"content"'))
    tables = schema_of(migrate_fresh(p, cache, "two.sqlite3", "--replay"))
    assert "marker_id_content" in tables and "marker_id_body" not in tables, tables
