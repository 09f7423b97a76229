"""Each operation of a migration file checked against the tables before it (SPEC §5).

A hand-edited file can name a table or a column that is not there at that point of the
history: an index on a misspelt column, a foreign key to a table of nothing, a column dropped
twice. Run as written, such a file fails at its first statement the database refuses, half-way
through the migration on a backend whose DDL commits on its own. The loader refuses it instead,
naming the file and the operation, before anything runs.

The tables at each point are what the plugin's operations, run in order from its first
migration, have made (what a database that replayed them holds; a snapshot may not show a
hand-added operation). A refusal must never be wrong, so what cannot be known is not checked:
a table of another plugin (when the migration runs after one of its migrations: it depends
on one, itself or through the plugin's migrations before it), a foreign key without a
constraint, a junction table's columns, and anything after a ``RunPython`` or a ``RunSql``
that may change tables (data statements do not). After a merge of two branches a table or
column counts as there when either branch or the merge's snapshot has it, and as taken only
when both branches do. A file is checked when it is read anew, and so are the ones after it in its
plugin; a file the validation cache vouches for, after ones it vouches for too, is not.
A file that runs after another plugin's migration may find a table its snapshot has and the
plugin's operations never made (a model moved in with its table): it counts as there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from umbral import operations as ops
from umbral.errors import MigrationFileError
from umbral.operations import State, state_from_snapshot
from umbral.schema import ModelState
from umbral.toposort import toposort

if TYPE_CHECKING:
    from umbral.migration import Migration
    from umbral.operations import Operation
    from umbral.schema import Column


@dataclass(frozen=True)
class Known:
    """The tables at one point: ``maybe`` holds what may be there (a missing thing is one not
    in it), ``surely`` what is there for certain (a taken name is one in it). They differ only
    after a merge."""

    maybe: State
    surely: State

    def apply(self, op: Operation) -> Known:
        if self.maybe is self.surely:
            state = op.apply(self.maybe)
            return Known(state, state)
        return Known(op.apply(self.maybe), op.apply(self.surely))


EMPTY = Known({}, {})


def check_plugin(migrations: Sequence[Migration]) -> None:
    """Raise naming the file and the operation for the first operation of a migration read
    anew (or after one read anew) that names a table or column missing at its point, or a
    name already taken."""
    fresh = {m.key for m in migrations if m.body is None}
    if not fresh:
        return
    history = _History(migrations)
    for m in migrations:
        parents = history.parents(m)
        if m.key not in fresh and not any(p.key in fresh for p in parents or ()):
            continue
        before = history.before(m)
        if before is None:
            continue
        problem = operations_problem(m, before, history.junctions, history.outside(m))
        if problem is not None:
            raise MigrationFileError(f"{m.where}: {problem}")


def new_migration_problem(existing: Sequence[Migration], new: Migration) -> str | None:
    """What is wrong with the first operation of ``new`` (not written yet) that does not fit
    the tables the plugin's ``existing`` migrations make, or None."""
    history = _History([*existing, new])
    before = history.before(new)
    if before is None:
        return None
    return operations_problem(new, before, history.junctions, history.outside(new))


def squash_difference(
    migrations: Sequence[Migration], chosen: Sequence[Migration], operations: Sequence[Operation]
) -> str | None:
    """What ``operations`` (a squash of ``chosen``, diffed from their snapshots) would not do
    that ``chosen``'s own operations do, or None (also when it is not known)."""
    before = _History(migrations).before(chosen[0])
    if before is None:
        return None
    ran: Known | None = before
    for m in chosen:
        ran = _run(m, ran) if ran is not None else None
    squashed: Known | None = before
    for op in operations:
        squashed = None if squashed is None or _unknown_effect(op) else squashed.apply(op)
    if ran is None or squashed is None:
        return None
    return _difference(ran.maybe, squashed.maybe)


def _difference(want: State, got: State) -> str | None:
    for table in sorted(set(want) ^ set(got)):
        return f"table `{table}` {'exists' if table in want else 'does not exist'}"
    for table, model in sorted(want.items()):
        have = {c.name for c in got[table].fields}
        for name in sorted(have ^ {c.name for c in model.fields}):
            there = "has" if name not in have else "has no"
            return f"table `{table}` {there} column `{name}`"
        junctions = {r.table for r in model.m2m} ^ {r.table for r in got[table].m2m}
        for junction in sorted(junctions):
            return f"junction table `{junction}` differs"
    return None


