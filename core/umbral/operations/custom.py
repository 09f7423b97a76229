"""Operations whose effect is the user's own SQL or code: views, ``RunSql`` and
``RunPython``."""

from __future__ import annotations

from typing import ClassVar

from umbral.errors import IrreversibleOperation
from umbral.operations.base import Operation, State
from umbral.values import frozen


@frozen
class CreateView(Operation):
    kind: ClassVar[str] = "CreateView"
    name: str
    sql: str

    def describe(self) -> str:
        return f"Create view {self.name}"

    def reverse(self, state: State) -> list[Operation]:
        return [DropView(name=self.name, sql=self.sql)]


@frozen
class DropView(Operation):
    kind: ClassVar[str] = "DropView"
    name: str
    sql: str = ""

    def describe(self) -> str:
        return f"Drop view {self.name}"

    def reverse(self, state: State) -> list[Operation]:
        if not self.sql:
            raise IrreversibleOperation(f"DropView {self.name} does not carry the view's SQL")
        return [CreateView(name=self.name, sql=self.sql)]


@frozen
class RunSql(Operation):
    kind: ClassVar[str] = "RunSql"
    sql: str
    reverse_sql: str | None = None
    #: A squash may drop this statement (e.g. a one-off data backfill).
    elidable: bool = False

    def describe(self) -> str:
        lines = self.sql.strip().splitlines()
        first = lines[0] if lines else ""
        # Cut short, or the first of several lines: "..." says there is more.
        if len(first) > 60:
            return f"Run SQL: {first[:57].rstrip()}..."
        return f"Run SQL: {first}" + (" ..." if len(lines) > 1 else "")

    @property
    def irreversible(self) -> bool:  # type: ignore[override]
        return self.reverse_sql is None

    def reverse(self, state: State) -> list[Operation]:
        if self.reverse_sql is None:
            raise IrreversibleOperation("RunSql without reverse_sql cannot be undone")
        return [RunSql(sql=self.reverse_sql, reverse_sql=self.sql)]


@frozen
class RunPython(Operation):
    """A data migration in Python: ``code`` names a function (``package.module:function``)
    imported only when the migration runs, and called inside its transaction with a
    ``umbral.runpython.RunPythonContext`` (the connection, the backend name, the tables as of
    this point of history). The file stays JSON: loading it runs no code."""

    kind: ClassVar[str] = "RunPython"
    code: str
    reverse_code: str | None = None
    #: A squash may drop this step (a one-off data fix), as for RunSql.
    elidable: bool = False

    def describe(self) -> str:
        return f"Run Python: {self.code}"

    @property
    def irreversible(self) -> bool:  # type: ignore[override]
        return self.reverse_code is None

    def reverse(self, state: State) -> list[Operation]:
        if self.reverse_code is None:
            raise IrreversibleOperation("RunPython without reverse_code cannot be undone")
        return [RunPython(code=self.reverse_code, reverse_code=self.code)]
