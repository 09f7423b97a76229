"""``sqlmigrate`` shows a SQLite table rebuild as the SQL it renders and names, under it, what
``migrate`` may do instead at run time (the rebuild is one step with its ways)."""

from __future__ import annotations

import json

from conftest import Project

WAYS = [
    "EditDefinition (edit the stored definition instead of rebuilding, when the table is as its "
    "migrations made it)",
    "CarryStored (the new table keeps the CHECKs, collations and foreign keys its stored "
    "definition holds beyond the models)",
    "CopyAll (copy with SELECT * when the table is laid out as its migrations made it)",
    "KeepTriggersAndIndexes (the swap keeps the old table's triggers and hand-made indexes)",
]


def _rebuild(p: Project) -> str:
    p.models("class Item(Model):\n    label = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    p.models("class Item(Model):\n    label = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    return "app/" + p.migration_files()[-1].removesuffix(".json")


def test_a_rebuild_names_its_run_time_ways_under_its_sql(project: Project) -> None:
    name = _rebuild(project)
    r = project.run("sqlmigrate", name)
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    # Between the frame that switches foreign keys off and on (test_sqlmigrate_foreign_keys).
    start = lines.index("-- Alter column label of item")
    end = lines.index("-- as migrate runs it: after the last operation")
    assert lines[0] == f"-- {name}"
    assert lines[start + 1] == (
        'CREATE TABLE "_umbral_new_item" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "label" TEXT);'
    )
    assert lines[end - 6] == 'ALTER TABLE "_umbral_new_item" RENAME TO "item";'
    assert lines[end - 4 : end] == [f"-- at run time, if it applies: {way}" for way in WAYS]


def test_the_json_shape_lists_the_ways_per_operation(project: Project) -> None:
    name = _rebuild(project)
    r = project.run("sqlmigrate", name, "--json")
    assert r.code == 0, r
    [op] = json.loads(r.stdout)["operations"]
    assert op["run_time"] == WAYS
    assert op["statements"][0].startswith('CREATE TABLE "_umbral_new_item"')


def test_an_operation_without_run_time_ways_shows_its_sql_only(project: Project) -> None:
    project.models("class Item(Model):\n    label = fields.Text()\n")
    assert project.run("makemigrations").code == 0
    name = "app/" + project.migration_files()[0].removesuffix(".json")
    r = project.run("sqlmigrate", name)
    assert r.code == 0, r
    assert "at run time" not in r.stdout