class _History:
    """The tables before each migration of one plugin, worked out once, in dependency order
    (without recursion: histories are long)."""

    def __init__(self, migrations: Sequence[Migration]) -> None:
        self.by_key = {m.key: m for m in migrations}
        for m in migrations:
            if m.replaces:
                # A file after a squash may name its last original, gone from disk since.
                self.by_key.setdefault(max(m.replaces, key=_sequence), m)
        parents = {m.key: self.parents(m) for m in migrations}
        #: Every junction table the plugin's operations made, under each of its names.
        self.junctions = _junction_names(migrations)
        order = toposort({k: [p.key for p in ps or ()] for k, ps in parents.items()})
        self._before: dict[str, Known | None] = {}
        #: Whether a migration runs after another plugin's, itself or through its parents:
        #: that plugin's tables are there then (a model moved in with its table is one).
        self._outside: dict[str, bool] = {}
        after: dict[str, Known | None] = {}
        for key in order:  # a cycle's migrations come last, their parents not worked out
            own = parents[key]
            m = self.by_key[key]
            self._outside[key] = (
                any(d.partition("/")[0] != m.plugin for d in m.depends_on)
                or own is None
                or any(self._outside.get(p.key, True) for p in own)
            )
            afters = [after.get(p.key) for p in own] if own is not None else [None]
            before = None if None in afters else _merge(afters) if afters else EMPTY  # type: ignore[arg-type]
            self._before[key] = before
            after[key] = None if before is None else _run(m, before)
            if own is not None and len(own) > 1 and after[key] is not None:
                after[key] = _with_snapshot(after[key], m)  # type: ignore[arg-type]
            if self._outside[key] and after[key] is not None:
                after[key] = _moved_in(after[key], m)  # type: ignore[arg-type]

    def parents(self, m: Migration) -> list[Migration] | None:
        """Its in-plugin dependencies; None when one is not on disk (nothing is known)."""
        found = [self.by_key.get(d) for d in m.depends_on if d.partition("/")[0] == m.plugin]
        return None if None in found else found  # type: ignore[return-value]

    def before(self, m: Migration) -> Known | None:
        """The tables before ``m``; None when they are not known."""
        return self._before.get(m.key)

    def outside(self, m: Migration) -> bool:
        """Whether ``m`` runs after a migration of another plugin (not known: it may)."""
        return self._outside.get(m.key, True)


def _junction_names(migrations: Sequence[Migration]) -> frozenset[str]:
    names: set[str] = set()
    for m in migrations:
        for op in m.operations:
            if isinstance(op, ops.CreateM2MTable):
                names.add(op.table)
            elif isinstance(op, ops.RenameTable) and op.from_ in names:
                names.add(op.to)
    return frozenset(names)


def _sequence(key: str) -> tuple[int, str]:
    number = key.partition("/")[2].partition("_")[0]
    return (int(number) if number.isdigit() else -1, key)


def _run(m: Migration, known: Known) -> Known | None:
    """The tables after ``m``'s operations; None once one has an effect not known."""
    for op in m.operations:
        if _unknown_effect(op):
            return None
        known = known.apply(op)
    return known


def _with_snapshot(known: Known, merge: Migration) -> Known:
    """After a merge, its snapshot's tables may be there too: a table one branch renamed has
    the columns the other added under its new name, which the branches' tables by name do
    not show."""
    snapshot = state_from_snapshot(merge.snapshot_after.models)
    return Known(_union([known.maybe, snapshot]), known.surely)


def _moved_in(known: Known, m: Migration) -> Known:
    """After a migration that runs after another plugin's, a table its snapshot has and the
    plugin's operations never made may be there: one moved in from that plugin with its
    table, both files emptied (models.md), which the other plugin's operations made."""
    tables = {model.table for model in m.snapshot_after.models.values() if model.view is None}
    if tables <= known.maybe.keys():
        return known  # the usual case, without reading the snapshot's columns
    snapshot = state_from_snapshot(m.snapshot_after.models)
    extra = {t: model for t, model in snapshot.items() if t not in known.maybe}
    return Known({**known.maybe, **extra}, known.surely)


def _merge(knowns: list[Known]) -> Known:
    if len(knowns) == 1:
        return knowns[0]
    return Known(_union([k.maybe for k in knowns]), _intersection([k.surely for k in knowns]))


def _union(states: list[State]) -> State:
    out: State = {}
    for state in states:
        for table, model in state.items():
            have = out.get(table)
            if have is None:
                out[table] = model
                continue
            names = {c.name for c in have.fields}
            junctions = {r.table for r in have.m2m}
            out[table] = replace(
                have,
                fields=(*have.fields, *(c for c in model.fields if c.name not in names)),
                m2m=(*have.m2m, *(r for r in model.m2m if r.table not in junctions)),
            )
    return out


def _intersection(states: list[State]) -> State:
    first, rest = states[0], states[1:]
    out: State = {}
    for table, model in first.items():
        others = [s.get(table) for s in rest]
        if any(o is None for o in others):
            continue
        names = set.intersection(*({c.name for c in o.fields} for o in others if o))
        junctions = set.intersection(*({r.table for r in o.m2m} for o in others if o))
        out[table] = replace(
            model,
            fields=tuple(c for c in model.fields if c.name in names),
            m2m=tuple(r for r in model.m2m if r.table in junctions),
        )
    return out


