"""Rendered steps that a backend carries out itself, adapting them to what the database holds.

Rendering cannot see the database. Some steps must adapt to it at run time (a SQLite table
rebuild keeps the triggers the table has when it is dropped); some have a faster way that is
safe only when the table is exactly as the migrations left it (SQLite drops NOT NULL by editing
the stored definition instead of copying every row). Such a step is one object among a
migration's rendered statements, as a ``RunPython`` step is: ``statements`` is its SQL as
rendered (what ``sqlmigrate`` shows, and what runs where no adaptation applies), and ``run``
carries it out on the connection, inside the migration's transaction. The executor runs it in
order with the plain statements; it never looks inside.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from umbral.values import frozen

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: Told each statement a step starts (or the adaptation it tries), so a failure names it.
Note = Callable[[str], None]


class RunTimeStep(ABC):
    """A rendered step the backend carries out, choosing at run time how (module docstring)."""

    @property
    @abstractmethod
    def statements(self) -> tuple[str, ...]:
        """The step's SQL as rendered: what ``sqlmigrate`` shows, and what a run without a
        transaction (a non-atomic migration, the fast path's build) sends as it is."""

    def __str__(self) -> str:
        return self.statements[0] if self.statements else ""

    @abstractmethod
    def run(self, conn: Connection, note: Note) -> bool | None:
        """Carry the step out inside the migration's transaction. Raises the driver's error,
        or UnsupportedChange when the database holds what the change cannot keep (the
        migration rolls back). False when it found nothing to change (a migration that runs
        statement by statement records no progress for it); anything else when it may have."""

    def alternatives(self) -> list[str]:
        """What the run time may do instead of (or beside) the statements shown, one line
        each, in the order it tries them: ``sqlmigrate`` names them under the SQL."""
        return []

    #: Whether ``precheck`` looks at anything (``umbral.preflight``).
    PRECHECKS: ClassVar[bool] = False
    #: Whether it does so only in a migration that runs statement by statement
    #: (``Backend.runs_in_steps``): elsewhere a failure rolls the statements before it back,
    #: and the look would only be made twice.
    PRECHECKS_IN_STEPS_ONLY: ClassVar[bool] = False

    def precheck(self, conn: Connection) -> None:
        """Raise the UnsupportedChange ``run`` would raise, reading the database as the
        migration finds it, before the migration's first statement runs (a step whose
        ``PRECHECKS``). Called only where no operation before the step's own changes its table
        or its column (``umbral.preflight``); reads only. Default: nothing to look at."""
        return None

    #: Whether ``resolve`` can say ahead what ``run`` would execute.
    RESOLVES: ClassVar[bool] = False

    def resolve(self, conn: Connection) -> list[str]:
        """The statements ``run`` would execute now, read from the database without changing
        it (raising as ``run`` does), for a step whose ``RESOLVES``: a migration that runs
        statement by statement then sends them in one script with the statements after the
        step (``umbral.stepwise``). An empty list: nothing to change."""
        raise NotImplementedError


def run_time_alternatives(steps: Iterable[Any]) -> list[str]:
    """The alternatives of every run-time step among ``steps``, each named once."""
    found = (a for step in steps if isinstance(step, RunTimeStep) for a in step.alternatives())
    return list(dict.fromkeys(found))


def plain_sql(steps: Iterable[Any]) -> list[Any]:
    """``steps`` with every run-time step replaced by its statements as rendered (a Python
    step stays as it is)."""
    out: list[Any] = []
    for step in steps:
        if isinstance(step, RunTimeStep):
            out.extend(step.statements)
        else:
            out.append(step)
    return out


@frozen
class UniqueCheck(RunTimeStep):
    """The look for duplicates before a unique index or constraint is added to existing rows.
    At run time it stops the migration (nothing applied) naming the duplicated values and how
    many rows hold each; as a plain statement (``sqlmigrate``) it lists them. A migration that
    runs statement by statement looks before its first statement too (``umbral.preflight``),
    so its earlier statements are not left applied."""

    table: str
    columns: tuple[str, ...]
    sql: str
    #: How many duplicated values the error names.
    shown: int

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.sql,)

    PRECHECKS: ClassVar[bool] = True
    PRECHECKS_IN_STEPS_ONLY: ClassVar[bool] = True

    def run(self, conn: Connection, note: Note) -> None:
        note(self.sql)
        self.precheck(conn)

    def precheck(self, conn: Connection) -> None:
        from umbral.database import driver_cursor
        from umbral.errors import UnsupportedChange

        cur = driver_cursor(conn)
        cur.execute(self.sql)
        rows = cur.fetchall()
        if not rows:
            return
        values = show_duplicates(rows, self.shown)
        columns = ", ".join(self.columns)
        one = ", " not in columns
        what = f"`{self.table}.{columns}`" if one else f"`{self.table}` ({columns})"
        raise UnsupportedChange(
            f"cannot make {what} unique: duplicated values: "
            f"{values}; remove or change the duplicates, then run migrate again"
        )


def show_duplicates(rows: Sequence[Sequence[Any]], shown: int) -> str:
    """Duplicated values as a refusal lists them, each row its values then its count of
    rows: ``"a" (3 rows), ("a", 1) (2 rows), and more`` (values as JSON writes them)."""
    listed = ", ".join(f"{_show(row[:-1])} ({row[-1]} rows)" for row in rows[:shown])
    return listed + (", and more" if len(rows) > shown else "")


def _show(values: Sequence[Any]) -> str:
    import json

    plain = [v if isinstance(v, str | int | float | None) else str(v) for v in values]
    shown = [json.dumps(v, ensure_ascii=False) for v in plain]
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"
