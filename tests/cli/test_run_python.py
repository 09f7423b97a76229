"""RunPython: data migrations in Python, named from JSON files that load without running code."""

from __future__ import annotations

import json

from conftest import Project, backend_name, execute, rows, schema_of

POST = "class Post(Model):\n    title = fields.Text()\n    slug = fields.Text(nullable=True)\n"

FORWARD = """
from umbral.runpython import RunPythonContext


def forward(ctx: RunPythonContext) -> None:
    post = ctx.tables["post"]
    # The table as of this migration: `slug` exists here, whatever today's models say.
    ctx.connection.execute(post.update().where(post.c.slug.is_(None)).values(slug=post.c.title))
    ctx.connection.execute(post.insert().values(title=ctx.backend, slug=ctx.migration))


def backward(ctx: RunPythonContext) -> None:
    post = ctx.tables["post"]
    ctx.connection.execute(post.delete().where(post.c.slug == ctx.migration))
    ctx.connection.execute(post.update().values(slug=None))


def boom(ctx: RunPythonContext) -> None:
    post = ctx.tables["post"]
    ctx.connection.execute(post.insert().values(title="half", slug="done"))
    raise ValueError("no slug for you")
"""


def recorded(p: Project) -> list[tuple[str, str]]:
    return sorted(rows(p.database, "SELECT plugin, name FROM umbral_migrations"))


def posts(p: Project) -> list[tuple]:
    return rows(p.database, "SELECT title, slug FROM post ORDER BY id")


def data_migration(p: Project) -> tuple:
    """0001_create_post, two rows, then 0002_run_python written by --empty --python."""
    p.models(POST)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    p_exec(p, "INSERT INTO post (title) VALUES ('a')", "INSERT INTO post (title) VALUES ('b')")
    r = p.run("makemigrations", "--empty", "app", "--python")
    assert r.code == 0, r
    assert r.out_lines == [
        "Wrote migrations/app/0002_run_python.json",
        "Wrote migrations/app/0002_run_python.py",
        "Write the data change in forward() (and its undo in backward()) of that module",
    ]
    json_path = p.root / "migrations/app/0002_run_python.json"
    module = p.root / "migrations/app/0002_run_python.py"
    return json_path, module


def p_exec(p: Project, *sql: str) -> None:
    execute(p.database, *sql)


def test_empty_python_writes_the_operation_and_a_skeleton_that_runs(any_project: Project) -> None:
    p = any_project
    json_path, module = data_migration(p)
    data = json.loads(json_path.read_text())
    assert data["operations"] == [
        {
            "kind": "RunPython",
            "code": "migrations.app.0002_run_python:forward",
            "reverse_code": "migrations.app.0002_run_python:backward",
        }
    ]
    skeleton = module.read_text()
    assert "def forward(ctx: RunPythonContext) -> None:" in skeleton
    assert "def backward(ctx: RunPythonContext) -> None:" in skeleton
    # The skeleton as written applies and un-applies (it does nothing).
    assert p.run("migrate").code == 0
    assert recorded(p)[-1] == ("app", "0002_run_python")
    assert p.run("migrate", "app/0001_create_post").code == 0
    assert posts(p) == [("a", None), ("b", None)]


def test_forward_and_backward_run_in_the_migration(any_project: Project) -> None:
    p = any_project
    data_migration(p)
    p.write("migrations/app/0002_run_python.py", FORWARD)
    # Today's models no longer have `slug`: the function still sees it.
    p.models("class Post(Model):\n    title = fields.Text()\n")
    backend = backend_name(p.database)

    r = p.run("migrate", "app/0002_run_python")
    assert r.code == 0, r
    assert posts(p) == [("a", "a"), ("b", "b"), (backend, "app/0002_run_python")]
    r = p.run("sqlmigrate", "app/0002_run_python")
    assert r.out_lines == [
        "-- app/0002_run_python",
        "-- Run Python: migrations.app.0002_run_python:forward",
        "-- RunPython migrations.app.0002_run_python:forward (Python, not SQL)",
    ]
    r = p.run("migrate", "app/0001_create_post", "--plan")
    assert r.out_lines == [
        "Unapply app/0002_run_python",
        "    Run Python: migrations.app.0002_run_python:backward",
    ]
    r = p.run("migrate", "app/0001_create_post")
    assert r.code == 0, r
    assert posts(p) == [("a", None), ("b", None)]
    assert recorded(p) == [("app", "0001_create_post")]


def test_a_failing_function_rolls_the_migration_back(any_project: Project) -> None:
    p = any_project
    json_path, _ = data_migration(p)
    p.write("migrations/app/0002_run_python.py", FORWARD)
    data = json.loads(json_path.read_text())
    data["operations"] = [
        {"kind": "RunSql", "sql": "UPDATE post SET slug = 'sql'"},
        {"kind": "RunPython", "code": "migrations.app.0002_run_python:boom"},
    ]
    json_path.write_text(json.dumps(data))
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate: migration app/0002_run_python failed and was rolled back: "
        "RunPython function migrations.app.0002_run_python:boom raised ValueError: "
        "no slug for you",
        "  statement: -- RunPython migrations.app.0002_run_python:boom (Python, not SQL)",
    ]
    assert "Traceback" not in r.stderr
    assert posts(p) == [("a", None), ("b", None)]  # the RunSql and the insert rolled back
    assert recorded(p) == [("app", "0001_create_post")]
    assert schema_of(p.database) == before


