"""The pytest plugin: options, and the fixtures a project's tests use.

* ``umbral_database`` (session): a throwaway database migrated to head — a SQLite file in a
  temporary directory by default, a database created on the server named by
  ``--umbral-database URL`` (or the ``umbral_database`` ini option), dropped at the end.
* ``umbral_engine`` (session): a SQLAlchemy engine on it, made by the project's backend.
* ``umbral_connection``: a connection inside a transaction that is rolled back after the test;
  its own ``commit()`` and ``rollback()`` end a SAVEPOINT inside that transaction.
* ``umbral_session``: a SQLAlchemy ``Session`` on that connection whose ``commit()`` only
  releases a SAVEPOINT, so code under test may commit and the test still leaves nothing behind.
* ``umbral_app``: the project's ``umbral.App`` (found from ``--umbral-project``, the
  ``umbral_project`` ini option, or by walking up from pytest's rootdir), on the test database.

Nothing is imported from SQLAlchemy or the project until a fixture is used, so a test run that
uses none of them pays nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from umbral.values import record


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("umbral", "umbral test database")
    group.addoption(
        "--umbral-database",
        metavar="URL",
        help="server on which to create the throwaway test database (default: a SQLite file "
        "in a temporary directory); the URL's database is only used to connect",
    )
    group.addoption(
        "--umbral-project",
        metavar="DIR",
        help="the umbral project (default: found by walking up from pytest's rootdir)",
    )
    parser.addini("umbral_database", "like --umbral-database")
    parser.addini("umbral_project", "like --umbral-project")


@record
class TestDatabase:
    """The session's database: its URL and the App migrated onto it."""

    url: str
    app: Any  # umbral.App


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"--umbral-{name}") or config.getini(f"umbral_{name}")
    return str(value) if value else None


def project_app(config: pytest.Config, database: str | None = None) -> Any:
    """The project's ``umbral.App``; ``database`` overrides its configured URL."""
    from umbral.app import App
    from umbral.config import find_project, load_project

    given = _option(config, "project")
    cfg = load_project(Path(given)) if given else find_project(Path(config.rootpath))
    if cfg is None:
        raise pytest.UsageError(
            f"pytest-umbral: no umbral project found in {config.rootpath} or its parents; "
            "pass --umbral-project DIR or set umbral_project in the pytest configuration"
        )
    return App.from_config(cfg, database=database)


def _fail(what: str, exc: Exception) -> NoReturn:
    fail(f"pytest-umbral: {what}: {exc}")


def fail(message: str) -> NoReturn:
    """Fail the test with one line: no traceback, and not the exception being handled (pytest
    would print it, then "During handling of the above exception")."""
    raise pytest.fail.Exception(message, pytrace=False) from None


@pytest.fixture(scope="session")
def umbral_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabase]:
    from umbral.errors import UmbralError

    server = _option(request.config, "database")
    created: tuple[Any, str] | None = None
    if server is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('umbral') / 'test.sqlite3'}"
    else:
        try:
            created = _create_database(request.config, server)
        except Exception as exc:
            _fail(f"cannot create a test database on {_masked(server)}", exc)
        assert created is not None
        url = created[1]
    try:
        app = project_app(request.config, database=url)
        try:
            app.migrate(allow_destructive=True)
        except UmbralError as exc:
            _fail("migrating the test database failed", exc)
        yield TestDatabase(url, app)
    finally:
        if created is not None:
            _drop_database(*created)


#: The SIGTERM handler ``pytest_configure`` replaced, put back at the end.
_PREVIOUS_SIGTERM = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    # For the whole run, so no database made on a server outlives a SIGTERM that arrives
    # while it is made, nor the ready tests' own (``test_umbral_up_down_up``).
    if _option(config, "database") is not None:
        config.stash[_PREVIOUS_SIGTERM] = _interrupt_on_sigterm()


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = config.stash.get(_PREVIOUS_SIGTERM, None)
    if previous is not None:
        import signal

        signal.signal(signal.SIGTERM, previous)


def _interrupt_on_sigterm() -> Any:
    """Make SIGTERM (a CI job cancelled, a container stopped) end the run as Ctrl-C does, so
    the database made on the server is dropped; returns the handler it replaces (None where
    signals cannot be set: not the main thread)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(scope="session")
def umbral_engine(umbral_database: TestDatabase) -> Iterator[Any]:
    app = umbral_database.app
    backend = app.env.backend_for(umbral_database.url)
    engine = backend.create_engine(backend.normalize_url(umbral_database.url, app.root))
    yield engine
    engine.dispose()


@pytest.fixture
def umbral_connection(umbral_engine: Any) -> Iterator[Any]:
    conn = umbral_engine.connect()
    outer = conn.begin()
    # Code under test may commit() or rollback() the connection itself: each ends a
    # SAVEPOINT and opens the next, inside the test's transaction (a commit() of the
    # connection would otherwise end that transaction, and the rows would outlive the test).
    conn.__class__ = _savepoint_connection(type(conn))
    conn.begin_nested()
    try:
        yield conn
    finally:
        if outer.is_active:
            outer.rollback()
        conn.close()


def _savepoint_connection(base: type) -> type:
    class SavepointConnection(base):  # type: ignore[misc, valid-type]
        """A connection whose commit() and rollback() end its SAVEPOINT (a new one begins)."""

        def commit(self) -> None:
            self._end_savepoint("commit")

        def rollback(self) -> None:
            self._end_savepoint("rollback")

        def _end_savepoint(self, how: str) -> None:
            nested = self.get_nested_transaction()
            if nested is None or not nested.is_active:
                getattr(base, how)(self)
                return
            getattr(nested, how)()
            self.begin_nested()

    return SavepointConnection


@pytest.fixture
def umbral_session(umbral_connection: Any) -> Iterator[Any]:
    from sqlalchemy.orm import Session

    # The session's commit() releases a SAVEPOINT inside the test's transaction, which the
    # connection fixture rolls back: code under test may commit, nothing outlives the test.
    session = Session(bind=umbral_connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def umbral_app(umbral_database: TestDatabase) -> Any:
    return umbral_database.app


# -- a throwaway database on a server ---------------------------------------------------------


def _create_database(config: pytest.Config, server: str) -> tuple[Any, str]:
    """Create ``<db>_test_<hex>`` through the server URL; return an admin engine and its URL."""
    from sqlalchemy.engine import make_url

    app = project_app(config, database=server)
    backend = app.env.backend_for(server)
    admin_url = make_url(backend.normalize_url(server, app.root))
    engine = backend.create_engine(admin_url.render_as_string(hide_password=False))
    name = f"{admin_url.database or 'umbral'}_test_{uuid.uuid4().hex[:8]}"
    quoted = engine.dialect.identifier_preparer.quote(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    scheme = server.split("://", 1)[0]
    rest = admin_url.set(database=name).render_as_string(hide_password=False).split("://", 1)[1]
    return engine, f"{scheme}://{rest}"


def _drop_database(engine: Any, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    quoted = engine.dialect.identifier_preparer.quote(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
    engine.dispose()


def _masked(url: str) -> str:
    from umbral.config import mask_url

    return mask_url(url)
