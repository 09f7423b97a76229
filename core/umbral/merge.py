"""Merging two branches of one plugin's history (SPEC §5 conflicts).

When two branches each ran makemigrations, the plugin's graph has two leaves. A merge
migration depends on both, has no operations (each branch's operations run as they are) and
carries the merged snapshot: a three-way merge of both leaves' snapshots against their latest
common ancestor, model by model and column by column. Databases run the branches in either
order, so what cannot run in both is a conflict, reported by name, and nothing is written: the
same column changed differently on both sides, the same change made on both, and an operation
of one branch naming a table or column the other renames or drops.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any

from umbral.errors import MergeConflict
from umbral.graph import ancestors, leaves
from umbral.migration import Migration
from umbral.operations import (
    AddIndex,
    CreateView,
    DropColumn,
    DropIndex,
    DropTable,
    RenameColumn,
    RenameTable,
)
from umbral.schema import EMPTY, Column, ModelState, Snapshot, following


def conflicts_message(plugin: str, tips: list[Migration]) -> str:
    files = " and ".join(str(m.path) for m in tips)
    return (
        f"plugin `{plugin}` has conflicting migrations {files}: both are leaves of its graph "
        "(two branches each ran makemigrations); run `umbral makemigrations --merge` to write a "
        "merge migration that depends on both"
    )


def merge_migration(plugin: str, ms: list[Migration], directory: Any) -> Migration | None:
    """The merge migration for ``plugin``, or None when it has a single leaf."""
    tips = sorted(leaves(ms).get(plugin, []), key=lambda m: m.id)
    if len(tips) < 2:
        return None
    by_key = {m.key: m for m in ms}
    common = set.intersection(*(ancestors(t.key, by_key) for t in tips))
    base_m = max((by_key[k] for k in common), key=lambda m: (m.sequence, m.id), default=None)
    merged = base_m.snapshot_after if base_m else EMPTY
    base = merged
    problems: list[str] = []
    branch_ops = {
        t.id: [
            op
            for k in sorted(ancestors(t.key, by_key) - common)
            if by_key[k].plugin == plugin
            for op in by_key[k].operations
        ]
        for t in tips
    }
    for one in tips:
        for other in tips:
            if one is not other:
                problems.extend(_stale_names(one.id, branch_ops[one.id], other.id,
                                             branch_ops[other.id]))  # fmt: skip
    for i, tip in enumerate(tips):
        # A conflict is between the tips merged so far and this one: the message names them.
        where = " and ".join(t.id for t in tips[: i + 1])
        merged = _merge(base, merged, tip.snapshot_after, where, problems)
    if problems:
        raise MergeConflict(
            f"umbral makemigrations --merge: cannot merge `{plugin}`: the branches conflict: "
            + "; ".join(problems)
            + ". Change one branch so they agree (or delete its migration and run "
            "makemigrations again on top of the other), then merge again"
        )
    seq = max(m.sequence for m in ms) + 1
    mid = f"{seq:04d}_merge"
    return Migration(
        plugin=plugin,
        id=mid,
        operations=[],
        snapshot_after=merged,
        depends_on=sorted(t.key for t in tips),
        path=directory / f"{mid}.json",
    )


def _stale_names(gone_in: str, gone_ops: list, used_in: str, used_ops: list) -> list[str]:
    """Where one branch's operations name a table or column by the name the other branch
    renames or drops: a database that ran the other branch first cannot run them (operations
    name tables and columns as they were when makemigrations wrote them)."""
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], str] = {}
    for op in gone_ops:
        if isinstance(op, RenameTable):
            tables[op.from_] = f"renames table `{op.from_}`"
        elif isinstance(op, DropTable):
            tables[op.table] = f"drops table `{op.table}`"
        elif isinstance(op, RenameColumn):
            columns[(op.table, op.from_)] = f"renames column `{op.table}.{op.from_}`"
        elif isinstance(op, DropColumn):
            columns[(op.table, op.column)] = f"drops column `{op.table}.{op.column}`"
    out: list[str] = []
    for op in used_ops:
        names = {op.from_} if isinstance(op, RenameTable) else {getattr(op, "table", None)}
        hit = sorted(n for n in (names | op.references()) & tables.keys())
        table = getattr(op, "table", None)
        hit += [columns[(table, c)] for c in _columns_named(op) if (table, c) in columns]
        if isinstance(op, CreateView):
            # A view's SELECT names tables and columns in SQL: a word of it is taken as one
            # (a false match only refuses a merge the user can redo by hand).
            words = set(re.findall(r"[a-z_][a-z0-9_$]*", op.sql.lower()))
            hit += sorted(t for t in tables if t.lower() in words)
            hit += [
                what for (t, c), what in sorted(columns.items())
                if t.lower() in words and c.lower() in words
            ]  # fmt: skip
        for what in hit:
            what = tables.get(what, what)
            out.append(
                f"{gone_in} {what}, which {used_in} still names ({op.describe()}); a database "
                f"that ran {gone_in} first could not run {used_in}"
            )
    return out


def _columns_named(op: object) -> tuple[str, ...]:
    if isinstance(op, (AddIndex, DropIndex)):
        return op.columns
    if isinstance(op, RenameColumn):
        return (op.from_,)
    column = getattr(op, "column", None)
    return (column,) if isinstance(column, str) else ()


def _merge(base: Snapshot, left: Snapshot, right: Snapshot, rid: str, problems: list) -> Snapshot:
    out: dict[str, ModelState] = {}
    for name in sorted(set(base.models) | set(left.models) | set(right.models)):
        b, lt, rt = base.models.get(name), left.models.get(name), right.models.get(name)
        picked = _three_way(b, lt, rt)
        if picked is _SAME:
            problems.append(_same(f"model `{name}`", rid, gone=lt is None))
            continue
        if picked is not _CONFLICT:
            if picked is not None:
                out[name] = picked
            continue
        if b is None:
            problems.append(f"both branches add a model `{name}`, differently (see {rid})")
            continue
        if lt is None or rt is None:
            kept, kept_in = (lt, left) if rt is None else (rt, right)
            if following(b, _renamed(base, kept_in)) == kept:
                continue  # changed only by following a table its branch renames: dropped
            problems.append(f"model `{name}` was removed on one branch and changed on the other")
            continue
        out[name] = _merge_model(b, lt, rt, rid, problems)
    # Compatibility shims: one dropped on either branch is gone, one added on either is live.
    shims = [s for s in base.shims if left.shim(s.name) and right.shim(s.name)]
    for s in (*left.shims, *right.shims):
        if base.shim(s.name) is None and all(s.name != k.name for k in shims):
            shims.append(s)
    return Snapshot(out, tuple(shims))


_CONFLICT = object()
#: Both branches made the same change: each branch's migration makes it, and the second to run
#: would make it again (add a column or index that is there, drop one that is gone).
_SAME = object()


def _renamed(base: Snapshot, after: Snapshot) -> dict[str, str]:
    """The tables of ``base`` that ``after`` names otherwise (old -> new)."""
    return {
        m.table: after.models[n].table
        for n, m in base.models.items()
        if n in after.models and after.models[n].table != m.table
    }


def _three_way(base: Any, left: Any, right: Any) -> Any:
    if left == right:
        return left if left == base else _SAME
    if left == base:
        return right
    if right == base:
        return left
    return _CONFLICT


def _merge_model(
    b: ModelState, lt: ModelState, rt: ModelState, rid: str, problems: list
) -> ModelState:
    changes: dict[str, Any] = {}
    for f in fields(ModelState):
        if f.name in ("name", "fields"):
            continue
        v = _three_way(getattr(b, f.name), getattr(lt, f.name), getattr(rt, f.name))
        if v is _SAME:
            problems.append(_same(f"`{b.name}` {f.name}", rid))
            v = getattr(lt, f.name)
        if v is _CONFLICT:
            problems.append(f"`{b.name}` {f.name} changed differently (see {rid})")
            v = getattr(lt, f.name)
        changes[f.name] = v
    bc = {c.name: c for c in b.fields}
    lc = {c.name: c for c in lt.fields}
    rc = {c.name: c for c in rt.fields}
    cols: list[Column] = []
    for name in [
        *lc,
        *(n for n in rc if n not in lc),
        *(n for n in bc if n not in lc and n not in rc),
    ]:
        v = _three_way(bc.get(name), lc.get(name), rc.get(name))
        if v is _SAME:
            problems.append(_same(f"`{b.name}.{name}`", rid, gone=lc.get(name) is None))
            continue
        if v is _CONFLICT:
            problems.append(f"both branches changed `{b.name}.{name}` differently (see {rid})")
            continue
        if v is not None and name not in {c.name for c in cols}:
            cols.append(v)
    return replace(lt, fields=tuple(cols), **changes)


def _same(what: str, rid: str, *, gone: bool = False) -> str:
    if gone:
        # Gone on both sides: two drops, or two renames (to one name or to two), which the
        # snapshots alone cannot tell apart; "the same way" would be wrong for two renames.
        return (
            f"both branches drop or rename {what} (see {rid}); the second to run would not "
            "find it"
        )
    return (
        f"both branches change {what} the same way (see {rid}); the second to run would make "
        "the change again"
    )
