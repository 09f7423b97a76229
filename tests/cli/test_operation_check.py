"""Each operation of a migration file is checked against the tables before it when the file is
loaded (``umbral.opcheck``): a hand edit naming a missing table or column, or a taken name, is
one error naming the file and the operation, from every command, before anything runs. What
cannot be known is not refused: another plugin's tables, anything after a RunSql that changes
tables, a table a hand-added operation made that the snapshot does not show."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_file_validation import _column, _one_clean_error, _post

from conftest import Project, rows, schema_of

MISSING_COLUMN = "name an existing column, or add it in an earlier operation"
MISSING_TABLE = "name an existing table, or create it in an earlier operation"
FK = {"type": "ForeignKey", "fk_target": "post", "fk_column": "id"}


def _hand(p: Project, name: str, *operations: dict[str, Any], **keys: Any) -> Path:
    """A new migration ``NNNN_<name>`` holding ``operations`` (its snapshot the plugin's
    current one), with other top-level ``keys`` replaced."""
    assert p.run("makemigrations", "--empty", "app", "--name", name).code == 0
    path = next((p.root / "migrations" / "app").glob(f"*_{name}.json"))
    data = json.loads(path.read_text())
    data.update(operations=list(operations), **keys)
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.mark.parametrize(
    ("operations", "problem"),
    [
        pytest.param(
            [{"kind": "AddIndex", "table": "post", "columns": ["titel"], "unique": False}],
            f"operation #1 (AddIndex): table `post` has no column `titel` at this point; "
            f"{MISSING_COLUMN}",
            id="index-on-missing-column",
        ),
        pytest.param(
            [{"kind": "AddColumn", "table": "post",
              "column": _column(name="author", **{**FK, "fk_target": "author"})}],
            "operation #1 (AddColumn): column `author` references table `author`, which is not "
            "a table of plugin `app` at this point (nor of another plugin: the migration "
            f"depends on none); {MISSING_TABLE}",
            id="fk-to-missing-table",
        ),
        pytest.param(
            [{"kind": "AddColumn", "table": "post",
              "column": _column(name="parent", **{**FK, "fk_column": "pk"})}],
            "operation #1 (AddColumn): column `parent` references column `pk` of table `post`, "
            "which has no such column at this point; name its primary-key column in `fk_column`",
            id="fk-to-missing-column",
        ),
        pytest.param(
            [{"kind": "DropColumn", "table": "post", "column": "body"}],
            f"operation #1 (DropColumn): table `post` has no column `body` at this point; "
            f"{MISSING_COLUMN}",
            id="drop-missing-column",
        ),
        pytest.param(
            [{"kind": "DropColumn", "table": "post", "column": "title"},
             {"kind": "DropColumn", "table": "post", "column": "title"}],
            f"operation #2 (DropColumn): table `post` has no column `title` at this point; "
            f"{MISSING_COLUMN}",
            id="drop-a-column-twice",
        ),
        pytest.param(
            [{"kind": "SetColumnComment", "table": "posts", "column": "title", "comment": "x"}],
            f"operation #1 (SetColumnComment): table `posts` does not exist at this point; "
            f"{MISSING_TABLE}",
            id="comment-on-missing-table",
        ),
        pytest.param(
            [{"kind": "AlterColumn", "table": "post", "column": "body",
              "from": _column(), "to": _column(nullable=False, default="")}],
            f"operation #1 (AlterColumn): table `post` has no column `body` at this point; "
            f"{MISSING_COLUMN}",
            id="alter-missing-column",
        ),
        pytest.param(
            [{"kind": "AddColumn", "table": "post", "column": _column(name="title")}],
            "operation #1 (AddColumn): table `post` already has a column `title` at this "
            "point; give it another name",
            id="add-a-taken-column",
        ),
        pytest.param(
            [{"kind": "RenameColumn", "table": "post", "from": "title", "to": "id"}],
            "operation #1 (RenameColumn): table `post` already has a column `id` at this "
            "point; give it another name",
            id="rename-column-onto-another",
        ),
        pytest.param(
            [{"kind": "RenameTable", "from": "posts", "to": "article"}],
            f"operation #1 (RenameTable): table `posts` does not exist at this point; "
            f"{MISSING_TABLE}",
            id="rename-missing-table",
        ),
        pytest.param(
            [{"kind": "CreateTable", "table": "post",
              "columns": [_column(name="id", type="BigInt", primary_key=True, nullable=False)]}],
            "operation #1 (CreateTable): table `post` already exists at this point; give it "
            "another name",
            id="create-a-taken-table",
        ),
        pytest.param(
            [{"kind": "DropTable", "table": "posts"}],
            f"operation #1 (DropTable): table `posts` does not exist at this point; "
            f"{MISSING_TABLE}",
            id="drop-missing-table",
        ),
        pytest.param(
            [{"kind": "CreateM2MTable", "table": "post_tags", "parent_table": "post",
              "parent_column": "id", "child_table": "tag", "child_column": "id"}],
            "operation #1 (CreateM2MTable): table `tag` is not a table of plugin `app` at this "
            f"point (nor of another plugin: the migration depends on none); {MISSING_TABLE}",
            id="m2m-to-missing-table",
        ),
        pytest.param(
            [{"kind": "CreateM2MTable", "table": "post_tags", "parent_table": "post",
              "parent_column": "id", "child_table": "post", "child_column": "pk"}],
            f"operation #1 (CreateM2MTable): table `post` has no column `pk` at this point; "
            f"{MISSING_COLUMN}",
            id="m2m-to-missing-column",
        ),
        pytest.param(
            [{"kind": "RunSql", "sql": "UPDATE post SET title = 'x'", "reverse_sql": "SELECT 1"},
             {"kind": "DropIndex", "table": "post", "columns": ["titel"], "unique": True}],
            f"operation #2 (DropIndex): table `post` has no column `titel` at this point; "
            f"{MISSING_COLUMN}",
            id="after-a-data-statement",
        ),
    ],
)  # fmt: skip
def test_an_operation_that_does_not_fit_the_tables_before_it_is_refused(
    project: Project, operations: list[dict[str, Any]], problem: str
) -> None:
    p = project
    _post(p)
    path = _hand(p, "hand", *operations)
    before = schema_of(p.database)
    assert _one_clean_error(p.run("migrate"), path) == problem
    assert schema_of(p.database) == before
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_create_post",)]


def test_every_command_refuses_the_file(project: Project) -> None:
    p = project
    _post(p)
    path = _hand(p, "hand", {"kind": "DropColumn", "table": "post", "column": "body"})
    for command in (
        ("showmigrations",),
        ("migrate", "--plan"),
        ("sqlmigrate", "app/0002_hand"),
        ("checkmigrations",),
        ("makemigrations", "--check"),
    ):
        problem = _one_clean_error(p.run(*command), path)
        assert problem.startswith("operation #1 (DropColumn): table `post` has no column"), command


def test_what_cannot_be_known_is_not_refused(any_project: Project) -> None:
    """A table made by a hand-added operation its snapshot does not show, operations after one
    that makes its column, and an index after a RunSql that changes tables all run."""
    p = any_project
    _post(p)
    note = _column(name="id", type="BigInt", primary_key=True, nullable=False)
    _hand(p, "note", {"kind": "CreateTable", "table": "note", "columns": [note]})
    _hand(
        p,
        "body",
        {"kind": "AddColumn", "table": "note", "column": _column()},
        {"kind": "AddIndex", "table": "note", "columns": ["body"], "unique": False},
        {"kind": "AddColumn", "table": "post", "column": _column(name="note", **{
            **FK, "fk_target": "note"})},
    )  # fmt: skip
    _hand(
        p,
        "by_sql",
        {"kind": "RunSql", "sql": "ALTER TABLE post ADD COLUMN extra INTEGER",
         "reverse_sql": "ALTER TABLE post DROP COLUMN extra"},
        {"kind": "AddIndex", "table": "post", "columns": ["extra"], "unique": False},
    )  # fmt: skip
    r = p.run("migrate")
    assert r.code == 0, r
    schema = schema_of(p.database)
    assert ("idx_note_body", ("body",), False) in schema["note"]["indexes"]
    assert ("idx_post_extra", ("extra",), False) in schema["post"]["indexes"]


def _file(p: Project, id: str, depends_on: list[str], *operations: dict[str, Any]) -> Path:
    """``migrations/app/<id>.json`` written by hand, with the first migration's snapshot."""
    directory = p.root / "migrations" / "app"
    data = json.loads((directory / "0001_create_post.json").read_text())
    data.update(id=id, depends_on=depends_on, operations=list(operations))
    path = directory / f"{id}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def test_after_a_merge_either_branch_counts(project: Project) -> None:
    """Two branches each add a column; after their merge an index on both is accepted, and
    one on a column neither has is refused."""
    p = project
    _post(p)
    first = ["app/0001_create_post"]
    _file(p, "0002_a", first, {"kind": "AddColumn", "table": "post", "column": _column(name="a")})
    _file(p, "0002_b", first, {"kind": "AddColumn", "table": "post", "column": _column(name="b")})
    both = {"kind": "AddIndex", "table": "post", "columns": ["a", "b"], "unique": False}
    branches = ["app/0002_a", "app/0002_b"]
    _file(p, "0003_merge", branches, both)
    r = p.run("showmigrations")
    assert r.code == 0, r
    merge = _file(p, "0003_merge", branches, {**both, "columns": ["a", "c"]})
    problem = _one_clean_error(p.run("showmigrations"), merge)
    assert problem.startswith("operation #1 (AddIndex): table `post` has no column `c`"), problem