def operations_problem(
    m: Migration,
    known: Known,
    junctions: frozenset[str] = frozenset(),
    elsewhere: bool | None = None,
) -> str | None:
    """What is wrong with the first operation of ``m`` that does not fit the tables before
    it (``known``), or None. ``elsewhere``: whether ``m`` runs after another plugin's
    migration (by default: whether it depends on one itself)."""
    if elsewhere is None:
        elsewhere = any(d.partition("/")[0] != m.plugin for d in m.depends_on)
    refs = _Refs(m.plugin, elsewhere, junctions)
    for i, op in enumerate(m.operations):
        if _unknown_effect(op):
            return None
        check = _CHECKS.get(op.kind)
        problem = check(op, known, refs) if check else None
        if problem is not None:
            return f"operation #{i + 1} ({op.kind}): {problem}"
        known = known.apply(op)
    return None


#: How the statements of a RunSql that leave tables and columns as they are begin.
_DATA_WORDS = frozenset((
    "INSERT", "UPDATE", "DELETE", "VALUES", "MERGE", "REPLACE", "COPY", "TRUNCATE", "COMMENT",
    "GRANT", "REVOKE", "ANALYZE", "VACUUM", "REFRESH", "SET",
))  # fmt: skip
#: What CREATE, DROP and ALTER may name and still leave tables and columns as they are (a
#: dropped type or extension takes its columns with it; an extension may bring tables; a
#: temporary table or a materialized view can be indexed as a table).
_OTHER_OBJECTS = {
    "CREATE": frozenset((
        "INDEX", "UNIQUE", "VIEW", "TRIGGER", "FUNCTION", "PROCEDURE", "SEQUENCE", "TYPE",
        "SCHEMA", "ROLE", "USER", "POLICY", "RULE",
    )),
    "DROP": frozenset(("INDEX", "VIEW", "MATERIALIZED", "TRIGGER", "SEQUENCE", "POLICY", "RULE")),
    "ALTER": frozenset(("INDEX", "VIEW", "SEQUENCE", "FUNCTION", "TRIGGER", "ROLE", "USER")),
}  # fmt: skip


_INTO = re.compile(r"\bINTO\b", re.IGNORECASE)


def _unknown_effect(op: Operation) -> bool:
    """Whether ``op`` may change tables or columns in a way the table state does not show."""
    if op.kind == "RunPython":
        return True
    if op.kind != "RunSql":
        return False
    from umbral.sqlscript import leading_words, split_sql

    return not all(_leaves_tables(s, leading_words(s, 4)) for s in split_sql(op.sql))  # type: ignore[attr-defined]


def _leaves_tables(statement: str, words: list[str]) -> bool:
    if not words or words[0] in _DATA_WORDS:
        return True
    if words[0] in ("SELECT", "WITH"):
        # A SELECT may call a function that changes tables, or make one (SELECT ... INTO).
        return "(" not in statement and _INTO.search(statement) is None
    if words[:3] == ["CREATE", "OR", "REPLACE"]:
        words = ["CREATE", *words[3:]]
    return len(words) > 1 and words[1] in _OTHER_OBJECTS.get(words[0], ())


class _Refs:
    """Where a referenced table may be: the plugin's own tables, or another plugin's when the
    migration depends on one."""

    def __init__(self, plugin: str, elsewhere: bool, junctions: frozenset[str]) -> None:
        self.plugin, self.elsewhere, self.junctions = plugin, elsewhere, junctions

    def missing(self, table: str, state: State, lead: str = "") -> str | None:
        if table in state or self.elsewhere:
            return None
        lead = lead or f"table `{table}`"
        return (
            f"{lead} is not a table of plugin `{self.plugin}` at this point (nor of another "
            "plugin: the migration depends on none); name an existing table, or create it in "
            "an earlier operation"
        )

    def fk(self, col: Column, state: State, new: ModelState | None = None) -> str | None:
        """The problem of ``col``'s reference, if any; ``new``: the table being created (a
        column may reference its own table)."""
        if not col.is_fk or not col.fk_target or not col.db_constraint:
            return None  # without a constraint the database does not look at the target
        target = new if new is not None and new.table == col.fk_target else state.get(col.fk_target)
        if target is None:
            lead = f"column `{col.name}` references table `{col.fk_target}`, which"
            return self.missing(col.fk_target, state, lead)
        if col.fk_column and target.column(col.fk_column) is None:
            return (
                f"column `{col.name}` references column `{col.fk_column}` of table "
                f"`{col.fk_target}`, which has no such column at this point; name its "
                "primary-key column in `fk_column`"
            )
        return None


