"""Statement-level resume (SPEC §8): a migration the database cannot roll back as a whole (every
migration with DDL on MySQL / MariaDB, a non-atomic one on PostgreSQL) records each statement
it completes; after a failure, or a killed connection, the next ``migrate`` continues at the
statement that did not complete and never runs the committed ones again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pg_helpers import write_migration as write

from conftest import Project, execute, is_mysql, make_project, rows
from umbral import operations as ops
from umbral.schema import Column as C

PK = C("id", "BigInt", primary_key=True)
NAME = "app/0002_steps"


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def p(request: pytest.FixtureRequest, tmp_path: Path) -> Project:
    return make_project(tmp_path, request.getfixturevalue(f"{request.param}_url"))


def steps(third: str) -> str:
    """Five statements: DDL (run twice it would fail), rows that count how often each ran,
    and ``third`` as the third."""
    return (
        "CREATE TABLE one (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO log (n) VALUES (2);\n"
        f"{third};\n"
        "CREATE TABLE four (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO log (n) VALUES (5);\n"
    )


def setup(p: Project, third: str) -> None:
    write(p.root, "0001_log", [
        ops.CreateTable(table="log", columns=(PK, C("n", "Integer"))),
        ops.CreateTable(table="gate", columns=(PK, C("secs", "Integer"))),
        ops.RunSql(sql="INSERT INTO gate (secs) VALUES (0)"),
    ])  # fmt: skip
    write(p.root, "0002_steps", [ops.RunSql(sql=steps(third))], atomic=is_mysql(p.database))


def logged(p: Project) -> list[int]:
    return [r[0] for r in rows(p.database, "SELECT n FROM log ORDER BY id")]


def recorded(p: Project) -> list[str]:
    return [f"{a}/{b}" for a, b in rows(p.database, "SELECT plugin, name FROM umbral_migrations")]


def progress_rows(p: Project) -> list[tuple]:
    return rows(p.database, "SELECT plugin, name, done, total FROM umbral_migration_progress")


def test_a_failed_statement_is_resumed_after_the_cause_is_fixed(p: Project) -> None:
    setup(p, "INSERT INTO log (n) SELECT 3 FROM fix_me")
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        f"error: umbral migrate: migration {NAME} failed at statement 3 of 5: "
    ), r
    assert "fix_me" in r.err_lines[0]
    assert r.err_lines[1] == "  statement: INSERT INTO log (n) SELECT 3 FROM fix_me"
    assert r.err_lines[2].startswith("  Statements 1-2 stay applied: ")
    assert r.err_lines[2].endswith(
        "it continues at statement 3 (a fix in the migration's own file: add --from-statement 3)."
    )
    assert "Traceback" not in r.stderr
    assert recorded(p) == ["app/0001_log"]
    assert logged(p) == [2]
    assert progress_rows(p) == [("app", "0002_steps", 2, 5)]

    r = p.run("showmigrations")
    assert r.out_lines[2].startswith(f"[/] {NAME}  (statement 3 of 5 failed: "), r
    assert r.out_lines[-1] == "1 migration(s) not yet applied."
    data = json.loads(p.run("showmigrations", "--json").stdout)
    entry = data["migrations"][1]
    assert (entry["state"], entry["marker"]) == ("partial", "[/]")
    assert entry["progress"]["done"] == 2
    assert entry["progress"]["failed_statement"] == 3
    assert "fix_me" in entry["progress"]["error"]

    r = p.run("migrate", "--plan")
    assert r.out_lines[0] == f"Apply {NAME} (continues at statement 3 of 5)", r
    r = p.run("migrate", "--plan", "--json")
    step = json.loads(r.stdout)["steps"][0]
    assert (step["migration"], step["action"], step["continues_at"]) == (NAME, "apply", 3), r

    execute(p.database, "CREATE TABLE fix_me (x INTEGER)", "INSERT INTO fix_me (x) VALUES (1)")
    r = p.run("migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 1 migration(s)"]
    # Statements 1-2 ran once (CREATE TABLE one would fail a second time), 3-5 once.
    assert logged(p) == [2, 3, 5]
    assert recorded(p) == ["app/0001_log", NAME]
    assert progress_rows(p) == []
    assert p.run("showmigrations").out_lines[2] == f"[X] {NAME}"


def _kill(p: Project) -> None:
    """End the server session that runs the third statement (it sleeps on the gate)."""
    if is_mysql(p.database):
        find = (
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
            "AND INFO LIKE 'INSERT INTO log (n) SELECT 3%'"
        )
        kill = "KILL {}"
    else:
        find = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'INSERT INTO log (n) SELECT 3%'"
        )
        kill = "SELECT pg_terminate_backend({})"
    deadline = time.monotonic() + 30
    while not (found := rows(p.database, find)):
        assert time.monotonic() < deadline, "the third statement never started"
        time.sleep(0.05)
    execute(p.database, kill.format(found[0][0]))


def test_a_killed_connection_is_resumed_at_the_statement_it_was_running(p: Project) -> None:
    sleep = "SLEEP(gate.secs) = 0" if is_mysql(p.database) else "pg_sleep(gate.secs) IS NOT NULL"
    setup(p, f"INSERT INTO log (n) SELECT 3 FROM gate WHERE {sleep}")
    assert p.run("migrate", "app/0001_log").code == 0
    execute(p.database, "UPDATE gate SET secs = 60")
    run = p.start("migrate")
    try:
        _kill(p)
        code = run.wait(timeout=60)
    finally:
        run.kill()
    err = run.stderr.read() if run.stderr else ""
    assert code == 1, err
    assert f"migration {NAME} failed at statement 3 of 5" in err
    assert "Traceback" not in err
    assert logged(p) == [2]
    # Where it stopped is what the last completed statement recorded; the error too when the
    # run could still write it (through a new connection).
    line = p.run("showmigrations").out_lines[2]
    assert line == f"[/] {NAME}  (stopped after statement 2 of 5)" or line.startswith(
        f"[/] {NAME}  (statement 3 of 5 failed: "
    ), line

    execute(p.database, "UPDATE gate SET secs = 0")
    r = p.run("migrate")
    assert r.code == 0, r
    assert logged(p) == [2, 3, 5]
    assert recorded(p) == ["app/0001_log", NAME]


def test_an_edited_file_is_refused_until_told_where_to_continue(p: Project) -> None:
    setup(p, "INSERT INTO log (n) SELECT 3 FROM fix_me")
    assert p.run("migrate").code == 1
    # The fix is written into the migration instead: it no longer reads fix_me, and it gains a
    # sixth statement.
    edited = steps("INSERT INTO log (n) VALUES (3)") + "INSERT INTO log (n) VALUES (6);\n"
    write(p.root, "0002_steps", [ops.RunSql(sql=edited)], atomic=is_mysql(p.database))
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral migrate: migration {NAME} is partly applied (statement 3 of 5 failed: "
        + r.err_lines[0].split("failed: ", 1)[1].split("), and", 1)[0]
        + "), and its file was edited since; say where the edited file continues: `umbral "
        "migrate --from-statement N` runs it from its statement N (1 runs it whole), or "
        f"`umbral migrate --fake {NAME}` marks it applied"
    ], r
    assert logged(p) == [2]

    r = p.run("migrate", "--from-statement", "9")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral migrate --from-statement: migration {NAME} has 6 statement(s); "
        "continue it at one of 1-6"
    ]
    r = p.run("migrate", "--from-statement", "3")
    assert r.code == 0, r
    assert logged(p) == [2, 3, 5, 6]
    assert progress_rows(p) == []

    r = p.run("migrate", "--from-statement", "1")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate --from-statement: it continues the one partly applied "
        "migration, and none is partly applied"
    ]


def test_fake_marks_a_partly_applied_migration_applied(p: Project) -> None:
    setup(p, "INSERT INTO log (n) SELECT 3 FROM fix_me")
    assert p.run("migrate").code == 1
    # Another migration cannot pass it by: the plan must continue it first.
    write(p.root, "0003_more", [ops.CreateTable(table="more", columns=(PK,))])
    r = p.run("migrate", "app/0001_log")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(f"error: umbral migrate: migration {NAME} is partly applied")
    assert r.err_lines[0].endswith(f"or, once its remaining statements are done by hand, "
                                   f"`umbral migrate --fake {NAME}`")  # fmt: skip

    rows = progress_rows(p)
    r = p.run("migrate", "--fake", NAME, "--plan")  # says what it would do, writes nothing
    assert r.out_lines == [
        f"Record {NAME} as applied "
        "(no SQL: --fake; forgets that it had run 2 of its 5 statement(s))"
    ], r
    assert progress_rows(p) == rows
    r = p.run("migrate", "--fake", NAME)
    assert r.code == 0, r
    assert r.out_lines == [
        f"Marked {NAME} as applied (no SQL executed; it had run 2 of its 5 statement(s))"
    ]
    assert progress_rows(p) == []
    r = p.run("migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 1 migration(s)"]
    assert logged(p) == [2]
    assert recorded(p) == ["app/0001_log", NAME, "app/0003_more"]


def test_a_failure_at_the_first_statement_leaves_nothing_to_resume(p: Project) -> None:
    write(p.root, "0001_log", [ops.CreateTable(table="log", columns=(PK, C("n", "Integer")))])
    write(
        p.root, "0002_steps",
        [ops.RunSql(sql="CREATE TABLE one (id INTEGER PRIMARY KEY) nonsense; "
                        "INSERT INTO log (n) VALUES (2)")],
        atomic=is_mysql(p.database),
    )  # fmt: skip
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        f"error: umbral migrate: migration {NAME} failed at statement 1 of 2: "
    ), r
    assert r.err_lines[2] == "  No statement of it completed; fix the cause and run migrate again."
    assert p.run("showmigrations").out_lines[2] == f"[ ] {NAME}"
    assert rows(p.database, "SELECT COUNT(*) FROM log") == [(0,)]


def test_a_failed_un_apply_is_resumed_by_the_same_backward_migrate(p: Project) -> None:
    write(p.root, "0001_log", [ops.CreateTable(table="log", columns=(PK, C("n", "Integer")))])
    write(
        p.root, "0002_steps",
        [ops.RunSql(
            sql="CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (id INTEGER PRIMARY KEY)",
            reverse_sql="DROP TABLE b; INSERT INTO log (n) SELECT 2 FROM fix_me; DROP TABLE a",
        )],
        atomic=is_mysql(p.database),
    )  # fmt: skip
    assert p.run("migrate").code == 0
    r = p.run("migrate", "app/0001_log", "--allow-destructive")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        f"error: umbral migrate: un-applying migration {NAME} failed at statement 2 of 3: "
    ), r
    assert r.err_lines[2].startswith("  Statements 1-1 stay un-applied: ")
    line = p.run("showmigrations").out_lines[2]
    assert line.startswith(f"[/] {NAME}  (un-applying: statement 2 of 3 failed: "), line
    assert recorded(p) == ["app/0001_log", NAME]  # recorded until its last statement ran

    r = p.run("migrate")  # forward cannot pass it by
    assert r.code == 1, r
    assert r.err_lines[0].startswith(f"error: umbral migrate: migration {NAME} is partly un-")
    assert (
        "; run the migrate that was un-applying it again (to its target, before it) to "
        in (r.err_lines[0])
    ), r

    execute(p.database, "CREATE TABLE fix_me (x INTEGER)", "INSERT INTO fix_me (x) VALUES (1)")
    r = p.run("migrate", "app/0001_log", "--allow-destructive")
    assert r.code == 0, r
    assert r.out_lines == ["Unapplied 1 migration(s)"]
    assert logged(p) == [2]  # DROP TABLE b ran once: a second time it would fail
    assert recorded(p) == ["app/0001_log"]
    assert progress_rows(p) == []


def test_a_partly_un_applied_migration_names_the_backward_run_and_keeps_no_false_row(
    p: Project,
) -> None:
    """Its file edited after its un-applying stopped, the refusal said `umbral migrate
    --from-statement N` (a forward run, refused in turn) and that `--fake` "marks it applied";
    after a forward run, that `--fake` settles it once "its remaining statements are done by
    hand": done, the database lacks the migration while its tracking row stays."""
    write(p.root, "0001_log", [ops.CreateTable(table="log", columns=(PK, C("n", "Integer")))])
    reverse = "DROP TABLE b; INSERT INTO log (n) SELECT 2 FROM fix_me; DROP TABLE a"
    create = "CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (id INTEGER PRIMARY KEY)"

    def steps_file(reverse_sql: str) -> None:
        write(p.root, "0002_steps", [ops.RunSql(sql=create, reverse_sql=reverse_sql)],
              atomic=is_mysql(p.database))  # fmt: skip

    steps_file(reverse)
    assert p.run("migrate").code == 0
    assert p.run("migrate", "app/0001_log", "--allow-destructive").code == 1
    keep = (
        "once you have undone by hand the 1 reverse statement(s) that ran, "
        f"`umbral migrate --fake {NAME}` keeps it applied"
    )
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0].endswith(
        "; run the migrate that was un-applying it again (to its target, before it) to "
        f"continue it first (`umbral migrate app/0001_log`), or, {keep}"
    ), r

    steps_file(reverse.replace("SELECT 2 FROM fix_me", "VALUES (2)"))
    r = p.run("migrate", "app/0001_log", "--allow-destructive", "--allow-drift")
    assert r.code == 1, r
    assert r.err_lines[-1].endswith(
        "and its file was edited since; say where the edited file's reverse continues: "
        "`umbral migrate app/0001_log --from-statement N` runs its reverse from its statement "
        f"N (1 runs it whole), or, {keep}"
    ), r
    r = p.run("checkschema")
    assert r.code == 1 and r.err_lines[-1].count(keep) == 1, r

    r = p.run(
        "migrate", "app/0001_log", "--allow-destructive", "--allow-drift", "--from-statement", "2"
    )
    assert (r.code, r.out_lines) == (0, ["Unapplied 1 migration(s)"]), r
    assert logged(p) == [2]
    assert recorded(p) == ["app/0001_log"]
    assert progress_rows(p) == []


