"""``umbral migrate`` on MySQL / MariaDB with a real server (SPEC §8): the GET_LOCK migration
lock, metadata-lock timeouts with retries, and renames that carry constraint names."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_helpers import write_migration as write
from schema_dump import dump

from conftest import (
    Project,
    _mysql_connect,
    execute,
    make_project,
    new_mysql_database,
    rows,
)
from umbral import operations as ops
from umbral.schema import Column as C
from umbral_mysql.connection import lock_name

pytestmark = pytest.mark.mysql

PK = C("id", "BigInt", primary_key=True)


@pytest.fixture
def my_project(tmp_path: Path, mysql_url: str) -> Project:
    return make_project(tmp_path, mysql_url)


def tables(url: str) -> set[str]:
    return {r[0] for r in rows(url, "SHOW TABLES")} - {
        "umbral_migrations",
        "umbral_migration_progress",
    }


def recorded(url: str) -> list[tuple[str, str]]:
    return sorted(rows(url, "SELECT plugin, name FROM umbral_migrations"))


def test_lock_wait_expires_naming_the_holder(my_project: Project) -> None:
    p, url = my_project, my_project.database
    write(p.root, "0001_t", [ops.CreateTable(table="t", columns=(PK,))])
    holder = _mysql_connect(url)
    try:
        cur = holder.cursor()
        cur.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (lock_name(url.rsplit("/", 1)[1]),))
        got, connection = cur.fetchone()
        assert got == 1
        began = time.monotonic()
        r = p.run("migrate", "--lock-wait", "1")
        elapsed = time.monotonic() - began
    finally:
        holder.close()
    assert r.code == 1, r
    assert elapsed >= 1.0
    assert r.err_lines[0].startswith(
        "error: umbral migrate: timed out after 1s waiting for the migration lock"
    ), r
    assert f"held by connection {connection}" in r.err_lines[0]
    assert tables(url) == set()
    # The holder's connection ended: the server released the lock.
    assert p.run("migrate").code == 0
    assert tables(url) == {"t"}


def _blocked(p: Project) -> None:
    write(p.root, "0001_t", [ops.CreateTable(table="t", columns=(PK,))])
    assert p.run("migrate").code == 0
    write(
        p.root, "0002_change", [ops.AddColumn(table="t", column=C("x", "Integer", nullable=True))]
    )


def test_metadata_lock_timeout_stops_the_migration_and_a_rerun_applies_it(
    my_project: Project,
) -> None:
    """DDL waits at most --lock-timeout for a metadata lock (lock_wait_timeout), never queueing
    the application's traffic behind it for long. The statement that timed out is retried on
    its own (a migration with DDL runs statement by statement); when the retries are used up
    the run stops, and the next run applies the migration."""
    p, url = my_project, my_project.database
    _blocked(p)
    blocker = _mysql_connect(url)
    blocker.autocommit(False)
    blocker.cursor().execute("SELECT * FROM t")  # an open transaction holds a metadata lock on t
    try:
        began = time.monotonic()
        r = p.run("migrate", "--lock-timeout", "1", "--lock-retries", "1")
        elapsed = time.monotonic() - began
    finally:
        blocker.rollback()
        blocker.close()
    assert r.code == 1, r
    assert elapsed < 30
    assert "Lock wait timeout exceeded" in r.stderr
    assert "retrying in 0.5s (retry 1 of 1)" in r.stderr
    assert "gave up after 2 attempt(s)" in r.stderr
    assert recorded(url) == [("app", "0001_t")]
    assert "x" not in [r[0] for r in rows(url, "SHOW COLUMNS FROM t")]
    assert p.run("migrate").code == 0
    assert "x" in [r[0] for r in rows(url, "SHOW COLUMNS FROM t")]
    assert recorded(url) == [("app", "0001_t"), ("app", "0002_change")]


def test_renamed_tables_and_columns_free_their_constraint_names(my_project: Project) -> None:
    """Foreign-key names are unique per database: a renamed table's keys take its new name,
    so a new table may take the old one (and its keys' names)."""
    p, url = my_project, my_project.database
    p.models(
        """
        class Author(Model):
            name = fields.Text(max_length=50, unique=True)

        class Post(Model):
            title = fields.Text()
            author = fields.ForeignKey("Author", on_delete="cascade")
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    write(p.root, "0002_rename", [ops.RenameTable(from_="post", to="article")])
    write(
        p.root,
        "0003_again",
        [ops.CreateTable(table="post", columns=(PK, C("author", "ForeignKey", fk_target="author",
                                                      fk_column="id")))],
    )  # fmt: skip
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert tables(url) == {"author", "article", "post"}
    keys = rows(
        url,
        "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS "
        "WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'FOREIGN KEY' ORDER BY 1",
    )
    assert keys == [("article", "article_author_fk"), ("post", "post_author_fk")]
    # Dropping the foreign-key column finds its key by what it is.
    write(p.root, "0004_drop", [ops.DropColumn(table="article", column="author")])
    assert p.run("migrate", "--allow-destructive").code == 0
    assert [r[0] for r in rows(url, "SHOW COLUMNS FROM article")] == ["id", "title"]


def test_a_cast_to_text_stops_at_a_check_written_for_the_old_type(my_project: Project) -> None:
    """An adopted column's own CHECK (`qty >= 0`) would refuse text after the cast, and
    PostgreSQL refuses such a cast: MariaDB's migration stops too, naming the CHECK."""
    p, url = my_project, my_project.database
    conn = _mysql_connect(url)
    conn.cursor().execute(
        "CREATE TABLE item (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "qty INT NOT NULL CHECK (qty >= 0))"
    )
    conn.close()
    qty = C("qty", "Integer", nullable=False)
    write(p.root, "0001_item", [ops.CreateTable(table="item", columns=(PK, qty))])
    assert p.run("migrate", "--fake-initial").code == 0
    text = C("qty", "Text", max_length=20, nullable=False)
    write(p.root, "0002_text", [ops.AlterColumn(table="item", column="qty", from_=qty, to=text)])
    r = p.run("migrate")
    assert r.code == 1, r
    assert "cannot change the type of `item.qty`: its own CHECK (`qty` >= 0)" in r.stderr, r
    assert "drop or rewrite the CHECK" in r.stderr, r
    assert rows(url, "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE "
                     "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'item' AND "
                     "COLUMN_NAME = 'qty'") == [("int",)]  # fmt: skip
    # Nothing of it ran; a cast within numbers keeps the CHECK, as before.
    big = C("qty", "BigInt", nullable=False)
    write(p.root, "0002_text", [ops.AlterColumn(table="item", column="qty", from_=qty, to=big)])
    r = p.run("migrate")
    assert r.code == 0, r
    checks = rows(url, "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                       "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'item'")  # fmt: skip
    assert [c.replace('"', "`") for (c,) in checks] == ["`qty` >= 0"]  # ANSI quotes here


def test_a_json_column_keeps_its_check_through_a_change_of_nullability(
    my_project: Project,
) -> None:
    """MariaDB's JSON is LONGTEXT with a CHECK (json_valid): a MODIFY that repeats the type
    the database has must repeat that CHECK too, or the column takes any text."""
    p, url = my_project, my_project.database
    doc = C("doc", "Json", nullable=False)
    write(p.root, "0001_item", [ops.CreateTable(table="item", columns=(PK, doc))])
    assert p.run("migrate").code == 0
    relaxed = C("doc", "Json", nullable=True, help="what it holds")
    write(p.root, "0002_relax", [
        ops.AlterColumn(table="item", column="doc", from_=doc, to=relaxed)
    ])  # fmt: skip
    r = p.run("migrate")
    assert r.code == 0, r
    conn = _mysql_connect(url)
    try:
        with pytest.raises(Exception, match=r"(?i)constraint"):
            conn.cursor().execute("INSERT INTO item (doc) VALUES ('not json')")
    finally:
        conn.close()
    assert p.run("checkschema").code == 0


def _hold_metadata_lock(url: str, table: str) -> Any:
    """A connection whose open transaction holds a metadata lock on ``table``: DDL on it waits
    for --lock-timeout, then fails."""
    blocker = _mysql_connect(url)
    blocker.autocommit(False)
    blocker.cursor().execute(f"SELECT * FROM {table}")
    return blocker


def _release_after_a_wait(url: str, blocker: Any, statement: str) -> None:
    """Roll ``blocker`` back once a session running ``statement`` has waited for its lock and
    given up (the first attempt timed out; the retry then gets the lock)."""
    watch = _mysql_connect(url)
    watch.autocommit(True)
    find = (
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
        f"WHERE STATE LIKE 'Waiting for table metadata lock' AND INFO LIKE '{statement}%'"
    )
    try:
        seen = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            cur = watch.cursor()
            cur.execute(find)
            waiting = cur.fetchone()[0] > 0
            if waiting:
                seen = True
            elif seen:
                break
            time.sleep(0.02)
    finally:
        watch.close()
        blocker.rollback()


def _log(url: str) -> list[int]:
    return [r[0] for r in rows(url, "SELECT n FROM log ORDER BY id")]


def test_a_lock_timeout_inside_a_script_retries_from_the_statement_that_waited(
    my_project: Project,
) -> None:
    """A migration's statements go to the server as one script, each with its progress; when
    the third waits too long for a lock, the retry continues at the third: the first two,
    committed, never run again (CREATE TABLE would fail a second time, the log counts)."""
    p, url = my_project, my_project.database
    write(p.root, "0001_t", [
        ops.CreateTable(table="t", columns=(PK,)),
        ops.CreateTable(table="log", columns=(PK, C("n", "Integer"))),
    ])  # fmt: skip
    assert p.run("migrate").code == 0
    write(p.root, "0002_steps", [ops.RunSql(sql=(
        "CREATE TABLE one (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO log (n) VALUES (2);\n"
        "ALTER TABLE t ADD COLUMN x INTEGER;\n"
        "INSERT INTO log (n) VALUES (4);\n"
    ))])  # fmt: skip
    blocker = _hold_metadata_lock(url, "t")
    release = threading.Thread(target=_release_after_a_wait, args=(url, blocker, "ALTER TABLE t"))
    release.start()
    try:
        r = p.run("migrate", "--lock-timeout", "1", "--lock-retries", "3")
    finally:
        release.join()
        blocker.close()
    assert r.code == 0, r
    assert "timed out waiting for a lock" in r.stderr
    assert "retrying in 0.5s (retry 1 of 3)" in r.stderr
    assert _log(url) == [2, 4]
    assert "x" in [c[0] for c in rows(url, "SHOW COLUMNS FROM t")]
    assert recorded(url) == [("app", "0001_t"), ("app", "0002_steps")]
    assert rows(url, "SELECT COUNT(*) FROM umbral_migration_progress") == [(0,)]


def test_a_run_time_step_runs_what_it_found_and_a_failure_names_that_statement(
    my_project: Project,
) -> None:
    """Dropping a foreign-key column drops the key by what it is: the step reads its name (a
    hand-made one here) and sends the DROP with the statements after it. A failure of that
    DROP names it, and the statements before it stay applied."""
    p, url = my_project, my_project.database
    write(p.root, "0001_tables", [
        ops.CreateTable(table="log", columns=(PK, C("n", "Integer"))),
        ops.RunSql(sql=(
            "CREATE TABLE parent (id BIGINT PRIMARY KEY);\n"
            "CREATE TABLE child (id BIGINT PRIMARY KEY, parent BIGINT, "
            "CONSTRAINT hand_named FOREIGN KEY (parent) REFERENCES parent (id));\n"
        )),
    ])  # fmt: skip
    assert p.run("migrate").code == 0
    write(p.root, "0002_drop", [
        ops.RunSql(sql="INSERT INTO log (n) VALUES (1)"),
        ops.DropColumn(table="child", column="parent"),
    ])  # fmt: skip
    blocker = _hold_metadata_lock(url, "child")
    try:
        r = p.run("migrate", "--allow-destructive", "--lock-timeout", "1", "--lock-retries", "0")
    finally:
        blocker.rollback()
        blocker.close()
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral migrate: migration app/0002_drop failed at statement 2 of 5: "
    ), r
    # The server's message, with its error number after it (the driver's tuple, unpacked).
    assert (
        "2 of 5: Lock wait timeout exceeded; try restarting transaction (error 1205)"
        in r.err_lines[0]
    ), r
    assert r.err_lines[1] == "  statement: ALTER TABLE `child` DROP FOREIGN KEY `hand_named`"
    assert r.err_lines[2].startswith("  Statements 1-1 stay applied: "), r
    assert _log(url) == [1]
    assert rows(url, "SELECT done, total FROM umbral_migration_progress") == [(1, 5)]

    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert _log(url) == [1]
    assert [c[0] for c in rows(url, "SHOW COLUMNS FROM child")] == ["id"]
    assert recorded(url) == [("app", "0001_tables"), ("app", "0002_drop")]


@pytest.fixture
def fresh_mysql_url(mysql_admin: Any) -> Iterator[str]:
    """A second empty database, for the schema a run from scratch makes."""
    yield from new_mysql_database(mysql_admin)


PEOPLE = """
from umbral import Model, fields, hookimpl


class Author(Model, plugin="people"):
    code = fields.{kind}(primary_key=True)
    name = fields.Text(max_length=20)


@hookimpl
def umbral_models():
    return [Author]
"""


def test_a_widened_key_referenced_from_another_plugin_goes_back_cleanly(
    my_project: Project, fresh_mysql_url: str
) -> None:
    # people/0002 widens Author's key; app/0002 (its key column follows) is undone first,
    # while the key is still BIGINT: adding its foreign key back to INT failed (errno 150),
    # half-way. The column now waits for the key's own change, which carries it.
    p, url = my_project, my_project.database
    p.write_config(plugins=["people"], plugin_modules={"people": "people"})
    p.write("people.py", PEOPLE.format(kind="Integer"))
    p.models(
        """
        class Post(Model):
            title = fields.Text(max_length=20)
            author = fields.ForeignKey("people.Author", on_delete="cascade")
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    people_1 = p.migration_files("people")[0].removesuffix(".json")
    app_1 = p.migration_files()[0].removesuffix(".json")
    execute(
        url,
        "INSERT INTO people_author (code, name) VALUES (1, 'a')",
        "INSERT INTO post (title, author) VALUES ('p', 1)",
    )
    p.write("people.py", PEOPLE.format(kind="BigInt"))
    assert p.run("makemigrations").code == 0
    assert len(p.migration_files()) == len(p.migration_files("people")) == 2
    r = p.run("migrate")
    assert r.code == 0, r
    head = dump(url)

    r = p.run("migrate", f"people/{people_1}")
    assert r.code == 0, r
    assert "Traceback" not in r.stderr
    r = p.run("showmigrations")
    assert not any("[/]" in line for line in r.out_lines), r
    assert recorded(url) == [("app", app_1), ("people", people_1)]
    assert rows(url, "SELECT title, author FROM post") == [("p", 1)]
    r = p.run("migrate", f"app/{app_1}", UMBRAL_DATABASE_URL=fresh_mysql_url)
    assert r.code == 0, r
    assert dump(url) == dump(fresh_mysql_url)  # the key is back, INT to INT

    # And forward again, as a run from scratch makes it.
    r = p.run("migrate")
    assert r.code == 0, r
    assert dump(url) == head
    assert rows(url, "SELECT title, author FROM post") == [("p", 1)]


def test_a_statement_timeout_names_the_limit_and_the_way_on(my_project: Project) -> None:
    """The server's `max_statement_time exceeded` named neither the limit nor the flag."""
    p, url = my_project, my_project.database
    write(
        p.root,
        "0001_t",
        [ops.CreateTable(table="t", columns=(C("id", "BigInt", primary_key=True),))],
    )
    write(p.root, "0002_slow", [ops.RunSql(sql="INSERT INTO t (id) VALUES (1)"),
                                ops.RunSql(sql="UPDATE t SET id = id + SLEEP(3)")])  # fmt: skip
    r = p.run("migrate", "--statement-timeout", "0.5")
    assert r.code == 1, r
    first = next(line for line in r.err_lines if line.startswith("error:"))
    assert first.startswith(
        "error: umbral migrate: migration app/0002_slow failed and was rolled back: "
    ), r
    assert first.endswith(
        "(the statement ran past the statement timeout of 0.5s; re-run with a larger "
        "--statement-timeout, or 0 for none, also the `statement_timeout` configuration key)"
    ), r
    assert recorded(url) == [("app", "0001_t")]
    r = p.run("migrate", "--statement-timeout", "0")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
