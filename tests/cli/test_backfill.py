"""A NOT NULL column without a default on a table with rows: a one-off backfill, given as
``--backfill Model.column=VALUE`` or answered on a terminal (Django's "provide a one-off
default"), fills the existing rows and is not kept as the column's default."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys

import pytest

from conftest import Project, clean_env, execute, is_mysql, rows, schema_of

POST = """
class Post(Model):
    title = fields.Text()
{extra}
"""


def post(extra: str = "") -> str:
    return POST.format(extra=extra)


def with_rows(p: Project, extra: str = "") -> None:
    """Post applied, with three rows."""
    p.models(post(extra))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO post (title) VALUES ('a'), ('b'), ('c')")


def column_default(url: str, table: str, column: str) -> object:
    if url.startswith("sqlite"):
        found = [r[4] for r in rows(url, f"PRAGMA table_info({table})") if r[1] == column]
    else:
        found = rows(
            url,
            "SELECT column_default FROM information_schema.columns "
            f"WHERE table_name = '{table}' AND column_name = '{column}'"
            + (" AND table_schema = DATABASE()" if is_mysql(url) else ""),
        )
        found = [r[0] for r in found]
    assert len(found) == 1
    return found[0]


def test_added_not_null_column_is_filled_once(any_project: Project) -> None:
    p = any_project
    with_rows(p)
    p.models(post("    views = fields.Integer()"))
    r = p.run("makemigrations", "--backfill", "Post.views=0")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0002_add_post_views.json"]
    data = p.load_migration("app", "0002_add_post_views.json")
    [op] = data["operations"]
    assert op["kind"] == "AddColumn"
    assert op["backfill"] == 0
    assert "default" not in op["column"]  # not the column's default
    [model] = data["snapshot_after"]["models"]
    assert "default" not in model["fields"][-1]

    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title, views FROM post ORDER BY title") == [
        ("a", 0), ("b", 0), ("c", 0),
    ]  # fmt: skip
    assert ("views", "INTEGER", False) in schema_of(p.database)["post"]["columns"]
    assert column_default(p.database, "post", "views") is None
    # Nothing left to do: the snapshot is the model.
    assert p.run("makemigrations").out_lines == ["no changes detected"]


def test_tightened_column_fills_only_its_nulls(any_project: Project) -> None:
    p = any_project
    with_rows(p, "    note = fields.Text(nullable=True)")
    execute(p.database, "UPDATE post SET note = 'kept' WHERE title = 'a'")
    p.models(post("    note = fields.Text()"))
    # Bare text is a string.
    r = p.run("makemigrations", "--backfill", "Post.note=none yet")
    assert r.code == 0, r
    [op] = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert (op["kind"], op["backfill"]) == ("AlterColumn", "none yet")
    assert "default" not in op["to"]
    assert p.run("migrate").code == 0
    assert rows(p.database, "SELECT title, note FROM post ORDER BY title") == [
        ("a", "kept"), ("b", "none yet"), ("c", "none yet"),
    ]  # fmt: skip
    text = "LONGTEXT" if is_mysql(p.database) else "TEXT"
    assert ("note", text, False) in schema_of(p.database)["post"]["columns"]
    assert column_default(p.database, "post", "note") is None


def test_a_missing_backfill_is_refused_naming_the_flag(project: Project) -> None:
    p = project
    with_rows(p)
    p.models(post("    views = fields.Integer()"))
    before = p.tree()
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert len(r.err_lines) == 1
    assert r.err_lines[0].startswith("error: umbral makemigrations: unsafe column change on ")
    assert "pass --backfill Post.views=VALUE" in r.err_lines[0]
    assert p.tree() == before


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("Post.views=abc", '--backfill Post.views: "abc" is not a whole number'),
        ("Post.views=null", "--backfill Post.views: a backfill value cannot be null"),
        ("Post.nope=1", "--backfill Post.nope: no NOT NULL column without a default"),
    ],
)
def test_a_wrong_backfill_is_an_error(project: Project, flag: str, message: str) -> None:
    p = project
    with_rows(p)
    p.models(post("    views = fields.Integer()"))
    before = p.tree()
    args = ["--backfill", flag]
    if "nope" in flag:
        args += ["--backfill", "Post.views=1"]
    r = p.run("makemigrations", *args)
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and message in r.err_lines[0], r
    assert p.tree() == before


def test_a_malformed_backfill_is_a_usage_error(project: Project) -> None:
    r = project.run("makemigrations", "--backfill", "views")
    assert r.code == 2, r
    assert "Model.column=VALUE" in r.stderr


def test_json_values_and_checkmigrations(any_project: Project) -> None:
    p = any_project
    with_rows(p)
    p.models(post("    tags = fields.Json()\n    live = fields.Boolean()"))
    r = p.run("makemigrations", "--backfill", 'Post.tags=["x", 1]', "--backfill", "Post.live=true")
    assert r.code == 0, r
    ops = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert [op["backfill"] for op in ops] == [["x", 1], True]
    r = p.run("checkmigrations", "--json")
    data = json.loads(r.stdout)
    assert [(o["tier"], o["tag"]) for o in data["operations"]] == [("WARNING", "ADD COL")] * 2
    assert '(existing rows get ["x", 1])' in data["operations"][0]["message"]
    assert p.run("migrate").code == 0
    got = rows(p.database, "SELECT live FROM post")
    assert [bool(r[0]) for r in got] == [True] * 3


# -- on a terminal ----------------------------------------------------------------------------


class Terminal:
    """``umbral`` run on a pseudo-terminal: what it writes, and answers typed in."""

    def __init__(self, p: Project, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "umbral", *args],
            cwd=p.root,
            env=clean_env(NO_COLOR="1"),  # plain text to compare (colour: test_cli_conventions)
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        self.seen = ""

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # the process ended and closed the terminal
            return False
        if not chunk:
            return False
        self.seen += chunk.decode(errors="replace")
        return True

    def expect(self, text: str) -> None:
        while text not in self.seen:
            assert self._read(60), f"never saw {text!r}; got:\n{self.seen}"

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self) -> int:
        while self._read(60):
            pass
        code = self.proc.wait(60)
        os.close(self.master)
        return code


def test_the_terminal_asks_for_each_backfill(any_project: Project) -> None:
    p = any_project
    with_rows(p, "    note = fields.Text(nullable=True)")
    p.models(post("    note = fields.Text()\n    views = fields.Integer()"))
    t = Terminal(p, "makemigrations")
    t.expect("`post.note` (Post.note) becomes NOT NULL without a default")
    t.expect("Select an option: ")
    t.type("3")
    t.expect("Please select 1 or 2.")
    t.type("1")
    t.expect(">>> ")
    t.type('"-"')
    t.expect("The NOT NULL column `post.views` (Post.views) is added without a default")
    t.expect("Select an option: ")
    t.type("1")
    t.expect(">>> ")
    t.type("many")  # not a number: asked again
    t.expect('"many" is not a whole number (Integer column); please enter another value.')
    t.type("5")
    assert t.finish() == 0, t.seen
    assert "Wrote migrations/app/0002_" in t.seen
    ops = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert [(op["kind"], op["backfill"]) for op in ops] == [
        ("AlterColumn", "-"), ("AddColumn", 5),
    ]  # fmt: skip
    assert p.run("migrate").code == 0
    assert rows(p.database, "SELECT note, views FROM post") == [("-", 5)] * 3


def test_quitting_the_terminal_question_writes_nothing(project: Project) -> None:
    p = project
    with_rows(p)
    p.models(post("    views = fields.Integer()"))
    before = p.tree()
    t = Terminal(p, "makemigrations")
    t.expect("Select an option: ")
    t.type("2")
    assert t.finish() == 1, t.seen
    assert "error: umbral makemigrations: unsafe column change on `Post.views`" in t.seen
    assert p.tree() == before


def test_a_backfill_flag_is_not_asked_again_on_a_terminal(project: Project) -> None:
    p = project
    with_rows(p)
    p.models(post("    views = fields.Integer()"))
    t = Terminal(p, "makemigrations", "--backfill", "Post.views=2")
    assert t.finish() == 0, t.seen
    assert "Select an option" not in t.seen
    [op] = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert op["backfill"] == 2


def test_a_squash_keeps_the_backfill(any_project: Project) -> None:
    p = any_project
    with_rows(p, "    note = fields.Text(nullable=True)")
    p.models(post("    note = fields.Text(nullable=True)\n    views = fields.Integer()"))
    assert p.run("makemigrations", "--backfill", "Post.views=4").code == 0
    p.models(post("    note = fields.Text()\n    views = fields.Integer()"))
    assert p.run("makemigrations", "--backfill", 'Post.note="n"').code == 0
    r = p.run("squashmigrations", "app", "--from", "0002_add_post_views")
    assert r.code == 0, r
    squash = [f for f in p.migration_files() if "squashed" in f]
    assert len(squash) == 1
    ops = p.load_migration("app", squash[0])["operations"]
    assert sorted((op["kind"], op["backfill"]) for op in ops) == [
        ("AddColumn", 4), ("AlterColumn", "n"),
    ]  # fmt: skip
    # Applied on its own (the originals removed), it fills the rows as they did.
    for name in p.migration_files():
        if name.startswith(("0002_add", "0003_alter")):
            (p.root / "migrations" / "app" / name).unlink()
    assert p.run("migrate").code == 0
    assert rows(p.database, "SELECT note, views FROM post") == [("n", 4)] * 3


def test_a_file_whose_backfill_does_not_fit_its_column_is_refused(project: Project) -> None:
    p = project
    with_rows(p)
    p.models(post("    views = fields.Integer()"))
    assert p.run("makemigrations", "--backfill", "Post.views=1").code == 0
    path = p.root / "migrations" / "app" / p.migration_files()[-1]
    data = json.loads(path.read_text())
    data["operations"][0]["backfill"] = "abc"
    path.write_text(json.dumps(data))
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration file {path}: operation #1: AddColumn.backfill: "
        '"abc" is not a whole number (Integer column)'
    ]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == ["id", "title"]
