"""The schema as data: columns, models and per-plugin snapshots.

A :class:`Snapshot` is what a migration file stores in ``snapshot_after`` and what the
autodetector diffs. It is plain, immutable data with a canonical dict form (SPEC §5): column
objects always carry ``name type primary_key nullable``, every other attribute only when it is not
at its default. This module must not import SQLAlchemy or know about any backend.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import field, fields, replace
from typing import Any

# Re-exported: models, fields and the backends read them from here.
from umbral.fieldtypes import FK_ACTIONS as FK_ACTIONS
from umbral.fieldtypes import INTEGER_TYPES as INTEGER_TYPES
from umbral.fieldtypes import TEMPORAL_TYPES as TEMPORAL_TYPES
from umbral.fieldtypes import TYPES as TYPES
from umbral.values import frozen

# Attributes that are written to the snapshot only when they differ from these defaults.
_COLUMN_DEFAULTS: dict[str, Any] = {
    "default": None,
    "unique": False,
    "index": False,
    "help": None,
    "max_length": None,
    "choices": None,
    "fk_target": None,
    "fk_column": None,
    "fk_type": None,
    "on_delete": "no_action",
    "on_update": "no_action",
    "db_constraint": True,
    "auto_now_add": False,
    "auto_now": False,
}
_ALWAYS = ("name", "type", "primary_key", "nullable")
_ALWAYS_SET = frozenset(_ALWAYS)


@frozen
class Column:
    name: str
    type: str
    primary_key: bool = False
    nullable: bool = False
    default: Any = None
    unique: bool = False
    index: bool = False
    help: str | None = None
    max_length: int | None = None
    choices: tuple[Any, ...] | None = None
    fk_target: str | None = None
    fk_column: str | None = None
    #: SQL-level type of an FK column: the target primary key's type. ``None`` means BigInt.
    fk_type: str | None = None
    on_delete: str = "no_action"
    on_update: str = "no_action"
    db_constraint: bool = True
    auto_now_add: bool = False
    auto_now: bool = False

    @property
    def is_fk(self) -> bool:
        return self.type == "ForeignKey"

    @property
    def storage_type(self) -> str:
        """The type the database stores: an FK stores its target's primary-key type."""
        if self.is_fk:
            return self.fk_type or "BigInt"
        return self.type

    @property
    def has_default(self) -> bool:
        return self.default is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in _ALWAYS}
        for key, default in _COLUMN_DEFAULTS.items():
            value = getattr(self, key)
            if value != default:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Column:
        # This runs once per column of every file read: the checks allocate nothing when
        # the column is well formed.
        if not data.keys() <= _COLUMN_ATTRIBUTES:
            unknown = sorted(data.keys() - _COLUMN_ATTRIBUTES)
            raise ValueError(f"unknown column attribute(s): {', '.join(unknown)}")
        if not data.keys() >= _ALWAYS_SET:
            missing = [k for k in _ALWAYS if k not in data]
            raise ValueError(f"column is missing {', '.join(missing)}")
        if data["type"] not in TYPES:
            raise ValueError(f"unknown column type {data['type']!r}")
        if data.get("choices") is not None:
            data = {**data, "choices": tuple(data["choices"])}
        return cls.build(data)

    @classmethod
    def build(cls, values: dict[str, Any]) -> Column:
        """``Column(**values)`` without the frozen dataclass ``__init__``, which pays one
        ``object.__setattr__`` per field: loading a long history builds hundreds of thousands of
        columns. ``values`` must name every attribute of ``_ALWAYS``; the rest default."""
        column = object.__new__(cls)
        attrs = column.__dict__
        attrs.update(_COLUMN_DEFAULTS)
        attrs.update(values)
        return column

    def shape(self) -> tuple[Any, ...]:
        """Everything but the name: two columns with one shape are rename candidates."""
        return tuple(getattr(self, name) for name in _SHAPE_ATTRIBUTES)

    def db_attributes(self) -> tuple[Any, ...]:
        """Every attribute that reaches the database as part of the column definition."""
        return tuple(getattr(self, name) for name in _DB_ATTRIBUTES)

    def renamed(self, name: str) -> Column:
        return replace(self, name=name)


# Built once, in field order: ``fields()`` per column was a hot spot of loading and diffing.
_COLUMN_ATTRIBUTES = frozenset(f.name for f in fields(Column))
assert {*_ALWAYS, *_COLUMN_DEFAULTS} == _COLUMN_ATTRIBUTES, "Column.build needs every default"
_SHAPE_ATTRIBUTES = tuple(f.name for f in fields(Column) if f.name not in ("name", "help"))
_DB_ATTRIBUTES = tuple(f.name for f in fields(Column) if f.name not in ("name", "help", "index"))


@frozen
class M2M:
    """A ManyToMany field: junction table ``<parent_table>_<field>`` (SPEC §2)."""

    field: str
    table: str
    target: str  # target table
    target_column: str  # target primary-key column
    target_type: str = "BigInt"  # target primary-key storage type

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "table": self.table, "target": self.target,
               "target_column": self.target_column}  # fmt: skip
        if self.target_type != "BigInt":
            out["target_type"] = self.target_type
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> M2M:
        return cls(**data)


