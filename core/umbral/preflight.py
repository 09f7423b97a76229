"""Failures a migration can foresee, refused before its first statement runs.

MySQL and MariaDB commit each DDL statement on its own, so a migration that fails at its Nth
statement leaves the ones before it applied (statement-level resume then continues there,
``umbral.stepwise``). What can be seen coming from what the database holds is refused before
any statement of the migration runs, on every backend (one read each):

Each ``Look`` is plain data found by ``find`` when the migration is rendered and kept with the
rendering; the backend renders the statement it reads with:

- ``NoValue``: a NOT NULL column added with no value for the rows the table holds (a file
  written by hand): refused on a table with a row (``Backend.first_row_sql``).
- ``SameValue``: a unique column or index whose every row gets one value (a column added with
  a default, a backfill or an ``auto_now`` time): it cannot hold on a table with two rows
  (``Backend.second_row_sql``).
- ``FillsUnique``: a unique column made NOT NULL whose NULLs all get one value (its default
  or a backfill): it cannot hold on two NULL rows, or on one beside a row holding that value.
- ``FitsLength``: a text column made shorter (the undo of a widening, or a file written by
  hand) than a value it holds (``Backend.longer_values_sql``; not on SQLite, which keeps it).
- ``InChoices``: a column given ``choices`` (or fewer of them) over a value it holds that is
  not one of them: the CHECK fails (MySQL and MariaDB drop the old one before).
- ``KeyHolds``: a foreign key an ``AlterColumn`` adds (or adds back to another table) over
  the values the column holds, or over the value its NULLs are filled with, or an
  ``AddColumn`` adds with one value for every row the table holds: a value with no
  row in the target table makes the key fail (MySQL and MariaDB drop the old key, and run the
  fill, before).

Besides them, a run-time step's ``precheck`` (``umbral.steps``): what the step would refuse at
its own statement, read from the database as the migration finds it (MySQL's ``MODIFY`` of a
generated column).

Each is looked at only for an operation that finds its table (and, for a step, its columns)
as the migration found them: no operation before it runs user code, or creates, drops or
renames that table, or adds, drops, renames or alters those columns. Otherwise the statement
fails as before. A migration continued part way (``--from-statement``, a resumed run) is not
looked at: the database is then as its completed statements left it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

from umbral import operations as ops
from umbral.errors import CannotApply, UnsupportedChange
from umbral.steps import show_duplicates
from umbral.values import frozen, record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.backend import Backend


class Look:
    """A look at the database before a migration's first statement: plain data found by
    ``find`` when the migration is rendered, kept with the rendering (``umbral.sqlcache``) as
    JSON under its ``NAME``. What a well-formed value read back is follows each field's type
    (``shape``), or ``NARROWER`` where a field takes fewer values than its type."""

    NAME: ClassVar[str]
    NARROWER: ClassVar[dict[str, Callable[[Any], bool]]] = {}

    def refusal_in(self, conn: Connection, backend: Backend, key: str) -> str | None:
        """The one-line refusal of migration ``key`` when what the database holds makes the
        operation fail, else None. Reads only."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """As JSON gives it back: a tuple as a list."""
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def shape(cls) -> dict[str, Callable[[Any], bool]]:
        """Field by field, what a well-formed value read back from JSON is."""
        return {
            f.name: cls.NARROWER.get(f.name) or _BY_TYPE[str(f.type)]
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        }

    @classmethod
    def well_formed(cls, data: Any) -> bool:
        """Whether ``data`` is a ``to_dict`` of one, read back from JSON."""
        shape = cls.shape()
        return (
            isinstance(data, dict)
            and data.keys() == shape.keys()
            and all(ok(data[name]) for name, ok in shape.items())
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        # JSON gives a list where the field holds a tuple.
        tuples = {f.name for f in dataclasses.fields(cls) if str(f.type).startswith("tuple")}  # type: ignore[arg-type]
        return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_any(value: Any) -> bool:
    return True


def _is_plain(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


#: What a field of each type the looks use reads back from JSON as (a tuple as a list).
_BY_TYPE: dict[str, Callable[[Any], bool]] = {
    "int": _is_int,
    "str": _is_str,
    "bool": _is_bool,
    "Any": _is_any,
    "int | None": lambda v: v is None or _is_int(v),
    "tuple[str, ...]": lambda v: isinstance(v, list) and all(map(_is_str, v)),
}


@frozen
class SameValue(Look):
    """Operation ``index`` (``kind``) makes ``columns`` of ``table`` unique, and every row the
    table holds when the migration starts gets one value in the ones added by this migration:
    ``source`` says which (``default``, ``backfill`` or ``auto_now``, with ``value``),
    ``added_by`` the operation that added the first of them when it is another one. With only
    such columns the index fails on two rows; with others (``existing``, holding their own
    values) on two rows that share those values."""

    index: int
    kind: str
    table: str
    columns: tuple[str, ...]
    source: str
    value: Any = None
    added_by: int | None = None
    existing: tuple[str, ...] = ()

    NAME: ClassVar[str] = "same_value"
    NARROWER: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "source": lambda v: v in ("default", "backfill", "auto_now"),
    }

    def refusal_in(self, conn: Connection, backend: Backend, key: str) -> str | None:
        if self.existing:
            shared = conn.exec_driver_sql(
                backend.duplicates_sql(self.table, self.existing)
            ).fetchall()
            return self._shared(key, shared, backend.DUPLICATES_SHOWN) if shared else None
        if conn.exec_driver_sql(backend.second_row_sql(self.table)).first() is None:
            return None
        return self.refusal(key)

    def _given(self) -> str:
        return {
            "default": f"its default {_shown(self.value)}",
            "backfill": f"the one-off value {_shown(self.value)} for existing rows",
            "auto_now": "the time it is added (auto_now)",
        }[self.source]

    def _added(self) -> str:
        """The first of ``columns`` this migration adds."""
        return next(c for c in self.columns if c not in self.existing)

    def _shared(self, key: str, shared: Sequence[Sequence[Any]], shown: int) -> str:
        """The refusal when rows share the values of ``existing`` (``shared``: each with its
        count of rows)."""
        values = show_duplicates(shared, shown)
        cols, existing = ", ".join(self.columns), ", ".join(self.existing)
        return (
            f"migration {key}: operation #{self.index + 1} ({self.kind}) makes `{self.table}` "
            f"({cols}) unique, and operation #{(self.added_by or 0) + 1} added "
            f"`{self._added()}` with {self._given()}, but rows of `{self.table}` share "
            f"({existing}): {values}; with one value for the added column they would "
            "collide; remove or change those duplicates first (for instance with a RunSql "
            "migration before this one), or fill the added column with distinct values before "
            "making it unique; nothing of it was run"
        )

    def refusal(self, key: str) -> str:
        """The one-line refusal of migration ``key`` on a table with two rows or more."""
        column = self.columns[0]
        given = self._given()
        remedy = (
            "add the column nullable without "
            + ("a value for existing rows" if self.source != "default" else "the default")
            + ", fill in distinct values (RunSql or RunPython), then make it unique in a "
            "later migration"
        )
        if self.added_by is None:
            what = f"adds the unique column `{self.table}.{column}` with {given}"
        else:
            cols = ", ".join(self.columns)
            what = (
                f"makes `{self.table}` ({cols}) unique, and operation #{self.added_by + 1} "
                f"added `{column}` with {given}"
            )
        return (
            f"migration {key}: operation #{self.index + 1} ({self.kind}) {what}, but the table "
            f"`{self.table}` holds more than one row: every row would get the same value; "
            f"{remedy}; nothing of it was run"
        )


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@frozen
class KeyHolds(Look):
    """Operation ``index`` (``kind``) makes ``column`` of ``table`` a foreign key to ``target``
    (``target_column``): ``existing``, the values the column holds are new to that key (the
    key is new, or goes to another table); ``fill`` (not None), the value the column's NULLs
    are filled with, from ``source`` (``backfill`` or ``default``); ``added``: the column is
    new, and every row the table holds gets ``fill``. A value with no row in ``target`` makes
    the key fail."""

    index: int
    kind: str
    table: str
    column: str
    target: str
    target_column: str
    existing: bool
    fill: Any = None
    source: str | None = None
    added: bool = False
    #: The column changes type with its key (a key moved to a table keyed by another type):
    #: its values are compared with the target's as text, the one form both types have.
    as_text: bool = False

    NAME: ClassVar[str] = "key_holds"
    NARROWER: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "fill": lambda v: v is None or _is_int(v) or _is_str(v),
        "source": lambda v: v in (None, "backfill", "default"),
    }

    def refusal_in(self, conn: Connection, backend: Backend, key: str) -> str | None:
        problem = self._problem(conn, backend)
        if problem is None:
            return None
        return (
            f"migration {key}: operation #{self.index + 1} ({self.kind}) {problem}; "
            "nothing of it was run"
        )

    def _problem(self, conn: Connection, backend: Backend) -> str | None:
        """What makes the key fail, as the refusal says it after its head: a value with no
        row in ``target``; None when the key holds."""
        q = backend.quote
        table, column, target = q(self.table), q(self.column), q(self.target)
        where = f"{table}.{column}"
        if self.existing:
            theirs, ours = f"{target}.{q(self.target_column)}", where
            if self.as_text:
                theirs, ours = backend.as_text(theirs), backend.as_text(ours)
            count, example = conn.exec_driver_sql(
                f"SELECT COUNT(*), MIN({where}) FROM {table} WHERE {where} IS NOT NULL AND "
                f"NOT EXISTS (SELECT 1 FROM {target} WHERE {theirs} = {ours})"
            ).one()
            if count:
                rows = "1 row holds a value" if count == 1 else f"{count} rows hold values"
                return (
                    f"makes `{self.table}.{self.column}` a foreign key to `{self.target}` "
                    f"({self.target_column}), but {rows} with no row there (e.g. "
                    f"{_shown(example)}): the key could not be added; fix or delete those rows "
                    "first (for instance with a RunSql migration before this one)"
                )
        if self.fill is None:
            return None
        filled = "" if self.added else f" WHERE {column} IS NULL"
        nulls = conn.exec_driver_sql(f"SELECT 1 FROM {table}{filled} LIMIT 1").first()
        found = conn.exec_driver_sql(
            f"SELECT 1 FROM {target} WHERE {q(self.target_column)} = "
            f"{backend.literal(self.fill)} LIMIT 1"
        ).first()
        if nulls is None or found is not None:
            return None
        given = "the one-off value" if self.source == "backfill" else "its default"
        what = (
            f"adds `{self.table}.{self.column}`, a foreign key, with {given} "
            f"{_shown(self.fill)} for the rows the table holds"
            if self.added
            else f"fills the NULLs of `{self.table}.{self.column}` with {given} {_shown(self.fill)}"
        )
        return (
            f"{what}, but `{self.target}` has no row with {self.target_column} "
            f"{_shown(self.fill)}: the foreign key to it could not be added; give a value "
            f"`{self.target}` holds (make the migration again), or add that row first (for "
            "instance with a RunSql migration before this one)"
        )


@frozen
class NoValue(Look):
    """Operation ``index`` (``kind``) adds the NOT NULL ``column`` to ``table`` with no value
    for the rows it holds: no default, no one-off backfill, no ``auto_now`` (a migration file
    written by hand; ``makemigrations`` asks for a value). PostgreSQL and SQLite refuse it on a
    table with rows; MySQL and MariaDB fill each row with the type's zero (``''``, ``0``)."""

    index: int
    kind: str
    table: str
    column: str

    NAME: ClassVar[str] = "no_value"

    def refusal_in(self, conn: Connection, backend: Backend, key: str) -> str | None:
        if conn.exec_driver_sql(backend.first_row_sql(self.table)).first() is None:
            return None
        return self.refusal(key)

    def refusal(self, key: str) -> str:
        """The one-line refusal of migration ``key`` on a table with a row."""
        return (
            f"migration {key}: operation #{self.index + 1} ({self.kind}) adds the NOT NULL "
            f"column `{self.table}.{self.column}` with no default and no value for existing "
            f"rows, but the table `{self.table}` holds rows; give the column a default, add it "
            "nullable, or make the migration again with `makemigrations --backfill "
            f"Model.{self.column}=VALUE`; nothing of it was run"
        )


