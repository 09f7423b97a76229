"""``umbral migrate`` on PostgreSQL with real processes (SPEC §8): the advisory migration lock,
lock timeouts with retries, non-atomic concurrent index builds, a killed run, and passwords."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pg_helpers import columns, connect, indexes, query, recorded, tables
from pg_helpers import write_migration as write

from conftest import Project, execute, make_project
from umbral import operations as ops
from umbral.schema import Column as C
from umbral_postgres.connection import LOCK_KEY

pytestmark = pytest.mark.postgres

PK = C("id", "BigInt", primary_key=True)


@pytest.fixture
def pg_project(tmp_path: Path, postgres_url: str) -> Project:
    return make_project(tmp_path, postgres_url)


def start(p: Project, *args: str) -> subprocess.Popen[str]:
    return p.start("migrate", *args)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def running(url: str, pattern: str) -> bool:
    """Whether another session of the test database is running a statement like ``pattern``."""
    return bool(
        query(
            url,
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE %s",
            pattern,
        )
    )


def test_eight_processes_apply_twenty_migrations_exactly_once(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    write(p.root, "0001_log", [
        ops.CreateTable(table="log", columns=(PK, C("name", "Text", unique=True))),
    ])  # fmt: skip
    for i in range(2, 21):
        write(p.root, f"{i:04d}_step", [
            ops.CreateTable(table=f"t{i}", columns=(PK,)),
            # A plain INSERT (no unique violation when run twice would need the constraint):
            # the log proves each migration's SQL ran once; the sleep widens the race window.
            ops.RunSql(sql=f"INSERT INTO log (name) VALUES ('{i:04d}'); SELECT pg_sleep(0.02)"),
        ])  # fmt: skip
    procs = [start(p) for _ in range(8)]
    results = [(proc.wait(timeout=180), *proc.communicate()) for proc in procs]
    assert all(code == 0 for code, _, _ in results), results
    applied = 0
    for _, out, _ in results:
        line = out.strip().splitlines()[-1]
        if line.startswith("Applied"):
            applied += int(line.split()[1])
        else:
            assert line == "No pending migrations", out
    assert applied == 20
    assert query(url, "SELECT count(*), count(DISTINCT name) FROM log") == [(19, 19)]
    assert len(recorded(url)) == 20
    assert (
        query(url, "SELECT count(*) FROM umbral_migrations GROUP BY name HAVING count(*) > 1") == []
    )


def test_concurrent_index_build_while_another_migrate_waits(pg_project: Project) -> None:
    """No deadlock: the waiter polls with short autocommit queries and holds no snapshot that
    CREATE INDEX CONCURRENTLY would wait for (Flyway #1654)."""
    p, url = pg_project, pg_project.database
    write(p.root, "0001_big", [
        ops.CreateTable(table="big", columns=(PK, C("n", "Integer"))),
        ops.RunSql(sql="INSERT INTO big (n) SELECT g % 1000 FROM generate_series(1, 50000) g"),
    ])  # fmt: skip
    write(p.root, "0002_index", [
        ops.RunSql(sql="SELECT pg_sleep(1.5)"),
        ops.AddIndex(table="big", columns=("n",), concurrent=True),
    ], atomic=False)  # fmt: skip
    first = start(p)
    wait_for(lambda: running(url, "SELECT pg_sleep(1.5)%"))
    second = start(p, "--lock-wait", "120")
    code1, out1, err1 = first.wait(timeout=120), *first.communicate()
    code2, out2, err2 = second.wait(timeout=120), *second.communicate()
    assert (code1, code2) == (0, 0), (err1, err2)
    assert out1.strip() == "Applied 2 migration(s)"
    assert out2.strip() == "No pending migrations"
    assert (
        indexes(url, "big")["idx_big_n"] == "CREATE INDEX idx_big_n ON public.big USING btree (n)"
    )
    assert len(recorded(url)) == 2


def test_failed_concurrent_build_leaves_invalid_index_that_the_next_run_rebuilds(
    pg_project: Project,
) -> None:
    p, url = pg_project, pg_project.database
    write(p.root, "0001_t", [
        ops.CreateTable(table="t", columns=(PK, C("code", "Text"))),
        ops.RunSql(sql="INSERT INTO t (code) VALUES ('a'), ('a'), ('b')"),
    ])  # fmt: skip
    write(p.root, "0002_unique", [
        ops.AddIndex(table="t", columns=("code",), unique=True, concurrent=True),
    ], atomic=False)  # fmt: skip
    r = p.run("migrate")
    assert r.code == 1, r
    assert "migration app/0002_unique failed at statement 1 of 1: " in r.stderr, r
    assert "could not create unique index" in r.stderr
    assert indexes(url, "t")["uniq_t_code"].startswith("INVALID ")
    assert recorded(url) == [("app", "0001_t")]

    execute(url, "DELETE FROM t WHERE id = (SELECT max(id) FROM t WHERE code = 'a')")
    r = p.run("migrate")
    assert r.code == 0, r
    assert indexes(url, "t")["uniq_t_code"] == (
        "CREATE UNIQUE INDEX uniq_t_code ON public.t USING btree (code)"
    )
    assert recorded(url) == [("app", "0001_t"), ("app", "0002_unique")]


def _blocked_project(p: Project) -> None:
    write(p.root, "0001_t", [ops.CreateTable(table="t", columns=(PK,))])
    assert p.run("migrate").code == 0
    write(p.root, "0002_change", [
        ops.CreateTable(table="u", columns=(PK,)),
        ops.AddColumn(table="t", column=C("x", "Integer", nullable=True)),
    ])  # fmt: skip


def waiting_on_lock(url: str) -> bool:
    return bool(
        query(
            url,
            "SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE d.datname = current_database() AND NOT l.granted AND l.locktype = 'relation'",
        )
    )


def test_lock_timeout_retries_then_succeeds_when_the_blocker_ends(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    _blocked_project(p)
    blocker = connect(url)
    blocker.execute("SELECT * FROM t")  # a long read transaction holds ACCESS SHARE on t
    try:
        proc = start(p, "--lock-timeout", "0.3", "--lock-retries", "8")
        wait_for(lambda: waiting_on_lock(url))
        time.sleep(1.0)  # at least one lock timeout happens while the blocker is open
    finally:
        blocker.rollback()
        blocker.close()
    code, out, err = proc.wait(timeout=120), *proc.communicate()
    assert code == 0, err
    assert out.strip() == "Applied 1 migration(s)"
    assert "warning: umbral migrate: migration app/0002_change timed out waiting for a lock" in err
    assert "retrying in" in err
    assert "x" in columns(url, "t") and "u" in tables(url)
    assert len(recorded(url)) == 2


def test_lock_timeout_gives_up_cleanly(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    _blocked_project(p)
    with connect(url) as blocker:
        blocker.execute("SELECT * FROM t")
        r = p.run("migrate", "--lock-timeout", "0.2", "--lock-retries", "2")
        blocker.rollback()
    assert r.code == 1, r
    errors = [line for line in r.err_lines if line.startswith("error:")]
    assert errors[0].startswith(
        "error: umbral migrate: migration app/0002_change failed and was rolled back: "
        "canceling statement due to lock timeout (gave up after 3 attempt(s)"
    ), r
    assert r.stderr.count("retrying in") == 2
    # Never a partial migration nor a tracking row without its DDL.
    assert "u" not in tables(url)
    assert "x" not in columns(url, "t")
    assert recorded(url) == [("app", "0001_t")]


def test_lock_wait_expires_naming_the_holder(pg_project: Project) -> None:
    p, url = pg_project, pg_project.database
    write(p.root, "0001_t", [ops.CreateTable(table="t", columns=(PK,))])
    with connect(url, autocommit=True, application_name="deploy-job-42") as holder:
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone() == (True,)
        pid = holder.info.backend_pid
        began = time.monotonic()
        r = p.run("migrate", "--lock-wait", "1")
        elapsed = time.monotonic() - began
    assert r.code == 1, r
    assert elapsed >= 1.0  # it waited the whole --lock-wait before giving up
    line = r.err_lines[0]
    assert line.startswith(
        "error: umbral migrate: timed out after 1s waiting for the migration lock"
    )
    assert f"held by server pid {pid}" in line and "'deploy-job-42'" in line
    assert "connected since" in line
    assert recorded(url) == [] and "t" not in tables(url)
    # The lock is free again: the next run proceeds.
    assert p.run("migrate").code == 0


def test_killed_migrate_leaves_whole_migrations_and_the_next_run_finishes(
    pg_project: Project,
) -> None:
    p, url = pg_project, pg_project.database
    write(p.root, "0001_a", [ops.CreateTable(table="a", columns=(PK,))])
    write(p.root, "0002_slow", [
        ops.CreateTable(table="b", columns=(PK,)),
        ops.RunSql(sql="SELECT pg_sleep(5)"),
        ops.CreateTable(table="c", columns=(PK,)),
    ])  # fmt: skip
    write(p.root, "0003_d", [ops.CreateTable(table="d", columns=(PK,))])
    proc = start(p)
    wait_for(lambda: running(url, "%SELECT pg_sleep(5)%"))  # inside its migration's script
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.communicate()
    assert recorded(url) == [("app", "0001_a")]
    assert "b" not in tables(url) and "a" in tables(url)

    r = p.run("migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 2 migration(s)"]
    assert tables(url) == ["a", "b", "c", "d", "umbral_migrations"]
    assert [n for _, n in recorded(url)] == ["0001_a", "0002_slow", "0003_d"]


def test_passwords_never_appear_in_output(pg_project: Project) -> None:
    p = pg_project
    secret = "Sup3rS3cretPW"
    # Trust authentication ignores the password, so the URL works while carrying one.
    url = p.database.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    assert secret in url
    p.write_config(database=url)
    write(p.root, "0001_a", [ops.CreateTable(table="a", columns=(PK,))])
    write(p.root, "0002_bad", [ops.RunSql(sql="SELECT * FROM missing_table")])
    outputs = [
        p.run("migrate"),
        p.run("migrate", "--traceback"),
        p.run("showmigrations"),
        p.run("sqlmigrate", "app/0002_bad"),
        p.run("migrate", "--database", url.rsplit("/", 1)[0] + "/no_such_database_x"),
        p.run("showmigrations", "--database", url.replace("127.0.0.1:5432", "127.0.0.1:1")),
    ]
    with connect(p.database, autocommit=True) as holder:
        holder.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
        outputs.append(p.run("migrate", "--lock-wait", "0"))
    assert [r.code for r in outputs] == [1, 1, 0, 0, 1, 1, 1], outputs
    for r in outputs:
        assert secret not in r.stdout + r.stderr, r
    assert "missing_table" in outputs[0].stderr
    assert "no_such_database_x" in outputs[4].stderr
    assert "waiting for the migration lock" in outputs[6].stderr
    assert secret not in str(query(p.database, "SELECT application_name FROM pg_stat_activity"))


def test_migrations_commit_asynchronously_each_on_its_own(pg_project: Project) -> None:
    """During `migrate` the session does not wait for each commit's WAL flush (the run flushes
    once at the end, on the lock connection); the server's setting is untouched."""
    p, url = pg_project, pg_project.database
    seen = "CREATE TABLE seen AS SELECT current_setting('synchronous_commit') AS value"
    write(p.root, "0001_seen", [ops.RunSql(sql=seen)])
    write(p.root, "0002_t", [ops.CreateTable(table="t", columns=(PK,))])
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert query(url, "SELECT value FROM seen") == [("off",)]
    assert "t" in tables(url)
    assert recorded(url) == [("app", "0001_seen"), ("app", "0002_t")]
    assert query(url, "SHOW synchronous_commit") == [("on",)]


def test_a_migration_goes_to_the_server_as_one_script_with_its_tracking_row(
    pg_project: Project,
) -> None:
    """One query per migration: the tracking row's INSERT, every statement and the COMMIT,
    run in order (besides it only the driver's BEGIN); literals with `%`, `:name` and `?` and
    a trailing comment arrive as written."""
    p, url = pg_project, pg_project.database
    write(p.root, "0001_t", [
        ops.CreateTable(table="t", columns=(PK, C("s", "Text"))),
        ops.RunSql(sql="INSERT INTO t (s) VALUES ('7 % 4 %% :x ?') -- a trailing comment"),
        ops.RunSql(sql="SELECT pg_sleep(1)"),
        ops.CreateTable(table="u", columns=(PK,)),
    ])  # fmt: skip
    proc = start(p)
    script = 'INSERT INTO umbral_migrations %CREATE TABLE%pg_sleep(1)%CREATE TABLE "u"%;%COMMIT'
    wait_for(lambda: running(url, script))
    code, out, err = proc.wait(timeout=60), *proc.communicate()
    assert (code, out.strip()) == (0, "Applied 1 migration(s)"), err
    assert query(url, "SELECT s FROM t") == [("7 % 4 %% :x ?",)]
    assert tables(url) == ["t", "u", "umbral_migrations"]
    assert recorded(url) == [("app", "0001_t")]


def test_a_script_opens_the_next_migrations_transaction(pg_project: Project) -> None:
    """When the next migration goes as a script too, a script ends with COMMIT and the next
    one's BEGIN (that one's psycopg sends none); the last, and one before a migration that runs
    statement by statement in autocommit (a concurrent index), ends with COMMIT alone."""
    p, url = pg_project, pg_project.database
    write(p.root, "0001_t", [
        ops.CreateTable(table="t", columns=(PK, C("s", "Text"))),
        ops.RunSql(sql="SELECT pg_sleep(1)"),
    ])  # fmt: skip
    write(p.root, "0002_u", [
        ops.CreateTable(table="u", columns=(PK, C("n", "Integer"))),
        ops.RunSql(sql="SELECT pg_sleep(1)"),
    ])  # fmt: skip
    write(p.root, "0003_index", [
        ops.AddIndex(table="u", columns=("n",), concurrent=True),
    ], atomic=False)  # fmt: skip
    proc = start(p)
    wait_for(lambda: running(url, "INSERT INTO umbral_migrations %pg_sleep(1)%COMMIT%;%BEGIN"))
    wait_for(lambda: running(url, 'INSERT INTO umbral_migrations %"u"%pg_sleep(1)%COMMIT'))
    assert not running(url, '%"u"%pg_sleep(1)%BEGIN')
    code, out, err = proc.wait(timeout=60), *proc.communicate()
    assert (code, out.strip()) == (0, "Applied 3 migration(s)"), err
    assert recorded(url) == [("app", "0001_t"), ("app", "0002_u"), ("app", "0003_index")]
    assert [d for d in indexes(url, "u").values() if "(n)" in d and "INVALID" not in d]


def test_a_recorded_migration_runs_none_of_its_statements(
    tmp_path: Path, postgres_url: str
) -> None:
    """The script's tracking-row INSERT fails on the primary key before anything else runs;
    the statement-by-statement path then finds the row and skips the migration. A sequence
    (whose nextval no rollback undoes) proves no statement of the migration ran."""
    from umbral import executor, recorder
    from umbral.migration import Migration
    from umbral.schema import EMPTY
    from umbral_postgres.backend import PostgresBackend

    backend = PostgresBackend()
    engine = backend.create_engine(backend.normalize_url(postgres_url, tmp_path))
    m = Migration("app", "0001_next", [], EMPTY)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE SEQUENCE s")
            recorder.ensure_table(conn)
            recorder.record(conn, "app", "0001_next", m.checksum)
            conn.commit()
            rendered = executor.Rendered(m, ["SELECT nextval('s')", "CREATE TABLE t (x int)"])
            assert executor.apply_one(executor.Session(conn, backend), rendered) is False
            conn.rollback()
    finally:
        engine.dispose()
    assert query(postgres_url, "SELECT is_called FROM s") == [(False,)]
    assert "t" not in tables(postgres_url)
    assert recorded(postgres_url) == [("app", "0001_next")]
