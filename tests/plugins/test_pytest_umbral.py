"""pytest-umbral, run by pytest itself (``pytester``) on a sample project in a temporary
directory: the tests of a project that uses umbral get a migrated database, roll back between
tests, and run the ready migration tests; a broken project fails them with a readable line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import POSTGRES_URL, clean_env

pytest_plugins = ["pytester"]

MODELS = """
from umbral import Model, fields


class Author(Model):
    name = fields.Text()


class Post(Model):
    title = fields.Text()
    author = fields.ForeignKey("Author", nullable=True, on_delete="set_null")
"""

TESTS = """
from sqlalchemy import text

from pytest_umbral.migration_tests import *  # noqa: F403


def count(conn):
    return conn.execute(text("SELECT count(*) FROM post")).scalar()


def test_a_write(umbral_connection):
    umbral_connection.execute(text("INSERT INTO post (title) VALUES ('a')"))
    assert count(umbral_connection) == 1


def test_the_write_was_rolled_back(umbral_connection):
    assert count(umbral_connection) == 0


def test_code_under_test_commits(umbral_session):
    umbral_session.execute(text("INSERT INTO post (title) VALUES ('b')"))
    umbral_session.commit()
    assert count(umbral_session.connection()) == 1


def test_the_commit_was_rolled_back_too(umbral_connection):
    assert count(umbral_connection) == 0


def test_code_under_test_commits_the_connection(umbral_connection):
    umbral_connection.execute(text("INSERT INTO post (title) VALUES ('c')"))
    umbral_connection.commit()
    umbral_connection.execute(text("INSERT INTO post (title) VALUES ('d')"))
    umbral_connection.rollback()  # back to the commit: 'c' stays, 'd' goes
    assert count(umbral_connection) == 1


def test_the_connections_commit_was_rolled_back_too(umbral_connection):
    assert count(umbral_connection) == 0


def test_the_app_is_on_the_test_database(umbral_app, umbral_database):
    entries = umbral_app.showmigrations()
    assert [e.state.marker for e in entries] == ["[X]"]
    assert umbral_app.database_url == umbral_database.url
"""


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    root = pytester.path
    (root / "umbral.toml").write_text(
        'database = "sqlite:///dev.sqlite3"\nmodels = ["models"]\nplugins = []\n'
    )
    (root / "models.py").write_text(textwrap.dedent(MODELS))
    proc = subprocess.run(
        [sys.executable, "-m", "umbral", "makemigrations"],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (root / "test_app.py").write_text(textwrap.dedent(TESTS))
    return pytester


def test_a_project_gets_a_migrated_database_and_the_ready_tests(sample: pytest.Pytester) -> None:
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=10, skipped=1)  # not a git work tree: the offline check skips
    result.stdout.fnmatch_lines(["*test_umbral_up_down_up PASSED*"])
    assert not (sample.path / "dev.sqlite3").exists()  # the project's own database is untouched


def test_models_ahead_of_the_migrations_fail_readably(sample: pytest.Pytester) -> None:
    (sample.path / "models.py").write_text(
        textwrap.dedent(MODELS) + "    slug = fields.Text(nullable=True)\n"
    )
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "-k", "models_match")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*umbral: the models have changes no migration holds; run `umbral makemigrations`:",
            "*app/0002_*: Add column slug to post",
        ]
    )


def test_a_broken_migration_fails_the_fixture_readably(sample: pytest.Pytester) -> None:
    folder = sample.path / "migrations" / "app"
    first = next(folder.glob("0001_*.json"))
    data = json.loads(first.read_text())
    data.update(id="0002_broken", depends_on=[f"app/{first.stem}"])
    data["operations"] = [{"kind": "RunSql", "sql": "SELEC 1", "reverse_sql": "SELECT 1"}]
    (folder / "0002_broken.json").write_text(json.dumps(data))
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "-k", "a_write")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*pytest-umbral: migrating the test database failed: *app/0002_broken*"]
    )


def _makemigrations(root) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "umbral", "makemigrations"],
        cwd=root, env=clean_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_a_history_with_a_drop_goes_up_down_up(sample: pytest.Pytester) -> None:
    """Un-applying a drop cannot restore its data, but the round trip's database holds none."""
    models = sample.path / "models.py"
    models.write_text(textwrap.dedent(MODELS) + "    slug = fields.Text(nullable=True)\n")
    _makemigrations(sample.path)
    models.write_text(textwrap.dedent(MODELS))
    _makemigrations(sample.path)
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "-k", "up_down_up")
    result.assert_outcomes(passed=1)


def test_a_truncated_migration_file_fails_each_ready_test_in_one_line(
    sample: pytest.Pytester,
) -> None:
    first = next((sample.path / "migrations" / "app").glob("0001_*.json"))
    first.write_text(first.read_text()[:100])
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "-k", "umbral or a_write")
    result.assert_outcomes(failed=3, errors=1, skipped=1)  # the safety check needs git
    out = result.stdout.str()
    assert "During handling" not in out and "Traceback" not in out, out
    assert "loader.py" not in out, out
    for name in ("one_leaf_per_plugin", "models_match_migrations", "up_down_up"):
        result.stdout.fnmatch_lines([f"*test_umbral_{name}*", f"*umbral*: *{first.name}*"])


@pytest.mark.postgres
def test_a_throwaway_database_on_a_server(sample: pytest.Pytester, postgres_admin: object) -> None:
    result = sample.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--umbral-database={POSTGRES_URL}"
    )
    result.assert_outcomes(passed=10, skipped=1)
    assert _throwaway_databases() == [], "the throwaway databases are dropped"


@pytest.mark.postgres
def test_a_run_stopped_by_sigterm_drops_its_database(
    sample: pytest.Pytester, postgres_admin: object
) -> None:
    """A cancelled CI job (SIGTERM) left the database it had made on the server."""
    import signal
    import time

    started = sample.path / "started"
    (sample.path / "test_slow.py").write_text(
        "import pathlib, time\n\n\ndef test_slow(umbral_connection):\n"
        f"    pathlib.Path({str(started)!r}).write_text('x')\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_slow.py",
         f"--umbral-database={POSTGRES_URL}"],
        cwd=sample.path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists(), proc.communicate(timeout=10)[0]
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert _throwaway_databases() == [], "the throwaway database is dropped"


@pytest.mark.postgres
def test_sigterm_during_the_ready_round_trip_drops_its_database(
    sample: pytest.Pytester, postgres_admin: object
) -> None:
    """test_umbral_up_down_up makes a database of its own: a SIGTERM during it left it."""
    import signal
    import time

    folder = sample.path / "migrations" / "app"
    first = next(folder.glob("0001_*.json"))
    data = json.loads(first.read_text())
    data.update(id="0002_slow", depends_on=[f"app/{first.stem}"])
    data["operations"] = [
        {"kind": "RunSql", "sql": "SELECT pg_sleep(30)", "reverse_sql": "SELECT 1"}
    ]
    (folder / "0002_slow.json").write_text(json.dumps(data))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", "up_down_up",
         f"--umbral-database={POSTGRES_URL}"],
        cwd=sample.path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    made = _throwaway_databases
    deadline = time.monotonic() + 60
    while not made() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert made(), proc.communicate(timeout=10)[0]
    time.sleep(1)  # into the slow migration
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert made() == [], "the round trip's database is dropped"


def _throwaway_databases() -> list[tuple]:
    """The databases pytest-umbral made on the PostgreSQL server and left there."""
    import psycopg

    from conftest import _libpq

    with psycopg.connect(_libpq(POSTGRES_URL)) as conn:
        return conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE '%\\_test\\_%'"
        ).fetchall()