@frozen
class FitsLength(Look):
    """Operation ``index`` (``kind``) makes the text ``column`` of ``table`` at most ``length``
    characters long: a hand-written narrowing, or the undo of a widening in a backward run. A
    longer value makes PostgreSQL, MySQL and MariaDB refuse the change (SQLite keeps the value
    whole: ``Backend.ENFORCES_MAX_LENGTH``)."""

    index: int
    kind: str
    table: str
    column: str
    length: int

    NAME: ClassVar[str] = "fits_length"

    def refusal_in(self, conn: Connection, backend: Backend, key: str) -> str | None:
        if not backend.ENFORCES_MAX_LENGTH:
            return None
        sql = backend.longer_values_sql(self.table, self.column, self.length)
        count, example = conn.exec_driver_sql(sql).one()
        if not count:
            return None
        rows = "1 row holds a longer value" if count == 1 else f"{count} rows hold longer values"
        shown = example if len(example) <= 40 else example[:40] + "..."
        return (
            f"migration {key}: operation #{self.index + 1} ({self.kind}) makes "
            f"`{self.table}.{self.column}` at most {self.length} characters long, but {rows} "
            f"(e.g. {_shown(shown)}): the database would refuse the change; shorten or delete "
            "those values first, then run migrate again; nothing of it was run"
        )


