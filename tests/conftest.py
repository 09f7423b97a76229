"""Shared fixtures: throwaway projects driven through the real CLI, and real databases.

* ``project`` builds a project directory in ``tmp_path`` (``umbral.toml``, a models module,
  optional project plugin modules) and runs ``python -m umbral`` in it as a subprocess.
* ``db_url`` is parametrized over the backends: a SQLite file, a fresh PostgreSQL database
  per test (skipped with the reason when no server answers, unless UMBRAL_REQUIRE_POSTGRES=1,
  as in CI, which turns the skip into a failure), and a fresh MySQL / MariaDB database per test
  (UMBRAL_TEST_MYSQL_URL; skipped when unset, unless UMBRAL_REQUIRE_MYSQL=1).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests: a fixed, reproducible search in CI (a red build must mean a real regression,
# not a new random example); `--hypothesis-profile=deep` searches much further by hand.
settings.register_profile("default", max_examples=25)
settings.register_profile("ci", max_examples=25, derandomize=True)
settings.register_profile("deep", max_examples=400)
settings.load_profile("ci" if os.environ.get("CI") else "default")

POSTGRES_URL = os.environ.get(
    "UMBRAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("UMBRAL_REQUIRE_POSTGRES") == "1"
MYSQL_URL = os.environ.get("UMBRAL_TEST_MYSQL_URL", "")
REQUIRE_MYSQL = os.environ.get("UMBRAL_REQUIRE_MYSQL") == "1"


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def out_lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return (
            f"umbral {' '.join(self.args)} -> exit {self.code}\n--- stdout\n{self.stdout}"
            f"--- stderr\n{self.stderr}"
        )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UMBRAL_")}
    env.update(extra)
    return env


def run_umbral(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "umbral", *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        # Never a terminal: makemigrations would ask questions there.
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(args, proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Project:
    """A temporary umbral project. ``plugins = []`` by default so installed plugins stay out."""

    root: Path
    database: str
    config: dict[str, Any] = field(default_factory=dict)

    def write_config(self, **overrides: Any) -> None:
        import tomli_w

        cfg = {"database": self.database, "models": ["models"], "plugins": []}
        cfg.update(self.config)
        cfg.update(overrides)
        cfg = {k: v for k, v in cfg.items() if v is not None}
        self.config = cfg
        (self.root / "umbral.toml").write_text(tomli_w.dumps(cfg))

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        # A rewritten module must not be served from a stale bytecode cache.
        for pyc in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
            pyc.unlink()
        return path

    def models(self, body: str) -> Path:
        """Write models.py; ``from umbral import Model, fields`` is prepended."""
        return self.write(
            "models.py", "from umbral import Model, fields\n\n" + textwrap.dedent(body)
        )

    def run(self, *args: str, **env: str) -> Result:
        return run_umbral(*args, cwd=self.root, env=clean_env(**env))

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``umbral ARGS`` started in the project and not waited for (output piped, as text)."""
        return subprocess.Popen(
            [sys.executable, "-m", "umbral", *args],
            cwd=self.root,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def migration_files(self, plugin: str = "app") -> list[str]:
        d = self.root / "migrations" / plugin
        return sorted(p.name for p in d.glob("*.json")) if d.is_dir() else []

    def load_migration(self, plugin: str, name: str) -> dict[str, Any]:
        return json.loads((self.root / "migrations" / plugin / name).read_text())

    def tree(self) -> dict[str, bytes]:
        """Every file under the project (for "nothing was written" assertions)."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
            and "__pycache__" not in p.parts
            and not p.name.endswith((".sqlite3", "-journal", "-wal", "-shm"))
        }


def _postgres_admin() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        return None, f"psycopg is not installed ({exc})"
    try:
        conn = psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=3)
    except Exception as exc:
        return None, f"no PostgreSQL server at {POSTGRES_URL}: {str(exc).strip().splitlines()[0]}"
    return conn, ""


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgres://", "postgresql://"
    )


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Any]:
    conn, reason = _postgres_admin()
    if conn is None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (UMBRAL_REQUIRE_POSTGRES=1): {reason}")
        pytest.skip(reason)
    yield conn
    conn.close()


def new_postgres_database(postgres_admin: Any) -> Iterator[str]:
    """A fresh, empty PostgreSQL database's URL, dropped when the generator ends (for
    fixtures: ``yield from``)."""
    name = f"umbral_t_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(f'CREATE DATABASE "{name}"')
    base = _libpq(POSTGRES_URL).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        postgres_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_admin: Any) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from new_postgres_database(postgres_admin)


def _mysql_connect(url: str, **kwargs: Any) -> Any:
    """A PyMySQL connection to ``url`` (``mysql://user:password@host:port/database``).

    Tests write hand-made standard SQL (double-quoted names, `||`): ANSI mode lets the same
    statements run here (only on these helper connections, never on umbral's)."""
    from urllib.parse import unquote, urlsplit

    import pymysql

    parts = urlsplit(url.replace("+pymysql", ""))
    conn = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/") or None,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=3,
        **kwargs,
    )
    conn.cursor().execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI')")
    return conn


def _mysql_admin() -> Any:
    if not MYSQL_URL:
        return None, "UMBRAL_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)"
    try:
        import pymysql  # noqa: F401
    except ImportError as exc:  # pragma: no cover - installed with umbral-mysql
        return None, f"PyMySQL is not installed ({exc})"
    try:
        conn = _mysql_connect(MYSQL_URL.rsplit("/", 1)[0] + "/")
    except Exception as exc:
        return None, f"no MySQL server at {MYSQL_URL}: {str(exc).strip().splitlines()[0]}"
    return conn, ""


@pytest.fixture(scope="session")
def mysql_admin() -> Iterator[Any]:
    conn, reason = _mysql_admin()
    if conn is None:
        if REQUIRE_MYSQL:
            pytest.fail(f"MySQL is required (UMBRAL_REQUIRE_MYSQL=1): {reason}")
        pytest.skip(reason)
    yield conn
    conn.close()


def new_mysql_database(mysql_admin: Any) -> Iterator[str]:
    """A fresh, empty MySQL / MariaDB database's URL, dropped when the generator ends (for
    fixtures: ``yield from``)."""
    name = f"umbral_t_{uuid.uuid4().hex[:12]}"
    mysql_admin.ping()
    mysql_admin.cursor().execute(
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    )
    try:
        yield f"{MYSQL_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        mysql_admin.ping()
        mysql_admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def mysql_url(mysql_admin: Any) -> Iterator[str]:
    """A fresh, empty MySQL / MariaDB database for one test, dropped afterwards."""
    yield from new_mysql_database(mysql_admin)


#: A project-local plugin module ``shop`` with one model, ``Item`` (table ``shop_item``), for
#: tests of several plugins (write it as ``shop.py`` and name it in ``plugin_modules``).
SHOP = """
from umbral import Model, fields, hookimpl


class Item(Model, plugin="shop"):
    name = fields.Text()


@hookimpl
def umbral_models():
    return [Item]
"""


#: The backends of the backend-parametrized fixtures, each with its marker.
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite3'}"


def make_project(tmp_path: Path, database: str) -> Project:
    """A project in ``tmp_path/proj`` on ``database`` with an empty models module."""
    root = tmp_path / "proj"
    root.mkdir()
    p = Project(root, database)
    p.write_config()
    p.models("")
    return p


@pytest.fixture
def project(tmp_path: Path, sqlite_url: str) -> Project:
    """A SQLite project with an empty models module (most CLI tests start here)."""
    return make_project(tmp_path, sqlite_url)


@pytest.fixture
def any_project(tmp_path: Path, db_url: str) -> Project:
    """The same as ``project``, once per backend."""
    return make_project(tmp_path, db_url)


@pytest.fixture
def scratch_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second empty database on the backend of ``db_url``, for a fresh build."""
    backend = backend_name(db_url)
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    admin = request.getfixturevalue(f"{backend}_admin")
    if backend == "postgres":
        yield from new_postgres_database(admin)
    else:
        yield from new_mysql_database(admin)


def fresh_schema(
    tmp_path: Path,
    url: str,
    models: str,
    files: dict[str, str] | None = None,
    **config: Any,
) -> dict[str, Any]:
    """The schema (``schema_dump``) of a fresh database built on ``url`` from ``models``, with
    the project's other ``files`` (plugin modules) and ``config`` overrides."""
    import schema_dump

    root = tmp_path / "fresh"
    root.mkdir()
    fresh = Project(root, url)
    fresh.write_config(**config)
    for name, text in (files or {}).items():
        fresh.write(name, text)
    fresh.models(models)
    assert fresh.run("makemigrations").code == 0
    r = fresh.run("migrate")
    assert r.code == 0, r
    return schema_dump.dump(url)


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def schema_of(url: str) -> dict[str, Any]:
    """Tables -> columns, indexes, foreign keys, read back through SQLAlchemy's inspector."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(_sa_url(url))
    try:
        insp = inspect(engine)
        out: dict[str, Any] = {}
        for t in sorted(insp.get_table_names()):
            # The statement progress table appears the first time a migration runs statement
            # by statement (umbral.progress): bookkeeping, not schema.
            if t in ("sqlite_sequence", "umbral_migration_progress"):
                continue
            out[t] = {
                "columns": [
                    (c["name"], str(c["type"]), bool(c["nullable"])) for c in insp.get_columns(t)
                ],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in insp.get_indexes(t)
                ),
                "fks": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in insp.get_foreign_keys(t)
                ),
            }
        return out
    finally:
        engine.dispose()


def is_mysql(url: str) -> bool:
    return url.startswith(("mysql", "mariadb"))


def require_transactional_ddl(url: str) -> None:
    """Skip on a backend whose DDL commits on its own (MySQL / MariaDB): there a migration
    that failed or was killed after a DDL statement cannot be rolled back."""
    if is_mysql(url):
        pytest.skip("MySQL and MariaDB commit each DDL statement: a migration cannot roll back")


#: An auto-numbered integer primary key column's type, per backend, for hand-written schemas.
SERIAL = {"sqlite": "INTEGER", "postgres": "BIGSERIAL", "mysql": "BIGINT AUTO_INCREMENT"}


def backend_name(url: str) -> str:
    """``sqlite``, ``postgres`` or ``mysql``: which backend a test database URL is on."""
    if url.startswith("sqlite"):
        return "sqlite"
    return "mysql" if is_mysql(url) else "postgres"


def _sa_url(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if is_mysql(url) and "+" not in url.split("://", 1)[0]:
        return "mysql+pymysql://" + url.split("://", 1)[1]
    return url


def rows(url: str, sql: str) -> list[tuple]:
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    if is_mysql(url):
        conn = _mysql_connect(url)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(_libpq(url)) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def execute(url: str, *statements: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            for s in statements:
                conn.execute(s)
            conn.commit()
        finally:
            conn.close()
        return
    if is_mysql(url):
        conn = _mysql_connect(url)
        try:
            for s in statements:
                conn.cursor().execute(s)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        for s in statements:
            conn.execute(s)
