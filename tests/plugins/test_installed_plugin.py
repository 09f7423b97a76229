"""A real installed plugin distribution: shipped read-only migrations and plugin commands.

The module builds one wheel of a tiny plugin (``umbral-gadgets``) that ships
``umbral_gadgets/migrations/*.json`` and implements ``umbral_migrations_dir`` and
``umbral_commands``, installs it with ``pip install --target``, and runs the CLI with that
directory on ``PYTHONPATH`` so the ``umbral`` entry point is discovered (SPEC §1, §4).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import Project, Result, clean_env, rows, run_umbral, schema_of

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "umbral-gadgets"
version = "1.2.0"
requires-python = ">=3.11"

[project.entry-points.umbral]
gadgets = "umbral_gadgets.plugin"

[tool.hatch.build.targets.wheel]
packages = ["umbral_gadgets"]
"""

MODELS = """
from umbral import Model, fields


class Widget(Model, plugin="gadgets"):
    name = fields.Text()
"""

PLUGIN = '''
"""Entry point of the gadgets test plugin."""

from pathlib import Path

from umbral import hookimpl


@hookimpl
def umbral_models():
    from umbral_gadgets.models import Widget

    return [Widget]


@hookimpl
def umbral_migrations_dir():
    return Path(__file__).parent / "migrations"


@hookimpl
def umbral_commands(cli):
    def gadgets_hello(name: str = "world") -> None:
        """Greet from the gadgets plugin."""
        print(f"hello {name} from gadgets")

    def migrate() -> None:
        print("a plugin must never replace the built-in migrate")

    cli.command("gadgets-hello")(gadgets_hello)
    cli.command("migrate")(migrate)
'''

SHIPPED = "0001_create_gadgets_widget.json"
DROPPED = "warning: a plugin command named `migrate` was dropped: it would shadow a built-in"


def _pip(*args: str, cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-deps", "--no-build-isolation", "-q"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the gadgets wheel is installed into (built once per module)."""
    src = tmp_path_factory.mktemp("gadgets-src")
    _write(src / "pyproject.toml", PYPROJECT)
    _write(src / "umbral_gadgets" / "__init__.py", "")
    _write(src / "umbral_gadgets" / "models.py", MODELS)
    _write(src / "umbral_gadgets" / "plugin.py", PLUGIN)
    # The plugin's author generates the shipped migration from the source tree, where the
    # plugin is a project plugin module and its migrations directory is writable.
    _write(
        src / "umbral.toml",
        'database = "sqlite:///unused.sqlite3"\nplugins = ["gadgets"]\n\n'
        '[plugin_modules]\ngadgets = "umbral_gadgets.plugin"\n',
    )
    r = run_umbral("makemigrations", cwd=src)
    assert r.out_lines == [f"Wrote umbral_gadgets/migrations/{SHIPPED}"], r
    (src / "umbral.toml").unlink()

    wheels = tmp_path_factory.mktemp("wheels")
    _pip("wheel", "-w", str(wheels), str(src), cwd=src)
    (wheel,) = wheels.glob("umbral_gadgets-1.2.0-*.whl")
    target = tmp_path_factory.mktemp("site")
    _pip("install", "--target", str(target), str(wheel), cwd=wheels)
    assert (target / "umbral_gadgets" / "migrations" / SHIPPED).is_file()
    return target


def run_with(p: Project, site: Path, *args: str) -> Result:
    return run_umbral(*args, cwd=p.root, env=clean_env(PYTHONPATH=str(site)))


def tree(directory: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(directory)): f.read_bytes()
        for f in sorted(directory.rglob("*"))
        if f.is_file() and "__pycache__" not in f.parts
    }


def test_migrate_applies_the_shipped_migration(project: Project, site: Path) -> None:
    p = project
    p.write_config(plugins=["gadgets"])
    p.models("class Note(Model):\n    widget = fields.ForeignKey('gadgets.Widget')\n")
    r = run_with(p, site, "makemigrations")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0001_create_note.json"]
    assert p.load_migration("app", "0001_create_note.json")["depends_on"] == [
        f"gadgets/{SHIPPED.removesuffix('.json')}"
    ]
    assert not (p.root / "migrations" / "gadgets").exists()

    r = run_with(p, site, "migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 2 migration(s)"]
    assert rows(p.database, "SELECT plugin, name FROM umbral_migrations ORDER BY rowid") == [
        ("gadgets", SHIPPED.removesuffix(".json")),
        ("app", "0001_create_note"),
    ]
    assert [c[0] for c in schema_of(p.database)["gadgets_widget"]["columns"]] == ["id", "name"]

    r = run_with(p, site, "plugins")
    assert r.code == 0, r
    i = r.out_lines.index("gadgets (app, umbral-gadgets 1.2.0)")
    assert r.out_lines[i + 1] == "  models: Widget"
    assert r.out_lines[i + 2].endswith("umbral_gadgets/migrations (read-only)")


def test_changed_models_of_an_installed_plugin_are_refused(
    project: Project, site: Path, tmp_path: Path
) -> None:
    # A copy of the install whose models are ahead of its shipped migrations.
    local = tmp_path / "site"
    shutil.copytree(site, local)
    models = local / "umbral_gadgets" / "models.py"
    models.write_text(models.read_text() + "    colour = fields.Text(nullable=True)\n")
    p = project
    p.write_config(plugins=["gadgets"])
    installed, files = tree(local), p.tree()
    for args in (("makemigrations",), ("makemigrations", "--check")):
        r = run_with(p, local, *args)
        assert r.code == 1, r
        errors = [line for line in r.err_lines if line.startswith("error: ")]
        assert len(errors) == 1, r
        assert "plugin `gadgets` (umbral-gadgets 1.2.0)" in errors[0]
        assert "upgrade the plugin" in errors[0]
        assert "Traceback" not in r.stderr
    r = run_with(p, local, "makemigrations", "--empty", "gadgets")
    assert r.code == 1, r
    assert tree(local) == installed
    assert p.tree() == files


def test_plugin_command_runs_and_a_shadowing_one_is_dropped(project: Project, site: Path) -> None:
    p = project
    p.write_config(plugins=["gadgets"])
    r = run_with(p, site, "gadgets-hello", "--name", "umbral")
    assert r.code == 0, r
    assert r.out_lines == ["hello umbral from gadgets"]
    assert r.err_lines == [DROPPED]

    r = run_with(p, site, "--help")
    assert r.code == 0, r
    assert "gadgets-hello" in r.stdout

    # `migrate` is still the built-in one.
    r = run_with(p, site, "migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 1 migration(s)"]
    assert r.err_lines == [DROPPED]
    assert "a plugin must never replace" not in r.stdout


def test_project_plugin_module_command(project: Project) -> None:
    p = project
    p.write_config(plugins=["tools"], plugin_modules={"tools": "tools"})
    p.write(
        "tools.py",
        """
        from umbral import hookimpl


        @hookimpl
        def umbral_commands(cli):
            def tools_ping() -> None:
                print("pong")

            cli.command("tools-ping")(tools_ping)
        """,
    )
    r = p.run("tools-ping")
    assert (r.code, r.out_lines) == (0, ["pong"]), r
