"""``migrate``'s run options on PostgreSQL, given as flags and as configuration keys.

``--statement-timeout`` / ``statement_timeout`` bound a statement; ``lock_timeout``,
``lock_retries`` and ``lock_wait`` in ``umbral.toml`` act as their flags do (SPEC §8).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pg_helpers import columns, connect, recorded, tables
from pg_helpers import write_migration as write
from test_postgres_migrate import PK, _blocked_project

from conftest import Project, make_project
from umbral import operations as ops
from umbral_postgres.connection import LOCK_KEY

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_project(tmp_path: Path, postgres_url: str) -> Project:
    return make_project(tmp_path, postgres_url)


def _slow_project(p: Project) -> None:
    write(p.root, "0001_t", [ops.CreateTable(table="t", columns=(PK,))])
    write(p.root, "0002_slow", [
        ops.CreateTable(table="u", columns=(PK,)),
        ops.RunSql(sql="SELECT pg_sleep(3)"),
    ])  # fmt: skip


def _assert_statement_timed_out(url: str, r: object) -> None:
    assert r.code == 1, r
    first = next(line for line in r.err_lines if line.startswith("error:"))
    assert first.startswith(
        "error: umbral migrate: migration app/0002_slow failed and was rolled back: "
        "canceling statement due to statement timeout (the statement ran past the statement "
        "timeout of 0.5s; re-run with a larger --statement-timeout, or 0 for none, also the "
        "`statement_timeout` configuration key)"
    ), r
    assert "Traceback" not in r.stderr
    # The first migration stays; the second left nothing behind.
    assert recorded(url) == [("app", "0001_t")]
    assert "t" in tables(url) and "u" not in tables(url)


def test_statement_timeout_flag_cancels_a_long_statement(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    _slow_project(p)
    _assert_statement_timed_out(url, p.run("migrate", "--statement-timeout", "0.5"))


def test_statement_timeout_config_key(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    p.write_config(statement_timeout=0.5)
    _slow_project(p)
    _assert_statement_timed_out(url, p.run("migrate"))
    # The flag wins over the key.
    assert p.run("migrate", "--statement-timeout", "0").code == 0
    assert recorded(url) == [("app", "0001_t"), ("app", "0002_slow")]


def test_lock_timeout_and_lock_retries_config_keys(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    p.write_config(lock_timeout=0.2, lock_retries=1)
    _blocked_project(p)
    with connect(url) as blocker:
        blocker.execute("SELECT * FROM t")  # holds ACCESS SHARE on t
        r = p.run("migrate")
        blocker.rollback()
    assert r.code == 1, r
    assert "canceling statement due to lock timeout (gave up after 2 attempt(s)" in r.stderr, r
    assert r.stderr.count("retrying in") == 1
    assert "u" not in tables(url) and "x" not in columns(url, "t")
    assert recorded(url) == [("app", "0001_t")]


def test_lock_wait_config_key(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    p.write_config(lock_wait=1)
    write(p.root, "0001_t", [ops.CreateTable(table="t", columns=(PK,))])
    with connect(url, autocommit=True) as holder:
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone() == (True,)
        began = time.monotonic()
        r = p.run("migrate")
        elapsed = time.monotonic() - began
    assert r.code == 1, r
    assert 1.0 <= elapsed < 60  # the key's 1 s, not the 300 s default
    assert r.err_lines[0].startswith(
        "error: umbral migrate: timed out after 1s waiting for the migration lock"
    ), r
    assert recorded(url) == []
