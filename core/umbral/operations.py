"""Operations are data (SPEC §6).

Each operation is a frozen dataclass tagged by ``kind`` with ``to_dict``/``from_dict``,
``describe()``, ``references()`` (tables it reads, for ``depends_on``) and ``apply(state)``, which
returns the table state after the operation. No SQL and no connection here: backends render
operations through the ``umbral_render_operation`` hook.

``state`` is a mapping ``table name -> ModelState``: the tables of one plugin as its migrations
have shaped them. Backends get it in their render context so that, say, a SQLite table rebuild
knows the full definition of the table it rebuilds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, ClassVar

from umbral.schema import M2M, Column, ModelState, Shim, backfill_problem

State = dict[str, ModelState]

# Optional keys any operation may carry that do not change what it does.
_COMMON_OPTIONAL = ("acknowledged",)


def _key(name: str) -> str:
    # `from` is a Python keyword; the JSON key is `from`.
    return name.rstrip("_")


@dataclass(frozen=True)
class Operation:
    kind: ClassVar[str] = ""
    acknowledged: str | None = field(default=None, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for fl in fields(self):
            value = getattr(self, fl.name)
            if fl.default is not MISSING and value == fl.default:
                continue
            if isinstance(value, Column):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = [
                    c.to_dict() if isinstance(c, Column) else list(c) if isinstance(c, tuple) else c
                    for c in value
                ]
            out[_key(fl.name)] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Operation:
        """Build an operation from its dict form; raises ValueError naming what is wrong."""
        kind = data.get("kind")
        if kind not in OPERATIONS:
            raise ValueError(f"unknown operation kind {kind!r}")
        op_cls = OPERATIONS[kind]
        allowed = {_key(fl.name): fl for fl in fields(op_cls)}
        unknown = set(data) - set(allowed) - {"kind"}
        if unknown:
            raise ValueError(f"{kind}: unknown key(s) {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for key, fl in allowed.items():
            if key not in data:
                if fl.default is MISSING:
                    raise ValueError(f"{kind}: missing key {key!r}")
                continue
            kwargs[fl.name] = _parse_value(kind, key, fl.type, data[key])
        return op_cls(**kwargs)

    def describe(self) -> str:
        raise NotImplementedError

    def references(self) -> set[str]:
        """Tables this operation needs to exist besides its own (for ``depends_on``)."""
        return set()

    def apply(self, state: State) -> State:
        return state

    #: True when undoing the operation cannot bring the data back (DropTable, DropColumn...):
    #: a backward run stops at it unless --allow-irreversible (SPEC §8).
    irreversible: ClassVar[bool] = False

    def reverse(self, state: State) -> list[Operation]:
        """The operations that undo this one; ``state`` is the table state before it ran."""
        raise IrreversibleOperation(f"{self.kind} has no reverse")


class IrreversibleOperation(Exception):
    """An operation that cannot be undone at all (RunSql without reverse_sql)."""


def _parse_value(kind: str, key: str, type_: Any, value: Any) -> Any:
    t = str(type_)
    try:
        if t.startswith("Column"):
            return Column.from_dict(value)
        if t.startswith("tuple[Column"):
            return tuple(Column.from_dict(c) for c in value)
        if t.startswith("tuple[tuple"):
            return tuple(tuple(_strs(g)) for g in value)
        if t.startswith("tuple[str"):
            return tuple(_strs(value))
        if t.startswith("bool"):
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
            return value
        if t.startswith("str"):
            if not isinstance(value, str) and not (value is None and "None" in t):
                raise ValueError("expected a string")
            return value
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{kind}.{key}: {exc}") from None
    return value


def _strs(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("expected a list of strings")
    return values


def _fk_refs(columns: tuple[Column, ...] | list[Column]) -> set[str]:
    return {c.fk_target for c in columns if c.is_fk and c.fk_target and c.db_constraint}


@dataclass(frozen=True)
class CreateTable(Operation):
    kind: ClassVar[str] = "CreateTable"
    table: str
    columns: tuple[Column, ...]
    unique_together: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    def describe(self) -> str:
        return f"Create table {self.table}"

    def references(self) -> set[str]:
        return _fk_refs(self.columns) - {self.table}

    def apply(self, state: State) -> State:
        new = dict(state)
        new[self.table] = ModelState(
            self.table, self.table, self.columns, self.unique_together, self.indexes
        )
        return new

    def reverse(self, state: State) -> list[Operation]:
        return [DropTable(table=self.table)]


@dataclass(frozen=True)
class DropTable(Operation):
    kind: ClassVar[str] = "DropTable"
    table: str

    def describe(self) -> str:
        return f"Drop table {self.table}"

    irreversible: ClassVar[bool] = True

    def apply(self, state: State) -> State:
        new = dict(state)
        new.pop(self.table, None)
        return new

    def reverse(self, state: State) -> list[Operation]:
        model = _require(state, self.table, self)
        return [CreateTable(self.table, model.fields, model.unique_together, model.indexes)]


def _with_table(state: State, table: str, **changes: Any) -> State:
    new = dict(state)
    if table in new:
        new[table] = replace(new[table], **changes)
    return new


@dataclass(frozen=True)
class AddColumn(Operation):
    kind: ClassVar[str] = "AddColumn"
    table: str
    column: Column
    #: A one-off value for the rows the table already has (a NOT NULL column without a
    #: default); never the column's default, which the snapshot keeps as the model says.
    backfill: Any = None

    def __post_init__(self) -> None:
        _check_backfill(self.kind, self.column, self.backfill)

    def describe(self) -> str:
        return f"Add column {self.column.name} to {self.table}" + _filling(self.backfill)

    def references(self) -> set[str]:
        return _fk_refs([self.column]) - {self.table}

    def apply(self, state: State) -> State:
        if self.table not in state:
            return state
        return _with_table(state, self.table, fields=(*state[self.table].fields, self.column))

    def reverse(self, state: State) -> list[Operation]:
        return [DropColumn(table=self.table, column=self.column.name)]


def _filling(backfill: Any) -> str:
    if backfill is None:
        return ""
    return f" (existing rows get {json.dumps(backfill, ensure_ascii=False)})"


def _check_backfill(kind: str, column: Column, backfill: Any) -> None:
    """A file's backfill must fit its column (SQLite would store "abc" in an INTEGER)."""
    if backfill is not None:
        problem = backfill_problem(column, backfill)
        if problem:
            raise ValueError(f"{kind}.backfill: {problem}")


