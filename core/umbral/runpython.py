"""Running a ``RunPython`` operation: import its function, call it in the migration's transaction.

The function is named in the file (``package.module:function``) and imported only here, when
the migration is applied or un-applied, so loading migration files never runs code. It gets a
:class:`RunPythonContext`: the connection, the backend's name and the plugin's tables as the
migrations before it left them (SQLAlchemy ``Table`` objects built from the migration state,
never from today's models, which may have moved on).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from umbral.errors import MigrationFailed
from umbral.values import frozen

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from umbral.schema import ModelState


@frozen
class PythonStep:
    """A rendered step that calls a Python function instead of running SQL.

    It sits among a migration's rendered statements; the executor runs it in order with them,
    and everything that would send statements to the database as text (a one-round-trip
    script, a run outside a transaction) leaves a migration holding one alone."""

    code: str
    #: The plugin's tables before the operation (``table -> ModelState``), read on first use.
    state: Mapping[str, ModelState]

    def __str__(self) -> str:
        return f"-- RunPython {self.code} (Python, not SQL)"

    def run(self, conn: Connection, backend_name: str, key: str) -> None:
        """Import and call the function; raise MigrationFailed naming the migration and the
        function when it cannot be imported or raises (the caller rolls back)."""
        func = _import(self.code, key)
        ctx = RunPythonContext(conn, backend_name, key, self.state)
        try:
            func(ctx)
        except Exception as exc:
            failure = MigrationFailed(
                key, str(self), f"RunPython function {self.code} raised {_describe(exc)}"
            )
            raise failure from exc
        if not conn.in_transaction():
            raise MigrationFailed(
                key,
                str(self),
                f"RunPython function {self.code} ended the migration's transaction (commit or "
                "rollback); a data migration must leave that to umbral",
            )


class RunPythonContext:
    """What a ``RunPython`` function receives."""

    def __init__(
        self, connection: Connection, backend: str, migration: str, state: Mapping[str, ModelState]
    ) -> None:
        #: The SQLAlchemy connection, inside the migration's transaction: do not commit.
        self.connection = connection
        #: The backend's name (``"sqlite"``, ``"postgres"``...).
        self.backend = backend
        #: ``plugin/name`` of the migration being applied or un-applied.
        self.migration = migration
        #: The plugin's tables as of this point of history (``table -> ModelState``).
        self.models = state
        self._tables: dict[str, Table] | None = None

    @property
    def tables(self) -> Mapping[str, Table]:
        """The plugin's tables (junction tables included) as SQLAlchemy ``Table`` objects with
        the columns they have at this point of history, by table name."""
        if self._tables is None:
            self._tables = dict(_tables(self.models))
        return self._tables


def _tables(state: Mapping[str, ModelState]) -> Iterator[tuple[str, Table]]:
    from sqlalchemy import Column, MetaData, Table

    metadata = MetaData()
    for name, model in state.items():
        # Untyped columns: values go to the driver as given. No primary key is declared, so
        # SQLAlchemy does not insist on a value for it (the database generates it).
        yield name, Table(name, metadata, *(Column(c.name) for c in model.fields))
        for rel in model.m2m:
            yield rel.table, Table(rel.table, metadata, Column("parent_id"), Column("child_id"))


def _import(code: str, key: str) -> Callable[[RunPythonContext], Any]:
    module_name, _, attr = code.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise MigrationFailed(
            key,
            f"-- RunPython {code} (Python, not SQL)",
            f"cannot import RunPython function {code}: {_describe(exc)}",
        ) from exc
    if not callable(obj):
        raise MigrationFailed(
            key, f"-- RunPython {code} (Python, not SQL)", f"RunPython {code} is not a function"
        )
    return obj


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
