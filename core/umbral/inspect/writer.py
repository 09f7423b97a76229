"""Write inspectdb's output: models.py text, the initial migration, all files or none."""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
import types
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umbral.errors import UmbralError
from umbral.inspect.planner import ModelPlan
from umbral.migration import Migration

INITIAL_ID = "0001_initial"

if TYPE_CHECKING:
    from umbral.schema import Snapshot


def render_models(plans: list[ModelPlan], plugin: str, dialect: str) -> str:
    """The text of ``models.py``: one class per table, FK targets first."""
    defined: set[str] = set()
    by_table = {p.table: p.name for p in plans}
    lines = [
        f'"""Models of an existing {dialect} database, written by `umbral inspectdb`.',
        "",
        "Register them (`models = [...]` in the project config, or a plugin's umbral_models()),",
        "then `umbral makemigrations` reports no changes and `umbral migrate --fake-initial`",
        "adopts the database. Comments mark what the database has and the models do not carry.",
        '"""',
        "",
        "from umbral import Model, fields" + (", hookimpl" if plugin != "app" else ""),
    ]
    for plan in plans:
        lines += ["", ""]
        lines += [f"# {line}" for n in plan.notes for line in textwrap.wrap(n, 94)]
        keywords: list[str] = []
        if plugin != "app":
            keywords.append(f"plugin={_py(plugin)}")
        if plan.explicit_table:
            keywords.append(f"table={_py(plan.table)}")
        if plan.unique_together:
            keywords.append(f"unique_together={_groups(plan.unique_together)}")
        if plan.indexes:
            keywords.append(f"indexes={_groups(plan.indexes)}")
        lines += _call(f"class {plan.name}", ["Model", *keywords], suffix=":")
        body: list[str] = []
        for fp in [*plan.fields, *plan.m2m]:
            body += [f"# {line}" for n in fp.notes for line in textwrap.wrap(n, 90)]
            args = []
            if fp.target is not None:
                target = by_table.get(fp.target, fp.target)
                # A class defined above is referenced directly; itself or a later one by name.
                args.append(target if target in defined else _py(target))
            args += [f"{k}={_py(v)}" for k, v in fp.options.items() if k != "column"]
            if "column" in fp.options:
                args.append(f"column={_py(fp.options['column'])}")
            body += _call(f"{fp.attr} = fields.{fp.kind}", args)
        if not body:
            body = ["pass"]
        lines += ["    " + line for line in body]
        defined.add(plan.name)
    if plugin != "app":
        lines += ["", "", "@hookimpl", "def umbral_models() -> list[type[Model]]:"]
        lines += _call("    return ", [p.name for p in plans], brackets="[]")
    return "\n".join(lines) + "\n"


def _call(head: str, args: list[str], *, suffix: str = "", brackets: str = "()") -> list[str]:
    opening, closing = brackets
    one = f"{head}{opening}{', '.join(args)}{closing}{suffix}"
    if len(one) <= 96 or not args:
        return [one]
    indent = " " * (len(head) - len(head.lstrip()))
    return [f"{head}{opening}", *(f"{indent}    {a}," for a in args), f"{indent}{closing}{suffix}"]


def _groups(groups: list[tuple[str, ...]]) -> str:
    """``[("a", "b"), ...]``; a one-column group keeps its tuple comma."""
    tuples = [", ".join(_py(c) for c in g) + ("," if len(g) == 1 else "") for g in groups]
    return "[" + ", ".join(f"({t})" for t in tuples) + "]"


def _py(value: Any) -> str:
    """A Python literal for a default or option; strings in double quotes."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no literal for {value!r}")


def snapshot_of(source: str, plugin: str) -> Snapshot:
    """Import the written models text and build its snapshot, as a project would."""
    from umbral.models import Model, build_snapshots

    module = types.ModuleType("umbral_inspectdb_models")
    exec(compile(source, "models.py", "exec"), module.__dict__)
    classes = [
        v for v in module.__dict__.values()
        if isinstance(v, type) and issubclass(v, Model) and v.__module__ == module.__name__
    ]  # fmt: skip
    return build_snapshots({plugin: classes})[plugin]


def initial_migration(snapshot: Snapshot, plugin: str, directory: Path) -> Migration:
    """CreateTable per model (FK targets first) and CreateM2MTable per ManyToMany."""
    from umbral.autodetector import diff
    from umbral.schema import EMPTY

    return Migration(
        plugin=plugin,
        id=INITIAL_ID,
        operations=diff(EMPTY, snapshot).operations,
        snapshot_after=snapshot,
        path=directory / f"{INITIAL_ID}.json",
    )


def _write_files(files: list[tuple[Path, str]]) -> list[Path]:
    """Write every file or none (temp names, then renames); return the directories created."""
    created: list[Path] = []
    temps: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
            created += reversed(missing)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            temps.append((tmp, path))
        for tmp, final in temps:
            os.replace(tmp, final)
    except OSError as exc:
        _remove([p for _, p in temps] + [t for t, _ in temps], created)
        raise UmbralError(f"umbral inspectdb: cannot write {exc.filename}: {exc.strerror}") from exc
    return created


def _remove(paths: Iterable[Path], directories: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
    for d in reversed(directories):
        with contextlib.suppress(OSError):  # a directory someone else filled stays
            d.rmdir()


# -- the command --------------------------------------------------------------------------------
