"""Flags and paths that only the CLI reaches: each run as a user would, through ``umbral``.

``init DIRECTORY --database-url``, ``squashmigrations --to``, ``makemigrations --merge`` with
``--check`` / ``--dry-run``, ``sqlmigrate`` for another backend's dialect, ``inspectdb`` outside a
project, the quiet exit on a closed pipe and the ``internal error:`` line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import Project, clean_env, execute, run_umbral

POST = "class Post(Model):\n    title = fields.Text()\n"


def test_init_into_a_directory_with_a_database_url(tmp_path: Path) -> None:
    target = tmp_path / "new" / "site"
    r = run_umbral("init", str(target), cwd=tmp_path)
    assert (r.code, r.err_lines) == (1, [f"error: umbral init: no such directory {target}"]), r
    target.mkdir(parents=True)
    r = run_umbral("init", str(target), "--database-url", "sqlite:///data/site.db", cwd=tmp_path)
    assert r.code == 0, r
    assert f"Wrote {target / 'umbral.toml'}" in r.out_lines
    cfg = tomllib.loads((target / "umbral.toml").read_text())
    assert cfg["database"] == "sqlite:///data/site.db"
    assert (target / "models.py").is_file()
    (target / "data").mkdir()
    # The project it wrote works from elsewhere with --project, and uses that database.
    assert run_umbral("--project", str(target), "makemigrations", cwd=tmp_path).code == 0
    r = run_umbral("--project", str(target), "migrate", cwd=tmp_path)
    assert r.code == 0, r
    assert (target / "data" / "site.db").is_file()
    assert not (tmp_path / "db.sqlite3").exists()


def _three_migrations(p: Project) -> None:
    p.models(POST)
    assert p.run("makemigrations").code == 0
    p.models(POST + "    slug = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    p.models(POST + "    slug = fields.Text(nullable=True)\n    n = fields.Integer(default=0)\n")
    assert p.run("makemigrations").code == 0


def test_squash_to_a_middle_migration(project: Project) -> None:
    p = project
    _three_migrations(p)
    first, second, third = p.migration_files()
    r = p.run("squashmigrations", "app", "--to", second.removesuffix(".json"))
    assert r.code == 0, r
    assert "Squashed 2 migrations for `app` into 0001_squashed_0002" in r.stdout
    squash = p.load_migration("app", "0001_squashed_0002.json")
    assert squash["replaces"] == [f"app/{first[:-5]}", f"app/{second[:-5]}"]
    # A replay runs the squash and then the third migration, not the originals.
    r = p.run("migrate", "--plan", "--replay")
    assert r.code == 0, r
    planned = [line for line in r.out_lines if line.startswith("Apply ")]
    assert planned == ["Apply app/0001_squashed_0002", f"Apply app/{third[:-5]}"]
    assert p.run("migrate").code == 0
    r = p.run("showmigrations")
    assert "[ ]" not in r.stdout and "[X]" in r.stdout, r
    assert p.run("makemigrations", "--check").code == 0


def _branches(p: Project) -> list[str]:
    """Two 0002 migrations on one 0001: the state a merge of two branches leaves."""
    p.models(POST)
    assert p.run("makemigrations").code == 0
    p.models(POST + "    a = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "left").code == 0
    left = p.migration_files()[1]
    data = p.load_migration("app", left)
    data["id"] = "0002_right"
    data["operations"][0]["column"]["name"] = "b"
    for m in data["snapshot_after"]["models"]:
        for c in m["fields"]:
            if c["name"] == "a":
                c["name"] = "b"
    (p.root / "migrations" / "app" / "0002_right.json").write_text(json.dumps(data, indent=2))
    p.models(POST + "    a = fields.Text(nullable=True)\n    b = fields.Text(nullable=True)\n")
    return p.migration_files()


def test_merge_with_check_and_dry_run_writes_nothing(project: Project) -> None:
    p = project
    files = _branches(p)
    before = p.tree()
    check = p.run("makemigrations", "--merge", "--check")
    assert check.code == 1, check
    dry = p.run("makemigrations", "--merge", "--dry-run")
    assert dry.code == 0, dry
    assert "merge" in dry.stdout.lower(), dry
    assert p.tree() == before and p.migration_files() == files
    r = p.run("makemigrations", "--merge")
    assert r.code == 0, r
    assert len(p.migration_files()) == len(files) + 1
    assert p.run("makemigrations", "--merge", "--check").code == 0
    assert p.run("migrate").code == 0


def test_sqlmigrate_for_another_backend_never_connects(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    name = p.migration_files()[0].removesuffix(".json")
    # Port 1 on loopback: nothing listens, so any connection attempt would fail.
    r = p.run("sqlmigrate", f"app/{name}", "--database", "postgresql://nobody@127.0.0.1:1/none")
    assert r.code == 0, r
    assert 'CREATE TABLE "post"' in r.stdout
    assert "BIGSERIAL" in r.stdout.upper() or "IDENTITY" in r.stdout.upper(), r
    assert "AUTOINCREMENT" not in r.stdout
    sqlite = p.run("sqlmigrate", f"app/{name}")
    assert "AUTOINCREMENT" in sqlite.stdout, sqlite


def _legacy(path: Path) -> str:
    url = f"sqlite:///{path}"
    execute(url, "CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    return url


def test_inspectdb_outside_a_project_from_database_flag(tmp_path: Path) -> None:
    url = _legacy(tmp_path / "legacy.sqlite3")
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = run_umbral("inspectdb", "--database", url, "--output", "out", cwd=work)
    assert r.code == 0, r
    assert "class Author(Model" in (work / "out" / "models.py").read_text()
    assert (work / "out" / "migrations" / "app" / "0001_initial.json").is_file()


def test_inspectdb_outside_a_project_from_the_environment(tmp_path: Path) -> None:
    url = _legacy(tmp_path / "legacy.sqlite3")
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = run_umbral("inspectdb", "--output", "out", cwd=work, env=clean_env(UMBRAL_DATABASE_URL=url))
    assert r.code == 0, r
    assert "class Author(Model" in (work / "out" / "models.py").read_text()


def test_a_closed_output_pipe_exits_quietly(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    umbral = subprocess.Popen(
        [sys.executable, "-m", "umbral", "showmigrations"],
        cwd=p.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert umbral.stdout is not None and umbral.stderr is not None
    # The reader is gone before umbral has written anything (its start-up alone takes longer),
    # as with `| head -0`: every write meets a closed pipe.
    umbral.stdout.close()
    code = umbral.wait(timeout=60)
    assert (code, umbral.stderr.read().decode()) == (1, "")


BROKEN_PLUGIN = """
from umbral import hookimpl


@hookimpl
def umbral_classify_operation(operation, backend, context):
    raise RuntimeError("the classifier broke")
"""


def test_an_unexpected_failure_is_one_internal_error_line(project: Project) -> None:
    p = project
    p.write("broken_plugin.py", BROKEN_PLUGIN)
    p.write_config(plugin_modules={"broken": "broken_plugin"})
    p.models(POST)
    assert p.run("makemigrations").code == 0
    execute(p.database, "CREATE TABLE unrelated (id INTEGER PRIMARY KEY)")  # the file exists
    r = p.run("checkmigrations")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: internal error: RuntimeError: the classifier broke "
        "(re-run with --traceback and report it)"
    ], r
    r = p.run("checkmigrations", "--traceback")
    assert r.code == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert "RuntimeError: the classifier broke" in r.stderr


def test_a_deleted_working_directory_is_a_clean_error(tmp_path: Path) -> None:
    script = 'mkdir gone && cd gone && rmdir ../gone && exec "$0" -m umbral showmigrations'
    proc = subprocess.run(
        ["sh", "-c", script, sys.executable],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stderr) == (
        1,
        "error: the working directory no longer exists; cd into the project or pass "
        "--project DIR\n",
    ), proc.stderr
