"""``checkmigrations --offline``: classify the migrations a branch adds, with no database.

Each test builds a real git repository holding a project; the configured database URL points
at a port where nothing listens, so any attempt to connect would fail the run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import Project

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"
BASE = "class Post(Model):\n    title = fields.Text()\n    slug = fields.Text(nullable=True)\n"
CHANGED = (
    "class Post(Model):\n    title = fields.Text()\n    n = fields.Integer(default=0, index=True)\n"
)


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(project: Project) -> Project:
    """A project on branch ``feature``, one migration ahead of ``main``."""
    p = project
    p.write_config(database=NOWHERE)
    git(p.root, "init", "-q", "-b", "main")
    p.models(BASE)
    assert p.run("makemigrations").code == 0
    git(p.root, "add", "-A")
    git(p.root, "commit", "-qm", "base")
    git(p.root, "checkout", "-qb", "feature")
    p.models(CHANGED)
    assert p.run("makemigrations").code == 0
    git(p.root, "add", "-A")
    git(p.root, "commit", "-qm", "feature")
    return p


def test_offline_classifies_what_the_branch_adds_by_the_configured_backend(repo: Project) -> None:
    base = git(repo.root, "merge-base", "HEAD", "main")
    r = repo.run("checkmigrations", "--offline")
    assert r.code == 1, r
    new = repo.migration_files()[-1].removesuffix(".json")
    assert r.out_lines[0] == (
        f"Checking 2 operation(s) across 1 migration(s) added since {base[:12]}..."
    )
    assert f"  [DROP COL] app/{new}: drops column `post.slug`" in r.stdout
    # PostgreSQL's own rule (from the URL's scheme) applies without a connection.
    assert "[PG INDEX LOCK]" in r.stdout
    assert r.err_lines[-1].startswith("error: checkmigrations: 1 unsafe operation(s) found")
    data = json.loads(repo.run("checkmigrations", "--offline", "--json").stdout)
    assert data["since"] == base
    assert [o["migration"] for o in data["operations"]] == [f"app/{new}"] * 2


def test_backend_flag_chooses_the_rules(repo: Project) -> None:
    r = repo.run("checkmigrations", "--offline", "--backend", "sqlite")
    assert r.code == 1, r
    assert "[PG INDEX LOCK]" not in r.stdout and "[DROP COL]" in r.stdout
    r = repo.run("checkmigrations", "--offline", "--backend", "oracle")
    assert (r.code, r.err_lines) == (
        1,
        [
            "error: umbral checkmigrations --offline: --backend 'oracle': no installed backend "
            "has that name; known: mysql, postgres, sqlite"
        ],
    ), r


def test_a_name_the_backends_database_refuses_is_unsafe(repo: Project) -> None:
    """MySQL refuses a column name over 64 characters, and migrate refuses the migration
    before it runs: the check says so with that backend's rules, and only with them."""
    column = "c" * 65
    repo.models(CHANGED + f"    {column} = fields.Text(nullable=True)\n")
    assert repo.run("makemigrations").code == 0
    new = repo.migration_files()[-1].removesuffix(".json")
    r = repo.run("checkmigrations", "--offline", "--since", "HEAD", "--backend", "mysql")
    assert r.code == 1, r
    assert r.out_lines[2:4] == [
        "UNSAFE (1):",
        f"  [NAME TOO LONG] app/{new}: names the column `post.{column}`, 65 characters long, "
        "and the mysql backend's database refuses names over 64: migrate will refuse this "
        "migration. Shorten the field's name or its column= and make the migration again",
    ], r
    # An acknowledgement does not make migrate run it: the finding stays.
    path = repo.root / "migrations" / "app" / f"{new}.json"
    data = json.loads(path.read_text())
    data["operations"][0]["acknowledged"] = "reviewed"
    path.write_text(json.dumps(data))
    r = repo.run("checkmigrations", "--offline", "--since", "HEAD", "--backend", "mysql")
    assert r.code == 1 and "ACKNOWLEDGED" not in r.stdout, r
    r = repo.run("checkmigrations", "--offline", "--since", "HEAD", "--backend", "postgres")
    assert r.code == 0, r


def test_since_a_revision_and_untracked_files(repo: Project) -> None:
    r = repo.run("checkmigrations", "--offline", "--since", "HEAD")
    head = git(repo.root, "rev-parse", "HEAD")
    assert (r.code, r.out_lines) == (0, [f"No migrations added since {head[:12]} — nothing to "
                                         "check."]), r  # fmt: skip
    # A migration written but not yet committed is part of the branch too.
    repo.models(CHANGED + "    note = fields.Text(nullable=True)\n")
    assert repo.run("makemigrations").code == 0
    r = repo.run("checkmigrations", "--offline", "--since", "HEAD")
    assert r.code == 0, r
    assert r.out_lines[0].startswith("Checking 1 operation(s) across 1 migration(s)")
    assert r.out_lines[-1] == "All new operations are safe for a rolling deploy."


def test_offline_errors(repo: Project) -> None:
    r = repo.run("checkmigrations", "--offline", "--since", "nope")
    assert r.err_lines == [
        f"error: umbral checkmigrations --offline: --since 'nope' is not a revision of the git "
        f"repository at {repo.root}"
    ], r
    assert r.code == 1
    git(repo.root, "branch", "-qm", "main", "trunk")
    r = repo.run("checkmigrations", "--offline")
    assert r.code == 1 and "no merge base of HEAD and `main`" in r.stderr, r
    assert "pass --since REV" in r.stderr
    r = repo.run("checkmigrations", "--since", "HEAD")
    assert r.code == 2 and "--since and --backend go with --offline" in r.stderr, r


def test_outside_a_git_work_tree(tmp_path: Path) -> None:
    from conftest import make_project

    p = make_project(tmp_path, NOWHERE)
    r = p.run("checkmigrations", "--offline", "--since", "HEAD")
    assert r.code == 1, r
    assert r.err_lines[0].startswith("error: umbral checkmigrations --offline: git rev-parse:")
    assert "not a git repository" in r.stderr


def test_the_shipped_pre_commit_hook_runs_the_offline_check(repo: Project) -> None:
    hooks = (Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text()
    entry = next(ln.split(":", 1)[1].split() for ln in hooks.splitlines() if "entry:" in ln)
    assert entry[0] == "umbral"
    files = next(ln.split(":", 1)[1].strip() for ln in hooks.splitlines() if "files:" in ln)
    import re

    assert re.search(files, f"migrations/app/{repo.migration_files()[-1]}")
    r = repo.run(*entry[1:])
    assert r.code == 1 and "[DROP COL]" in r.stdout, r
