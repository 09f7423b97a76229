"""inspectdb refusals (SPEC §11, §12): each one's message and exit code, and that nothing was
written — neither the output directory nor the source database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_inspectdb import adopt_config, fingerprint

from conftest import Project, execute, is_mysql, rows, run_umbral


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_unsupported_type_names_column_and_type(any_project: Project) -> None:
    p = any_project
    sqlite = p.database.startswith("sqlite")
    # A type umbral has no field for: MariaDB's INET6 for PostgreSQL's inet.
    kind = "GEOMETRY" if sqlite else "inet6" if is_mysql(p.database) else "inet"
    execute(
        p.database,
        "CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        f"CREATE TABLE site (id INTEGER PRIMARY KEY, address {kind}, shape {kind})",
    )
    before = fingerprint(p.database)
    r = p.run("inspectdb", p.database, "--output", "legacy")
    assert r.code == 1, r
    assert r.err_lines[0] == (
        f"error: umbral inspectdb: cannot map column `site.address` of type `{kind}` to an "
        "umbral field type; nothing was written"
    ), r
    assert f"  site.shape: {kind}" in r.err_lines  # every offending column is listed
    assert r.stdout == ""
    assert files_under(p.root / "legacy") == []
    assert fingerprint(p.database) == before


@pytest.mark.parametrize("content", ["nothing", "tracking table only"])
def test_empty_database(project: Project, tmp_path: Path, content: str) -> None:
    db = tmp_path / "empty.sqlite3"
    conn = sqlite3.connect(db)
    if content != "nothing":  # umbral's own table is not the user's schema
        conn.execute("CREATE TABLE umbral_migrations (plugin TEXT, name TEXT)")
    conn.commit()
    conn.close()
    r = run_umbral("inspectdb", str(db), "--output", "legacy", cwd=tmp_path)
    assert (r.code, r.out_lines, r.stderr) == (0, ["no tables found in the database"], ""), r
    assert not (tmp_path / "legacy").exists()


def test_empty_postgres_database(postgres_url: str, tmp_path: Path) -> None:
    r = run_umbral("inspectdb", postgres_url, "--output", "legacy", cwd=tmp_path)
    assert (r.code, r.out_lines) == (0, ["no tables found in the database"]), r
    assert not (tmp_path / "legacy").exists()


def test_missing_output_is_a_usage_error(project: Project) -> None:
    execute(project.database, "CREATE TABLE author (id INTEGER PRIMARY KEY)")
    before = project.tree()
    r = project.run("inspectdb", project.database)
    assert r.code == 2, r
    assert "--output" in r.stderr
    assert project.tree() == before


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite3"
    r = run_umbral("inspectdb", str(missing), "--output", "legacy", cwd=tmp_path)
    assert r.code == 1, r
    assert r.err_lines[0].startswith("error: umbral inspectdb: cannot connect to database "), r
    assert f"no SQLite database file at {missing}" in r.stderr
    assert "Traceback" not in r.stderr
    assert not missing.exists()
    assert files_under(tmp_path) == []


@pytest.mark.postgres
def test_unreachable_postgres(tmp_path: Path, postgres_url: str) -> None:
    url = "postgresql://postgres:secret@127.0.0.1:1/nowhere"
    r = run_umbral("inspectdb", url, "--output", "legacy", cwd=tmp_path)
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral inspectdb: cannot connect to database postgresql://postgres:***@"
    ), r
    assert "secret" not in r.stderr  # passwords never appear in output (SPEC §3)
    assert files_under(tmp_path) == []


def test_composite_primary_key_is_refused(project: Project) -> None:
    execute(
        project.database,
        "CREATE TABLE stock (shop TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER, "
        "PRIMARY KEY (shop, sku))",
    )
    before = project.tree()
    r = project.run("inspectdb", "--output", "legacy")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral inspectdb: table `stock` has a composite primary key (shop, sku); "
    ), r
    assert project.tree() == before


def test_table_without_primary_key_is_refused(project: Project) -> None:
    execute(project.database, "CREATE TABLE log (line TEXT)")
    r = project.run("inspectdb", "--output", "legacy")
    assert r.code == 1, r
    assert "table `log` has no primary key" in r.stderr
    assert not (project.root / "legacy").exists()


def test_never_overwrites_existing_files(project: Project) -> None:
    execute(project.database, "CREATE TABLE author (id INTEGER PRIMARY KEY)")
    project.write("legacy/models.py", "# hand-written\n")
    r = project.run("inspectdb", "--output", "legacy")
    assert r.code == 1, r
    assert "legacy/models.py already exists" in r.stderr
    assert (project.root / "legacy" / "models.py").read_text() == "# hand-written\n"
    assert not (project.root / "legacy" / "migrations").exists()


def test_plugin_and_mark_applied(project: Project) -> None:
    """--plugin writes a plugin module; --mark-applied records its initial migration."""
    p = project
    execute(
        p.database,
        "CREATE TABLE shop_product (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        "CREATE TABLE item (id INTEGER PRIMARY KEY, "
        "product_id INTEGER NOT NULL REFERENCES shop_product (id) ON DELETE RESTRICT)",
    )
    r = p.run("inspectdb", "--output", "legacy", "--plugin", "shop", "--mark-applied")
    assert r.code == 0, r
    assert r.out_lines == [
        "Inspected 2 table(s), 4 column(s)",
        "Wrote legacy/models.py",
        "Wrote legacy/migrations/shop/0001_initial.json",
        "Marked shop/0001_initial as applied (no SQL executed)",
    ]
    text = (p.root / "legacy" / "models.py").read_text()
    # `shop_product` round-trips through the plugin prefix; `item` needs an explicit table.
    assert 'class Product(Model, plugin="shop"):\n' in text
    assert 'class Item(Model, plugin="shop", table="item"):\n' in text
    assert '    product_id = fields.ForeignKey(Product, on_delete="restrict")\n' in text
    assert rows(p.database, "SELECT plugin, name FROM umbral_migrations") == [
        ("shop", "0001_initial")
    ]
    adopt_config(p, models=[], plugins=["shop"], plugin_modules={"shop": "legacy.models"})
    r = p.run("showmigrations")
    assert r.out_lines == ["# plugin: shop", "[X] shop/0001_initial"], r
    assert p.run("makemigrations").out_lines == ["no changes detected"]
    assert p.run("migrate").out_lines == ["No pending migrations"]

    # Marking twice would record a second, different initial migration: refused up front.
    r = p.run("inspectdb", "--output", "again", "--plugin", "shop", "--mark-applied")
    assert r.code == 1, r
    assert "already records shop/0001_initial" in r.stderr
    assert not (p.root / "again").exists()