@frozen
class FillsUnique(Look):
    """Operation ``index`` (``kind``) makes the unique ``column`` of ``table`` NOT NULL and
    fills its NULLs with one value (``source``: ``default`` or ``backfill``, with ``value``).
    Two rows holding NULL, or one beside a row that holds the value already, would collide
    (``compare``: the value is compared with the stored ones, the column keeping its type)."""

    index: int
    kind: str
    table: str
    column: str
    source: str
    value: Any
    compare: bool

    NAME: ClassVar[str] = "fills_unique"
    NARROWER: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "source": lambda v: v in ("default", "backfill"),
    }

    def refusal_in(self, conn: Connection, backend: Backend, key: str) -> str | None:
        q = backend.quote
        table, column = q(self.table), q(self.column)
        count = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM {table} WHERE {column} IS NULL"
        ).scalar_one()
        if count == 1 and self.compare:
            value = backend.literal(self.value)
            found = f"SELECT 1 FROM {table} WHERE {column} = {value} LIMIT 1"
            held = conn.exec_driver_sql(found).first() is not None
        else:
            held = False
        if count < 2 and not held:
            return None
        given = "its default" if self.source == "default" else "the one-off value"
        rows = f"{count} rows hold NULL there"
        if count == 1:
            rows = "1 row holds NULL there and another holds that value already"
        return (
            f"migration {key}: operation #{self.index + 1} ({self.kind}) fills the NULLs of "
            f"the unique column `{self.table}.{self.column}` with {given} "
            f"{_shown(self.value)}, but {rows}: with that one value they would collide; give "
            "those rows distinct values first (for instance with a RunSql migration before "
            "this one), or keep the column nullable; nothing of it was run"
        )


