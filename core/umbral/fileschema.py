"""The schema of a migration file's operations, columns and models (SPEC §5, §6).

Every operation, column and model object of a file is checked against a small table of its
keys when the file is loaded: the JSON type of each value, the allowed values of enumerations,
required and unknown keys. ``"nullable": "false"`` (a string) is an error naming the file, the
operation and the key, never a NULLable column. The tables are data: one row per key, a key
ending in ``?`` is optional. A file is checked once per version of it: a file the validation
cache vouches for is not read again (see ``loadcache``), and a snapshot model equal to one
already built is not checked again (see ``schema.ModelState.from_dict``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from umbral.fieldtypes import FK_ACTIONS, TYPES


class Spec:
    """What one value may be. ``check`` returns None, or raises ValueError naming ``path``."""

    expected = "a value"

    def check(self, value: Any, path: str) -> None:
        if not self.accepts(value):
            raise ValueError(f"{path}: expected {self.expected}, got {_show(value)}")

    def accepts(self, value: Any) -> bool:
        return True


class Str(Spec):
    def __init__(self, *, empty: bool = True, null: bool = False) -> None:
        self.empty, self.null = empty, null
        self.expected = ("a string" if empty else "a non-empty string") + (
            " or null" if null else ""
        )

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.null
        return isinstance(value, str) and (self.empty or value != "")


class FunctionRef(Spec):
    """A function to import: ``package.module:function`` (dotted module, dotted name)."""

    def __init__(self, *, null: bool = False) -> None:
        self.null = null
        self.expected = '"package.module:function"' + (" or null" if null else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.null
        return isinstance(value, str) and _CALLABLE.fullmatch(value) is not None


_DOTTED = r"\w+(?:\.\w+)*"
_CALLABLE = re.compile(rf"{_DOTTED}:{_DOTTED}")


class Bool(Spec):
    expected = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class PositiveInt(Spec):
    def __init__(self, *, null: bool = False) -> None:
        self.null = null
        self.expected = "a whole number above 0" + (" or null" if null else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.null
        return type(value) is int and value > 0


class OneOf(Spec):
    def __init__(self, values: tuple[str, ...], *, null: bool = False) -> None:
        self.values, self.null = values, null
        self.expected = "one of " + ", ".join(json.dumps(v) for v in values)
        if null:
            self.expected += " or null"

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.null
        return isinstance(value, str) and value in self.values


class ListOf(Spec):
    def __init__(self, item: Spec, *, empty: bool = True, null: bool = False) -> None:
        self.item, self.empty, self.null = item, empty, null
        self.expected = ("a list" if empty else "a non-empty list") + (" or null" if null else "")

    def check(self, value: Any, path: str) -> None:
        if value is None and self.null:
            return
        if not isinstance(value, list) or (not self.empty and not value):
            raise ValueError(f"{path}: expected {self.expected}, got {_show(value)}")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")


class Names(ListOf):
    """A list of column names (an index, a unique group)."""

    def __init__(self) -> None:
        super().__init__(Str(empty=False), empty=False)
        self.expected = "a non-empty list of strings"

    def check(self, value: Any, path: str) -> None:
        if not (isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)):
            raise ValueError(f"{path}: expected {self.expected}, got {_show(value)}")


class Obj(Spec):
    """An object with the keys of ``table`` (``"key?"`` optional). ``noun`` names it in the
    messages about its keys (``unknown column attribute(s): x``)."""

    expected = "an object"

    def __init__(self, noun: str, table: Mapping[str, Spec]) -> None:
        self.noun = noun
        self.keys = {k.rstrip("?"): spec for k, spec in table.items()}
        self.required = tuple(k for k in table if not k.endswith("?"))

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected {self.noun} object, got {_show(value)}")
        unknown = [k for k in value if k not in self.keys]
        if unknown:
            raise ValueError(
                f"{path}: unknown {self.noun} attribute(s): {', '.join(sorted(unknown))}"
            )
        missing = [k for k in self.required if k not in value]
        if missing:
            raise ValueError(f"{path}: {self.noun} is missing {', '.join(missing)}")
        for key, item in value.items():
            self.keys[key].check(item, f"{path}.{key}")


class ColumnObj(Obj):
    """A column object; a foreign key also names the table it references."""

    def check(self, value: Any, path: str) -> None:
        super().check(value, path)
        if value["type"] == "ForeignKey" and value.get("fk_target") is None:
            raise ValueError(
                f"{path}: a ForeignKey column needs fk_target (the table it references)"
            )


class ModelObj(Obj):
    """A model object: each field once, its index groups naming only its fields."""

    def check(self, value: Any, path: str) -> None:
        super().check(value, path)
        check_own_columns(value, path, "fields", ("field", "the model's fields"))


def check_own_columns(value: Any, path: str, key: str, nouns: tuple[str, str]) -> None:
    """Each column of ``value[key]`` (a model's fields, a CreateTable's columns) declared
    once, and its ``unique_together`` and ``indexes`` naming only those columns; ``nouns``
    names a column and the whole set in the messages."""
    names: set[str] = set()
    for n, col in enumerate(value[key]):
        if col["name"] in names:
            raise ValueError(f'{path}.{key}[{n}]: {nouns[0]} "{col["name"]}" is declared twice')
        names.add(col["name"])
    for groups in ("unique_together", "indexes"):
        for n, group in enumerate(value.get(groups, ())):
            missing = next((c for c in group if c not in names), None)
            if missing is not None:
                raise ValueError(
                    f'{path}.{groups}[{n}]: column "{missing}" is not one of {nouns[1]}'
                )


#: How deep a literal may nest lists and objects.
MAX_DEPTH = 32


class Literal(Spec):
    """A JSON literal (a default, a choice): anything but a structure nested deeper than a
    column default ever is, which later steps would have to walk."""

    expected = f"a JSON value nested at most {MAX_DEPTH} levels"

    def accepts(self, value: Any) -> bool:
        return _depth(value) <= MAX_DEPTH


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    if isinstance(value, list | dict) and limit > 0:
        items = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth(v, limit - 1) for v in items), default=0)
    return 0


NAME = Str(empty=False)
BOOL = Bool()
ANY = Literal()
#: What a column stores: a foreign key stores its target's key type.
STORAGE_TYPES = tuple(t for t in TYPES if t != "ForeignKey")

COLUMN = ColumnObj(
    "column",
    {
        "name": NAME,
        "type": OneOf(TYPES),
        "primary_key": BOOL,
        "nullable": BOOL,
        "default?": ANY,  # a JSON literal; null means no default
        "unique?": BOOL,
        "index?": BOOL,
        "help?": Str(null=True),
        "max_length?": PositiveInt(null=True),
        "choices?": ListOf(ANY, null=True),
        "fk_target?": Str(empty=False, null=True),
        "fk_column?": Str(empty=False, null=True),
        "fk_type?": OneOf(STORAGE_TYPES, null=True),
        "on_delete?": OneOf(FK_ACTIONS),
        "on_update?": OneOf(FK_ACTIONS),
        "db_constraint?": BOOL,
        "auto_now_add?": BOOL,
        "auto_now?": BOOL,
    },
)
COLUMNS = ListOf(COLUMN, empty=False)
GROUPS = ListOf(Names())

M2M = Obj(
    "m2m",
    {
        "field": NAME,
        "table": NAME,
        "target": NAME,
        "target_column": NAME,
        "target_type?": OneOf(STORAGE_TYPES),
    },
)
MODEL = ModelObj(
    "model",
    {
        "name": NAME,
        "table": NAME,
        "fields": ListOf(COLUMN),
        "unique_together?": GROUPS,
        "indexes?": GROUPS,
        "m2m?": ListOf(M2M),
        "view?": Str(null=True),
    },
)

SHIM_FIELDS: dict[str, Spec] = {"name": NAME, "table": NAME, "from?": Str(empty=False, null=True),
                                 "to?": Str(empty=False, null=True)}  # fmt: skip
SHIMS = ListOf(Obj("shim", {**SHIM_FIELDS, "since": NAME}))

#: Keys any operation may carry (they change how it is checked, not what it does).
COMMON: dict[str, Spec] = {"acknowledged?": Str(null=True)}

#: Per operation kind, its keys besides ``kind`` (SPEC §6; docs/migration-files.md).
OPERATIONS: dict[str, dict[str, Spec]] = {
    "CreateTable": {"table": NAME, "columns": COLUMNS, "unique_together?": GROUPS,
                    "indexes?": GROUPS},
    "DropTable": {"table": NAME},
    "AddColumn": {"table": NAME, "column": COLUMN, "backfill?": ANY},
    "DropColumn": {"table": NAME, "column": NAME},
    "AlterColumn": {"table": NAME, "column": NAME, "from": COLUMN, "to": COLUMN,
                    "backfill?": ANY},
    "RenameTable": {"from": NAME, "to": NAME, "compat?": BOOL},
    "RenameColumn": {"table": NAME, "from": NAME, "to": NAME, "compat?": BOOL},
    "CreateCompatShim": {**SHIM_FIELDS, "columns?": Names()},
    "DropCompatShim": SHIM_FIELDS,
    "CreateM2MTable": {"table": NAME, "parent_table": NAME, "parent_column": NAME,
                       "child_table": NAME, "child_column": NAME,
                       "parent_type?": OneOf(STORAGE_TYPES), "child_type?": OneOf(STORAGE_TYPES)},
    "DropM2MTable": {"table": NAME},
    "AlterM2MKey": {"table": NAME, "column": OneOf(("parent_id", "child_id")), "key_table": NAME,
                    "from": OneOf(STORAGE_TYPES), "to": OneOf(STORAGE_TYPES)},
    "AddIndex": {"table": NAME, "columns": Names(), "unique?": BOOL, "concurrent?": BOOL},
    "DropIndex": {"table": NAME, "columns": Names(), "unique?": BOOL, "concurrent?": BOOL},
    "SetColumnComment": {"table": NAME, "column": NAME, "comment?": Str(null=True)},
    "CreateView": {"name": NAME, "sql": Str(empty=False)},
    "DropView": {"name": NAME, "sql?": Str()},
    "RunSql": {"sql": Str(), "reverse_sql?": Str(null=True), "elidable?": BOOL},
    "RunPython": {"code": FunctionRef(), "reverse_code?": FunctionRef(null=True),
                  "elidable?": BOOL},
}  # fmt: skip


def check_operation(raw: Any) -> None:
    """Raise ValueError naming the key (``AddColumn.column.nullable: expected ...``) when
    ``raw`` is not an operation object of the format."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected an operation object, got {_show(raw)}")
    kind = raw.get("kind")
    table = OPERATIONS.get(kind) if isinstance(kind, str) else None
    if table is None:
        raise ValueError(f"unknown operation kind {kind!r}")
    keys = {k.rstrip("?"): spec for k, spec in {**table, **COMMON}.items()}
    unknown = [k for k in raw if k != "kind" and k not in keys]
    if unknown:
        raise ValueError(f"{kind}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in table:
        if not key.endswith("?") and key not in raw:
            raise ValueError(f"{kind}: missing key {key!r}")
    for key, value in raw.items():
        if key != "kind":
            keys[key].check(value, f"{kind}.{key}")
    if kind == "CreateTable":
        # A database would fail on it half-way, or SQLite index a string constant.
        check_own_columns(raw, kind, "columns", ("column", "the table's columns"))


def check_model(raw: Any) -> None:
    """Raise ValueError naming the model and the key when ``raw`` is not a model object."""
    name = raw.get("name") if isinstance(raw, dict) else None
    MODEL.check(raw, f"model {name}" if isinstance(name, str) else "model")


def _show(value: Any) -> str:
    """A JSON value as the file spells it, shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