def test_a_missing_function_names_the_migration_and_the_function(any_project: Project) -> None:
    p = any_project
    json_path, _ = data_migration(p)
    data = json.loads(json_path.read_text())
    for code, why in (
        ("migrations.app.0002_run_python:nope", "AttributeError"),
        ("no_such_module.sub:forward", "ModuleNotFoundError"),
    ):
        data["operations"] = [
            {"kind": "RunSql", "sql": "UPDATE post SET slug = 'sql'"},
            {"kind": "RunPython", "code": code},
        ]
        json_path.write_text(json.dumps(data))
        r = p.run("migrate")
        assert r.code == 1, r
        assert r.err_lines[0].startswith(
            "error: umbral migrate: migration app/0002_run_python failed and was rolled back: "
            f"cannot import RunPython function {code}: {why}"
        ), r
        assert posts(p) == [("a", None), ("b", None)]
        assert recorded(p) == [("app", "0001_create_post")]


def test_loading_the_file_runs_no_code_and_checks_the_name(project: Project) -> None:
    p = project
    json_path, module = data_migration(p)
    module.write_text("raise SystemExit('imported!')\n")
    r = p.run("showmigrations")
    assert r.code == 0, r
    assert "[ ] app/0002_run_python" in r.out_lines
    data = json.loads(json_path.read_text())
    data["operations"] = [{"kind": "RunPython", "code": "not a function"}]
    json_path.write_text(json.dumps(data))
    r = p.run("showmigrations")
    assert r.code == 1, r
    assert "0002_run_python" in r.err_lines[0]
    assert 'RunPython.code: expected "package.module:function"' in r.err_lines[0], r


def test_without_reverse_code_un_applying_is_refused(any_project: Project) -> None:
    p = any_project
    json_path, _ = data_migration(p)
    p.write("migrations/app/0002_run_python.py", FORWARD)
    data = json.loads(json_path.read_text())
    del data["operations"][0]["reverse_code"]
    json_path.write_text(json.dumps(data))
    assert p.run("migrate").code == 0
    r = p.run("migrate", "app/0001_create_post")
    assert r.code == 1, r
    assert "RunPython without reverse_code cannot be undone" in r.stderr
    assert recorded(p)[-1] == ("app", "0002_run_python")
    r = p.run("migrate", "app/0001_create_post", "--allow-irreversible")
    assert r.code == 0, r
    assert len(posts(p)) == 3  # nothing was undone
    assert recorded(p) == [("app", "0001_create_post")]


def test_checkmigrations_warns_and_squash_refuses_like_run_sql(project: Project) -> None:
    p = project
    json_path, _ = data_migration(p)
    r = p.run("checkmigrations")
    assert r.code == 0, r
    assert any(
        "[RUN PYTHON] app/0002_run_python: runs the Python function "
        "migrations.app.0002_run_python:forward" in line
        for line in r.out_lines
    ), r
    p.models(POST + "    views = fields.Integer(default=0)\n")
    assert p.run("makemigrations").code == 0
    r = p.run("squashmigrations", "app")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral squashmigrations: can't squash `app`: app/0002_run_python contains "
        'RunPython, which a schema diff cannot reproduce; mark it "elidable": true if the '
        "squash may drop it, or squash a range without it"
    ]
    data = json.loads(json_path.read_text())
    data["operations"][0]["elidable"] = True
    json_path.write_text(json.dumps(data))
    assert p.run("squashmigrations", "app").code == 0


def test_python_needs_empty(project: Project) -> None:
    r = project.run("makemigrations", "--python")
    assert r.code == 2, r
    assert "--python goes with --empty PLUGIN" in r.stderr


def test_a_non_atomic_migration_cannot_hold_one_where_it_runs_outside_a_transaction(
    any_project: Project,
) -> None:
    p = any_project
    json_path, _ = data_migration(p)
    p.write("migrations/app/0002_run_python.py", FORWARD)
    data = json.loads(json_path.read_text())
    data["atomic"] = False
    json_path.write_text(json.dumps(data))
    r = p.run("migrate")
    if backend_name(p.database) != "postgres":  # "atomic": false runs in a transaction here
        assert r.code == 0, r
        assert posts(p)[:2] == [("a", "a"), ("b", "b")]
        return
    assert r.code == 1, r
    assert r.err_lines[0].startswith("error: migration file ")
    assert r.err_lines[0].endswith(
        "0002_run_python.json: operation #1 (RunPython) calls a Python function, which runs "
        'inside the migration\'s transaction; remove "atomic": false, or put the statements '
        "that need it in a migration of their own"
    ), r
    assert posts(p) == [("a", None), ("b", None)]
    assert recorded(p) == [("app", "0001_create_post")]