@frozen
class InChoices(Look):
    """Operation ``index`` (``kind``) gives ``column`` of ``table`` the ``choices`` (first ones,
    or ones without a value it allowed), keeping its type. A row holding another value makes
    the CHECK fail: PostgreSQL rolls the migration back, MySQL and MariaDB have dropped the
    old CHECK by then (SQLite keeps no CHECK: ``Backend.ENFORCES_CHOICES``)."""

    index: int
    kind: str
    table: str
    column: str
    choices: tuple[Any, ...]

    NAME: ClassVar[str] = "in_choices"
    NARROWER: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "choices": lambda v: isinstance(v, list | tuple) and bool(v) and all(map(_is_plain, v)),
    }

    def refusal_in(self, conn: Connection, backend: Backend, key: str) -> str | None:
        if not backend.ENFORCES_CHOICES:
            return None
        q = backend.quote
        column = q(self.column)
        allowed = ", ".join(backend.literal(v) for v in self.choices)
        count, example = conn.exec_driver_sql(
            f"SELECT COUNT(*), MIN({column}) FROM {q(self.table)} WHERE {column} NOT IN ({allowed})"
        ).one()
        if not count:
            return None
        rows = "1 row holds another value" if count == 1 else f"{count} rows hold other values"
        shown = ", ".join(_shown(v) for v in self.choices)
        return (
            f"migration {key}: operation #{self.index + 1} ({self.kind}) limits "
            f"`{self.table}.{self.column}` to the choices {shown}, but {rows} (e.g. "
            f"{_shown(example)}): the CHECK of the choices could not be added; change or "
            "delete those rows first (for instance with a RunSql migration before this one), "
            "or keep that value among the choices; nothing of it was run"
        )


