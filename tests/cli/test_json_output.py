"""``--json`` on makemigrations, sqlmigrate and squashmigrations: one documented shape each,
parsed here as a tool would."""

from __future__ import annotations

import json

from conftest import Project

POST = "class Post(Model):\n    title = fields.Text()\n"


def test_makemigrations_json(project: Project) -> None:
    p = project
    p.models(POST)
    check = p.run("makemigrations", "--check", "--json")
    assert check.code == 1, check
    data = json.loads(check.stdout)
    assert data["written"] is False
    [m] = data["migrations"]
    assert m["migration"].startswith("app/0001_")
    assert m["path"] == f"migrations/app/{m['migration'].split('/')[1]}.json"
    assert m["operations"] == [{"kind": "CreateTable", "description": "Create table post"}]
    assert p.migration_files() == []

    r = p.run("makemigrations", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert data["written"] is True and p.migration_files() == [m["path"].split("/")[-1]]

    p.models("class Article(Model):\n    title = fields.Text()\n")
    data = json.loads(p.run("makemigrations", "--json").stdout)
    assert data["notes"] == [
        {
            "stream": "stdout",
            "text": "rename detected (class-name match): table `post` -> `article`",
        }
    ] or data["notes"][0]["stream"] in ("stdout", "stderr")
    assert data["migrations"][0]["operations"][0]["kind"] == "RenameTable"

    r = p.run("makemigrations", "--check", "--json")
    assert (r.code, json.loads(r.stdout)) == (0, {"written": False, "migrations": [], "notes": []})


def test_sqlmigrate_json(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    name = p.migration_files()[0].removesuffix(".json")
    r = p.run("sqlmigrate", f"app/{name}", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert data["migration"] == f"app/{name}"
    [op] = data["operations"]
    assert op["description"] == "Create table post"
    assert op["statements"][0].startswith('CREATE TABLE "post"')
    assert op["run_time"] == []  # a plain CREATE TABLE has nothing to adapt at run time


def test_squashmigrations_json(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    p.models(POST + "    slug = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    first, second = (f.removesuffix(".json") for f in p.migration_files())
    r = p.run("squashmigrations", "app", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert data == {
        "plugin": "app",
        "migration": "app/0001_squashed_0002",
        "path": "migrations/app/0001_squashed_0002.json",
        "replaces": [f"app/{first}", f"app/{second}"],
        "operations": [{"kind": "CreateTable", "description": "Create table post"}],
    }


def test_migrate_json_and_plan_json(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    first = p.migration_files()[0].removesuffix(".json")
    # A fresh database: built at the plan's end from the snapshot, then recorded.
    plan = json.loads(p.run("migrate", "--plan", "--json").stdout)
    assert plan["plan"] is True and plan["applied"] == [] and plan["path"]
    assert [(s["action"], s["migration"]) for s in plan["steps"]] == [
        ("build", f"app/{first}"),
        ("record", f"app/{first}"),
    ]
    replay = json.loads(p.run("migrate", "--plan", "--json", "--replay").stdout)
    assert replay["steps"] == [
        {"migration": f"app/{first}", "action": "apply", "operations": ["Create table post"]}
    ]
    r = p.run("migrate", "--json", "--replay")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert data["plan"] is False
    [applied] = data["applied"]
    assert applied["migration"] == f"app/{first}" and applied["seconds"] >= 0
    assert data["unapplied"] == data["skipped"] == data["faked"] == data["pruned"] == []
    back = json.loads(p.run("migrate", "app/zero", "--json", "--allow-destructive").stdout)
    assert [s["action"] for s in back["steps"]] == ["unapply"]
    assert [u["migration"] for u in back["unapplied"]] == [f"app/{first}"]
    nothing = json.loads(p.run("migrate", "app/zero", "--json").stdout)
    assert nothing["steps"] == [] and nothing["unapplied"] == []


def test_migrate_verbose_prints_each_migration_with_its_time(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    p.models(POST + "    slug = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    keys = [f"app/{f.removesuffix('.json')}" for f in p.migration_files()]
    r = p.run("migrate", "-v", "--replay")
    assert r.code == 0, r
    lines = r.out_lines
    assert [line.split(" ... ")[0].strip() for line in lines[:-1]] == keys
    assert all(line.rstrip().endswith("s") for line in lines[:-1])
    assert lines[-1] == "Applied 2 migration(s)"


SLOW = """
import pathlib
import time


def forward(ctx):
    pathlib.Path("started").write_text("yes")
    time.sleep(60)


def backward(ctx):
    pass
"""


def _verbose_run_killed(p: Project, atomic: bool) -> str:
    """``migrate -v --replay`` into a pipe (no PYTHONUNBUFFERED), killed while the second
    migration runs (a slow RunPython, in its own transaction unless ``atomic``); its stdout."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import clean_env

    p.models(POST)
    assert p.run("makemigrations").code == 0
    assert p.run("makemigrations", "--empty", "app", "--python").code == 0
    p.write("migrations/app/0002_run_python.py", SLOW)
    path = p.root / "migrations/app/0002_run_python.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "atomic": atomic}))
    env = {k: v for k, v in clean_env().items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "umbral", "migrate", "-v", "--replay"],
        cwd=p.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (p.root / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    stdout, _ = proc.communicate(timeout=30)
    assert (p.root / "started").exists()
    return stdout


def test_migrate_verbose_reports_a_migration_once_it_is_committed(project: Project) -> None:
    """``-v`` shows only a migration that is committed: one whose batch a kill then rolled
    back is not shown."""
    p = project
    stdout = _verbose_run_killed(p, atomic=True)
    assert stdout == "", stdout  # app/0001 ran in the same, uncommitted, transaction
    r = p.run("showmigrations")
    assert "[X]" not in r.stdout and "[ ] app/0002_run_python" in r.stdout, r


def test_migrate_verbose_lines_reach_a_pipe_as_they_happen(project: Project) -> None:
    """A migration committed before a slow one is shown while the slow one runs (the line
    waited in the pipe's buffer until exit before)."""
    stdout = _verbose_run_killed(project, atomic=False)
    assert [line.split(" ... ")[0].strip() for line in stdout.splitlines()] == [
        "app/0001_create_post"
    ], stdout


def _failing_history(p: Project) -> list[str]:
    """Create `post`, add a column, then a RunSql that fails; the three keys."""
    p.models(POST)
    assert p.run("makemigrations", "--name", "initial").code == 0
    p.models(POST + "    slug = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "slug").code == 0
    assert p.run("makemigrations", "--empty", "app", "--name", "broken").code == 0
    path = p.root / "migrations/app/0003_broken.json"
    data = json.loads(path.read_text())
    data["operations"] = [
        {"kind": "RunSql", "sql": "INSERT INTO no_such_table VALUES (1)", "reverse_sql": "SELECT 1"}
    ]
    path.write_text(json.dumps(data, indent=2))
    return ["app/0001_initial", "app/0002_slug", "app/0003_broken"]


def test_migrate_json_of_a_failed_run_names_what_it_applied_and_the_error(
    any_project: Project,
) -> None:
    """A run that fails still prints its JSON: the migrations committed before the failure,
    and the error that stderr shows too (exit 1)."""
    p = any_project
    first, second, broken = _failing_history(p)
    r = p.run("migrate", "--json", "--replay")
    assert r.code == 1, r
    data = json.loads(r.stdout)
    assert [a["migration"] for a in data["applied"]] == [first, second]
    assert all(a["seconds"] >= 0 for a in data["applied"])
    assert data["unapplied"] == [] and data["plan"] is False
    assert broken in data["error"] and "no_such_table" in data["error"]
    assert f"error: {data['error']}" in r.err_lines, r
    shown = p.run("showmigrations").out_lines
    assert {f"[X] {first}", f"[X] {second}", f"[ ] {broken}"} <= set(shown), shown

    # Refused before anything ran (a backward run past a drop without the flag): nothing
    # applied, the refusal as the error.
    r = p.run("migrate", "app/zero", "--json")
    assert r.code == 1, r
    data = json.loads(r.stdout)
    assert (data["applied"], data["unapplied"]) == ([], [])
    assert data["error"] and f"error: {data['error']}" in r.err_lines, r


def test_migrate_json_of_a_failure_after_the_fast_path_lists_every_covered_migration(
    project: Project,
) -> None:
    """On an empty database the fast path builds up to the RunSql and records what it
    covers; the RunSql's failure then leaves those applied, and the JSON lists each."""
    p = project
    first, second, broken = _failing_history(p)
    r = p.run("migrate", "--json")
    assert r.code == 1, r
    data = json.loads(r.stdout)
    assert [a["migration"] for a in data["applied"]] == [first, second]
    assert broken in data["error"]
