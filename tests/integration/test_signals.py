"""Ctrl-C and kill -9 in the middle of ``umbral migrate`` (docs/guarantees.md).

Ctrl-C: ``error: interrupted`` on stderr (on a line of its own after the progress bar), exit
130, the running migration rolled back, and a running statement stopped at once (SQLite's is
interrupted, PostgreSQL's cancelled). SIGKILL: nothing to report, but the same state. Either
way, after a re-run every migration is applied exactly once, none half, and no row is lost.

The random kill points are few in CI; ``UMBRAL_LONG_TESTS=1`` (shared by the suite's long
tests) tries many more.
"""

from __future__ import annotations

import json
import os
import pty
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Project, clean_env, execute, require_transactional_ddl, rows, schema_of
from umbral import App, Model, fields

LONG = os.environ.get("UMBRAL_LONG_TESTS") == "1"
#: Random signal points per backend and signal.
POINTS = 25 if LONG else 2
#: Rows the history carries through every change (its rebuilds and updates take a while,
#: which is where the signals land).
ROWS = 20000


class Run:
    """``umbral migrate`` in the background with stderr on a terminal (so the progress bar is
    drawn), its output collected as it comes."""

    def __init__(self, p: Project, *args: str) -> None:
        main, sub = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "umbral", "migrate", *args],
            cwd=p.root,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=sub,
            text=True,
        )
        os.close(sub)
        self._main = main
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._main, 4096)
            except OSError:
                break
            if not data:
                break
            self._chunks.append(data)

    @property
    def stderr(self) -> str:
        """What the terminal showed, with the terminal's CR LF line ends read as LF."""
        return b"".join(self._chunks).decode(errors="replace").replace("\r\n", "\n")

    def wait_until(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"migrate ended early:\n{self.stderr}"
            assert time.monotonic() < deadline, f"not reached in time:\n{self.stderr}"
            time.sleep(0.02)

    def finish(self, timeout: float = 90) -> tuple[int, str, str]:
        """Exit code, stdout, terminal output. The timeout only guards against a hang: a
        statement that was not stopped runs for many minutes."""
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        self._reader.join(timeout=10)
        os.close(self._main)
        return self.proc.returncode, out, self.stderr


def assert_interrupted(code: int, out: str, shown: str) -> None:
    assert code == 130, (code, out, shown)
    assert "Traceback" not in shown and "internal error" not in shown, shown
    # The message is on a line of its own, after the progress bar's line was ended.
    assert shown.endswith("\nerror: interrupted\n") or shown == "error: interrupted\n", shown
    assert out == ""


def _project(tmp_path: Path, url: str) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    p = Project(root, url)
    p.write_config()
    p.models("")
    return p


def _run_sql(p: Project, name: str, *statements: str) -> str:
    """A hand-written RunSql migration (as `makemigrations --empty` starts one)."""
    r = p.run("makemigrations", "--empty", "app", "--name", name)
    assert r.code == 0, r
    path = sorted((p.root / "migrations" / "app").glob(f"*_{name}.json"))[-1]
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": s} for s in statements]
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data["id"]


def _holds_write_lock(url: str) -> bool:
    """Whether another connection holds the SQLite database's write lock."""
    conn = sqlite3.connect(url.split(":///", 1)[1], timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def _pg_running(url: str, pattern: str) -> bool:
    return bool(
        rows(
            url,
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '{pattern}'",
        )
    )


# -- Ctrl-C during a long statement ---------------------------------------------------------

#: A statement that runs for minutes unless it is stopped.
SQLITE_LONG = (
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000000000) "
    "SELECT count(*) FROM c"
)


def _long_statement_project(p: Project, long: str) -> None:
    _run_sql(p, "t", "CREATE TABLE t (x INTEGER)", "INSERT INTO t (x) VALUES (1)")
    assert p.run("migrate").code == 0
    _run_sql(p, "slow", "INSERT INTO t (x) VALUES (2)", long, "INSERT INTO t (x) VALUES (3)")


def _rerun_without(p: Project, long: str) -> None:
    path = sorted((p.root / "migrations" / "app").glob("*_slow.json"))[-1]
    data = json.loads(path.read_text())
    data["operations"] = [op for op in data["operations"] if op["sql"] != long]
    path.write_text(json.dumps(data, indent=2) + "\n")
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert sorted(rows(p.database, "SELECT x FROM t")) == [(1,), (2,), (3,)]


def test_ctrl_c_interrupts_a_running_sqlite_statement(tmp_path: Path, sqlite_url: str) -> None:
    p = _project(tmp_path, sqlite_url)
    _long_statement_project(p, SQLITE_LONG)
    run = Run(p)
    run.wait_until(lambda: "0/1 app/0002_slow" in run.stderr and _holds_write_lock(p.database))
    time.sleep(0.3)  # into the long statement (an earlier signal is handled the same way)
    run.proc.send_signal(signal.SIGINT)
    code, out, shown = run.finish()
    assert_interrupted(code, out, shown)
    assert "] 0/1 app/0002_slow\x1b[K\nerror: interrupted\n" in shown, shown
    # The running migration was rolled back: its first INSERT is gone, it is not recorded.
    assert rows(p.database, "SELECT x FROM t") == [(1,)]
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_t",)]
    _rerun_without(p, SQLITE_LONG)


@pytest.mark.postgres
def test_ctrl_c_cancels_a_running_postgres_statement(tmp_path: Path, postgres_url: str) -> None:
    long = "SELECT pg_sleep(600)"
    p = _project(tmp_path, postgres_url)
    _long_statement_project(p, long)
    run = Run(p)
    run.wait_until(lambda: _pg_running(postgres_url, "%pg_sleep(600)%"))
    run.proc.send_signal(signal.SIGINT)
    code, out, shown = run.finish()
    assert_interrupted(code, out, shown)
    assert "] 0/1 app/0002_slow\x1b[K\nerror: interrupted\n" in shown, shown
    assert not _pg_running(postgres_url, "%pg_sleep(600)%")  # cancelled, not left running
    assert rows(p.database, "SELECT x FROM t") == [(1,)]
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_t",)]
    _rerun_without(p, long)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_ctrl_c_while_the_cli_starts_is_reported(tmp_path: Path, sqlite_url: str) -> None:
    # The signal arrives while the command's libraries load or its files are read: from the
    # moment umbral's handler runs (its second thread, which stops statements, has started)
    # until the command ends. Before that, in the interpreter's own start, Python's applies.
    p = _project(tmp_path, sqlite_url)
    _run_sql(p, "t", "CREATE TABLE t (x INTEGER)")
    rng = random.Random(17)
    for _ in range(POINTS + 1):
        proc = p.start("migrate")
        tasks = Path(f"/proc/{proc.pid}/task")
        while proc.poll() is None and len(list(tasks.iterdir())) < 2:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # it finished first
            continue
        assert "Traceback" not in err and "internal error" not in err, err
        assert (proc.returncode, err) == (130, "error: interrupted\n"), (out, err)


# -- signals at random points of a long history -------------------------------------------


def _history(p: Project) -> list[str]:
    """A history that changes a table holding ROWS rows several ways: columns added, a
    NOT NULL tightened (a table rebuild on SQLite), data updated, a log row per data step."""
    root = p.root

    def models(step: int) -> list[type]:
        attrs: dict[str, object] = {"name": fields.Text(), "v": fields.Text(default="")}
        for k in range(1, step + 1):
            # Added nullable; from the next step on NOT NULL with a default (a rebuild).
            attrs[f"c{k}"] = fields.Integer(nullable=k == step, default=k)
        item = type("Item", (Model,), attrs)
        log = type("Log", (Model,), {"name": fields.Text()})
        return [item, log]

    def make(step: int) -> None:
        result = App(models=models(step), plugins=[], root=root).makemigrations()
        assert result.migrations

    make(0)
    seed = (
        f"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {ROWS}) "
        "INSERT INTO item (name, v) SELECT 'n' || i, '' FROM c"
    )
    _run_sql(p, "seed", seed)
    for step in range(1, 6):
        make(step)
        _run_sql(
            p,
            f"data{step}",
            f"INSERT INTO log (name) VALUES ('{step}')",
            f"UPDATE item SET v = v || '{step},'",
        )
    files = sorted(x.stem for x in (root / "migrations" / "app").glob("*.json"))
    assert len(files) >= 12
    return files


def _expected_columns(p: Project, name: str) -> dict[str, set[tuple[str, bool]]]:
    """Each table's (column, nullable) after migration ``name``, from its snapshot (the
    primary key's nullability is left out: SQLite reports its rowid alias as nullable)."""
    data = json.loads((p.root / "migrations" / "app" / f"{name}.json").read_text())
    return {
        model["table"]: {
            (f["name"], bool(f["nullable"])) for f in model["fields"] if not f["primary_key"]
        }
        for model in data["snapshot_after"]["models"]
    }


def _check_state(p: Project, files: list[str]) -> int:
    """Nothing half-applied: the recorded migrations are a prefix of the history, the tables
    and columns are the ones that prefix makes, each data step's effects are there exactly
    once if it is recorded and not at all if not, and every seeded row is there once the seed
    is. Returns how many migrations are recorded."""
    url = p.database
    schema = schema_of(url)
    if "umbral_migrations" not in schema:
        assert schema == {}, schema  # stopped before the tracking table was made
        return 0
    recorded = sorted(r[0] for r in rows(url, "SELECT name FROM umbral_migrations"))
    assert recorded == files[: len(recorded)], recorded
    expected = _expected_columns(p, recorded[-1]) if recorded else {}
    found = {
        table: {(c[0], c[2]) for c in info["columns"] if c[0] != "id"}
        for table, info in schema.items()
        if table != "umbral_migrations"
    }
    assert found == expected, (recorded, found)
    if "item" not in schema:
        return len(recorded)
    seeded = any(name.endswith("_seed") for name in recorded)
    assert rows(url, "SELECT COUNT(*) FROM item") == [(ROWS if seeded else 0,)]
    logged = sorted(r[0] for r in rows(url, "SELECT name FROM log"))
    done = [int(n.rsplit("data", 1)[1]) for n in recorded if "_data" in n]
    assert logged == [str(k) for k in done], (logged, recorded)
    if seeded:
        values = rows(url, "SELECT DISTINCT v FROM item")
        assert values == [("".join(f"{k}," for k in done),)], values
    return len(recorded)


def _wait_for_the_server(url: str) -> None:
    """Until the killed process's query has ended. The server may run a query it was sent to
    its end, the migration's COMMIT included, before it notices the client is gone: the state to
    check is the one it leaves then (a ``migrate`` started meanwhile waits for it on the
    tracking row's primary key, then skips that migration)."""
    if url.startswith("sqlite"):
        return
    deadline = time.monotonic() + 60
    while _pg_running(url, "%"):
        assert time.monotonic() < deadline, "the killed run's session did not end"
        time.sleep(0.02)


def _reset(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        execute(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")


def test_a_signal_at_any_point_leaves_whole_migrations(tmp_path: Path, db_url: str) -> None:
    require_transactional_ddl(db_url)
    p = _project(tmp_path, db_url)
    files = _history(p)
    # A full run first: how long the history takes here after it starts (where the random
    # points fall).
    run = Run(p)
    run.wait_until(lambda: "app/0001" in run.stderr)
    began = time.monotonic()
    code, out, _ = run.finish()
    took = time.monotonic() - began
    assert (code, out) == (0, f"Applied {len(files)} migration(s)\n")
    assert _check_state(p, files) == len(files)
    rng = random.Random(db_url.split(":")[0])
    for sig in [signal.SIGKILL, signal.SIGINT] * POINTS:
        _reset(db_url)
        run = Run(p)
        run.wait_until(lambda run=run: "app/0001" in run.stderr)  # the command is running
        time.sleep(rng.uniform(0, took * 0.7))
        run.proc.send_signal(sig)
        code, out, shown = run.finish()
        if sig == signal.SIGKILL:
            assert code in (-signal.SIGKILL, 0), (code, shown)
        elif code != 0:  # 0: the run had finished before the signal
            assert_interrupted(code, out, shown)
        _wait_for_the_server(db_url)
        _check_state(p, files)
        # A re-run applies the rest, each exactly once, and every row is there.
        r = p.run("migrate")
        assert r.code == 0, r
        assert _check_state(p, files) == len(files)
        assert rows(p.database, "SELECT COUNT(*) FROM item WHERE v = '1,2,3,4,5,'") == [(ROWS,)]
