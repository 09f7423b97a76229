"""Property: any JSON value in any position of a valid migration file ends in a clean error
naming the file, or in a correct apply (SPEC §5, §12).

A valid file written by ``makemigrations`` (tables, columns, an ALTER, indexes, a junction
table) plus hand-written operations (RunSql, a view, a rename, a comment) is applied on a
database holding rows; Hypothesis replaces one to three of its values, anywhere in it, with any
JSON value: another value of the file, a part of the file, a value of a type the format uses
elsewhere, an arbitrary structure. ``umbral migrate`` then either exits 0 with the migration
applied (and every column the file adds has the nullability it says), or exits 1 with an
``error:`` naming the file or the migration, and never a traceback or an internal error.

Bounded in CI (12 examples on SQLite, 3 on PostgreSQL, derandomized under the ``ci`` profile);
``UMBRAL_LONG_TESTS=1`` runs thousands, searching anew each time (see tests/README.md).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import POSTGRES_URL, Result, _libpq, execute, run_umbral

LONG = os.environ.get("UMBRAL_LONG_TESTS") == "1"
EXAMPLES = {"sqlite": 2000 if LONG else 12, "postgres": 500 if LONG else 3}
NAME = "0002_auto.json"
SERVER = _libpq(POSTGRES_URL).rsplit("/", 1)[0]

MODELS_V1 = """\
from umbral import Model, fields

class Author(Model):
    name = fields.Text(max_length=100)

class Post(Model):
    title = fields.Text()
    n = fields.Integer(nullable=True)
    author = fields.ForeignKey(Author, on_delete="cascade", nullable=True)
"""
MODELS_V2 = """\
from umbral import Model, fields

class Author(Model):
    name = fields.Text(max_length=100)
    bio = fields.Text(nullable=True, help="About")

class Tag(Model):
    label = fields.Text(unique=True)

class Post(Model, indexes=[("title", "n")]):
    title = fields.Text(index=True)
    n = fields.Integer(default=0)
    author = fields.ForeignKey(Author, on_delete="cascade", nullable=True)
    created = fields.Timestamptz(auto_now_add=True)
    tags = fields.ManyToMany(Tag)
"""
HAND_WRITTEN = [
    {"kind": "RunSql", "sql": "UPDATE post SET n = 1 WHERE n IS NULL", "reverse_sql": "SELECT 1"},
    {"kind": "CreateView", "name": "post_titles", "sql": "SELECT title FROM post"},
    {"kind": "RenameColumn", "table": "author", "from": "bio", "to": "about"},
    {"kind": "SetColumnComment", "table": "post", "column": "title", "comment": "The title"},
]
#: Values worth trying anywhere: the format's own words, near-misses of its types, SQL.
INTERESTING: list[Any] = [
    "", "false", "true", "null", "0", "Text", "ForeignKey", "BigInt", "Json", "Uuid", "Decimal",
    "Timestamptz", "Date", "post", "author", "id", "title", "n", "app_tag", "post_tags", "x",
    "cascade", "set_null", "CASCADE", "COMMIT", "VACUUM", "SELECT 1", "a b", "é", 'q"uote',
    "app/0001_auto", "app/0002_auto", 0, 1, -1, 2**63, 10**30, 1.5, -0.0, True, False, None,
    [], {}, [[]], ["title"], ["x"], ["title", "title"], {"a": 1}, {"kind": "DropTable"},
]  # fmt: skip


@dataclass
class Base:
    """A project whose ``0001`` is applied to a database holding rows, and a valid ``0002``."""

    root: Path
    backend: str
    database: str  # the SQLite file, or the PostgreSQL template database's URL
    valid: dict[str, Any]
    paths: list[tuple[Any, ...]]
    parts: list[Any]


def _walk(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield at, value
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield from _walk(item, (*at, key))


def _umbral(root: Path, *args: str) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UMBRAL_")}
    env["UMBRAL_CACHE_DIR"] = str(root.parent / "cache")
    return run_umbral(*args, cwd=root, env=env)


def _config(root: Path, database: str) -> None:
    (root / "umbral.toml").write_text(
        f'database = "{database}"\nmodels = ["models"]\nplugins = []\n'
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("fuzz") / "base"
    root.mkdir()
    if request.param == "sqlite":
        database = f"sqlite:///{root.parent / 'base.sqlite3'}"
    else:
        admin = request.getfixturevalue("postgres_admin")
        name = f"umbral_fuzz_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        database = f"{SERVER}/{name}"
    _config(root, database)
    (root / "models.py").write_text(MODELS_V1)
    for args in (("makemigrations",), ("migrate",)):
        r = _umbral(root, *args)
        assert r.code == 0, r
    execute(
        database,
        "INSERT INTO author (name) VALUES ('a')",
        "INSERT INTO post (title, n, author) VALUES ('t', NULL, 1)",
    )
    (root / "models.py").write_text(MODELS_V2)
    assert _umbral(root, "makemigrations").code == 0
    path = root / "migrations" / "app" / NAME
    valid = json.loads(path.read_text())
    valid["operations"] += HAND_WRITTEN
    path.write_text(json.dumps(valid, indent=2, sort_keys=True))
    walked = list(_walk(valid))
    yield Base(
        root, request.param, database, valid, [p for p, _ in walked if p], [v for _, v in walked]
    )
    if request.param == "postgres":
        request.getfixturevalue("postgres_admin").execute(
            f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)'
        )


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                    max_size=3),
        max_leaves=6,
    )  # fmt: skip


def _mutate(data: st.DataObject, base: Base) -> dict[str, Any]:
    """The valid file with one to three values replaced (or, now and then, a key removed)."""
    doc = json.loads(json.dumps(base.valid))
    values = st.one_of(
        st.sampled_from(INTERESTING),
        st.sampled_from(base.parts),  # another value, or a whole part, of the file
        _json_values(),
    )
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(base.paths), label="where")
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict) and data.draw(st.integers(0, 9)) == 0:
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = json.loads(json.dumps(data.draw(values, label="value")))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced what held this position
    return doc


def _fresh_database(base: Base, where: Path) -> str:
    if base.backend == "sqlite":
        target = where / "db.sqlite3"
        shutil.copy(base.database.removeprefix("sqlite:///"), target)
        return f"sqlite:///{target}"
    template = base.database.rsplit("/", 1)[1]
    name = f"umbral_fz_{uuid.uuid4().hex[:12]}"
    execute(f"{SERVER}/postgres", f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{SERVER}/{name}"


def _drop(base: Base, url: str) -> None:
    if base.backend == "postgres":
        name = url.rsplit("/", 1)[1]
        execute(f"{SERVER}/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _nullable(url: str, table: str, column: str) -> bool | None:
    """Whether the database's column accepts NULL (None when there is no such column)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        found = [not notnull and not pk for _, name, _, notnull, _, pk in info if name == column]
        return found[0] if found else None
    import psycopg

    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute(
            "SELECT is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s",
            (table, column),
        ).fetchone()
    return None if row is None else row[0] == "YES"