#: Every kind of look, by the name it is kept under.
LOOKS: dict[str, type[Look]] = {
    k.NAME: k for k in (SameValue, KeyHolds, NoValue, FitsLength, FillsUnique, InChoices)
}


def kept(look: Look) -> dict[str, Any]:
    """``look`` as JSON keeps it: its fields and its kind's name."""
    return {"look": look.NAME, **look.to_dict()}


def well_formed(data: Any) -> bool:
    """Whether ``data``, read back from JSON, is a ``kept`` look."""
    if not isinstance(data, dict):
        return False
    kind = LOOKS.get(data.get("look"))  # type: ignore[arg-type]
    return kind is not None and kind.well_formed(_fields(data))


def from_kept(data: dict[str, Any]) -> Look:
    """The look ``kept`` gave ``data`` (``well_formed``)."""
    return LOOKS[data["look"]].from_dict(_fields(data))


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """A kept look's fields: without its kind's name."""
    return {k: v for k, v in data.items() if k != "look"}


@record
class Found:
    """What ``find`` learns from a migration's operations."""

    #: In the order they are looked at: the migration's operations' order.
    looks: list[Look]
    #: The operations that find their table and columns as the migration found them (their
    #: run-time steps' ``precheck`` is looked at).
    as_found: list[int]


#: What changes no table's rows and no column: the rest of the migration finds them as before.
_NEUTRAL = (ops.AddIndex, ops.DropIndex, ops.CreateView, ops.DropView, ops.CreateCompatShim,
            ops.DropCompatShim)  # fmt: skip
#: What creates or drops a table (a renamed one is both; a junction whose key column follows
#: its key is made again on SQLite).
_TABLES = (ops.CreateTable, ops.DropTable, ops.CreateM2MTable, ops.DropM2MTable, ops.AlterM2MKey)
#: What changes one column (a renamed one is two).
_COLUMNS = (ops.AddColumn, ops.DropColumn, ops.AlterColumn, ops.SetColumnComment)


def find(operations: Sequence[ops.Operation]) -> Found:
    """The ``SameValue`` checks of a migration of ``operations``, and which operations find
    their table and columns as the migration found them. Pure: one pass, which stops at the
    first operation that may change anything (``RunSql``, ``RunPython``, a plugin's kind)."""
    out = Found([], [])
    tables: set[str] = set()  # created, dropped or renamed so far
    columns: set[tuple[str, str]] = set()  # added, dropped, renamed or altered so far
    # Columns added so far with one value for every row: (table, column) -> their SameValue.
    constant: dict[tuple[str, str], SameValue] = {}
    for index, op in enumerate(operations):
        if not isinstance(op, (*_NEUTRAL, *_TABLES, *_COLUMNS, ops.RenameTable, ops.RenameColumn)):
            break
        if isinstance(op, ops.CreateView | ops.DropView):
            continue  # a view: no table of its own
        table = op.from_ if isinstance(op, ops.RenameTable) else op.table
        names = _columns_of(op)
        rows_found = table not in tables
        if rows_found and not any((table, c) in columns for c in names):
            out.as_found.append(index)
            if isinstance(op, ops.AlterColumn):
                narrowed = _narrowed(index, op)
                if narrowed is not None:
                    out.looks.append(narrowed)
                fills = _fills_unique(index, op)
                if fills is not None:
                    out.looks.append(fills)
                limited = _in_choices(index, op)
                if limited is not None:
                    out.looks.append(limited)
                holds = _key_holds(index, op)
                if (
                    holds is not None
                    and holds.target not in tables
                    and ((holds.target, holds.target_column) not in columns)
                ):
                    out.looks.append(holds)
        if isinstance(op, ops.AddColumn):
            if rows_found and _no_value(op):
                out.looks.append(NoValue(index, op.kind, table, op.column.name))
            one = _one_value(index, op)
            if one is not None and op.column.unique and rows_found:
                out.looks.append(one)
            elif one is not None:
                constant[(table, op.column.name)] = one
            holds = _key_filled(index, op)
            if (
                holds is not None
                and rows_found
                and holds.target not in tables
                and (holds.target, holds.target_column) not in columns
            ):
                out.looks.append(holds)
        elif (isinstance(op, ops.AddIndex) and op.unique) or (
            isinstance(op, ops.AlterColumn) and op.to.unique and not op.from_.unique
        ):
            _unique_over(out, constant, columns, index, op.kind, table, names, rows_found)
        # What this operation changes, for the ones after it.
        if isinstance(op, _TABLES):
            tables.add(table)
        elif isinstance(op, ops.RenameTable):
            tables |= {op.from_, op.to}
        elif isinstance(op, ops.RenameColumn):
            columns |= {(table, op.from_), (table, op.to)}
            moved = constant.pop((table, op.from_), None)
            if moved is not None:
                constant[(table, op.to)] = moved
        elif isinstance(op, _COLUMNS):
            columns |= {(table, c) for c in names}
            if isinstance(op, ops.DropColumn):
                constant.pop((table, op.column), None)
    return out