def test_from_statement_says_where_a_migration_continues_so_it_runs_one(p: Project) -> None:
    r = p.run("migrate", "--fake", NAME, "--from-statement", "2")
    assert r.code == 2, r
    assert "--fake and --prune run none" in " ".join(r.stderr.split()), r


def test_a_partly_applied_migration_whose_file_is_gone_is_shown(p: Project) -> None:
    """Its file deleted after the failure, the migration was no longer listed at all (every
    line [X], exit 0) while migrate refused until --prune: it is listed as partly applied."""
    setup(p, "INSERT INTO log (n) SELECT 3 FROM fix_me")
    assert p.run("migrate").code == 1
    (p.root / "migrations" / "app" / "0002_steps.json").unlink()
    r = p.run("showmigrations")
    assert r.code == 0, r
    assert r.out_lines[2].startswith(f"[/] {NAME}  (statement 3 of 5 failed: "), r
    assert r.out_lines[2].endswith("; its file is gone: `umbral migrate --prune`)"), r
    # It cannot be applied, only pruned: it is not counted as waiting.
    assert r.out_lines[-2:] == [
        "",
        "1 partly applied migration(s) whose file is gone: `umbral migrate --prune`.",
    ], r
    assert json.loads(p.run("showmigrations", "--json").stdout)["not_applied"] == 0
    r = p.run("migrate", "--prune")
    assert r.code == 0, r
    assert p.run("showmigrations").out_lines == ["# plugin: app", "[X] app/0001_log"]