@frozen
class ModelState:
    name: str
    table: str
    fields: tuple[Column, ...]
    unique_together: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    m2m: tuple[M2M, ...] = ()
    view: str | None = None

    def column(self, name: str) -> Column | None:
        for col in self.fields:
            if col.name == name:
                return col
        return None

    def targets(self) -> set[str]:
        """The tables its foreign keys and ManyToMany fields point at."""
        return {c.fk_target for c in self.fields if c.fk_target} | {r.target for r in self.m2m}

    @property
    def pk(self) -> Column | None:
        for col in self.fields:
            if col.primary_key:
                return col
        return None

    def index_specs(self) -> list[tuple[tuple[str, ...], bool]]:
        """Every index of the table as ``(columns, unique)``, in a stable order (SPEC §6).

        ``unique_together`` groups, ``indexes`` groups, then ``idx_<table>_<col>`` for every
        non-PK, non-unique column that is a ForeignKey or has ``index=True``. A column's own
        ``unique`` is part of the column definition and is not listed here.
        """
        specs = [(g, True) for g in self.unique_together]
        specs += [(g, False) for g in self.indexes]
        specs += [
            ((c.name,), False)
            for c in self.fields
            if (c.index or c.is_fk) and not c.unique and not c.primary_key
        ]
        return list(dict.fromkeys(specs))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "table": self.table,
            "fields": [c.to_dict() for c in self.fields],
        }
        if self.unique_together:
            out["unique_together"] = [list(g) for g in self.unique_together]
        if self.indexes:
            out["indexes"] = [list(g) for g in self.indexes]
        if self.m2m:
            out["m2m"] = [m.to_dict() for m in self.m2m]
        if self.view is not None:
            out["view"] = self.view
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], checked: bool = True) -> ModelState:
        """``checked=False``: ``data`` comes from a file validated before (``loader.Shim``),
        so its types and values are not checked again."""
        # Every migration file repeats its plugin's whole snapshot, so loading a history
        # rebuilds the same model hundreds of times; equal dicts give one shared (frozen)
        # ModelState. The key is the dict's repr (C code, type-exact: True and 1 differ), far
        # cheaper than the build; equal dicts in another key order merely miss the cache.
        key: str | None = repr(data) if type(data) is dict else None
        cached = _MODEL_CACHE.get(key) if key is not None else None
        if cached is not None:
            return cached
        model = cls._from_dict(data, checked)
        if key is not None:
            if len(_MODEL_CACHE) >= _MODEL_CACHE_SIZE:
                _MODEL_CACHE.clear()
            _MODEL_CACHE[key] = model
        return model

    @classmethod
    def _from_dict(cls, data: dict[str, Any], checked: bool = True) -> ModelState:
        if checked:
            _check_model(data)
        return cls(
            name=data["name"],
            table=data["table"],
            fields=tuple(Column.from_dict(c) for c in data["fields"]),
            unique_together=tuple(tuple(g) for g in data.get("unique_together", ())),
            indexes=tuple(tuple(g) for g in data.get("indexes", ())),
            m2m=tuple(M2M.from_dict(m) for m in data.get("m2m", ())),
            view=data.get("view"),
        )


def _check_model(data: Any) -> None:
    """Raise ValueError naming what is wrong with a model's dict."""
    from umbral.fileschema import check_model  # here: only a malformed file needs it

    if not isinstance(data, dict):
        check_model(data)  # raises, naming what the model is instead
    allowed = {"name", "table", "fields", "unique_together", "indexes", "m2m", "view"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown model attribute(s): {', '.join(sorted(unknown))}")
    for key in ("name", "table", "fields"):
        if key not in data:
            raise ValueError(f"model is missing {key!r}")
    # The types and values of every key, once per distinct model (see from_dict).
    check_model(data)


_MODEL_CACHE: dict[str, ModelState] = {}
_MODEL_CACHE_SIZE = 100_000
#: Per plugin (keyed by its first model), the last snapshot read: its dicts and models.
_PREVIOUS: dict[tuple[Any, Any], tuple[Any, Any]] = {}
_PREVIOUS_SIZE = 1_000


@frozen
class Shim:
    """A live N-1 compatibility shim: view ``name`` reads and writes through to ``table``, with
    column ``to`` shown as ``from_`` for a column rename (both None for a table rename).
    ``since`` is the migration that created it."""

    name: str
    table: str
    since: str
    from_: str | None = None
    to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "table": self.table, "since": self.since}
        if self.from_ is not None:
            out["from"], out["to"] = self.from_, self.to
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shim:
        return cls(data["name"], data["table"], data["since"], data.get("from"), data.get("to"))