def _drop_from_groups(groups: tuple[tuple[str, ...], ...], column: str) -> tuple:
    return tuple(g for g in groups if column not in g)


@dataclass(frozen=True)
class DropColumn(Operation):
    kind: ClassVar[str] = "DropColumn"
    irreversible: ClassVar[bool] = True
    table: str
    column: str

    def reverse(self, state: State) -> list[Operation]:
        model = _require(state, self.table, self)
        col = model.column(self.column)
        if col is None:
            raise IrreversibleOperation(f"column {self.table}.{self.column} is not in the state")
        if not col.nullable and not col.has_default and not (col.auto_now or col.auto_now_add):
            # Re-adding it to a populated table needs a value for every row: add it nullable.
            col = replace(col, nullable=True)
        ops: list[Operation] = [AddColumn(table=self.table, column=col)]
        ops += [
            AddIndex(table=self.table, columns=g, unique=True)
            for g in model.unique_together
            if self.column in g
        ]
        ops += [AddIndex(table=self.table, columns=g) for g in model.indexes if self.column in g]
        return ops

    def describe(self) -> str:
        return f"Drop column {self.column} from {self.table}"

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        return _with_table(
            state,
            self.table,
            fields=tuple(c for c in model.fields if c.name != self.column),
            unique_together=_drop_from_groups(model.unique_together, self.column),
            indexes=_drop_from_groups(model.indexes, self.column),
        )


@dataclass(frozen=True)
class AlterColumn(Operation):
    kind: ClassVar[str] = "AlterColumn"
    table: str
    column: str
    from_: Column
    to: Column
    #: A one-off value for the NULLs the column holds when it becomes NOT NULL without a
    #: default; never the column's default.
    backfill: Any = None

    def __post_init__(self) -> None:
        _check_backfill(self.kind, self.to, self.backfill)

    def describe(self) -> str:
        return f"Alter column {self.column} of {self.table}" + _filling(self.backfill)

    def references(self) -> set[str]:
        return _fk_refs([self.to]) - {self.table}

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        cols = tuple(self.to if c.name == self.column else c for c in model.fields)
        return _with_table(state, self.table, fields=cols)

    def reverse(self, state: State) -> list[Operation]:
        return [AlterColumn(table=self.table, column=self.column, from_=self.to, to=self.from_)]


