"""Guards and CLI conventions: in-memory guard, --plan, sqlmigrate, global options, URL
precedence, exit codes, --traceback (SPEC §3, §8, §12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Project, clean_env, rows, run_umbral, schema_of, sqlite_path

POST = "class Post(Model):\n    title = fields.Text()\n"


@pytest.fixture
def ready(project: Project) -> Project:
    """A project with one unapplied migration."""
    project.models(POST)
    assert project.run("makemigrations").code == 0
    return project


def tables(url: str) -> list[str]:
    if url.startswith("sqlite") and not Path(sqlite_path(url)).exists():
        return []
    return sorted(schema_of(url))


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:mem?mode=memory&uri=true"]
)
def test_in_memory_database_is_refused(ready: Project, url: str) -> None:
    r = ready.run("migrate", "--database", url)
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate: refusing to migrate an in-memory database: the schema would "
        "vanish when this process exits (is the project config being found?); pass "
        "--allow-in-memory if this is intended"
    ]
    r = ready.run("migrate", "--database", url, "--allow-in-memory")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r


def test_plan_prints_and_applies_nothing(any_project: Project) -> None:
    p = any_project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    r = p.run("migrate", "--plan")
    assert r.code == 0, r
    assert r.out_lines == [
        "Path: fast path: the database is empty; the schema of app/0001_create_post is built "
        "from the snapshots and 1 migration(s) are recorded in one transaction",
        "Build app at app/0001_create_post",
        "    Create table post",
        "Record app/0001_create_post (no SQL: built from the snapshots)",
    ]
    assert [t for t in tables(p.database) if t != "umbral_migrations"] == []
    if "umbral_migrations" in tables(p.database):
        assert rows(p.database, "SELECT * FROM umbral_migrations") == []
    assert p.run("migrate").out_lines == ["Applied 1 migration(s)"]
    r = p.run("migrate", "--plan")
    assert (r.code, r.out_lines) == (0, ["No pending migrations"])


def test_sqlmigrate_prints_sql_and_touches_nothing(ready: Project) -> None:
    p = ready
    before = p.tree()
    r = p.run("sqlmigrate", "app/0001_create_post")
    assert r.code == 0, r
    assert r.out_lines == [
        "-- app/0001_create_post",
        "-- Create table post",
        'CREATE TABLE "post" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "title" TEXT NOT NULL);',
    ]
    assert p.tree() == before
    assert tables(p.database) == []


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        # A name that starts one on disk, or resembles one: say which.
        ("app/0001", "did you mean app/0001_create_post?"),
        ("app/0001_create_posts", "did you mean app/0001_create_post?"),
        # A number on disk under another name: that one, not the nearest spelling.
        ("app/0001_auto", "did you mean app/0001_create_post?"),
        ("app/0009_nope", "`umbral showmigrations` lists the 1 migration(s) of app"),
    ],
)
def test_sqlmigrate_unknown_migration(ready: Project, spec: str, hint: str) -> None:
    r = ready.run("sqlmigrate", spec)
    assert r.code == 1, r
    assert r.err_lines == [f"error: umbral sqlmigrate: no migration {spec} on disk; {hint}"]


def test_sqlmigrate_in_a_plugin_without_migrations(project: Project) -> None:
    project.models(POST)
    r = project.run("sqlmigrate", "app/0001_create_post")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral sqlmigrate: no migration app/0001_create_post on disk; plugin app has "
        "no migrations yet; run `umbral makemigrations` first"
    ]


def test_global_options_before_and_after_the_command(ready: Project, tmp_path: Path) -> None:
    p = ready
    first = f"sqlite:///{tmp_path / 'first.sqlite3'}"
    second = f"sqlite:///{tmp_path / 'second.sqlite3'}"
    assert p.run("--database", first, "migrate").out_lines == ["Applied 1 migration(s)"]
    assert p.run("migrate", "--database", second).out_lines == ["Applied 1 migration(s)"]
    for url in (first, second):
        assert rows(url, "SELECT name FROM umbral_migrations") == [("0001_create_post",)]
    assert tables(p.database) == []  # the configured database was never used


def test_project_option_from_another_directory(ready: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (
        ("--project", str(ready.root), "migrate"),
        ("showmigrations", "--project", str(ready.root)),
    ):
        r = run_umbral(*args, cwd=elsewhere)
        assert r.code == 0, r
    assert r.out_lines == ["# plugin: app", "[X] app/0001_create_post"]
    assert list(elsewhere.iterdir()) == []


def test_project_option_pointing_at_a_directory_without_config(tmp_path: Path) -> None:
    r = run_umbral("--project", str(tmp_path), "showmigrations", cwd=tmp_path)
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and "no umbral.toml or [tool.umbral]" in r.err_lines[0]


def test_database_url_precedence(ready: Project, tmp_path: Path) -> None:
    p = ready
    env_url = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    cli_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    # --database beats UMBRAL_DATABASE_URL
    r = p.run("migrate", "--database", cli_url, UMBRAL_DATABASE_URL=env_url)
    assert r.code == 0, r
    assert tables(cli_url) == ["post", "umbral_migrations"]
    assert tables(env_url) == []
    # UMBRAL_DATABASE_URL beats the config
    r = p.run("migrate", UMBRAL_DATABASE_URL=env_url)
    assert r.code == 0, r
    assert tables(env_url) == ["post", "umbral_migrations"]
    assert tables(p.database) == []
    # the config is used last
    assert p.run("migrate").out_lines == ["Applied 1 migration(s)"]
    assert tables(p.database) == ["post", "umbral_migrations"]


def test_relative_sqlite_path_is_relative_to_the_project(ready: Project) -> None:
    p = ready
    p.write_config(database="sqlite:///rel.sqlite3")
    sub = p.root / "sub"
    sub.mkdir()
    r = run_umbral("migrate", cwd=sub)
    assert r.code == 0, r
    assert (p.root / "rel.sqlite3").is_file()
    assert not (sub / "rel.sqlite3").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("frobnicate",), "No such command 'frobnicate'"),
        (("migrate", "--frobnicate"), "No such option: --frobnicate"),
        (("--frobnicate", "migrate"), "No such option: --frobnicate"),
    ],
)
def test_usage_errors_exit_2(ready: Project, args: tuple[str, ...], message: str) -> None:
    r = ready.run(*args)
    assert r.code == 2, r
    assert message in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_traceback_flag_shows_a_traceback(ready: Project, where: str) -> None:
    r = ready.run("migrate", "--fake", "bad")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate --fake: 'bad' is not a migration spec; write plugin/name, "
        "e.g. app/0003_add_post_tag"
    ]
    args = ("--traceback", "migrate", "--fake", "bad")
    if where == "after":
        args = ("migrate", "--fake", "bad", "--traceback")
    r = ready.run(*args)
    assert r.code == 1, r
    assert "Traceback (most recent call last)" in r.stderr
    assert "'bad' is not a migration spec" in r.stderr


def test_no_arguments_prints_help(tmp_path: Path) -> None:
    r = run_umbral(cwd=tmp_path, env=clean_env())
    assert r.code in (0, 2), r
    assert "Usage: umbral" in r.stdout + r.stderr
