"""Installed plugins in a new project: `init` writes `plugins = []`, and an error caused by a
plugin's models names the plugin and the `plugins` allow-list."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import Project, run_umbral, schema_of


def test_init_keeps_installed_plugins_out_and_says_how_to_add_them(tmp_path: Path) -> None:
    assert run_umbral("init", cwd=tmp_path).code == 0
    text = (tmp_path / "umbral.toml").read_text()
    assert tomllib.loads(text)["plugins"] == []
    comment = [line for line in text.splitlines() if line.startswith("#")]
    assert any('plugins = ["accounts"]' in line for line in comment), text
    assert any("Without this key, every installed app plugin joins" in line for line in comment)
    # umbral-accounts and umbral-blog are installed in the test environment: they stay out.
    r = run_umbral("makemigrations", cwd=tmp_path)
    assert (r.code, r.out_lines) == (0, ["Wrote migrations/app/0001_create_note.json"]), r
    assert sorted(p.name for p in (tmp_path / "migrations").iterdir()) == ["app"]
    assert run_umbral("migrate", cwd=tmp_path).code == 0


def test_init_pyproject_writes_the_allow_list_in_its_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    assert run_umbral("init", "--pyproject", cwd=tmp_path).code == 0
    data = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert data["tool"]["umbral"]["plugins"] == []


def test_an_error_in_a_plugins_models_names_the_plugin_and_the_allow_list(
    any_project: Project,
) -> None:
    p = any_project
    p.write_config(plugins=None)  # no allow-list: every installed app plugin joins
    p.models('class Label(Model, table="blog_tag"):\n    name = fields.Text()\n')
    before = p.tree()
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert len(r.err_lines) == 1, r
    line = r.err_lines[0]
    assert line.startswith("error: plugin `blog` (from umbral-blog): table `blog_tag` is declared")
    assert "the configuration has no `plugins` allow-list" in line
    assert 'leave it out: `plugins = ["accounts"]`' in line
    assert p.tree() == before

    # blog without accounts: its Post.author references a model no active plugin has.
    p.models("class Label(Model):\n    name = fields.Text()\n")
    p.write_config(plugins=["blog"])
    before = p.tree()
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: plugin `blog` (from umbral-blog): `Post.author` references unknown model "
        "`accounts.User` (the configuration's `plugins` allow-list names it;"
    ), r
    assert p.tree() == before

    p.write_config(plugins=["accounts", "blog"])
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert "Wrote migrations/blog/0001_initial.json" in r.out_lines
    assert p.run("migrate").code == 0
    assert {"label", "blog_post", "blog_tag", "accounts_user"} <= set(schema_of(p.database))


def test_a_plugin_module_without_hooks_is_an_error(project: Project) -> None:
    """A typo'd entry (the plugin's models module instead of its hooks module) made the plugin
    look uninstalled: every applied migration of it read as deleted, and --prune offered to
    forget them all."""
    p = project
    p.write("shop_models.py", "X = 1\n")
    p.write_config(plugin_modules={"shop": "shop_models"}, plugins=["shop"])
    for args in (["showmigrations"], ["migrate", "--prune", "--plan"], ["plugins"]):
        r = p.run(*args)
        assert (r.code, r.err_lines) == (
            1,
            [
                "error: plugin module `shop_models` (plugin `shop`) implements no umbral hook: "
                "name the module that holds its @hookimpl functions in the configuration's "
                "plugin_modules"
            ],
        ), r
