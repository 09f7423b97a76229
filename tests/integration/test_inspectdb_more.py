"""inspectdb on what other tools write beside plain tables: partial and descending indexes,
generated columns, table comments, named unique constraints, and other tools' bookkeeping
tables left out with --exclude / --include. Each is read, said on stderr, and survives the
migrations umbral makes afterwards."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from test_inspectdb import adopt_config, assert_round_trip

from conftest import Project, backend_name, execute, make_project, rows

WARN = "warning: umbral inspectdb: "


#: An auto-numbered primary key as another tool writes it (MySQL's SERIAL adds a UNIQUE).
SERIAL_PK = {
    "sqlite": "INTEGER PRIMARY KEY",
    "postgres": "SERIAL PRIMARY KEY",
    "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY",
}


def _indexes_on(url: str, table: str, column: str) -> list[str]:
    """Names of the indexes of ``table`` whose first column is ``column``."""
    if url.startswith("sqlite"):
        names = [r[1] for r in rows(url, f"PRAGMA index_list({table})")]
        return sorted(n for n in names if rows(url, f"PRAGMA index_info({n})")[0][2] == column)
    if backend_name(url) == "mysql":
        return sorted(
            r[0]
            for r in rows(
                url,
                "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
                f"DATABASE() AND TABLE_NAME = '{table}' AND SEQ_IN_INDEX = 1 "
                f"AND COLUMN_NAME = '{column}'",
            )
        )
    return sorted(
        r[0]
        for r in rows(
            url,
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_attribute a ON a.attrelid = t.oid "
            f"AND a.attnum = x.indkey[0] WHERE t.relname = '{table}' AND a.attname = '{column}'",
        )
    )


def _change(p: Project, old: str, new: str) -> None:
    text = (p.root / "legacy" / "models.py").read_text()
    assert old in text, (old, text)
    p.write("legacy/models.py", text.replace(old, new))


def test_partial_index_is_read_and_warned(any_project: Project) -> None:
    """django-allauth's `account_emailaddress` has two partial unique indexes: inspectdb
    crashed on SQLite reading them."""
    p, url = any_project, any_project.database
    if backend_name(url) == "mysql":
        pytest.skip("MySQL and MariaDB have no partial (WHERE) index")
    serial = "INTEGER PRIMARY KEY" if url.startswith("sqlite") else "SERIAL PRIMARY KEY"
    execute(
        url,
        f"CREATE TABLE email (id {serial}, address VARCHAR(254) NOT NULL, "
        "verified BOOLEAN NOT NULL, label TEXT NOT NULL)",
        'CREATE UNIQUE INDEX unique_verified_email ON email (address) WHERE "verified"',
        "INSERT INTO email (address, verified, label) VALUES ('a@x', TRUE, 'a')",
    )
    adopt_config(p)

    r = p.run("inspectdb", "--output", "legacy")

    assert r.code == 0, r
    warning = next(line for line in r.err_lines if "unique_verified_email" in line)
    assert warning.startswith(f"{WARN}email: unique index unique_verified_email is partial (WHERE ")
    assert "verified" in warning and "stays in the database" in warning, warning
    models = (p.root / "legacy" / "models.py").read_text()
    assert "    address = fields.Text(max_length=254)\n" in models  # not unique: partial
    assert_round_trip(p)

    # A change that rebuilds the table on SQLite keeps the partial index, once.
    _change(p, "label = fields.Text()", "label = fields.Text(nullable=True)")
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert _indexes_on(url, "email", "address") == ["unique_verified_email"]
    assert rows(url, "SELECT address, label FROM email") == [("a@x", "a")]
    assert p.run("makemigrations", "--check").code == 0


@pytest.mark.parametrize(
    ("definition", "expression"),
    [
        ("total INTEGER GENERATED ALWAYS AS (qty * 2) STORED", "qty * 2"),
        ("total INTEGER AS (abs(qty) + (1)) VIRTUAL", "abs(qty) + (1)"),
        ('"total" TEXT GENERATED ALWAYS AS (lower(name))', "lower(name)"),
    ],
)
def test_sqlite_generated_column_warning_keeps_its_expression(
    project: Project, definition: str, expression: str
) -> None:
    p = project
    execute(
        p.database,
        f"CREATE TABLE part (id INTEGER PRIMARY KEY, qty INTEGER, {definition}, name TEXT, "
        "CHECK (CAST(qty AS INTEGER) >= 0))",
    )
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0, r
    assert f"{WARN}part.total: a generated column (AS ({expression})); the model has a plain " in (
        r.stderr
    ), r
    models = (p.root / "legacy" / "models.py").read_text()
    assert f"    # generated column in the database: AS ({expression})\n" in models


def test_descending_index_is_warned_and_kept_once(any_project: Project) -> None:
    p, url = any_project, any_project.database
    serial = SERIAL_PK[backend_name(url)]
    kind = "kind(50)" if backend_name(url) == "mysql" else "kind"  # unbounded text: a prefix
    execute(
        url,
        f"CREATE TABLE event (id {serial}, at VARCHAR(30) NOT NULL, kind TEXT NOT NULL)",
        "CREATE INDEX event_at_desc ON event (at DESC)",
        f"CREATE INDEX event_kind_at ON event ({kind}, at DESC)",
        "INSERT INTO event (at, kind) VALUES ('2024-01-01', 'x')",
    )
    adopt_config(p)

    r = p.run("inspectdb", "--output", "legacy")

    assert r.code == 0, r
    assert (
        f"{WARN}event: index event_at_desc orders at DESC (umbral indexes use the default order); "
        "umbral models cannot carry it (it stays in the database)"
    ) in r.err_lines, r
    assert f"{WARN}event: index event_kind_at orders at DESC" in r.stderr, r
    models = (p.root / "legacy" / "models.py").read_text()
    assert "    at = fields.Text(max_length=30)\n" in models  # no index=True
    assert "indexes=" not in models
    assert_round_trip(p)

    # A nullability flip (a rebuild on SQLite) leaves the descending index the only one.
    _change(p, "at = fields.Text(max_length=30)", "at = fields.Text(max_length=30, nullable=True)")
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert _indexes_on(url, "event", "at") == ["event_at_desc"]
    assert _indexes_on(url, "event", "kind") == ["event_kind_at"]
    assert rows(url, "SELECT at, kind FROM event") == [("2024-01-01", "x")]
    assert p.run("makemigrations", "--check").code == 0


@pytest.mark.postgres
def test_postgres_table_comment_is_warned(postgres_url: str, tmp_path: Path) -> None:
    p = make_project(tmp_path, postgres_url)
    execute(
        postgres_url,
        "CREATE TABLE shelf (id SERIAL PRIMARY KEY, label TEXT NOT NULL)",
        "COMMENT ON TABLE shelf IS 'Where books\nare kept'",
        "COMMENT ON COLUMN shelf.label IS 'printed on the shelf'",
    )
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0, r
    assert (
        f"{WARN}shelf: the table comment (Where books are kept) has no umbral equivalent; the "
        "model does not carry it (it stays in the database)"
    ) in r.err_lines, r
    models = (p.root / "legacy" / "models.py").read_text()
    assert "# table comment in the database: Where books are kept\nclass Shelf(Model):" in models
    assert 'label = fields.Text(help="printed on the shelf")' in models


@pytest.mark.mysql
def test_mariadb_current_timestamp_without_precision_is_auto_now_add(
    mysql_url: str, tmp_path: Path
) -> None:
    """MariaDB spells CURRENT_TIMESTAMP and NOW() back as ``current_timestamp()``."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE ev (id INT AUTO_INCREMENT PRIMARY KEY, "
        "a TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
        "b DATETIME NOT NULL DEFAULT NOW(), c DATETIME(3) NOT NULL DEFAULT NOW(3))",
    )
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0, r
    assert WARN not in r.stderr, r
    models = (p.root / "legacy" / "models.py").read_text()
    for line in (
        "    a = fields.Timestamptz(auto_now_add=True)",
        "    b = fields.Timestamp(auto_now_add=True)",
        "    c = fields.Timestamp(auto_now_add=True)",
    ):
        assert line in models, models


