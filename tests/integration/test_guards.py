"""Guards that each hold one rule on one path: a test per path that reaches the rule.

Each test here was written against a small plausible bug (a removed check, a loosened
comparison, a guessed rename) that no other test caught; it fails when that bug is put back.
"""

from __future__ import annotations

import json

from test_adopted_tables import _adopt

from conftest import Project, execute, rows, schema_of
from umbral import Model, fields
from umbral import operations as ops
from umbral.autodetector import diff
from umbral.drift import detect
from umbral.migration import Migration
from umbral.models import build_snapshots
from umbral.schema import EMPTY

POST = """
class Post(Model):
    title = fields.Text()
    slug = fields.Text()
"""


def test_fake_initial_path_keeps_the_destructive_gate(any_project: Project) -> None:
    """``--fake-initial`` records the first migration, then plans again: the second plan is
    gated too, so a later DropColumn still needs --allow-destructive."""
    p, url = any_project, any_project.database
    p.models(POST)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(url, "INSERT INTO post (title, slug) VALUES ('a', 'a-slug')")
    execute(url, "DROP TABLE umbral_migrations")  # the tables exist, nothing is recorded
    p.models(POST.replace("    slug = fields.Text()\n", ""))
    assert p.run("makemigrations").code == 0

    r = p.run("migrate", "--fake-initial")

    assert r.code == 1, r
    assert "would DESTROY DATA" in r.stderr
    assert "--allow-destructive" in r.stderr
    assert "Traceback" not in r.stderr
    assert rows(url, "SELECT title, slug FROM post") == [("a", "a-slug")]
    r = p.run("migrate", "--fake-initial", "--allow-destructive")
    assert r.code == 0, r
    assert [c[0] for c in schema_of(url)["post"]["columns"]] == ["id", "title"]


def _snap(*models: type) -> object:
    return build_snapshots({"app": list(models)})["app"]


def _model(name: str, **attrs: object) -> type:
    return type(name, (Model,), dict(attrs), plugin="app")


def test_two_dropped_models_of_one_shape_are_not_guessed_as_a_rename() -> None:
    """The mirror of two new models sharing a shape: one new model, two dropped candidates."""
    before = _snap(
        _model("Foo", title=fields.Text()),
        _model("Bar", title=fields.Text()),
    )
    after = _snap(_model("Baz", title=fields.Text()))
    d = diff(before, after)
    assert not any(isinstance(op, ops.RenameTable) for op in d.operations), d.operations
    assert sorted(op.kind for op in d.operations) == ["CreateTable", "DropTable", "DropTable"]
    assert not d.notes


def test_two_dropped_models_of_one_shape_through_makemigrations(project: Project) -> None:
    p = project
    p.models(
        """
        class Foo(Model):
            title = fields.Text()

        class Bar(Model):
            title = fields.Text()
        """
    )
    assert p.run("makemigrations").code == 0
    p.models(
        """
        class Baz(Model):
            title = fields.Text()
        """
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert "rename detected" not in r.stdout + r.stderr
    ops_ = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert sorted(op["kind"] for op in ops_) == ["CreateTable", "DropTable", "DropTable"]


def _mig(key: str) -> Migration:
    plugin, mid = key.split("/")
    return Migration(plugin, mid, [ops.RunSql(sql="SELECT 1")], EMPTY)


def test_a_pending_migration_of_the_applied_sequence_is_not_out_of_order() -> None:
    """Two branches both numbered 0002: one applied, the other pending (then merged). The
    pending one is not *before* the last applied migration, so it is not ``[?]``."""
    on_disk = [_mig("app/0001_a"), _mig("app/0002_left"), _mig("app/0002_right")]
    applied = {m.key: m.checksum for m in on_disk[:2]}
    assert [(e.key, e.state.marker) for e in detect(on_disk, applied)] == [
        ("app/0001_a", "[X]"),
        ("app/0002_left", "[X]"),
        ("app/0002_right", "[ ]"),
    ]


def test_a_pending_branch_migration_is_shown_pending_through_the_cli(project: Project) -> None:
    p = project
    p.models("class Post(Model):\n    title = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    p.models("class Post(Model):\n    title = fields.Text()\n    a = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "left").code == 0
    assert p.run("migrate").code == 0
    # A teammate's branch: also 0002, also on 0001, written from the same first snapshot.
    left = p.migration_files()[1]
    data = p.load_migration("app", left)
    data["operations"][0]["column"]["name"] = "b"
    data["id"] = left.replace("left", "right").removesuffix(".json")
    for m in data["snapshot_after"]["models"]:
        for c in m["fields"]:
            if c["name"] == "a":
                c["name"] = "b"
    (p.root / "migrations" / "app" / left.replace("left", "right")).write_text(
        json.dumps(data, indent=2)
    )
    r = p.run("showmigrations")
    lines = [line.strip() for line in r.stdout.splitlines()]
    assert any(line.startswith("[ ]") and "0002_right" in line for line in lines), r
    assert not any(line.startswith("[?]") for line in lines), r


ADOPTED = [
    "CREATE TABLE owner (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE)",
    "CREATE TABLE thing (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "owner_code TEXT UNIQUE REFERENCES owner (code), qty INTEGER NOT NULL)",
    "INSERT INTO owner (code) VALUES ('x'), ('y')",
    "INSERT INTO thing (name, owner_code, qty) VALUES ('a', 'x', 1), ('b', 'y', 2)",
]


def test_a_rebuild_leaves_behind_the_foreign_key_of_a_dropped_column(project: Project) -> None:
    """SQLite: dropping a unique column rebuilds the table; the column's foreign key, which the
    models do not declare (it names a non-key column), goes with it instead of being carried
    onto a column that is gone."""
    p, url = project, project.database
    models = _adopt(p, *ADOPTED)
    assert "owner_code" in models
    line = next(ln for ln in models.splitlines() if ln.strip().startswith("owner_code"))
    text = (p.root / "models.py").read_text().replace(line + "\n", "")
    p.write("models.py", text)
    assert p.run("makemigrations").code == 0
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert rows(url, "SELECT id, name, qty FROM thing ORDER BY id") == [(1, "a", 1), (2, "b", 2)]
    assert schema_of(url)["thing"]["fks"] == []
