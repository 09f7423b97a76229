"""inspectdb (SPEC §11): adopt a database built with plain SQL, or by umbral itself, on SQLite
and PostgreSQL — inspectdb, then `makemigrations` reports no changes, `migrate --fake-initial`
records the initial migration, and a model change applies cleanly to the adopted database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import (
    Project,
    backend_name,
    execute,
    is_mysql,
    rows,
    schema_of,
    sqlite_path,
)

# Every field type of SPEC §2, FKs with actions, a non-`id` text primary key, unique and plain
# indexes (single and composite), a composite unique constraint, defaults (literal, quoted,
# CURRENT_TIMESTAMP) and a two-FK junction table. SQLite spells the FK actions inline, which
# SQLAlchemy's reflection loses, and `email` has an inline UNIQUE after a parenthesised type,
# which it misses too (tech notes §3.1).
SQLITE_SCHEMA = [
    """CREATE TABLE author (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name VARCHAR(100) NOT NULL,
        email VARCHAR(200) NOT NULL UNIQUE,
        bio TEXT,
        age SMALLINT,
        visits INTEGER NOT NULL DEFAULT 0,
        big BIGINT DEFAULT -5,
        score REAL DEFAULT 1.5,
        ratio DOUBLE PRECISION,
        active BOOLEAN NOT NULL DEFAULT 1,
        born DATE,
        wakes TIME,
        seen TIMESTAMP,
        joined TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
        token UUID,
        prefs JSON DEFAULT '{"a": [1, 2]}',
        avatar BLOB,
        balance DECIMAL(10, 2) DEFAULT '0.50',
        "class" TEXT DEFAULT 'it''s'
    )""",
    "CREATE TABLE tag (code VARCHAR(20) PRIMARY KEY, label TEXT NOT NULL DEFAULT 'untitled')",
    """CREATE TABLE post (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL REFERENCES author (id) ON DELETE CASCADE,
        editor_id INTEGER REFERENCES author (id) ON DELETE SET NULL ON UPDATE CASCADE,
        slug VARCHAR(50) NOT NULL,
        title TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'draft',
        created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
        UNIQUE (author_id, slug)
    )""",
    "CREATE INDEX post_status_idx ON post (status)",
    "CREATE UNIQUE INDEX post_title_key ON post (title)",
    "CREATE INDEX post_slug_created ON post (slug, created_at)",
    """CREATE TABLE post_tags (
        post_id INTEGER NOT NULL REFERENCES post (id) ON DELETE CASCADE,
        tag_id VARCHAR(20) NOT NULL REFERENCES tag (code) ON DELETE CASCADE,
        PRIMARY KEY (post_id, tag_id)
    )""",
]

POSTGRES_SCHEMA = [
    """CREATE TABLE author (
        id BIGSERIAL PRIMARY KEY,
        name VARCHAR(100) NOT NULL,
        email VARCHAR(200) NOT NULL UNIQUE,
        bio TEXT,
        age SMALLINT,
        visits INTEGER NOT NULL DEFAULT 0,
        big BIGINT DEFAULT -5,
        score REAL DEFAULT 1.5,
        ratio DOUBLE PRECISION,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        born DATE,
        wakes TIME,
        seen TIMESTAMP,
        joined TIMESTAMPTZ NOT NULL DEFAULT now(),
        token UUID,
        prefs JSONB DEFAULT '{"a": [1, 2]}',
        avatar BYTEA,
        balance NUMERIC(10, 2) DEFAULT 0.50,
        "class" TEXT DEFAULT 'it''s'
    )""",
    "CREATE TABLE tag (code VARCHAR(20) PRIMARY KEY, label TEXT NOT NULL DEFAULT 'untitled')",
    """CREATE TABLE post (
        id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        author_id BIGINT NOT NULL REFERENCES author (id) ON DELETE CASCADE,
        editor_id BIGINT REFERENCES author (id) ON DELETE SET NULL ON UPDATE CASCADE,
        slug VARCHAR(50) NOT NULL,
        title TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'draft',
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT post_author_slug UNIQUE (author_id, slug)
    )""",
    "CREATE INDEX post_status_idx ON post (status)",
    "CREATE UNIQUE INDEX post_title_key ON post (title)",
    "CREATE INDEX post_slug_created ON post (slug, created_at)",
    """CREATE TABLE post_tags (
        post_id INTEGER NOT NULL REFERENCES post (id) ON DELETE CASCADE,
        tag_id VARCHAR(20) NOT NULL REFERENCES tag (code) ON DELETE CASCADE,
        PRIMARY KEY (post_id, tag_id)
    )""",
]

#: The same schema as MySQL and MariaDB write it: foreign keys as table constraints, an index
#: on unbounded text with a prefix, umbral's own spellings of UUID and timestamp with time zone.
MYSQL_SCHEMA = [
    """CREATE TABLE author (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(100) NOT NULL,
        email VARCHAR(200) NOT NULL UNIQUE,
        bio LONGTEXT,
        age SMALLINT,
        visits INTEGER NOT NULL DEFAULT 0,
        big BIGINT DEFAULT -5,
        score FLOAT DEFAULT 1.5,
        ratio DOUBLE,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        born DATE,
        wakes TIME,
        seen DATETIME(6),
        joined TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        token CHAR(36),
        prefs JSON DEFAULT '{"a": [1, 2]}',
        avatar LONGBLOB,
        balance DECIMAL(10, 2) DEFAULT 0.50,
        `class` LONGTEXT DEFAULT 'it''s'
    )""",
    "CREATE TABLE tag (code VARCHAR(20) PRIMARY KEY, label LONGTEXT NOT NULL DEFAULT 'untitled')",
    """CREATE TABLE post (
        id INTEGER AUTO_INCREMENT PRIMARY KEY,
        author_id BIGINT NOT NULL,
        editor_id BIGINT,
        slug VARCHAR(50) NOT NULL,
        title LONGTEXT NOT NULL,
        status LONGTEXT NOT NULL DEFAULT 'draft',
        created_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
        CONSTRAINT post_author_slug UNIQUE (author_id, slug),
        FOREIGN KEY (author_id) REFERENCES author (id) ON DELETE CASCADE,
        FOREIGN KEY (editor_id) REFERENCES author (id) ON DELETE SET NULL ON UPDATE CASCADE
    )""",
    "CREATE INDEX post_status_idx ON post (status(191))",
    "CREATE UNIQUE INDEX post_title_key ON post (title)",
    "CREATE INDEX post_slug_created ON post (slug, created_at)",
    """CREATE TABLE post_tags (
        post_id INTEGER NOT NULL,
        tag_id VARCHAR(20) NOT NULL,
        PRIMARY KEY (post_id, tag_id),
        FOREIGN KEY (post_id) REFERENCES post (id) ON DELETE CASCADE,
        FOREIGN KEY (tag_id) REFERENCES tag (code) ON DELETE CASCADE
    )""",
]

SEED = [
    "INSERT INTO author (name, email) VALUES ('Ada', 'ada@example.com')",
    "INSERT INTO tag (code) VALUES ('py')",
    "INSERT INTO post (author_id, slug, title) VALUES (1, 'hello', 'Hello')",
    "INSERT INTO post_tags (post_id, tag_id) VALUES (1, 'py')",
]

# What the written models must say, per backend: (SQLite, PostgreSQL) spelling where they differ.
EXPECTED_LINES = [
    "class Author(Model):",
    "    name = fields.Text(max_length=100)",
    "    email = fields.Text(max_length=200, unique=True)",
    "    age = fields.SmallInt(nullable=True)",
    "    visits = fields.Integer(default=0)",
    "    big = fields.BigInt(nullable=True, default=-5)",
    "    score = fields.Real(nullable=True, default=1.5)",
    "    ratio = fields.Double(nullable=True)",
    "    active = fields.Boolean(default=True)",
    "    born = fields.Date(nullable=True)",
    "    wakes = fields.Time(nullable=True)",
    "    seen = fields.Timestamp(nullable=True)",
    "    joined = fields.Timestamptz(auto_now_add=True)",
    "    token = fields.Uuid(nullable=True)",
    '    prefs = fields.Json(nullable=True, default={"a": [1, 2]})',
    "    avatar = fields.Bytes(nullable=True)",
    '    balance = fields.Decimal(nullable=True, default="0.50")',
    '    class_ = fields.Text(nullable=True, default="it\'s", column="class")',
    "class Tag(Model):",
    "    code = fields.Text(primary_key=True, max_length=20)",
    '    label = fields.Text(default="untitled")',
    'class Post(Model, unique_together=[("author_id", "slug")], indexes=[("slug", "created_at")]):',
    '    author_id = fields.ForeignKey(Author, on_delete="cascade")',
    '    editor_id = fields.ForeignKey(Author, nullable=True, on_delete="set_null", '
    'on_update="cascade")',
    "    slug = fields.Text(max_length=50)",
    "    title = fields.Text(unique=True)",
    '    status = fields.Text(default="draft", index=True)',
    "    created_at = fields.Timestamp(nullable=True, auto_now_add=True)",
    "    tags = fields.ManyToMany(Tag)",
]


def fingerprint(url: str) -> object:
    """SQLite: the file's bytes. PostgreSQL: every relation outside the system schemas. MySQL:
    every table, view and index of the database."""
    if url.startswith("sqlite"):
        return hashlib.sha256(Path(sqlite_path(url)).read_bytes()).hexdigest()
    if is_mysql(url):  # every table, view and index of the database
        return rows(
            url,
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() UNION ALL "
            "SELECT CONCAT(TABLE_NAME, '.', INDEX_NAME), 'INDEX' "
            "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, 2",
        )
    return rows(
        url,
        "SELECT n.nspname, c.relname, c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2",
    )


def adopt_config(p: Project, **extra: object) -> None:
    """Point the project at the written models and their migrations."""
    p.write_config(**{"models": ["legacy.models"], "migrations": "legacy/migrations", **extra})


def assert_round_trip(p: Project) -> None:
    """makemigrations reports no changes; --fake-initial records exactly the initial migration."""
    r = p.run("makemigrations")
    assert (r.code, r.out_lines) == (0, ["no changes detected"]), r
    r = p.run("migrate", "--fake-initial")
    assert r.code == 0, r
    assert r.out_lines[0] == "Fake-applied initial migration for 1 plugin(s)", r
    assert rows(p.database, "SELECT plugin, name FROM umbral_migrations") == [
        ("app", "0001_initial")
    ]


def test_plain_sql_round_trip(any_project: Project) -> None:
    p = any_project
    sqlite = p.database.startswith("sqlite")
    schema = {"sqlite": SQLITE_SCHEMA, "postgres": POSTGRES_SCHEMA, "mysql": MYSQL_SCHEMA}
    execute(p.database, *schema[backend_name(p.database)], *SEED)
    adopt_config(p)
    before = fingerprint(p.database)

    # The database is named on the command line: no project is needed to read it.
    r = p.run("inspectdb", p.database, "--output", "legacy")
    assert r.code == 0, r
    assert r.out_lines == [
        "Inspected 4 table(s), 30 column(s)",
        "Wrote legacy/models.py",
        "Wrote legacy/migrations/app/0001_initial.json",
    ]
    # Index names are not part of a model: the database keeps its own, and the user is told;
    # so are foreign keys no index starts with (MySQL makes one for them; UNIQUE (author_id,
    # slug) serves author_id), which checkschema reports until they are made.
    unindexed = [] if is_mysql(p.database) else ["post.editor_id"]
    assert len(r.err_lines) == 2 + len(unindexed) and "post_status_idx" in r.stderr, r
    assert "index(es) keep their database names" in r.stderr
    # A database built from the migrations gets the Decimal field's own type.
    [decimal] = [line for line in r.err_lines if "author.balance" in line]
    assert decimal.endswith(
        "has a precision and scale umbral's Decimal does not carry (the column keeps them; a "
        "database built from the migrations does not)"
    ), decimal
    for column in unindexed:
        assert (
            f"warning: umbral inspectdb: {column}: the foreign key has no index; umbral models "
            "index every foreign key, so `umbral checkschema` reports it missing until it is "
            "made (`umbral checkschema --sql` writes it)"
        ) in r.err_lines, r
    assert fingerprint(p.database) == before  # read-only

    text = (p.root / "legacy" / "models.py").read_text()
    for line in EXPECTED_LINES:
        assert line + "\n" in text, (line, text)
    # SQLite's INTEGER PRIMARY KEY is the 64-bit rowid: the implicit `id`. The Postgres post.id
    # is a 32-bit identity column and says so.
    post_id = "    id = fields.Integer(primary_key=True)\n"
    assert (post_id in text) is not sqlite
    assert "post_tags" not in text  # the junction became Post.tags
    # FK targets are defined before the models that reference them.
    assert text.index("class Author") < text.index("class Tag") < text.index("class Post")

    assert_round_trip(p)

    # A model change produces a migration that applies cleanly to the adopted database.
    added = "    subtitle = fields.Text(nullable=True, index=True)\n"
    change = [
        ("    title = fields.Text(unique=True)\n", "    title = fields.Text(unique=True)\n" + added)
    ]
    if sqlite:  # a widening: SQLite rebuilds the table from the adopted snapshot
        change.append(("slug = fields.Text(max_length=50)", "slug = fields.Text(max_length=80)"))
    for old, new in change:
        assert old in text
        text = text.replace(old, new)
    p.write("legacy/models.py", text)
    r = p.run("makemigrations")
    name = "0002_auto" if sqlite else "0002_add_post_subtitle"
    assert r.code == 0 and r.out_lines == [f"Wrote legacy/migrations/app/{name}.json"], r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    post = schema_of(p.database)["post"]
    assert "subtitle" in [c[0] for c in post["columns"]]
    assert ("idx_post_subtitle", ("subtitle",), False) in post["indexes"]
    assert rows(p.database, "SELECT slug, title, subtitle FROM post") == [("hello", "Hello", None)]
    assert rows(p.database, "SELECT post_id, tag_id FROM post_tags") == [(1, "py")]
    r = p.run("makemigrations")
    assert r.out_lines == ["no changes detected"], r


def test_database_created_by_umbral_round_trips(any_project: Project, tmp_path: Path) -> None:
    """umbral's own DDL (AUTOINCREMENT / identity keys, TIMESTAMPTZ, UUID, JSON(B), uniq_/idx_
    indexes, its junction tables) reads back to the same snapshot."""
    p = any_project
    p.models(
        """
        class Author(Model, plugin="app"):
            name = fields.Text(max_length=100, unique=True)
            born = fields.Date(nullable=True)
            wakes = fields.Time(nullable=True)
            seen = fields.Timestamp(nullable=True)
            joined = fields.Timestamptz(auto_now_add=True)
            token = fields.Uuid(nullable=True)
            prefs = fields.Json(default={"k": 1})
            avatar = fields.Bytes(nullable=True)
            balance = fields.Decimal(default="1.25")
            score = fields.Real(default=0.5)
            ratio = fields.Double(nullable=True)
            level = fields.SmallInt(default=1, index=True)
            visits = fields.Integer(default=0)
            big = fields.BigInt(nullable=True)
            active = fields.Boolean(default=False)

        class Tag(Model):
            slug = fields.Text(primary_key=True)

        class Book(Model, unique_together=[("author", "title")], indexes=[("title", "year")]):
            author = fields.ForeignKey(Author, on_delete="cascade")
            title = fields.Text()
            year = fields.Integer(nullable=True)
            tags = fields.ManyToMany(Tag)
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    snapshot = p.load_migration("app", p.migration_files()[0])["snapshot_after"]

    other = Project(tmp_path / "adopted", p.database)
    other.root.mkdir()
    adopt_config(other)
    r = other.run("inspectdb", "--output", "legacy")  # the project's configured database
    assert r.code == 0, r
    assert r.out_lines[0] == "Inspected 4 table(s), 23 column(s)", r
    written = json.loads((other.root / "legacy/migrations/app/0001_initial.json").read_text())
    assert written["snapshot_after"] == snapshot
    r = other.run("makemigrations")
    assert (r.code, r.out_lines) == (0, ["no changes detected"]), r


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INTEGER", ("Integer", None)),
        ("integer unsigned", ("Integer", None)),
        ("int4", ("Integer", None)),
        ("smallint unsigned", ("SmallInt", None)),
        ("int8", ("BigInt", None)),
        ("float4", ("Real", None)),
        ("double precision", ("Double", None)),
        ("bool", ("Boolean", None)),
        ("varchar(150)", ("Text", 150)),
        ("character varying(40)", ("Text", 40)),
        ("character varying", ("Text", None)),
        ("char(32)", ("Text", 32)),
        ("datetime", ("Timestamp", None)),
        ("timestamp(6) without time zone", ("Timestamp", None)),
        ("timestamp with time zone", ("Timestamptz", None)),
        ("time with time zone", ("Time", None)),
        ("jsonb", ("Json", None)),
        ("bytea", ("Bytes", None)),
        ("numeric(10,2)", ("Decimal", None)),
        ("decimal", ("Decimal", None)),
        ("uuid", ("Uuid", None)),
        ("integer[]", None),
        ("inet", None),
        ("GEOMETRY", None),
        ("", None),
    ],
)
def test_type_map(declared: str, expected: tuple[str, int | None] | None) -> None:
    from umbral.inspect import map_type

    assert map_type(declared) == expected


def test_python_api(tmp_path: Path, sqlite_url: str) -> None:
    """``App.inspectdb`` returns the result the CLI prints; the engine itself prints nothing."""
    from umbral import App

    execute(sqlite_url, *SQLITE_SCHEMA)
    result = App(database=sqlite_url, root=tmp_path).inspectdb("out")
    assert (result.tables, result.columns) == (4, 30)
    assert result.written == [
        tmp_path / "out" / "models.py",
        tmp_path / "out" / "migrations" / "app" / "0001_initial.json",
    ]
    assert result.migration is not None
    assert [op.kind for op in result.migration.operations] == [
        "CreateTable", "CreateTable", "CreateTable", "CreateM2MTable",
    ]  # fmt: skip
    assert [w for w in result.warnings if "keep their database names" in w]