#: A default no model can carry (an expression), per backend.
EXPRESSION_DEFAULT = {
    "sqlite": "(lower(hex(randomblob(4))))",
    "postgres": "md5(random()::text)",
    "mysql": "(uuid())",
}


def test_a_default_the_models_cannot_carry_survives_later_changes(any_project: Project) -> None:
    """inspectdb leaves an expression default out of the model (a comment says so); a change
    of that column (made nullable) or of another one (a SQLite rebuild) keeps it."""
    p, url = any_project, any_project.database
    execute(
        url,
        f"CREATE TABLE item (id {SERIAL_PK[backend_name(url)]}, "
        f"code VARCHAR(40) NOT NULL DEFAULT {EXPRESSION_DEFAULT[backend_name(url)]}, "
        "name VARCHAR(20) NOT NULL)",
        "INSERT INTO item (name) VALUES ('a')",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    for old, new in (
        ("name = fields.Text(max_length=20)", "name = fields.Text(max_length=20, nullable=True)"),
        ("code = fields.Text(max_length=40)", "code = fields.Text(max_length=40, nullable=True)"),
    ):
        _change(p, old, new)
        assert p.run("makemigrations").code == 0
        r = p.run("migrate")
        assert r.code == 0, r
        execute(url, f"INSERT INTO item (name) VALUES ('{old[:4]}')")
    codes = rows(url, "SELECT code FROM item ORDER BY id")
    assert len(codes) == 3 and all(code for (code,) in codes), codes
    assert len(set(codes)) == 3  # each row its own value: the expression, not a constant
    assert p.run("checkschema").code == 0


@pytest.mark.postgres
def test_postgres_operator_class_index_is_warned_and_not_drift(
    postgres_url: str, tmp_path: Path
) -> None:
    """Django's `_like` index beside a unique varchar: no model can say it, so it is warned
    about, left in the database, and not reported by checkschema."""
    p = make_project(tmp_path, postgres_url)
    execute(
        postgres_url,
        "CREATE TABLE t (id bigserial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE)",
        "CREATE INDEX t_name_like ON t (name varchar_pattern_ops)",
    )
    adopt_config(p)
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0, r
    assert (
        f"{WARN}t: index t_name_like uses the operator class name varchar_pattern_ops; umbral "
        "models cannot carry it (it stays in the database)"
    ) in r.err_lines, r
    assert_round_trip(p)
    r = p.run("checkschema")
    assert (r.code, r.out_lines[0][:16]) == (0, "No schema drift:"), r


@pytest.mark.mysql
def test_mariadb_keeps_a_column_check_and_default_the_models_do_not_carry(
    mysql_url: str, tmp_path: Path
) -> None:
    """MariaDB's MODIFY COLUMN restates the column: its own CHECK and its expression default
    are both repeated."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE item (id INT AUTO_INCREMENT PRIMARY KEY, "
        "code VARCHAR(40) NOT NULL DEFAULT (uuid()) CHECK (code <> ''))",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    _change(
        p, "code = fields.Text(max_length=40)", "code = fields.Text(max_length=40, nullable=True)"
    )
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    execute(mysql_url, "INSERT INTO item (id) VALUES (1)")
    assert rows(mysql_url, "SELECT LENGTH(code) FROM item") == [(36,)]  # a uuid()
    with pytest.raises(Exception, match="CONSTRAINT"):
        execute(mysql_url, "INSERT INTO item (code) VALUES ('')")


def test_index_names_are_listed_once(any_project: Project) -> None:
    """PostgreSQL reflects a unique constraint twice (the constraint and its index)."""
    p, url = any_project, any_project.database
    serial = SERIAL_PK[backend_name(url)]
    execute(
        url,
        f"CREATE TABLE tag (id {serial}, name VARCHAR(50) NOT NULL, "
        "slug VARCHAR(50) NOT NULL, CONSTRAINT tag_slug_uq UNIQUE (slug))",
        "CREATE UNIQUE INDEX tag_name_uq ON tag (name)",
    )
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0, r
    auto = "sqlite_autoindex_tag_1" if url.startswith("sqlite") else "tag_slug_uq"
    names = ", ".join(sorted([auto, "tag_name_uq"]))
    assert (
        f"{WARN}2 index(es) keep their database names ({names}), not umbral's "
        "idx_/uniq_<table>_<columns>; a migration that drops one finds it by its columns"
    ) in r.err_lines, r
    models = (p.root / "legacy" / "models.py").read_text()
    line = next(x for x in models.splitlines() if x.startswith("# index names kept"))
    assert sorted(line.split(": ", 1)[1].split(", ")) == [*names.split(", ")], models


BOOKKEEPING = [
    "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app VARCHAR(255) NOT NULL, "
    "name VARCHAR(255) NOT NULL)",
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
    "CREATE TABLE shop_item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE shop_order (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES shop_item (id))",
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT)",
    "CREATE VIEW shop_names AS SELECT name FROM shop_item",
]


def test_bookkeeping_tables_are_adopted_with_a_hint(any_project: Project) -> None:
    """Nothing is left out unless asked (docs/decisions.md): the hint names the flag."""
    p = any_project
    execute(p.database, *BOOKKEEPING)
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0, r
    assert r.out_lines[0] == "Inspected 5 table(s), 10 column(s)", r
    assert (
        f"{WARN}`django_migrations` is Django's migration bookkeeping, adopted as a model like "
        "any table; --exclude django_migrations leaves it out"
    ) in r.err_lines, r
    assert f"{WARN}`alembic_version` is Alembic's migration bookkeeping" in r.stderr
    assert "class DjangoMigrations(Model):" in (p.root / "legacy" / "models.py").read_text()


def test_exclude_and_include_patterns(any_project: Project) -> None:
    p = any_project
    execute(p.database, *BOOKKEEPING)
    adopt_config(p)

    r = p.run(
        "inspectdb", "--output", "legacy", "--exclude", "django_migrations",
        "--exclude", "alembic_*", "--exclude", "typo_*",
    )  # fmt: skip

    assert r.code == 0, r
    assert r.out_lines[0] == "Inspected 3 table(s), 6 column(s)", r
    assert "bookkeeping" not in r.stderr
    assert f"{WARN}--exclude 'typo_*' matches no table" in r.err_lines, r
    models = (p.root / "legacy" / "models.py").read_text()
    assert "DjangoMigrations" not in models and "AlembicVersion" not in models
    assert "class ShopItem(Model):" in models and "class Audit(Model):" in models
    assert_round_trip(p)
    # The excluded tables are untouched and unknown to the models.
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT count(*) FROM django_migrations") == [(0,)]

    # --include keeps only the matches, then --exclude takes from them; a table whose FK
    # target is left out keeps the column as a plain one, and says so.
    r = p.run("inspectdb", "--output", "second", "--include", "shop_*", "--exclude", "shop_item")
    assert r.code == 0, r
    assert r.out_lines[0] == "Inspected 1 table(s), 2 column(s)", r
    assert f"{WARN}view `shop_names` is not adopted" in r.stderr  # a view matches shop_* too
    text = (p.root / "second" / "models.py").read_text()
    assert "class ShopOrder(Model):" in text and "ShopItem" not in text
    # InnoDB gives every foreign key an index, and the column keeps it.
    index = ", index=True" if backend_name(p.database) == "mysql" else ""
    assert f"    item_id = fields.Integer(nullable=True{index})\n" in text
    assert "the target is not an adopted model" in r.stderr


def test_include_matches_views_and_tables(any_project: Project) -> None:
    p = any_project
    execute(p.database, *BOOKKEEPING)
    r = p.run("inspectdb", "--output", "legacy", "--include", "shop_*", "--include", "nothing")
    assert r.code == 0, r
    assert r.out_lines[0] == "Inspected 2 table(s), 4 column(s)", r
    assert f"{WARN}view `shop_names` is not adopted (umbral view models are by hand)" in (
        r.err_lines
    ), r
    assert f"{WARN}--include 'nothing' matches no table" in r.err_lines, r


def test_include_and_exclude_in_help(project: Project) -> None:
    r = project.run("inspectdb", "--help")
    assert r.code == 0
    assert "--include" in r.stdout and "--exclude" in r.stdout


def test_python_api_takes_patterns(tmp_path: Path, sqlite_url: str) -> None:
    from umbral import App

    execute(sqlite_url, *BOOKKEEPING)
    result = App(database=sqlite_url, root=tmp_path).inspectdb(
        "out", include=["shop_*", "audit"], exclude=["shop_order"]
    )
    assert (result.tables, result.columns) == (2, 4)
    models = (tmp_path / "out" / "models.py").read_text()
    assert "class ShopItem(Model):" in models and "class Audit(Model):" in models
    assert "ShopOrder" not in models


@pytest.mark.mysql
def test_mysql_keeps_an_adopted_columns_type_when_a_change_leaves_it(
    mysql_url: str, tmp_path: Path
) -> None:
    """MODIFY COLUMN restates a column's whole definition: a change of nullability, default
    or comment on an adopted ``DECIMAL(10,2)``, ``CHAR(2)`` or ``INT UNSIGNED`` column made it
    the models' type (``DECIMAL(65,30)``, ``VARCHAR(2)``, ``INT``: 9.99 read back as
    9.990000000000000000000000000000, and 4000000000 refused part way through)."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE item (id BIGINT AUTO_INCREMENT PRIMARY KEY, price DECIMAL(10,2) NOT NULL, "
        "code CHAR(2) NOT NULL DEFAULT 'US', n INT UNSIGNED NOT NULL)",
        "INSERT INTO item (price, code, n) VALUES (9.99, 'DE', 4000000000)",
    )
    adopt_config(p)
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0, r
    # A signed column could not hold 4000000000: the user is told, as for DECIMAL(10,2).
    [unsigned] = [line for line in r.err_lines if "item.n:" in line]
    assert unsigned.endswith(
        "unsigned is unsigned, which umbral's Integer does not carry (the column keeps it; a "
        "database built from the migrations has a signed column, and a change of the field's "
        "type makes it signed)"
    ), r
    assert_round_trip(p)
    types = (
        "SELECT column_name, column_type FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = 'item' ORDER BY ordinal_position"
    )
    before = rows(mysql_url, types)
    _change(p, "price = fields.Decimal()", "price = fields.Decimal(nullable=True)")
    _change(p, 'default="US"', 'default="FR"')
    _change(p, "n = fields.Integer()", 'n = fields.Integer(help="units")')
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(mysql_url, types) == before
    assert rows(mysql_url, "SELECT price, code, n FROM item") == [
        (Decimal("9.99"), "DE", 4000000000)
    ]
    assert rows(mysql_url, "SELECT column_default FROM information_schema.columns WHERE "
                "table_schema = DATABASE() AND column_name = 'code'") == [("'FR'",)]  # fmt: skip
    assert p.run("checkschema").code == 0