def _columns_of(op: ops.Operation) -> tuple[str, ...]:
    """The columns an operation acts on (by their names before it)."""
    if isinstance(op, ops.AddColumn):
        return (op.column.name,)
    if isinstance(op, ops.DropColumn | ops.AlterColumn | ops.SetColumnComment):
        return (op.column,)
    if isinstance(op, ops.RenameColumn):
        return (op.from_,)
    if isinstance(op, ops.AddIndex | ops.DropIndex):
        return tuple(op.columns)
    return ()


def _key_holds(index: int, op: ops.AlterColumn) -> KeyHolds | None:
    """The ``KeyHolds`` of an ``AlterColumn`` that adds a foreign key over values it has not
    held (a new key over a column whose type stays, or one to another table, whatever its
    type), or fills the NULLs of one with a value; else None."""
    old, new = op.from_, op.to
    if not (new.is_fk and new.db_constraint and new.fk_target):
        return None
    target_column = new.fk_column or "id"
    was = (old.fk_target, old.fk_column or "id") if old.is_fk and old.db_constraint else None
    existing = was != (new.fk_target, target_column)
    # A key that keeps its target but changes type compares its values after the change.
    as_text = existing and old.storage_type != new.storage_type
    if as_text and was is None:
        existing = as_text = False  # a plain column made a key of another type: as before
    fill, source = None, None
    if old.nullable and not new.nullable:
        if new.default is not None:
            fill, source = new.default, "default"
        elif op.backfill is not None:
            fill, source = op.backfill, "backfill"
        if isinstance(fill, bool) or not isinstance(fill, int | str):
            fill, source = None, None
    if not existing and fill is None:
        return None
    return KeyHolds(
        index, op.kind, op.table, op.column, new.fk_target, target_column, existing, fill,
        source, as_text=as_text,
    )  # fmt: skip


def _narrowed(index: int, op: ops.AlterColumn) -> FitsLength | None:
    """The ``FitsLength`` of an ``AlterColumn`` that gives a text column a lower (or a first)
    ``max_length`` and keeps its type; else None."""
    old, new = op.from_, op.to
    if new.max_length is None or old.type != new.type or new.type != "Text":
        return None
    if old.max_length is not None and old.max_length <= new.max_length:
        return None
    return FitsLength(index, op.kind, op.table, op.column, new.max_length)