def test_checkschema_does_not_compare_while_a_migration_is_partly_applied(p: Project) -> None:
    """Its finished statements are not drift: a repair would undo them, and the migrate that
    finishes it would then record it applied with part of its change missing."""
    p.models("class Author(Model):\n    name = fields.Text()")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    author = "class Author(Model):\n    name = fields.Text()"
    p.models(author + "\n    score = fields.Integer(nullable=True)")
    assert p.run("makemigrations").code == 0
    second = p.root / "migrations" / "app" / p.migration_files()[1]
    data = json.loads(second.read_text())
    failing = ops.RunSql(sql="INSERT INTO author (name, score) SELECT 'x', 1 FROM fix_me")
    data["operations"].append(failing.to_dict())
    if not is_mysql(p.database):
        data["atomic"] = False
    second.write_text(json.dumps(data))
    key = f"app/{second.stem}"
    assert p.run("migrate").code == 1
    assert p.run("showmigrations").out_lines[2].startswith(f"[/] {key}  (statement 2 of 2 failed: ")

    finish = (
        f"finish it with `umbral migrate` (it continues at statement 2), or resolve it with "
        f"`umbral migrate --from-statement N` or `umbral migrate --fake {key}`; the database "
        "is between two migrations, so it was not compared: run checkschema again once no "
        "migration is partly applied"
    )
    for args in (["checkschema"], ["checkschema", "--sql"]):
        r = p.run(*args)
        assert r.code == 1, r
        assert r.stdout == "", r
        assert len(r.err_lines) == 1, r
        line = r.err_lines[0]
        assert line.startswith(
            f"error: umbral {' '.join(args)}: migration {key} is partly applied (statement 2 of "
            "2 failed: "
        ), r
        assert "fix_me" in line and line.endswith(finish), r
    r = p.run("checkschema", "--json", "--sql")
    assert r.code == 1, r
    found = json.loads(r.stdout)
    assert (found["drift"], found["plugins"], found["differences"]) == (None, [], []), r
    assert "repair" not in found
    [stopped] = found["partly_applied"]
    assert (stopped["migration"], stopped["direction"], stopped["done"], stopped["total"]) == (
        key, "forward", 1, 2,
    )  # fmt: skip
    assert stopped["failed_statement"] == 2 and "fix_me" in stopped["error"]

    # Its file deleted, finishing it starts with restoring the file.
    kept = second.read_text()
    second.unlink()
    r = p.run("checkschema")
    assert r.code == 1 and "fix_me" in r.stderr, r
    assert r.err_lines[0].endswith(
        "2 failed: " + stopped["error"] + "); its file is gone: restore the file and finish it "
        "with `umbral migrate`, or run `umbral migrate --prune` to forget its progress once the "
        "database is repaired; the database is between two migrations, so it was not "
        "compared: run checkschema again once no migration is partly applied"
    ), r
    second.write_text(kept)

    # Finished as it says, the database is what the migration promised: no drift.
    execute(p.database, "CREATE TABLE fix_me (x INTEGER)")
    assert p.run("migrate").code == 0
    r = p.run("checkschema")
    assert (r.code, r.out_lines) == (
        0, ["No schema drift: the database matches the applied migrations of 1 plugin(s)"]
    ), r  # fmt: skip
    assert json.loads(p.run("checkschema", "--json").stdout)["partly_applied"] == []


def test_record_only_refuses_a_partly_applied_migration_of_its_plan(p: Project) -> None:
    """Its progress row says which statements ran: ``--record-only`` would take it for done
    (or not started) wholesale."""
    setup(p, "INSERT INTO log (n) SELECT 3 FROM fix_me")
    assert p.run("migrate").code == 1
    before = (recorded(p), progress_rows(p))
    r = p.run("migrate", "--record-only")
    assert r.code == 1, r
    [line] = r.err_lines
    assert line.startswith(
        f"error: umbral migrate --record-only: migration {NAME} is partly applied (statement "
        "3 of 5 failed: "
    ), r
    assert line.endswith(
        f"); finish it with `umbral migrate` or settle it with `umbral migrate --fake {NAME}` "
        "first; nothing was recorded"
    ), r
    assert (recorded(p), progress_rows(p)) == before