@dataclass(frozen=True)
class RenameTable(Operation):
    kind: ClassVar[str] = "RenameTable"
    from_: str
    to: str
    #: Leave a compatibility shim under the old name (``makemigrations --compat``).
    compat: bool = False

    def describe(self) -> str:
        shim = f" (compat view {self.from_})" if self.compat else ""
        return f"Rename table {self.from_} to {self.to}{shim}"

    def shim(self, since: str = "") -> Shim:
        """The view that keeps the old name working: it reads and writes the renamed table."""
        return Shim(name=self.from_, table=self.to, since=since)

    def apply(self, state: State) -> State:
        new = dict(state)
        if self.from_ in new:
            new[self.to] = replace(new.pop(self.from_), table=self.to, name=self.to)
        # What refers to the table follows it, as the database's foreign keys do: the targets
        # of foreign keys and ManyToMany relations, and a renamed junction's own name.
        for table, model in new.items():
            if any(c.fk_target == self.from_ for c in model.fields) or any(
                self.from_ in (r.target, r.table) for r in model.m2m
            ):
                new[table] = replace(
                    model,
                    fields=tuple(
                        replace(c, fk_target=self.to) if c.fk_target == self.from_ else c
                        for c in model.fields
                    ),
                    m2m=tuple(self._follow(r, table) for r in model.m2m),
                )
        return new

    def _follow(self, rel: M2M, parent_table: str) -> M2M:
        if rel.target == self.from_:
            rel = replace(rel, target=self.to)
        if rel.table == self.from_:
            prefix = parent_table + "_"
            field = self.to[len(prefix) :] if self.to.startswith(prefix) else rel.field
            rel = replace(rel, table=self.to, field=field)
        return rel

    def reverse(self, state: State) -> list[Operation]:
        back = RenameTable(from_=self.to, to=self.from_)
        return [DropCompatShim.of(self.shim()), back] if self.compat else [back]