def _age(path: Path) -> None:
    """Older than the validation cache's racy window, as files in a repository are."""
    st = path.stat()
    old = st.st_mtime_ns - 60 * 10**9
    os.utime(path, ns=(old, old))


def test_the_validation_cache_vouches_for_no_refused_file(project: Project, tmp_path: Path) -> None:
    """A refused file stays refused on the next run; a file the cache vouches for is checked
    again when the one before it changes."""
    p = project
    cache = {"UMBRAL_CACHE_DIR": str(tmp_path / "cache")}
    _post(p)
    add = {"kind": "AddColumn", "table": "post", "column": _column()}
    added = _hand(p, "add", add)
    index = {"kind": "AddIndex", "table": "post", "columns": ["body"], "unique": False}
    indexed = _hand(p, "index", index)
    bad = _hand(p, "bad", {**index, "columns": ["nope"]})
    for path in (added, indexed, bad):
        _age(path)
    for _ in range(2):
        problem = _one_clean_error(p.run("showmigrations", **cache), bad)
        assert problem.startswith("operation #1 (AddIndex): table `post` has no column `nope`")
    bad.unlink()
    assert p.run("showmigrations", **cache).code == 0
    assert p.run("showmigrations", **cache).code == 0  # every file vouched for now
    data = json.loads(added.read_text())
    data["operations"] = [{**add, "column": _column(name="text")}]
    added.write_text(json.dumps(data, indent=2))
    _age(added)
    problem = _one_clean_error(p.run("showmigrations", **cache), indexed)
    assert problem.startswith("operation #1 (AddIndex): table `post` has no column `body`")


