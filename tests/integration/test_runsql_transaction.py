"""A migration's SQL must not control its transaction (SPEC §8: statements and tracking row
commit together or not at all).

A ``COMMIT`` inside a RunSql used to commit the first half of its migration and the tracking
row, so a failure after it left the migration recorded as applied. Such statements, and those
the database cannot run inside a transaction, are refused before anything runs; and a failure
is reported as rolled back only when the tracking row shows it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Project, execute, require_transactional_ddl, rows
from umbral import executor, recorder
from umbral import operations as ops
from umbral.backend import Backend
from umbral.migration import Migration
from umbral.schema import EMPTY

INSERT = "INSERT INTO post (title) VALUES ('{}')"


def _project_with_post(p: Project) -> None:
    p.models("class Post(Model):\n    title = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0, p.run("migrate")


def _hand_written(p: Project, sql: str, **extra: object) -> Path:
    """``0002_hand`` holding one RunSql (and ``extra`` file keys)."""
    assert p.run("makemigrations", "--empty", "app", "--name", "hand").code == 0
    path = p.root / "migrations" / "app" / "0002_hand.json"
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": sql}]
    data.update(extra)
    path.write_text(json.dumps(data, indent=2))
    return path


def test_a_commit_in_an_atomic_migration_is_refused_before_anything_runs(
    any_project: Project,
) -> None:
    p = any_project
    _project_with_post(p)
    sql = f"{INSERT.format('a')}; COMMIT; SELEC broken; {INSERT.format('b')}"
    path = _hand_written(p, sql)
    for args in (("migrate",), ("migrate", "--plan"), ("sqlmigrate", "app/0002_hand")):
        r = p.run(*args)
        assert r.code == 1, r
        assert len(r.err_lines) == 1, r
        line = r.err_lines[0]
        assert line.startswith(f"error: migration file {path}: operation #1 (RunSql): "), r
        assert "statement `COMMIT` controls the transaction" in line, r
        assert '"atomic": false' in line, r
    assert rows(p.database, "SELECT title FROM post") == []
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_create_post",)]


@pytest.mark.parametrize(
    "statement",
    [
        "BEGIN",
        "begin transaction",
        "START TRANSACTION",
        "END",
        "ROLLBACK",
        "/* undo */ rollback",
        "SAVEPOINT s1",
        "RELEASE s1",
        "-- a comment line\nCOMMIT",
    ],
)
def test_every_transaction_control_statement_is_refused(project: Project, statement: str) -> None:
    p = project
    _project_with_post(p)
    path = _hand_written(p, f"{INSERT.format('a')};\n{statement};\n{INSERT.format('b')}")
    r = p.run("migrate")
    assert r.code == 1, r
    shown = " ".join(statement.split())
    assert r.err_lines[0].startswith(
        f"error: migration file {path}: operation #1 (RunSql): statement `{shown}` controls the "
        "transaction"
    ), r
    assert rows(p.database, "SELECT title FROM post") == []


def test_a_commit_in_reverse_sql_is_refused(project: Project) -> None:
    p = project
    _project_with_post(p)
    path = _hand_written(p, INSERT.format("a"))
    data = json.loads(path.read_text())
    data["operations"][0]["reverse_sql"] = "DELETE FROM post; COMMIT"
    path.write_text(json.dumps(data))
    r = p.run("migrate")
    assert r.code == 1, r
    assert "statement `COMMIT` controls the transaction" in r.stderr, r


def test_a_trigger_body_is_not_transaction_control(project: Project) -> None:
    p = project
    _project_with_post(p)
    _hand_written(
        p,
        "CREATE TABLE audit (title TEXT);\n"
        "CREATE TRIGGER post_audit AFTER INSERT ON post BEGIN\n"
        "  INSERT INTO audit (title) VALUES (NEW.title);\n"
        "END;\n" + INSERT.format("a"),
    )
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title FROM audit") == [("a",)]


def test_sqlite_vacuum_is_refused_atomic_or_not(project: Project) -> None:
    """SQLite runs every migration in a transaction ("atomic": false too), where VACUUM
    fails: the backend says so before anything runs."""
    p = project
    _project_with_post(p)
    path = _hand_written(p, f"{INSERT.format('a')}; VACUUM", atomic=False)
    r = p.run("migrate")
    assert r.code == 1, r
    assert len(r.err_lines) == 1, r
    assert r.err_lines[0].startswith(f"error: migration file {path}: operation #1 (RunSql): ")
    assert "statement `VACUUM` cannot run inside a transaction on SQLite" in r.stderr, r
    assert "run it outside umbral" in r.stderr, r
    assert rows(p.database, "SELECT title FROM post") == []


@pytest.mark.postgres
def test_postgres_concurrent_index_in_run_sql_needs_a_non_atomic_migration(
    tmp_path: Path, postgres_url: str
) -> None:
    from conftest import make_project

    p = make_project(tmp_path, postgres_url)
    _project_with_post(p)
    sql = 'CREATE INDEX CONCURRENTLY "post_title" ON post (title)'
    path = _hand_written(p, sql)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(f"error: migration file {path}: operation #1 (RunSql): ")
    assert "cannot run inside a transaction (CONCURRENTLY)" in r.stderr, r
    assert '"atomic": false' in r.stderr, r
    data = json.loads(path.read_text())
    data["atomic"] = False
    path.write_text(json.dumps(data))
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT indexname FROM pg_indexes WHERE indexname = 'post_title'")


# -- a failure after the transaction was ended is not reported as rolled back -----------------
#
# Every statement that ends a transaction is refused when a migration is rendered, so these
# tests build the rendered migration by hand: what the database does on its own (or what a
# future statement nobody foresaw does) must still not be reported as rolled back.


def _backend_for(url: str) -> tuple[Backend, str]:
    if url.startswith("sqlite"):
        from umbral_sqlite.backend import SQLiteBackend

        return SQLiteBackend(), url
    from umbral_postgres.backend import PostgresBackend

    backend = PostgresBackend()
    return backend, backend.normalize_url(url, Path("."))


def _rendered(mid: str, *statements: str) -> executor.Rendered:
    m = Migration("app", mid, [ops.RunSql(sql=";".join(statements))], EMPTY)
    return executor.Rendered(m, list(statements))


def _run(url: str, *plan: executor.Rendered) -> list[str]:
    backend, sa_url = _backend_for(url)
    engine = backend.create_engine(sa_url)
    try:
        with engine.connect() as conn:
            with executor.write_transaction(conn, backend):
                recorder.ensure_table(conn)
            return executor.apply_plan(executor.Session(conn, backend), list(plan))
    finally:
        engine.dispose()


def test_a_failure_after_the_transaction_ended_says_so_and_leaves_it_pending(
    db_url: str,
) -> None:
    require_transactional_ddl(db_url)
    execute(db_url, "CREATE TABLE post (title TEXT)")
    first = _rendered("0001_first", INSERT.format("first"))
    bad = _rendered("0002_bad", INSERT.format("a"), "COMMIT", "SELEC broken", INSERT.format("b"))
    with pytest.raises(executor.MigrationNotRolledBack) as exc:
        _run(db_url, first, bad)
    message = str(exc.value)
    assert "migration app/0002_bad failed and was NOT rolled back" in message
    assert "the statements before that point stay committed" in message
    assert "umbral removed its tracking row, so it shows as pending" in message
    assert "rolled back:" not in message.replace("NOT rolled back:", "")
    # What ran before COMMIT stays; the migration is not recorded as applied.
    assert sorted(rows(db_url, "SELECT title FROM post")) == [("a",), ("first",)]
    assert rows(db_url, "SELECT plugin, name FROM umbral_migrations") == [("app", "0001_first")]


def test_an_ordinary_failure_is_still_rolled_back(db_url: str) -> None:
    require_transactional_ddl(db_url)
    execute(db_url, "CREATE TABLE post (title TEXT)")
    bad = _rendered("0001_bad", INSERT.format("a"), "SELEC broken")
    with pytest.raises(executor.MigrationFailed) as exc:
        _run(db_url, bad)
    assert not isinstance(exc.value, executor.MigrationNotRolledBack)
    assert "failed and was rolled back" in str(exc.value)
    assert rows(db_url, "SELECT title FROM post") == []
    assert rows(db_url, "SELECT name FROM umbral_migrations") == []
