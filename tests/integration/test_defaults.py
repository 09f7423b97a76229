"""Changing or removing a column's default never changes the rows already stored.

On SQLite the trap is real: ``ALTER TABLE ADD COLUMN`` leaves the rows written before it
without the new column, and SQLite reads the column's *current* default for them. A change
that only edited the stored definition would silently rewrite those rows' values, so a
default change rebuilds the table, which stores every value as it reads it.
"""

from __future__ import annotations

from conftest import Project, execute, rows, schema_of

BASE = """
class Item(Model):
    code = fields.Text()
"""


def _step(p: Project, models: str, name: str) -> None:
    p.models(models)
    made = p.run("makemigrations", "--name", name)
    assert made.code == 0, made
    applied = p.run("migrate", "--allow-destructive")
    assert applied.code == 0, applied


def _values(url: str) -> list[tuple]:
    return rows(url, "SELECT code, qty FROM item ORDER BY id")


def test_a_changed_or_removed_default_keeps_every_stored_value(any_project: Project) -> None:
    p, url = any_project, any_project.database
    _step(p, BASE, "create_item")
    execute(
        url,
        "INSERT INTO item (code) VALUES ('before-1')",
        "INSERT INTO item (code) VALUES ('before-2')",
    )
    # Added with a default: the rows above get it without being rewritten (on SQLite).
    _step(p, BASE + "    qty = fields.Integer(default=5)\n", "add_qty")
    execute(url, "INSERT INTO item (code, qty) VALUES ('after', 9)")
    assert _values(url) == [("before-1", 5), ("before-2", 5), ("after", 9)]

    _step(p, BASE + "    qty = fields.Integer(default=7)\n", "qty_default_7")
    assert _values(url) == [("before-1", 5), ("before-2", 5), ("after", 9)]
    execute(url, "INSERT INTO item (code) VALUES ('new')")  # the new default applies
    assert _values(url)[-1] == ("new", 7)

    schema = schema_of(url)
    _step(p, BASE + "    qty = fields.Integer(nullable=True)\n", "qty_no_default")
    assert _values(url) == [("before-1", 5), ("before-2", 5), ("after", 9), ("new", 7)]
    execute(url, "INSERT INTO item (code) VALUES ('none')")
    assert _values(url)[-1] == ("none", None)
    # Nothing else of the table moved: only qty became nullable.
    after = schema_of(url)
    assert after["item"]["indexes"] == schema["item"]["indexes"]
    assert [c[:2] for c in after["item"]["columns"]] == [c[:2] for c in schema["item"]["columns"]]
