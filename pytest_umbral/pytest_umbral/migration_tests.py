"""Ready migration tests: ``from pytest_umbral.migration_tests import *`` in one test module.

* every plugin's history has one leaf (no unmerged branches);
* the models and the migrations agree (``makemigrations --check``);
* every migration applies forward, back to zero and forward again to the same schema;
* the migrations a branch adds (since the merge base with ``main``) are safe for a rolling
  deploy (``checkmigrations --offline``; skipped outside a git work tree).

Each runs the project's own ``umbral.App``; the round trip uses a fresh SQLite file (or a
throwaway database on the ``--umbral-database`` server), never the session's test database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_umbral.plugin import _create_database, _drop_database, _option, fail, project_app
from umbral import recorder
from umbral.errors import UmbralError

__all__ = [
    "test_umbral_models_match_migrations",
    "test_umbral_new_migrations_are_safe",
    "test_umbral_one_leaf_per_plugin",
    "test_umbral_up_down_up",
]


def _app(request: pytest.FixtureRequest, database: str | None = None) -> Any:
    return project_app(request.config, database=database)


def test_umbral_one_leaf_per_plugin(request: pytest.FixtureRequest) -> None:
    try:
        app = _app(request)
        app.env.accept_branches = True
        conflicts = app.env.conflicts(app.env.plugin_names)
    except UmbralError as exc:  # a broken file or model: its own one-line message
        fail(f"umbral: {exc}")
    if conflicts:
        fail("umbral: " + "; ".join(conflicts) + " (run `umbral makemigrations --merge`)")


def test_umbral_models_match_migrations(request: pytest.FixtureRequest) -> None:
    try:
        result = _app(request).makemigrations(check=True)
    except UmbralError as exc:
        fail(f"umbral: {exc}")
    if result.migrations:
        lines = [
            f"  {m.key}: " + "; ".join(op.describe() for op in m.operations)
            for m in result.migrations
        ]
        fail(
            "umbral: the models have changes no migration holds; run `umbral makemigrations`:\n"
            + "\n".join(lines)
        )


def test_umbral_up_down_up(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = _option(request.config, "database")
    created = _create_database(request.config, server) if server else None
    url = created[1] if created else f"sqlite:///{tmp_path_factory.mktemp('updown') / 'db.sqlite3'}"
    try:
        app = _app(request, url)
        step = "forward"
        try:
            # Every migration runs forward (not the fresh-database fast path, which builds the
            # end from the snapshots): this test is about the migrations themselves.
            app.migrate(allow_destructive=True, replay=True)
            head = _schema(app, url)
            step = "back to zero"
            # The throwaway database holds no rows: un-applying a drop loses nothing.
            for plugin in reversed(app.env.order):
                app.migrate(f"{plugin}/zero", allow_destructive=True, allow_irreversible=True)
            left = [t for t in _schema(app, url) if t not in recorder.OWN_TABLES]
            if left:
                fail(f"umbral: un-applying every migration left table(s) {left}")
            step = "forward again"
            app.migrate(allow_destructive=True)
        except UmbralError as exc:
            fail(f"umbral: migrating {step} failed: {exc}")
        again = _schema(app, url)
        if again != head:
            changed = sorted(
                set(head) ^ set(again) | {t for t in head if head.get(t) != again.get(t)}
            )
            fail(
                "umbral: forward, back and forward again gives another schema; tables that "
                f"differ: {', '.join(changed)}"
            )
    finally:
        if created is not None:
            _drop_database(*created)


def test_umbral_new_migrations_are_safe(request: pytest.FixtureRequest) -> None:
    from umbral.errors import ConfigError
    from umbral.safety import CheckReport, OpSafety

    try:
        app = _app(request)
        base, items = app.check_offline()
    except ConfigError as exc:
        pytest.skip(str(exc))
    except UmbralError as exc:
        fail(f"umbral: {exc}")
    report = CheckReport(items)
    if not report.passes():
        lines = [
            f"  [{c.finding.tag}] {c.migration}: {c.finding.message}"
            for c in report.by_tier(OpSafety.UNSAFE)
        ]
        fail(
            f"umbral: unsafe operation(s) in the migrations added since {base[:12]} (add an "
            '"acknowledged" reason once reviewed):\n' + "\n".join(lines)
        )


def _schema(app: Any, url: str) -> dict[str, Any]:
    """Every table's reflected definition, for comparing two states of one database."""
    from umbral.inspect.reader import read_schema

    backend = app.env.backend_for(url)
    engine = backend.create_engine(backend.normalize_url(url, Path(app.root)))
    try:
        with engine.connect() as conn:
            tables, views = read_schema(conn)
    finally:
        engine.dispose()
    out: dict[str, Any] = {t.name: t for t in tables}
    out.update({v: "view" for v in views})
    return out
