"""Bad input never leaves partial state: one ``error:`` line, exit 1, nothing changed (SPEC §5,
§8, §12)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from conftest import Project, rows, schema_of

POST = "class Post(Model):\n    title = fields.Text()\n"
POST_A = POST + "    a = fields.Text(nullable=True)\n"


def two_migrations(p: Project) -> None:
    """0001 applied, 0002 pending."""
    p.models(POST)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    p.models(POST_A)
    assert p.run("makemigrations").code == 0


def db_state(url: str) -> tuple[dict, list]:
    schema = schema_of(url)
    tracked = rows(url, "SELECT plugin, name, checksum FROM umbral_migrations")
    return schema, sorted(tracked)


def assert_one_error(
    p: Project, args: tuple[str, ...], *needles: str, env: dict[str, str] | None = None
) -> str:
    """Run a command that must fail cleanly; return its error line."""
    files = p.tree()
    db = db_state(p.database)
    r = p.run(*args, **(env or {}))
    assert r.code == 1, r
    assert "Traceback" not in r.stderr, r
    assert len(r.err_lines) == 1, r
    line = r.err_lines[0]
    assert line.startswith("error: "), r
    for needle in needles:
        assert needle in line, r
    assert p.tree() == files
    assert db_state(p.database) == db
    return line


def migration_path(p: Project, name: str):
    return p.root / "migrations" / "app" / f"{name}.json"


def corrupt_json(p: Project) -> str:
    migration_path(p, "0002_add_post_a").write_text('{"umbral": 1, "id": ')
    return "is not valid JSON"


def unknown_kind(p: Project) -> str:
    path = migration_path(p, "0002_add_post_a")
    data = json.loads(path.read_text())
    data["operations"][0]["kind"] = "FrobnicateTable"
    path.write_text(json.dumps(data))
    return "FrobnicateTable"


def missing_key(p: Project) -> str:
    path = migration_path(p, "0002_add_post_a")
    data = json.loads(path.read_text())
    del data["snapshot_after"]
    path.write_text(json.dumps(data))
    return "missing key(s) 'snapshot_after'"


def id_mismatch(p: Project) -> str:
    path = migration_path(p, "0002_add_post_a")
    data = json.loads(path.read_text())
    data["id"] = "0002_something_else"
    path.write_text(json.dumps(data))
    return "does not match the file name"


def duplicate_sequence(p: Project) -> str:
    path = migration_path(p, "0002_add_post_a")
    data = json.loads(path.read_text())
    data["id"] = "0002_other"
    migration_path(p, "0002_other").write_text(json.dumps(data))
    return "two migrations with sequence 0002"


def missing_dependency(p: Project) -> str:
    path = migration_path(p, "0002_add_post_a")
    data = json.loads(path.read_text())
    data["depends_on"] = ["app/0001_create_post", "app/0000_ghost"]
    path.write_text(json.dumps(data))
    return "depends on app/0000_ghost, which is neither on disk nor recorded as applied"


BREAKAGES: dict[str, Callable[[Project], str]] = {
    "corrupt_json": corrupt_json,
    "unknown_kind": unknown_kind,
    "missing_key": missing_key,
    "id_mismatch": id_mismatch,
    "duplicate_sequence": duplicate_sequence,
    "missing_dependency": missing_dependency,
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_invalid_migration_file_is_refused_before_the_database(
    any_project: Project, breakage: str
) -> None:
    p = any_project
    two_migrations(p)
    needle = BREAKAGES[breakage](p)
    line = assert_one_error(p, ("migrate",), needle)
    # The error names the culprit file.
    assert "0002_add_post_a" in line or "0002_other" in line
    if breakage == "duplicate_sequence":
        # Two files with one number are two branches: makemigrations refuses too, while
        # showmigrations lists both and reports the conflict, exiting 0 (SPEC §9).
        assert assert_one_error(p, ("makemigrations",), needle) == line
        r = p.run("showmigrations")
        assert r.code == 0, r
        assert "[ ] app/0002_add_post_a" in r.out_lines and "[ ] app/0002_other" in r.out_lines
        assert len(r.err_lines) == 1 and "run `umbral makemigrations --merge`" in r.stderr, r
    elif breakage != "missing_dependency":  # a graph check, made by the commands that plan
        # A file that does not load stops every command that reads the migrations.
        for command in ("showmigrations", "makemigrations"):
            assert assert_one_error(p, (command,), needle) == line


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nope/0001_create_post", "no plugin named `nope`"),
        ("app", "'app' is not a migration spec; write plugin/name"),
        ("app/", "'app/' is not a migration spec"),
        ("app/0001/x", "is not a migration spec"),
        ("app/0009_missing", "no migration app/0009_missing on disk; `umbral showmigrations`"),
        ("app/0002", "no migration app/0002 on disk; did you mean app/0002_"),
    ],
)
def test_bad_fake_spec_records_nothing(any_project: Project, spec: str, needle: str) -> None:
    p = any_project
    two_migrations(p)
    assert_one_error(p, ("migrate", "--fake", spec), needle)


def test_unknown_migrate_target(any_project: Project) -> None:
    p = any_project
    two_migrations(p)
    line = assert_one_error(p, ("migrate", "app/0002"), "no migration app/0002 on disk")
    assert line.startswith("error: umbral migrate: no migration app/0002 on disk; did you mean ")
    assert_one_error(p, ("migrate", "app/0009_missing"), "no migration app/0009_missing on disk")


@pytest.mark.parametrize("command", ["migrate", "showmigrations"])
def test_sqlite_file_in_a_missing_directory(project: Project, command: str) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    before = p.tree()
    url = f"sqlite:///{p.root / 'no' / 'such' / 'dir' / 'db.sqlite3'}"
    r = p.run(command, "--database", url)
    assert r.code == 1, r
    assert "Traceback" not in r.stderr
    assert len(r.err_lines) == 1, r
    assert r.err_lines[0].startswith("error: cannot connect to database sqlite:///"), r
    assert p.tree() == before
    assert not (p.root / "no").exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:s3cretPW@127.0.0.1:1/test",
        "postgresql://nosuchuser:s3cretPW@127.0.0.1:5432/nosuchdb",
    ],
)
def test_unreachable_postgres_hides_the_password(
    project: Project, postgres_admin: object, url: str
) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    before = p.tree()
    for args in (("migrate", "--database", url), ("showmigrations",)):
        env = {} if "--database" in args else {"UMBRAL_DATABASE_URL": url}
        r = p.run(*args, **env)
        assert r.code == 1, r
        assert "Traceback" not in r.stderr
        assert len(r.err_lines) == 1, r
        assert r.err_lines[0].startswith("error: cannot connect to database postgresql"), r
        assert "s3cretPW" not in r.stdout + r.stderr
        assert ":***@" in r.err_lines[0]
    assert p.tree() == before


def test_invalid_config_is_one_error_line(project: Project) -> None:
    p = project
    p.write("umbral.toml", 'database = "sqlite:///db.sqlite3"\nmodels = ["models"]\nbogus = 1\n')
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and "unknown key(s) bogus" in r.err_lines[0], r


def test_models_module_that_fails_to_import(project: Project) -> None:
    p = project
    p.models("raise RuntimeError('boom')\n")
    before = p.tree()
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert r.err_lines == ["error: models module `models` failed to import: RuntimeError: boom"]
    assert p.tree() == before


def test_no_project_found(tmp_path) -> None:
    from conftest import run_umbral

    r = run_umbral("migrate", cwd=tmp_path)
    assert r.code == 1, r
    assert len(r.err_lines) == 1
    assert r.err_lines[0].startswith("error: no umbral project found in ")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_database_url_is_an_error_not_the_configured_one(project: Project) -> None:
    """`--database "$PROD_URL"` with the variable unset read as no option: the command went
    on against the configured database. So did an empty UMBRAL_DATABASE_URL."""
    p = project
    two_migrations(p)
    assert_one_error(p, ("--database", "", "migrate"), "error: --database is empty: give it a "
                     "URL, or leave the option out")  # fmt: skip
    assert_one_error(p, ("migrate",), "error: UMBRAL_DATABASE_URL is set but empty: give it a "
                     "URL, or unset it", env={"UMBRAL_DATABASE_URL": " "})  # fmt: skip


def test_a_mysql_url_without_a_database_says_so(project: Project) -> None:
    """It stopped with an internal error (an assertion in the driver's dialect)."""
    p = project
    two_migrations(p)
    for url in ("mysql://root@127.0.0.1:1", "mysql://root:p%2Fw@127.0.0.1:1/?x=1"):
        assert_one_error(p, ("--database", url, "showmigrations"), "error: the database URL "
                         "names no database: add its name after the host, as in "
                         "mysql://user@host:3306/NAME (umbral works in one database)")  # fmt: skip