def _model(
    state: State, table: str, junctions: frozenset[str] = frozenset()
) -> tuple[ModelState | None, str | None]:
    """The table's state, or the problem of its not being there; (None, None) for a junction
    table (``junctions``: every one the plugin made), whose columns the state does not hold
    and which outlives a dropped parent on some databases."""
    model = state.get(table)
    if model is None and (table in junctions or table in _junctions(state)):
        return None, None
    if model is None:
        return None, (
            f"table `{table}` does not exist at this point; name an existing table, or create "
            "it in an earlier operation"
        )
    return model, None


def _columns(
    state: State, table: str, names: Sequence[str], junctions: frozenset[str] = frozenset()
) -> str | None:
    model, problem = _model(state, table, junctions)
    if model is None:
        return problem
    missing = next((n for n in names if model.column(n) is None), None)
    if missing is not None:
        return (
            f"table `{table}` has no column `{missing}` at this point; name an existing "
            "column, or add it in an earlier operation"
        )
    return None


def _new_column(k: Known, table: str, name: str, refs: _Refs) -> str | None:
    model, problem = _model(k.maybe, table, refs.junctions)
    if model is None:
        return problem
    taken = k.surely.get(table)
    if taken is not None and taken.column(name) is not None:
        return f"table `{table}` already has a column `{name}` at this point; give it another name"
    return None


def _junctions(state: State) -> set[str]:
    return {rel.table for model in state.values() for rel in model.m2m}


def _taken(k: Known, table: str, refs: _Refs) -> str | None:
    # Only a name the plugin ever gave a junction can be one: the scan of every table's
    # ManyToMany runs for those alone (a scan per CreateTable made a long initial migration's
    # check quadratic). A junction missing from ``refs.junctions`` goes unrefused, never
    # wrongly refused.
    if table in k.surely or (table in refs.junctions and table in _junctions(k.surely)):
        return f"table `{table}` already exists at this point; give it another name"
    return None


def _create_table(op: ops.CreateTable, k: Known, refs: _Refs) -> str | None:
    problem = _taken(k, op.table, refs)
    if problem is not None:
        return problem
    new = ModelState(op.table, op.table, op.columns)
    return next((p for c in op.columns if (p := refs.fk(c, k.maybe, new))), None)


def _drop_table(op: ops.DropTable, k: Known, refs: _Refs) -> str | None:
    return _model(k.maybe, op.table, refs.junctions)[1]


def _add_column(op: ops.AddColumn, k: Known, refs: _Refs) -> str | None:
    return _new_column(k, op.table, op.column.name, refs) or refs.fk(op.column, k.maybe)


def _on_column(op: ops.DropColumn | ops.SetColumnComment, k: Known, refs: _Refs) -> str | None:
    return _columns(k.maybe, op.table, [op.column], refs.junctions)


def _alter_column(op: ops.AlterColumn, k: Known, refs: _Refs) -> str | None:
    return _columns(k.maybe, op.table, [op.column], refs.junctions) or refs.fk(op.to, k.maybe)


def _rename_column(op: ops.RenameColumn, k: Known, refs: _Refs) -> str | None:
    return _columns(k.maybe, op.table, [op.from_], refs.junctions) or _new_column(
        k, op.table, op.to, refs
    )


def _rename_table(op: ops.RenameTable, k: Known, refs: _Refs) -> str | None:
    if op.from_ not in k.maybe and op.from_ not in _junctions(k.maybe):
        return _model(k.maybe, op.from_, refs.junctions)[1]
    return _taken(k, op.to, refs)


def _create_m2m(op: ops.CreateM2MTable, k: Known, refs: _Refs) -> str | None:
    own_child = op.child_table in k.maybe  # else another plugin's, or missing
    return (
        _columns(k.maybe, op.parent_table, [op.parent_column])
        or refs.missing(op.child_table, k.maybe)
        or (_columns(k.maybe, op.child_table, [op.child_column]) if own_child else None)
        or _taken(k, op.table, refs)
    )


def _alter_m2m_key(op: ops.AlterM2MKey, k: Known, refs: _Refs) -> str | None:
    return _model(k.maybe, op.table, refs.junctions)[1]


def _index(op: ops.AddIndex | ops.DropIndex, k: Known, refs: _Refs) -> str | None:
    return _columns(k.maybe, op.table, op.columns, refs.junctions)


_CHECKS: dict[str, Callable[[Any, Known, _Refs], str | None]] = {
    "CreateTable": _create_table,
    "DropTable": _drop_table,
    "AddColumn": _add_column,
    "DropColumn": _on_column,
    "AlterColumn": _alter_column,
    "SetColumnComment": _on_column,
    "RenameColumn": _rename_column,
    "RenameTable": _rename_table,
    "CreateM2MTable": _create_m2m,
    "AlterM2MKey": _alter_m2m_key,
    "AddIndex": _index,
    "DropIndex": _index,
}