@pytest.mark.mysql
def test_mysql_indexes_an_adopted_enum_or_char_column_the_models_call_text(
    mysql_url: str, tmp_path: Path
) -> None:
    """Models written by hand for an existing table may call an ``ENUM``, ``SET`` or
    ``CHAR(2)`` column unbounded text, whose plain index gets a prefix of 191 characters:
    MySQL refuses a prefix on an ENUM or SET, or one longer than the column (error 1089), so
    ``index=True`` on one failed at migrate, part way. The prefix is left out where the column
    the database has takes none."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE item (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "status ENUM('new', 'done') NOT NULL, tags SET('a', 'b') NOT NULL, "
        "code CHAR(2) NOT NULL, note LONGTEXT NOT NULL, word VARCHAR(300) NOT NULL)",
        "INSERT INTO item (status, tags, code, note, word) VALUES ('done', 'a,b', 'DE', 'x', 'y')",
    )
    names = ("status", "tags", "code", "note", "word")
    body = 'class Item(Model, table="item"):\n' + "".join(
        f"    {n} = fields.Text({{}})\n" for n in names
    )
    p.models(body.replace("{}", ""))
    assert p.run("makemigrations").code == 0
    # --fake-initial refuses the ENUM and SET as not Text: the user records it by hand.
    first = p.migration_files()[0].removesuffix(".json")
    assert p.run("migrate", "--fake", f"app/{first}").code == 0
    p.models(body.replace("{}", "index=True"))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    indexes = (
        "SELECT column_name, sub_part FROM information_schema.statistics WHERE "
        "table_schema = DATABASE() AND table_name = 'item' AND index_name <> 'PRIMARY' "
        "ORDER BY column_name"
    )
    assert rows(mysql_url, indexes) == [
        ("code", None), ("note", 191), ("status", None), ("tags", None), ("word", 191)
    ]  # fmt: skip
    assert rows(mysql_url, "SELECT status, tags, code FROM item") == [("done", "a,b", "DE")]
    # And back: the indexes go, whatever their key parts.
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert rows(mysql_url, indexes) == []


_COLLATIONS = (
    "SELECT table_name, column_name, character_set_name, collation_name, column_type "
    "FROM information_schema.columns WHERE table_schema = DATABASE() "
    "AND table_name IN ('person', 'tag') AND collation_name IS NOT NULL "
    "ORDER BY table_name, ordinal_position"
)


@pytest.mark.mysql
def test_mysql_keeps_an_adopted_columns_collation_through_a_modify(
    mysql_url: str, tmp_path: Path
) -> None:
    """MODIFY COLUMN restates the column: without its CHARACTER SET and COLLATE it took the
    table's default, so widening an adopted ``utf8mb4_unicode_ci`` or ``latin1`` column
    changed how it compares (``latin1`` was converted), and widening a ``utf8mb4_bin`` column
    under a unique key holding 'a' and 'A' failed on a case-blind table default (1062)."""
    p = make_project(tmp_path, mysql_url)
    ci = "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
    execute(
        mysql_url,
        "CREATE TABLE person (id INT AUTO_INCREMENT PRIMARY KEY, "
        "name VARCHAR(50) COLLATE utf8mb4_unicode_ci NOT NULL, "
        f"code VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL) {ci}",
        "CREATE TABLE tag (id INT AUTO_INCREMENT PRIMARY KEY, "
        "label VARCHAR(10) COLLATE utf8mb4_bin NOT NULL, "
        f"CONSTRAINT tag_label_uq UNIQUE (label)) {ci}",
        "INSERT INTO person (name, code) VALUES ('Åsa', 'é')",
        "INSERT INTO tag (label) VALUES ('a'), ('A')",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    before = [(t, c, s, co) for t, c, s, co, _ in rows(mysql_url, _COLLATIONS)]
    _change(p, "max_length=50", "max_length=80")  # a type change
    _change(p, "max_length=10)", "max_length=20, nullable=True)")  # with nullability
    _change(p, "label = fields.Text(max_length=10", "label = fields.Text(max_length=20")
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    after = rows(mysql_url, _COLLATIONS)
    assert [(t, c, s, co) for t, c, s, co, _ in after] == before
    assert [t for *_, t in after] == ["varchar(80)", "varchar(20)", "varchar(20)"]
    assert rows(mysql_url, "SELECT name, code FROM person") == [("Åsa", "é")]
    # A change that keeps the type (a comment) keeps them too.
    _change(p, "max_length=80", 'max_length=80, help="the name"')
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert [(t, c, s, co) for t, c, s, co, _ in rows(mysql_url, _COLLATIONS)] == before


@pytest.mark.mysql
def test_mysql_keeps_an_adopted_generated_column_through_a_modify(
    mysql_url: str, tmp_path: Path
) -> None:
    """A MODIFY that leaves out a generated column's ``AS (…) VIRTUAL|STORED`` is refused
    (1907): a comment on an adopted ``total … AS (price * qty) VIRTUAL`` failed part way.
    The clause is restated; a default or NOT NULL, which MariaDB's generated columns cannot
    have, is refused before the change runs, naming the column and what to do."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE line (id INT AUTO_INCREMENT PRIMARY KEY, price DECIMAL(10,2) NOT NULL, "
        "qty INT NOT NULL, total DECIMAL(12,2) AS (price * qty) VIRTUAL, "
        "kept DECIMAL(12,2) AS (price * qty) STORED)",
        "INSERT INTO line (price, qty) VALUES (2.50, 4)",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    _change(
        p,
        "total = fields.Decimal(nullable=True",
        'total = fields.Decimal(help="sum", nullable=True',
    )
    _change(
        p,
        "kept = fields.Decimal(nullable=True",
        'kept = fields.Decimal(help="stored", nullable=True',
    )
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    columns = (
        "SELECT column_name, column_type, extra, generation_expression, column_comment "
        "FROM information_schema.columns WHERE table_schema = DATABASE() "
        "AND table_name = 'line' AND column_name IN ('total', 'kept') ORDER BY 1"
    )
    found = [(*r[:3], r[3].replace('"', "`"), r[4]) for r in rows(mysql_url, columns)]
    assert found == [  # the quotes of the reading session's sql_mode (ANSI here)
        ("kept", "decimal(12,2)", "STORED GENERATED", "`price` * `qty`", "stored"),
        ("total", "decimal(12,2)", "VIRTUAL GENERATED", "`price` * `qty`", "sum"),
    ]
    execute(mysql_url, "UPDATE line SET qty = 5")
    assert rows(mysql_url, "SELECT total, kept FROM line") == [(Decimal("12.50"),) * 2]
    # A default cannot be expressed: refused before the migration's first statement, also
    # where an earlier change of the migration (`price` made nullable) would run first.
    _change(p, 'help="sum"', 'help="sum", default=0')
    text = (p.root / "legacy" / "models.py").read_text()
    p.write(
        "legacy/models.py",
        text.replace("price = fields.Decimal(", "price = fields.Decimal(nullable=True, ", 1),
    )
    assert p.run("makemigrations").code == 0
    made = sorted((p.root / "legacy" / "migrations" / "app").glob("*.json"))[-1]
    name = made.stem
    ops = json.loads(made.read_text())["operations"]
    assert [(o["kind"], o["column"]) for o in ops] == [
        ("AlterColumn", "price"),
        ("AlterColumn", "total"),
    ]
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #2 (AlterColumn) cannot give the generated "
        "column `line.total` (AS (`price` * `qty`)) a default: the database computes its "
        "value; remove the field's default and make the migration again (the file holds the "
        "change too: delete it and run makemigrations, or edit it), then run migrate; nothing "
        "of it was run"
    ], r
    assert "Traceback" not in r.stderr
    assert rows(mysql_url, columns)[1][2] == "VIRTUAL GENERATED"
    nullable = (
        "SELECT is_nullable FROM information_schema.columns WHERE table_schema = "
        "DATABASE() AND table_name = 'line' AND column_name = 'price'"
    )
    assert rows(mysql_url, nullable) == [("NO",)]  # the first statement did not run
    applied = [line.strip() for line in p.run("showmigrations").out_lines]
    assert f"[ ] app/{name}" in applied, applied
    assert rows(mysql_url, f"SELECT count(*) FROM umbral_migrations WHERE name = '{name}'") == [
        (0,)
    ]