def _added_columns(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(table, column object)`` of each column the file creates that no later operation of it
    alters, renames or drops."""
    ops = doc["operations"]
    out = []
    for i, op in enumerate(ops):
        cols = op.get("columns", []) if op["kind"] == "CreateTable" else [op.get("column")]
        if op["kind"] not in ("CreateTable", "AddColumn"):
            continue
        for col in cols:
            later = [o for o in ops[i + 1 :] if o.get("table") == op["table"]]
            if not any(col["name"] in (o.get("column"), o.get("from")) for o in later):
                out.append((op["table"], col))
    return out


def _check(doc: dict[str, Any], root: Path, url: str, r: Result) -> None:
    path = root / "migrations" / "app" / NAME
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r
    if r.code != 0:
        assert r.code == 1, r
        first = r.err_lines[0] if r.err_lines else ""
        assert first.startswith("error: "), r
        assert str(path) in first or "app/0002_auto" in first, r
        return
    shown = _umbral(root, "showmigrations")
    assert shown.code == 0, shown
    assert "[X] app/0002_auto" in shown.out_lines, shown
    for table, col in _added_columns(doc):
        # A column is exactly as nullable as its file says (a primary key never is).
        expected = col["nullable"] and not col["primary_key"]
        assert _nullable(url, table, col["name"]) is expected, (table, col, r)


def test_any_value_anywhere_in_a_file_is_a_clean_error_or_a_correct_apply(base: Base) -> None:
    @settings(
        max_examples=EXAMPLES[base.backend],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        **({"derandomize": False} if LONG else {}),  # a long run searches anew each time
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        doc = _mutate(data, base)
        where = Path(tempfile.mkdtemp(dir=base.root.parent))
        root = where / "proj"
        shutil.copytree(base.root, root, ignore=shutil.ignore_patterns("__pycache__"))
        url = _fresh_database(base, where)
        try:
            _config(root, url)
            (root / "migrations" / "app" / NAME).write_text(json.dumps(doc, indent=2))
            _check(doc, root, url, _umbral(root, "migrate"))
        finally:
            _drop(base, url)
            shutil.rmtree(where, ignore_errors=True)

    fuzz()