@dataclass(frozen=True)
class RenameColumn(Operation):
    kind: ClassVar[str] = "RenameColumn"
    table: str
    from_: str
    to: str
    #: Leave a compatibility shim: a view of the table with the old column name.
    compat: bool = False

    def describe(self) -> str:
        shim = f" (compat view {compat_view_name(self.table)})" if self.compat else ""
        return f"Rename column {self.from_} of {self.table} to {self.to}{shim}"

    def shim(self, since: str = "") -> Shim:
        return Shim(compat_view_name(self.table), self.table, since, self.from_, self.to)

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state

        def ren(group: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(self.to if c == self.from_ else c for c in group)

        return _with_table(
            state,
            self.table,
            fields=tuple(c.renamed(self.to) if c.name == self.from_ else c for c in model.fields),
            unique_together=tuple(ren(g) for g in model.unique_together),
            indexes=tuple(ren(g) for g in model.indexes),
        )

    def reverse(self, state: State) -> list[Operation]:
        back = RenameColumn(table=self.table, from_=self.to, to=self.from_)
        return [DropCompatShim.of(self.shim()), back] if self.compat else [back]


def compat_view_name(table: str) -> str:
    """The shim view of a column rename: SQL cannot give a view the name of a table that is
    still there, so it is the table's name with ``_compat``."""
    return f"{table}_compat"


@dataclass(frozen=True)
class CreateCompatShim(Operation):
    """Create the view of ``shim`` (a renamed table's old name, or a renamed column's view)."""

    kind: ClassVar[str] = "CreateCompatShim"
    name: str
    table: str
    from_: str | None = None
    to: str | None = None

    @classmethod
    def of(cls, shim: Shim) -> CreateCompatShim:
        return cls(name=shim.name, table=shim.table, from_=shim.from_, to=shim.to)

    def shim(self, since: str = "") -> Shim:
        return Shim(self.name, self.table, since, self.from_, self.to)

    def describe(self) -> str:
        return f"Create compatibility view {self.name} of {self.table}"

    def reverse(self, state: State) -> list[Operation]:
        return [DropCompatShim.of(self.shim())]


@dataclass(frozen=True)
class DropCompatShim(Operation):
    """Drop a compatibility shim's view (the contract step: N-1 no longer runs)."""

    kind: ClassVar[str] = "DropCompatShim"
    name: str
    table: str
    from_: str | None = None
    to: str | None = None

    @classmethod
    def of(cls, shim: Shim) -> DropCompatShim:
        return cls(name=shim.name, table=shim.table, from_=shim.from_, to=shim.to)

    def shim(self, since: str = "") -> Shim:
        return Shim(self.name, self.table, since, self.from_, self.to)

    def describe(self) -> str:
        return f"Drop compatibility view {self.name} of {self.table}"

    def reverse(self, state: State) -> list[Operation]:
        return [CreateCompatShim.of(self.shim())]


@dataclass(frozen=True)
class CreateM2MTable(Operation):
    kind: ClassVar[str] = "CreateM2MTable"
    table: str
    parent_table: str
    parent_column: str
    child_table: str
    child_column: str
    parent_type: str = "BigInt"
    child_type: str = "BigInt"

    @classmethod
    def of(cls, model: ModelState, rel: M2M) -> CreateM2MTable:
        """The junction of ``model``'s ManyToMany ``rel`` (the model has a primary key)."""
        pk = model.pk
        assert pk is not None
        return cls(
            table=rel.table,
            parent_table=model.table,
            parent_column=pk.name,
            child_table=rel.target,
            child_column=rel.target_column,
            parent_type=pk.storage_type,
            child_type=rel.target_type,
        )

    def describe(self) -> str:
        return f"Create junction table {self.table}"

    def references(self) -> set[str]:
        return {self.parent_table, self.child_table}

    def apply(self, state: State) -> State:
        parent = state.get(self.parent_table)
        if parent is None:
            return state
        field = self.table[len(self.parent_table) + 1 :]
        rel = M2M(field, self.table, self.child_table, self.child_column, self.child_type)
        others = tuple(m for m in parent.m2m if m.table != self.table)
        return _with_table(state, self.parent_table, m2m=(*others, rel))

    def reverse(self, state: State) -> list[Operation]:
        return [DropM2MTable(table=self.table)]


@dataclass(frozen=True)
class DropM2MTable(Operation):
    kind: ClassVar[str] = "DropM2MTable"
    table: str

    irreversible: ClassVar[bool] = True

    def describe(self) -> str:
        return f"Drop junction table {self.table}"

    def apply(self, state: State) -> State:
        for model in state.values():
            if any(m.table == self.table for m in model.m2m):
                kept = tuple(m for m in model.m2m if m.table != self.table)
                return _with_table(state, model.table, m2m=kept)
        return state

    def reverse(self, state: State) -> list[Operation]:
        for model in state.values():
            for rel in model.m2m:
                if rel.table == self.table and model.pk is not None:
                    return [
                        CreateM2MTable(
                            table=rel.table,
                            parent_table=model.table,
                            parent_column=model.pk.name,
                            child_table=rel.target,
                            child_column=rel.target_column,
                            parent_type=model.pk.storage_type,
                            child_type=rel.target_type,
                        )
                    ]
        raise IrreversibleOperation(f"junction table {self.table} is not in the state")


@dataclass(frozen=True)
class AddIndex(Operation):
    kind: ClassVar[str] = "AddIndex"
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    #: Postgres only: build with CREATE INDEX CONCURRENTLY (needs "atomic": false).
    concurrent: bool = False

    def describe(self) -> str:
        what = "unique index" if self.unique else "index"
        return f"Add {what} on {self.table} ({', '.join(self.columns)})"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["unique"] = self.unique  # always written: it names the index
        return out

    def apply(self, state: State) -> State:
        # Index flags live on columns/groups in snapshots; the table state keeps them as groups.
        model = state.get(self.table)
        if model is None:
            return state
        if self.unique:
            return _with_table(
                state, self.table, unique_together=(*model.unique_together, self.columns)
            )
        return _with_table(state, self.table, indexes=(*model.indexes, self.columns))

    def reverse(self, state: State) -> list[Operation]:
        return [DropIndex(table=self.table, columns=self.columns, unique=self.unique,
                          concurrent=self.concurrent)]  # fmt: skip


@dataclass(frozen=True)
class DropIndex(Operation):
    kind: ClassVar[str] = "DropIndex"
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    concurrent: bool = False

    def describe(self) -> str:
        what = "unique index" if self.unique else "index"
        return f"Drop {what} on {self.table} ({', '.join(self.columns)})"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["unique"] = self.unique
        return out

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        if self.unique:
            groups = tuple(g for g in model.unique_together if g != self.columns)
            return _with_table(state, self.table, unique_together=groups)
        groups = tuple(g for g in model.indexes if g != self.columns)
        cols = model.fields
        if len(self.columns) == 1:
            cols = tuple(replace(c, index=False) if c.name == self.columns[0] else c for c in cols)
        return _with_table(state, self.table, indexes=groups, fields=cols)

    def reverse(self, state: State) -> list[Operation]:
        return [AddIndex(table=self.table, columns=self.columns, unique=self.unique,
                         concurrent=self.concurrent)]  # fmt: skip


@dataclass(frozen=True)
class SetColumnComment(Operation):
    kind: ClassVar[str] = "SetColumnComment"
    table: str
    column: str
    comment: str | None = None

    def describe(self) -> str:
        return f"Set comment on {self.table}.{self.column}"

    def apply(self, state: State) -> State:
        model = state.get(self.table)
        if model is None:
            return state
        cols = tuple(
            replace(c, help=self.comment) if c.name == self.column else c for c in model.fields
        )
        return _with_table(state, self.table, fields=cols)

    def reverse(self, state: State) -> list[Operation]:
        model = state.get(self.table)
        col = model.column(self.column) if model else None
        return [SetColumnComment(self.table, self.column, col.help if col else None)]


@dataclass(frozen=True)
class CreateView(Operation):
    kind: ClassVar[str] = "CreateView"
    name: str
    sql: str

    def describe(self) -> str:
        return f"Create view {self.name}"

    def reverse(self, state: State) -> list[Operation]:
        return [DropView(name=self.name, sql=self.sql)]


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class RunSql(Operation):
    kind: ClassVar[str] = "RunSql"
    sql: str
    reverse_sql: str | None = None
    #: A squash may drop this statement (e.g. a one-off data backfill).
    elidable: bool = False

    def describe(self) -> str:
        first = self.sql.strip().splitlines()[0] if self.sql.strip() else ""
        return f"Run SQL: {first[:60]}"

    @property
    def irreversible(self) -> bool:  # type: ignore[override]
        return self.reverse_sql is None

    def reverse(self, state: State) -> list[Operation]:
        if self.reverse_sql is None:
            raise IrreversibleOperation("RunSql without reverse_sql cannot be undone")
        return [RunSql(sql=self.reverse_sql, reverse_sql=self.sql)]


@dataclass(frozen=True)
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


OPERATIONS: dict[str, type[Operation]] = {
    cls.kind: cls
    for cls in (
        CreateTable, DropTable, AddColumn, DropColumn, AlterColumn, RenameTable, RenameColumn,
        CreateM2MTable, DropM2MTable, AddIndex, DropIndex, SetColumnComment, CreateView,
        DropView, RunSql, CreateCompatShim, DropCompatShim, RunPython,
    )
}  # fmt: skip


def _require(state: State, table: str, op: Operation) -> ModelState:
    model = state.get(table)
    if model is None:
        raise IrreversibleOperation(f"{op.kind}: table {table} is not in the plugin's schema")
    return model


def reverse_operations(operations: list[Operation], state: State) -> list[Operation]:
    """The operations that undo ``operations`` (run in order from ``state``), in order."""
    states = [state]
    for op in operations:
        states.append(op.apply(states[-1]))
    out: list[Operation] = []
    for op, before in zip(reversed(operations), reversed(states[:-1]), strict=True):
        out.extend(op.reverse(before))
    return out


def apply_all(state: State, operations: list[Operation] | tuple[Operation, ...]) -> State:
    for op in operations:
        state = op.apply(state)
    return state


class LazyState(Mapping[str, ModelState]):
    """The tables before one operation, built on first read (``render_migration``).

    Most operations render without looking at the tables, and building them means parsing the
    predecessor migration's snapshot, which repeats the plugin's whole schema: a long history
    would parse every one of them to apply the migrations in order."""

    __slots__ = ("_build", "_state")

    def __init__(self, build: Callable[[], State]) -> None:
        self._build = build
        self._state: State | None = None

    def _tables(self) -> State:
        if self._state is None:
            self._state = self._build()
        return self._state

    def __getitem__(self, table: str) -> ModelState:
        return self._tables()[table]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables())

    def __len__(self) -> int:
        return len(self._tables())


class StateThread:
    """The tables before each operation of one migration, from the tables before the first
    (``base``, built once when first needed) and the operations applied in order."""

    def __init__(self, base: Callable[[], State], operations: Sequence[Operation]) -> None:
        self._build_base = base
        self._base: State | None = None
        self._operations = operations
        self._at = 0  # how many operations ``_state`` has applied to the base
        self._state: State = {}

    def before(self, index: int) -> State:
        if self._base is None or index < self._at:  # first use, or asked for an earlier one
            if self._base is None:
                self._base = self._build_base()
            self._state, self._at = self._base, 0
        while self._at < index:
            self._state = self._operations[self._at].apply(self._state)
            self._at += 1
        return self._state

    def lazy(self, index: int) -> LazyState:
        return LazyState(lambda: self.before(index))


def state_from_snapshot(models: Any) -> State:
    """Table state from a snapshot's models (views excluded: they are not tables)."""
    return {m.table: m for m in models.values() if m.view is None}