def _fills_unique(index: int, op: ops.AlterColumn) -> FillsUnique | None:
    """The ``FillsUnique`` of an ``AlterColumn`` that makes a unique column NOT NULL with one
    value for its NULLs (its default, or a one-off backfill); else None."""
    old, new = op.from_, op.to
    if not (new.unique and old.nullable and not new.nullable):
        return None
    if new.default is not None:
        source, value = "default", new.default
    elif op.backfill is not None:
        source, value = "backfill", op.backfill
    else:
        return None
    # Compared with the stored values only where both read alike: a plain value, one type.
    compare = isinstance(value, bool | int | float | str) and old.type == new.type
    return FillsUnique(index, op.kind, op.table, op.column, source, value, compare)


def _in_choices(index: int, op: ops.AlterColumn) -> InChoices | None:
    """The ``InChoices`` of an ``AlterColumn`` that gives a column choices it did not have, or
    takes a value out of them, keeping its type (a cast compares after it); else None."""
    old, new = op.from_, op.to
    if not new.choices or new.primary_key or old.type != new.type:
        return None
    if old.choices and set(old.choices) <= set(new.choices):
        return None  # every value allowed before still is
    if not all(map(_is_plain, new.choices)):
        return None
    return InChoices(index, op.kind, op.table, op.column, tuple(new.choices))


def _no_value(op: ops.AddColumn) -> bool:
    col = op.column
    return not (
        col.nullable
        or col.has_default
        or col.auto_now
        or col.auto_now_add
        or col.primary_key
        or op.backfill is not None
    )


def _key_filled(index: int, op: ops.AddColumn) -> KeyHolds | None:
    """The ``KeyHolds`` of an ``AddColumn`` of a foreign key that every row the table holds
    gets a value in (its default, or a one-off backfill); else None."""
    col = op.column
    if not (col.is_fk and col.db_constraint and col.fk_target):
        return None
    fill, source = op.backfill, "backfill"
    if fill is None:
        fill, source = col.default, "default"
    if isinstance(fill, bool) or not isinstance(fill, int | str):
        return None
    return KeyHolds(
        index, op.kind, op.table, col.name, col.fk_target, col.fk_column or "id", False, fill,
        source, added=True,
    )  # fmt: skip


def _one_value(index: int, op: ops.AddColumn) -> SameValue | None:
    """The ``SameValue`` of an ``AddColumn`` whose every existing row gets one value, else
    None (NULL never collides; a primary key is numbered)."""
    col = op.column
    if col.primary_key:
        return None
    if op.backfill is not None:
        source, value = "backfill", op.backfill
    elif col.default is not None:
        source, value = "default", col.default
    elif col.auto_now or col.auto_now_add:
        source, value = "auto_now", None
    else:
        return None
    return SameValue(index, op.kind, op.table, (col.name,), source, value)


def _unique_over(
    out: Found,
    constant: dict[tuple[str, str], SameValue],
    changed: set[tuple[str, str]],
    index: int,
    kind: str,
    table: str,
    columns: tuple[str, ...],
    rows_found: bool,
) -> None:
    """A unique index (or ``unique``) made on ``columns``: a ``SameValue`` when some of them
    were added in this migration with one value for every row, and the others hold their
    values as the migration found them."""
    added = [constant[(table, c)] for c in columns if (table, c) in constant]
    existing = tuple(c for c in columns if (table, c) not in constant)
    if not added or not rows_found or any((table, c) in changed for c in existing):
        return
    first = added[0]
    out.looks.append(
        SameValue(index, kind, table, columns, first.source, first.value, first.index, existing)
    )


def check(
    conn: Connection,
    backend: Backend,
    key: str,
    looks: Sequence[Look],
    prechecks: Sequence[tuple[int, str, Any]] = (),
) -> None:
    """Refuse migration ``key`` before its first statement (CannotApply) when what the
    database holds makes it fail: one of ``looks``, or a run-time step's ``precheck``
    (``prechecks``: operation index, kind and step). Reads only."""
    from umbral.recorder import reading

    def look(c: Connection) -> None:
        for one in looks:
            refusal = one.refusal_in(c, backend, key)
            if refusal is not None:
                raise CannotApply(refusal)
        for index, kind, step in prechecks:
            try:
                step.precheck(c)
            except UnsupportedChange as exc:
                raise CannotApply(
                    f"migration {key}: operation #{index + 1} ({kind}) {exc}; nothing of it was run"
                ) from None

    reading(conn, look)
