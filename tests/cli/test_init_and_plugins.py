"""``umbral init`` and ``umbral plugins`` (SPEC §4, §12)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from conftest import Project, run_umbral


def test_init_writes_umbral_toml_and_a_models_module(tmp_path: Path) -> None:
    r = run_umbral("init", cwd=tmp_path)
    assert r.code == 0, r
    assert r.out_lines == [
        f"Wrote {tmp_path / 'umbral.toml'}",
        f"Wrote {tmp_path / 'models.py'}",
        "Next: umbral makemigrations && umbral migrate",
    ]
    config = tomllib.loads((tmp_path / "umbral.toml").read_text())
    assert config == {
        "database": "sqlite:///db.sqlite3",
        "models": ["models"],
        "migrations": "migrations",
        "plugins": [],
    }
    # The starter project works end to end (installed plugins kept out).
    r = run_umbral("makemigrations", cwd=tmp_path)
    assert r.code == 0, r
    assert "Wrote migrations/app/0001_create_note.json" in r.out_lines
    r = run_umbral("migrate", cwd=tmp_path)
    assert r.code == 0, r
    assert (tmp_path / "db.sqlite3").is_file()


def test_init_refuses_when_a_config_exists(tmp_path: Path) -> None:
    assert run_umbral("init", cwd=tmp_path).code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    r = run_umbral("init", cwd=tmp_path)
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral init: {tmp_path} already has an umbral configuration; edit it instead"
    ]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    r = run_umbral("init", "--pyproject", cwd=tmp_path)
    assert r.code == 1, r
    assert not (tmp_path / "pyproject.toml").exists()


def test_init_pyproject_appends_and_keeps_the_rest(tmp_path: Path) -> None:
    original = '# my project\n[project]\nname = "demo"  # keep me\nversion = "1.0"\n'
    (tmp_path / "pyproject.toml").write_text(original)
    (tmp_path / "models.py").write_text("# mine\n")
    r = run_umbral("init", "--pyproject", "--database-url", "sqlite:///app.db", cwd=tmp_path)
    assert r.code == 0, r
    assert r.out_lines[:2] == [
        f"Wrote [tool.umbral] to {tmp_path / 'pyproject.toml'}",
        f"Kept existing {tmp_path / 'models.py'}",
    ]
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original)
    data = tomllib.loads(text)
    assert data["project"] == {"name": "demo", "version": "1.0"}
    assert data["tool"]["umbral"]["database"] == "sqlite:///app.db"
    assert (tmp_path / "models.py").read_text() == "# mine\n"
    assert not (tmp_path / "umbral.toml").exists()
    # A second init sees the [tool.umbral] table and refuses.
    r = run_umbral("init", "--pyproject", cwd=tmp_path)
    assert r.code == 1, r
    assert (tmp_path / "pyproject.toml").read_text() == text


SHOP = """
from umbral import Model, fields, hookimpl


class Item(Model, plugin="shop"):
    name = fields.Text()


class Sale(Model, plugin="shop"):
    item = fields.ForeignKey(Item)


@hookimpl
def umbral_models():
    return [Sale, Item]


@hookimpl
def umbral_plugin_dependencies():
    return []
"""


def test_plugins_lists_every_plugin(project: Project) -> None:
    p = project
    p.write_config(plugins=["shop", "accounts"], plugin_modules={"shop": "shop"})
    p.write("shop.py", SHOP)
    p.models("class Note(Model):\n    text = fields.Text()\n")
    r = p.run("plugins")
    assert r.code == 0, r
    lines = r.out_lines
    start = lines.index("shop (app, project)")
    assert lines[start : start + 4] == [
        "shop (app, project)",
        "  models: Item, Sale",
        "  migrations: migrations/shop",
        "  hooks: umbral_models, umbral_plugin_dependencies",
    ]
    accounts = next(i for i, line in enumerate(lines) if line.startswith("accounts (app, "))
    assert lines[accounts].startswith("accounts (app, umbral-accounts ")
    assert lines[accounts + 1] == "  models: User"
    app = lines.index("app (app, project)")
    assert lines[app + 1 : app + 3] == ["  models: Note", "  migrations: migrations/app"]
    assert app > start and app > accounts  # `app` is ordered last
    assert any(line.startswith("sqlite (backend, umbral-sqlite ") for line in lines)
    assert not any(line.startswith("blog ") for line in lines)  # filtered by `plugins`


def test_plugins_json(project: Project) -> None:
    p = project
    p.write_config(plugins=["shop"], plugin_modules={"shop": "shop"})
    p.write("shop.py", SHOP)
    r = p.run("plugins", "--json")
    assert r.code == 0, r
    data = {row["name"]: row for row in json.loads(r.stdout)}
    shop = data["shop"]
    assert shop["kind"] == "app"
    assert shop["distribution"] is None
    assert shop["models"] == ["Item", "Sale"]
    assert Path(shop["migrations_dir"]) == (p.root / "migrations" / "shop").resolve()
    assert shop["read_only"] is False
    assert shop["hooks"] == ["umbral_models", "umbral_plugin_dependencies"]
    sqlite = data["sqlite"]
    assert sqlite["kind"] == "backend"
    assert sqlite["distribution"] == "umbral-sqlite"
    assert sqlite["version"]
    assert "umbral_backends" in sqlite["hooks"]


def test_installed_plugin_with_shipped_migrations(project: Project) -> None:
    p = project
    p.write_config(plugins=["accounts"])
    r = p.run("plugins", "--json")
    assert r.code == 0, r
    accounts = {row["name"]: row for row in json.loads(r.stdout)}["accounts"]
    assert accounts["distribution"] == "umbral-accounts"
    assert accounts["models"] == ["User"]
    assert Path(accounts["migrations_dir"]).name == "migrations"
    assert "umbral_migrations_dir" in accounts["hooks"]