@frozen
class Snapshot:
    """Every model of one plugin, keyed by class name (the model's identity, SPEC §2), and the
    plugin's live compatibility shims (``makemigrations --compat``)."""

    models: dict[str, ModelState] = field(default_factory=dict)
    shims: tuple[Shim, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"models": [self.models[k].to_dict() for k in sorted(self.models)]}
        if self.shims:
            out["shims"] = [s.to_dict() for s in self.shims]
        return out

    def shim(self, name: str) -> Shim | None:
        return next((s for s in self.shims if s.name == name), None)

    @classmethod
    def from_dict(cls, data: dict[str, Any], checked: bool = True) -> Snapshot:
        """``checked=False``: as ``ModelState.from_dict``."""
        if not isinstance(data, dict) or not isinstance(data.get("models"), list):
            raise ValueError("snapshot_after must be an object with a `models` list")
        extra = set(data) - {"models", "shims"}
        if extra:
            unknown = ", ".join(sorted(extra))
            raise ValueError(f"unknown key(s) {unknown} (a snapshot holds `models` and `shims`)")
        shims: tuple[Shim, ...] = ()
        if "shims" in data:
            from umbral.fileschema import SHIMS  # here: only a snapshot with shims needs it

            SHIMS.check(data["shims"], "shims")
            shims = tuple(Shim.from_dict(s) for s in data["shims"])
        raw: list[Any] = data["models"]
        # Consecutive files of one plugin repeat its snapshot with one model changed. Comparing
        # a model's dict with the one at the same place in the plugin's previous snapshot is
        # five times cheaper than the ModelState cache's repr key, and reuses that ModelState.
        first = raw[0] if raw and type(raw[0]) is dict else {}
        key = (first.get("name"), first.get("table"))
        previous_raw, previous = _PREVIOUS.get(key, ((), ()))
        models = [
            previous[i]
            if i < len(previous) and previous_raw[i] == m
            else ModelState.from_dict(m, checked)
            for i, m in enumerate(raw)
        ]
        if checked:
            _check_tables(models)
        if len(_PREVIOUS) >= _PREVIOUS_SIZE:
            _PREVIOUS.clear()
        _PREVIOUS[key] = (raw, models)
        return cls({m.name: m for m in models}, shims)

    def by_table(self) -> dict[str, ModelState]:
        return {m.table: m for m in self.models.values()}


EMPTY = Snapshot()


def then_renamed(renamed: dict[str, str], old: str, new: str) -> dict[str, str]:
    """``renamed`` (first name -> current name) after a rename of table ``old`` to ``new``."""
    out = {first: new if now == old else now for first, now in renamed.items()}
    out.setdefault(old, new)
    return out


def following(
    model: ModelState, renamed: Mapping[str, str], own: Container[str] = ()
) -> ModelState:
    """``model`` with its foreign keys and ManyToMany fields pointing at the new names of the
    tables ``renamed`` maps (old -> new), except a table in ``own``."""
    moved = {t: renamed[t] for t in model.targets() if t in renamed and t not in own}
    if not moved:
        return model
    return replace(
        model,
        fields=tuple(
            replace(c, fk_target=moved[c.fk_target]) if c.fk_target in moved else c
            for c in model.fields
        ),
        m2m=tuple(
            replace(r, target=moved[r.target]) if r.target in moved else r for r in model.m2m
        ),
    )


def _check_tables(models: list[ModelState]) -> None:
    """Raise ValueError when two models of a snapshot have one name or one table."""
    names: dict[str, str] = {}
    tables: dict[str, str] = {}
    for m in models:
        if m.name in names:
            raise ValueError(f"model {m.name} is declared twice")
        if m.table in tables:
            raise ValueError(
                f"models {tables[m.table]} and {m.name} have the same table `{m.table}`"
            )
        names[m.name] = tables[m.table] = m.name


_NUMBERS = frozenset({"Real", "Double", "Decimal"})
_TEXTUAL = frozenset({"Text", "Date", "Time", "Timestamp", "Timestamptz", "Uuid", "Bytes"})


def default_problem(column: Column) -> str | None:
    """Why ``column``'s default cannot be stored in it, or None (``backfill_problem``; a
    Decimal default is kept as its string)."""
    value = column.default
    if column.storage_type == "Decimal" and isinstance(value, str):
        import decimal

        try:
            decimal.Decimal(value)
        except decimal.InvalidOperation:
            return f"{json.dumps(value, ensure_ascii=False)} is not a number (Decimal column)"
        return None
    return backfill_problem(column, value)


def backfill_problem(column: Column, value: Any) -> str | None:
    """Why ``value`` cannot fill ``column``, or None. Only what the JSON value's kind tells:
    the database checks the rest (a date's format) when the migration runs."""
    if value is None:
        return "a backfill value cannot be null (the column is NOT NULL)"
    storage = column.storage_type
    shown = json.dumps(value, ensure_ascii=False)
    if storage in INTEGER_TYPES and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{shown} is not a whole number ({storage} column)"
    if storage in _NUMBERS and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"{shown} is not a number ({storage} column)"
    if storage == "Boolean" and not isinstance(value, bool):
        return f"{shown} is not true or false (Boolean column)"
    if storage in _TEXTUAL and not isinstance(value, str):
        return f"{shown} is not a string ({storage} column)"
    if column.max_length is not None and isinstance(value, str) and len(value) > column.max_length:
        return f"{shown} is longer than max_length {column.max_length}"
    if column.choices and value not in column.choices:
        return f"{shown} is not one of the choices"
    return None
