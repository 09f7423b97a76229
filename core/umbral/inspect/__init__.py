"""inspectdb: adopt a database umbral did not create (SPEC §11).

Three stages, one module each:

1. **read** (``reader``) — :func:`read_schema` reflects the database through SQLAlchemy's
   inspector on a read-only connection, then lets a per-dialect fix-up fill in what that
   reflection loses (SQLite: declared types, inline FK actions and inline UNIQUEs through PRAGMA
   queries; PostgreSQL: exact declared types through ``format_type``).
2. **map** (``planner``) — :func:`plan_models` turns raw tables into model plans: umbral field
   types, literal defaults, ``auto_now_add``, primary keys, FKs with their actions, unique/index
   flags and groups, and two-FK junction tables folded into ManyToMany fields.
3. **write** (``writer``) — :func:`render_models` writes ``models.py``; the initial migration's
   snapshot is built by importing that very text and running it through
   :func:`umbral.models.build_snapshots`, so ``makemigrations`` on the written models reports no
   changes by construction.

The engine never prints: :func:`inspectdb` returns an :class:`InspectResult` (warnings included)
and the CLI formats it. Nothing is written unless every table maps; the source database is only
read, except for the tracking row ``--mark-applied`` asks for.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from dataclasses import field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umbral import recorder
from umbral.config import backend_for_url
from umbral.errors import (
    ConfigError,
    DatabaseError,
    UmbralError,
    UnsupportedColumnType,
    UnsupportedTable,
)
from umbral.inspect.planner import plan_models
from umbral.inspect.reader import (
    RawTable,
    map_type,
    read_schema,
    table_names,
)
from umbral.inspect.writer import (
    INITIAL_ID,
    _remove,
    _write_files,
    initial_migration,
    render_models,
    snapshot_of,
)
from umbral.migration import Migration
from umbral.values import frozen, record

__all__ = [
    "INITIAL_ID",
    "InspectResult",
    "RawTable",
    "UnsupportedColumnType",
    "UnsupportedTable",
    "inspectdb",
    "map_type",
    "plan_models",
    "read_schema",
    "render_models",
    "snapshot_of",
]

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from umbral.backend import Backend


#: Tables other migration tools keep their history in. They are adopted like any table (an
#: explicit --exclude leaves them out); inspectdb names the flag when it meets one.
BOOKKEEPING = {"django_migrations": "Django", "alembic_version": "Alembic"}


@frozen
class TableFilter:
    """Which tables inspectdb reads: shell-style patterns (``fnmatch``, case-sensitive)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __call__(self, name: str) -> bool:
        if self.include and not any(fnmatchcase(name, p) for p in self.include):
            return False
        return not any(fnmatchcase(name, p) for p in self.exclude)

    def unmatched(self, names: list[str]) -> list[str]:
        """A warning per pattern that matches no table or view (a typo leaves nothing out)."""
        return [
            f"--{flag} {pattern!r} matches no table"
            for flag, patterns in (("include", self.include), ("exclude", self.exclude))
            for pattern in dict.fromkeys(patterns)
            if not any(fnmatchcase(n, pattern) for n in names)
        ]


@record
class InspectResult:
    """What ``inspectdb`` did. ``tables == 0`` means the database had no tables to adopt."""

    tables: int = 0
    columns: int = 0
    models_path: Path | None = None
    migration: Migration | None = None
    warnings: list[str] = field(default_factory=list)
    marked_applied: str | None = None  # ``plugin/id`` recorded by --mark-applied

    @property
    def written(self) -> list[Path]:
        paths = [self.models_path, self.migration.path if self.migration else None]
        return [p for p in paths if p is not None]


def source_url(source: str, root: Path) -> str:
    """A SQLAlchemy-style URL for the positional argument: a bare path means a SQLite file."""
    if "://" in source:
        return source
    return f"sqlite:///{(root / source).resolve()}"