@pytest.mark.mysql
def test_mysql_fill_of_nulls_keeps_on_update_timestamps(mysql_url: str, tmp_path: Path) -> None:
    """Making a column NOT NULL fills its NULLs with an UPDATE, which bumped an adopted
    ``changed_at … ON UPDATE CURRENT_TIMESTAMP`` of every filled row to now."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE person (id INT AUTO_INCREMENT PRIMARY KEY, nick VARCHAR(20) NULL, "
        "changed_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)",
        "INSERT INTO person (nick, changed_at) VALUES (NULL, '2001-02-03 04:05:06'), "
        "('bo', '2002-02-03 04:05:06')",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    _change(p, "nick = fields.Text(nullable=True", 'nick = fields.Text(default=""')
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(mysql_url, "SELECT nick, CAST(changed_at AS CHAR) FROM person ORDER BY id") == [
        ("", "2001-02-03 04:05:06"),
        ("bo", "2002-02-03 04:05:06"),
    ]
    # The column keeps its ON UPDATE for the application's own updates.
    extra = rows(mysql_url, "SELECT extra FROM information_schema.columns WHERE "
                 "table_schema = DATABASE() AND column_name = 'changed_at'")  # fmt: skip
    assert "on update" in extra[0][0].lower()


@pytest.mark.mysql
def test_mysql_a_comment_keeps_the_columns_default_and_on_update(
    mysql_url: str, tmp_path: Path
) -> None:
    """``help=`` on an adopted column restates it with MODIFY: the default the models cannot
    say (``uuid()``), and every ON UPDATE (also beside a default the models do say), were
    dropped, and the application's next insert failed."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, "
        "changed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, "
        "token VARCHAR(40) NOT NULL DEFAULT (uuid()), "
        "upd DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP, "
        "touched DATETIME NULL ON UPDATE CURRENT_TIMESTAMP)",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    before = _column_facts(mysql_url, "t")
    text = (p.root / "legacy" / "models.py").read_text()
    for name in ("changed_at", "token", "upd", "touched"):
        text, n = re.subn(rf"(\n    {name} = fields\.\w+\()", rf'\1help="{name}", ', text)
        assert n == 1, (name, text)
    p.write("legacy/models.py", text)
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    after = _column_facts(mysql_url, "t")
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
    assert [after[k][2] for k in ("changed_at", "token", "upd", "touched")] == [
        "changed_at", "token", "upd", "touched",
    ]  # fmt: skip
    execute(mysql_url, "INSERT INTO t () VALUES ()")  # every NOT NULL column has its default