def test_makemigrations_writes_no_migration_that_would_not_apply(project: Project) -> None:
    """A table made by a hand-added operation the snapshot does not show: the model declared
    later diffs as new, and a CreateTable of it would fail. makemigrations refuses, naming the
    file whose snapshot disagrees, and writes nothing."""
    p = project
    _post(p)
    note = _column(name="id", type="BigInt", primary_key=True, nullable=False)
    hand = _hand(p, "note", {"kind": "CreateTable", "table": "note", "columns": [note]})
    assert p.run("migrate").code == 0
    p.models("class Post(Model):\n    title = fields.Text()\n\nclass Note(Model):\n    pass\n")
    for args in (("makemigrations",), ("makemigrations", "--check")):
        r = p.run(*args)
        assert r.code == 1, r
        assert r.err_lines == [
            "error: umbral makemigrations: app/0003_create_note would not apply: operation #1 "
            "(CreateTable): table `note` already exists at this point (the operations so far "
            f"and the snapshot of {hand} disagree); make that snapshot_after show what the "
            "operations do (a hand-added table or column needs its model there), then run "
            "makemigrations again"
        ], r
    assert sorted(f.name for f in hand.parent.iterdir()) == ["0001_create_post.json", hand.name]


def test_a_merge_follows_a_table_one_branch_renamed(project: Project) -> None:
    """Branch A adds a column to `post`; branch B renames `post` to `article`. After their
    merge (written by hand), a change to A's column of `article` is made and applied."""
    p = project
    directory = p.root / "migrations" / "app"
    _post(p)
    p.models("class Post(Model):\n    title = fields.Text()\n    a = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "branch_a").code == 0
    aside = p.root / "0002_branch_a.json"
    (directory / "0002_branch_a.json").rename(aside)
    renamed = 'class Post(Model, table="article"):\n    title = fields.Text()\n'
    p.models(renamed + "    b = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "branch_b").code == 0
    aside.rename(directory / "0002_branch_a.json")
    # `--merge` refuses these branches (a database that ran B first could not run A's column
    # on `post`); one written by hand, for databases that ran A first, must still load.
    assert p.run("makemigrations", "--merge").code == 1
    merged = json.loads((directory / "0002_branch_b.json").read_text())["snapshot_after"]
    (article,) = merged["models"]
    article["fields"].append({"name": "a", "type": "Text", "primary_key": False, "nullable": True})
    merge = {"depends_on": ["app/0002_branch_a", "app/0002_branch_b"], "id": "0003_merge",
             "operations": [], "plugin": "app", "snapshot_after": merged, "umbral": 1}  # fmt: skip
    (directory / "0003_merge.json").write_text(json.dumps(merge))
    r = p.run("migrate")
    assert r.code == 0, r
    p.models(renamed + "    a = fields.Text(nullable=True, index=True)\n"
             "    b = fields.Text(nullable=True)\n")  # fmt: skip
    r = p.run("makemigrations")
    assert r.code == 0, r
    r = p.run("migrate")
    assert r.code == 0, r
    assert ("idx_article_a", ("a",), False) in schema_of(p.database)["article"]["indexes"]


def test_operations_on_a_junction_table_are_not_refused(project: Project) -> None:
    """The tables before an operation hold a junction as its parent's ManyToMany, not its
    columns: an index on it is not checked, and neither is dropping it after its parent."""
    p = project
    p.models(
        "class Tag(Model):\n    label = fields.Text()\n\n"
        "class Post(Model):\n    tags = fields.ManyToMany(Tag)\n"
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    columns = [c[0] for c in schema_of(p.database)["post_tags"]["columns"] if c[0] != "id"]
    index = {"kind": "AddIndex", "table": "post_tags", "columns": columns, "unique": False}
    _hand(p, "index", index)
    r = p.run("migrate")
    assert r.code == 0, r
    assert ("idx_post_tags_" + "_".join(columns), tuple(columns), False) in schema_of(p.database)[
        "post_tags"
    ]["indexes"]
    drop = [
        {"kind": "DropTable", "table": "post"},
        {**index, "kind": "DropIndex"},  # SQLite keeps the junction of a dropped parent
        {"kind": "DropM2MTable", "table": "post_tags"},
    ]
    _hand(p, "drop", *drop)
    r = p.run("showmigrations")
    assert r.code == 0, r


def test_a_squash_that_would_lose_a_hand_added_operation_is_refused(project: Project) -> None:
    """The squash's operations are the diff of the snapshots: a CreateTable an --empty
    migration's snapshot does not show would be lost, and the migration after it that uses
    the table refused once the originals are gone."""
    p = project
    _post(p)
    extra = [_column(name="id", type="BigInt", primary_key=True, nullable=False), _column()]
    hand = _hand(p, "extra", {"kind": "CreateTable", "table": "extra", "columns": extra})
    r = p.run("squashmigrations", "app")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral squashmigrations: can't squash `app`: after the range's own operations "
        "table `extra` exists, but not after a squash (the diff of the snapshots, which end at "
        f"{hand}); make the snapshots show what the operations do, or squash a range without "
        "them"
    ], r
    assert sorted(f.name for f in hand.parent.iterdir()) == ["0001_create_post.json", hand.name]


def test_a_squash_starts_where_one_migration_ends(project: Project) -> None:
    """A range starting at a merge, or on the second of two branches, would be diffed from
    the snapshot of the migration before it in file order: one branch's."""
    p = project
    _post(p)
    first = ["app/0001_create_post"]
    _file(p, "0002_a", first, {"kind": "AddColumn", "table": "post", "column": _column(name="a")})
    _file(p, "0002_b", first, {"kind": "AddColumn", "table": "post", "column": _column(name="b")})
    _file(p, "0003_merge", ["app/0002_a", "app/0002_b"])
    _file(p, "0004_c", ["app/0003_merge"], {"kind": "AddColumn", "table": "post",
                                            "column": _column(name="c")})  # fmt: skip
    for start, follows, previous in (
        ("0003_merge", "app/0002_a, app/0002_b", "app/0002_b"),
        ("0002_b", "app/0001_create_post", "app/0002_a"),
    ):
        r = p.run("squashmigrations", "app", "--from", start)
        assert r.code == 1, r
        assert r.err_lines == [
            f"error: umbral squashmigrations: can't squash `app`: the range starts at "
            f"app/{start}, which follows {follows}, not {previous}: a squash starts where one "
            "migration ends; start the range before the branches, or after their merge"
        ], r