def inspectdb(
    source: str,
    output: Path,
    *,
    plugin: str = "app",
    mark_applied: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    root: Path | None = None,
    backends: list[Backend] | None = None,
) -> InspectResult:
    """Read ``source`` (URL or SQLite path), write ``output/models.py`` and the initial migration.

    ``include`` / ``exclude`` are shell-style patterns of table (and view) names: with
    ``include``, only the tables matching one are read; a table matching an ``exclude`` is not.

    Raises UmbralError (nothing written) for an unreachable database, an unmappable column or
    table, or files that already exist. ``--mark-applied`` records the initial migration in the
    same database after the files are written; if that fails the files are removed again.
    """
    root = root or Path.cwd()
    given = source_url(source, root)
    backend = _backend_for(given, backends)
    url = backend.normalize_url(given, root)
    if not plugin.isidentifier() or keyword.iskeyword(plugin):
        raise ConfigError(f"umbral inspectdb --plugin: {plugin!r} is not a valid plugin name")
    output = (root / output).resolve()
    models_path = output / "models.py"
    migrations_dir = output / "migrations" / plugin
    result = InspectResult(models_path=None)

    select = TableFilter(tuple(include), tuple(exclude))
    with _read_only(backend, url, given) as conn:
        if include or exclude:
            result.warnings += select.unmatched(table_names(conn))
        tables, views = read_schema(conn, select)
        dialect = backend.DISPLAY_NAME or conn.dialect.name
        already = bool(mark_applied and tables) and _is_recorded(conn, plugin)
    for table in tables:
        tool = BOOKKEEPING.get(table.name)
        if tool is not None:
            result.warnings.append(
                f"`{table.name}` is {tool}'s migration bookkeeping, adopted as a model like any "
                f"table; --exclude {table.name} leaves it out"
            )
    for view in views:
        result.warnings.append(f"view `{view}` is not adopted (umbral view models are by hand)")
    result.tables = len(tables)
    result.columns = sum(len(t.columns) for t in tables)
    if not tables:
        return result
    if already:
        raise UmbralError(
            f"umbral inspectdb --mark-applied: the database already records {plugin}/"
            f"{INITIAL_ID} in {recorder.TABLE}; nothing was written"
        )
    for path in (models_path, migrations_dir / f"{INITIAL_ID}.json"):
        if path.exists():
            raise UmbralError(
                f"umbral inspectdb: {path} already exists; inspectdb never overwrites files: "
                "choose another --output or remove it"
            )
    if migrations_dir.is_dir() and any(migrations_dir.glob("*.json")):
        raise UmbralError(
            f"umbral inspectdb: {migrations_dir} already holds migrations; an initial migration "
            "there would conflict with them. Choose another --output or --plugin"
        )
    plans = plan_models(tables, plugin, result.warnings.append)
    source_text = render_models(plans, plugin, dialect)
    snapshot = snapshot_of(source_text, plugin)
    migration = initial_migration(snapshot, plugin, migrations_dir)
    assert migration.path is not None
    created = _write_files([(models_path, source_text), (migration.path, migration.dumps())])
    result.models_path, result.migration = models_path, migration
    if mark_applied:
        try:
            _record(backend, url, migration)
        except BaseException:
            _remove([models_path, migration.path], created)
            raise
        result.marked_applied = migration.key
    return result


def _backend_for(url: str, backends: list[Backend] | None) -> Backend:
    if backends is None:
        from umbral.plugins import load_plugins, new_manager

        pm = new_manager()
        load_plugins(pm)
        backends = [b for found in pm.hook.umbral_backends(scheme=None) for b in (found or [])]
    return backend_for_url(url, backends, command="umbral inspectdb")


class _read_only:
    """A connection that cannot write, as the backend opens one (a SQLite file with
    ``mode=ro``, a READ ONLY transaction that is rolled back). Driver errors become one-line
    DatabaseErrors."""

    def __init__(self, backend: Backend, url: str, given: str) -> None:
        from umbral.config import mask_url

        self.backend = backend
        self.url, self.shown = url, mask_url(given)  # errors name the URL the user gave
        self.engine: Engine | None = None
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        from umbral.database import BACKEND_KEY

        try:
            self.engine = self.backend.read_only_engine(self.url)
            self.conn = self.engine.connect()
            self.conn.info[BACKEND_KEY] = self.backend
            self.backend.read_only(self.conn)
        except Exception as exc:
            self._close()
            raise self._error(exc, "cannot connect to database") from None
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._close()
        if exc is not None and not isinstance(exc, UmbralError):
            from sqlalchemy.exc import DBAPIError

            if isinstance(exc, DBAPIError):
                raise self._error(exc, "cannot read database") from None

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
        if self.engine is not None:
            self.engine.dispose()

    def _error(self, exc: BaseException, what: str) -> DatabaseError:
        from umbral.database import error_line

        reason = error_line(exc, self.url)
        return DatabaseError(f"umbral inspectdb: {what} {self.shown}: {reason}")


def _is_recorded(conn: Connection, plugin: str) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(recorder.TABLE) and recorder.is_applied(conn, plugin, INITIAL_ID)


def _record(backend: Backend, url: str, migration: Migration) -> None:
    """Record the initial migration in the inspected database (the checksum of the file)."""
    from umbral import loader
    from umbral.database import connect, error_line
    from umbral.executor import write_transaction

    assert migration.path is not None
    checksum = loader.load_file(migration.path, migration.plugin).checksum
    with connect(backend, url) as conn:
        try:
            with write_transaction(conn, backend):
                recorder.ensure_table(conn)
                recorder.record(conn, migration.plugin, migration.id, checksum)
        except Exception as exc:
            from sqlalchemy.exc import DBAPIError

            if not isinstance(exc, DBAPIError):
                raise
            raise DatabaseError(f"database error: {error_line(exc, url)}") from None
