"""Keys and indexes across a column's type change.

A primary key's type changed while foreign keys reference it (``Integer`` to ``BigInt``, the
widening every growing table needs): MySQL and MariaDB refuse to change a referenced column
(error 1833, with the checks off too) and a key between two integer types (error 150), and the
migration failed part way, the key of the first referencing table already dropped. A column of
an index of several columns made unbounded text: MySQL refused the key over it (error 1071).
Every backend now makes the change, keeps every row, key and index, and goes back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Project, backend_name, execute, rows, schema_of

MODELS = """
class City(Model):
    country = fields.ForeignKey("Country", on_delete="cascade")
    name = fields.Text(max_length=50)

class Country(Model):
    num = fields.{key}(primary_key=True)
    name = fields.Text(max_length=50)

class Zone(Model):
    country = fields.ForeignKey("Country", nullable=True, on_delete="set_null")
"""


def _keys(url: str) -> list[tuple]:
    """Each table's foreign keys: (table, columns, target)."""
    return sorted((t, *fk) for t, info in schema_of(url).items() for fk in info["fks"])


def test_a_referenced_primary_key_is_widened_and_back(any_project: Project) -> None:
    # City's table sorts before Country's and Zone's after: the key columns change on both
    # sides of the key's own change.
    p, url = any_project, any_project.database
    p.models(MODELS.format(key="Integer"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url,
        "INSERT INTO country (num, name) VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO city (country, name) VALUES (1, 'x'), (2, 'y')",
        "INSERT INTO zone (country) VALUES (2), (NULL)",
    )
    keys = _keys(url)
    assert len(keys) == 2, keys
    data = "SELECT c.name, k.name, z.id FROM city c JOIN country k ON k.num = c.country " \
        "LEFT JOIN zone z ON z.country = k.num ORDER BY c.name"  # fmt: skip
    before = rows(url, data)
    p.models(MODELS.format(key="BigInt"))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert _keys(url) == keys
    r = p.run("checkschema")
    assert r.code == 0, r
    # The keys hold: a value past INT's range goes in, and a delete cascades.
    execute(url, "INSERT INTO country (num, name) VALUES (5000000000, 'big')",
            "INSERT INTO city (country, name) VALUES (5000000000, 'z')")  # fmt: skip
    cascade = "DELETE FROM country WHERE num = 5000000000"
    if backend_name(url) == "sqlite":
        execute(url, "PRAGMA foreign_keys = ON", cascade)  # one connection
    else:
        execute(url, cascade)
    assert rows(url, "SELECT count(*) FROM city") == [(2,)]
    first = p.migration_files()[0].removesuffix(".json")
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert _keys(url) == keys
    r = p.run("checkschema")
    assert r.code == 0, r


@pytest.mark.mysql
def test_a_key_the_models_do_not_hold_stops_the_change_clearly(
    tmp_path: Path, mysql_url: str
) -> None:
    """A table of no model references the key: MySQL cannot keep its foreign key across the
    change (its column keeps the old type), so the change stops, naming the key, before any
    of its statements runs."""
    from conftest import make_project

    p = make_project(tmp_path, mysql_url)
    p.models(MODELS.format(key="Integer"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        mysql_url,
        "CREATE TABLE legacy (id INT PRIMARY KEY, country INT, CONSTRAINT legacy_country_fk "
        "FOREIGN KEY (country) REFERENCES country (num))",
    )
    p.models(MODELS.format(key="BigInt"))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 1, r
    assert (
        "cannot change the type of `country.num`: the foreign key `legacy_country_fk` of "
        "`legacy.country` references it, and the models of this migration do not change that "
        "column with it"
    ) in r.stderr, r
    assert ("legacy", ("country",), "country") in _keys(mysql_url)


INDEXED = """
class Post(Model, indexes=[("status", "headline")], unique_together=[("headline", "status")]):
    status = fields.Text(max_length=20)
    headline = fields.Text({length})
    body = fields.Text({length}index=True)
"""


def test_a_column_in_indexes_becomes_unbounded_text_and_back(any_project: Project) -> None:
    """MySQL refused to make a column of a key of several columns LONGTEXT (error 1071): the
    migration could never apply. Its indexes are made again over the new type."""
    p, url = any_project, any_project.database
    p.models(INDEXED.format(length="max_length=100, "))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url, "INSERT INTO post (status, headline, body) VALUES ('a', 'b', 'c'), ('a', 'x', 'y')"
    )
    data = "SELECT status, headline, body FROM post ORDER BY id"
    before = rows(url, data)
    indexes = sorted((cols, unique) for _, cols, unique in schema_of(url)["post"]["indexes"])
    p.models(INDEXED.format(length=""))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert sorted((c, u) for _, c, u in schema_of(url)["post"]["indexes"]) == indexes
    assert p.run("checkschema").code == 0
    first = p.migration_files()[0].removesuffix(".json")
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert p.run("checkschema").code == 0