def _column_facts(url: str, table: str) -> dict[str, tuple]:
    """Each column's default and EXTRA (ON UPDATE), and its comment."""
    found = rows(
        url,
        "SELECT column_name, column_default, extra, column_comment FROM information_schema.columns "
        f"WHERE table_schema = DATABASE() AND table_name = '{table}'",
    )
    return {name: (default, extra, comment) for name, default, extra, comment in found}


@pytest.mark.mysql
def test_mysql_a_renamed_columns_check_is_kept_by_a_later_modify(
    mysql_url: str, tmp_path: Path
) -> None:
    """MariaDB keeps a column's CHECK under the name of the column it was written on: after a
    rename, a MODIFY looking it up by the column's new name dropped it (an adopted ``qty >= 0``;
    the ``json_valid`` of a ``Json`` column umbral made)."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, "
        "qty INT NOT NULL DEFAULT 0 CHECK (qty >= 0), doc JSON NULL)",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    text = (p.root / "legacy" / "models.py").read_text()
    assert "\n    qty = fields." in text and "\n    doc = fields.Json(" in text, text
    p.write("legacy/models.py", text.replace("\n    qty = ", "\n    quantity = ").replace(
        "\n    doc = ", "\n    payload = "))  # fmt: skip
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0, "rename"
    text = (p.root / "legacy" / "models.py").read_text()
    text = re.sub(r"(\n    quantity = fields\.\w+\()", r'\1help="q", ', text)
    p.write("legacy/models.py", re.sub(r"(\n    payload = fields\.Json\()", r'\1help="p", ', text))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert _refused(mysql_url, "INSERT INTO t (quantity) VALUES (-5)")
    assert _refused(mysql_url, "INSERT INTO t (quantity, payload) VALUES (1, 'not json')")
    execute(mysql_url, "INSERT INTO t (quantity, payload) VALUES (1, '{}')")


def _refused(url: str, statement: str) -> bool:
    try:
        execute(url, statement)
    except Exception as exc:  # PyMySQL's OperationalError 4025 (CONSTRAINT failed)
        return "constraint" in str(exc).lower()
    return False


@pytest.mark.mysql
def test_mysql_a_type_change_keeps_an_expression_default(mysql_url: str, tmp_path: Path) -> None:
    """An adopted ``DEFAULT (uuid())`` (the models cannot say it) stays when the column's type
    changes within its kind (a wider VARCHAR, LONGTEXT, INT to BIGINT): the MODIFY dropped it,
    and the next insert got NULL. Found by the wide property test's adopted schemas."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, "
        "token VARCHAR(36) NULL DEFAULT (uuid()), code VARCHAR(36) NULL DEFAULT (uuid()), "
        "n INT NULL DEFAULT (length(uuid())))",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    text = (p.root / "legacy" / "models.py").read_text()
    text, k = re.subn(r"(\n    token = fields\.Text\(.*)max_length=36", r"\1max_length=60", text)
    assert k == 1, text
    text, k = re.subn(r"(\n    code = fields\.Text\(.*), max_length=36", r"\1", text)
    assert k == 1, text
    text, k = re.subn(r"(\n    n = fields\.)Integer\(", r"\1BigInt(", text)
    assert k == 1, text
    p.write("legacy/models.py", text)
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    facts = _column_facts(mysql_url, "t")
    assert [facts[c][0] for c in ("token", "code", "n")] == [
        "uuid()", "uuid()", "octet_length(uuid())",
    ], facts  # fmt: skip
    execute(mysql_url, "INSERT INTO t () VALUES ()")
    assert None not in rows(mysql_url, "SELECT token, code, n FROM t")[0]
