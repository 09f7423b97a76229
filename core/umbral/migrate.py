"""The migrate flow: guards, drift, --fake, --fake-initial, plan, apply (SPEC §8-9).

Public Python API for safety checks lives here too (``check_pending_safety``,
``classify_operation``, ``OpSafety``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from umbral import drift, executor, recorder
from umbral.backend import Backend
from umbral.errors import (
    DatabaseError,
    DriftDetected,
    MigrationFileError,
    MigrationGraphError,
    Refused,
    UmbralError,
)
from umbral.graph import check_dependencies, plan_order
from umbral.migration import Migration, id_sequence
from umbral.operations import (
    CreateTable,
    IrreversibleOperation,
    Operation,
    State,
    apply_all,
    state_from_snapshot,
)
from umbral.safety import Finding, OpSafety, check_pending_safety, classify_operation

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.environment import Environment
    from umbral.fastpath import FastPath

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class MigrateResult:
    applied: list[str] = field(default_factory=list)
    unapplied: list[str] = field(default_factory=list)
    faked: list[str] = field(default_factory=list)
    #: Migrations recorded as skipped in this run (their ``skip_on`` named the environment).
    skipped: list[str] = field(default_factory=list)
    #: Tracking rows deleted (or, with --plan, to delete) by --prune.
    pruned: list[str] = field(default_factory=list)
    plan: list[executor.Rendered] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    #: The part of the plan built from snapshots on a fresh database (``umbral.fastpath``);
    #: ``plan`` then holds only the migrations replayed after it.
    fast: FastPath | None = None
    #: Which path a run on a database without tracking rows takes, and why ("" otherwise).
    path: str = ""


def parse_spec(spec: str, flag: str, command: str = "umbral migrate") -> tuple[str, str]:
    """Split ``plugin/name``; a malformed spec is an error naming the command and flag."""
    plugin, sep, name = spec.partition("/")
    if not sep or not plugin or not name or "/" in name:
        where = f"{command} {flag}".rstrip()
        raise UmbralError(
            f"{where}: {spec!r} is not a migration spec; write plugin/name, "
            "e.g. app/0003_add_post_tag"
        )
    return plugin, name


def no_such_migration(where: str, key: str, known: Iterable[str]) -> str:
    """The error for a spec naming no migration on disk, with what to write instead: the
    plugin's migrations that start with the given name or resemble it, else where to look."""
    plugin, _, name = key.partition("/")
    mine = sorted(k for k in known if k.partition("/")[0] == plugin)
    close = [k for k in mine if k.partition("/")[2].startswith(name)]
    if not close:
        import difflib

        close = difflib.get_close_matches(key, mine, n=3)
    if close:
        hint = f"did you mean {' or '.join(close)}?"
    elif mine:
        hint = f"`umbral showmigrations` lists the {len(mine)} migration(s) of {plugin}"
    else:
        hint = f"plugin {plugin} has no migrations yet; run `umbral makemigrations` first"
    return f"{where}: no migration {key} on disk; {hint}"


def state_before(m: Migration, by_key: dict[str, Migration]) -> State:
    """The plugin's tables before ``m``: the snapshot of its in-plugin predecessor."""
    for dep in m.depends_on:
        prev = by_key.get(dep)
        if prev is not None and prev.plugin == m.plugin:
            return state_from_snapshot(prev.snapshot_after.models)
    return {}


class Migrator:
    """One migrate/showmigrations/sqlmigrate run against one database."""

    def __init__(self, env: Environment, backend: Backend, conn: Connection) -> None:
        self.env = env
        self.backend = backend
        self.conn = conn
        self.migrations = env.all_migrations()  # validates every file before the DB is touched
        self.by_key = {m.key: m for m in self.migrations}
        self.plugin_rank = {p: i for i, p in enumerate(env.file_order)}
        #: Squashes to record without SQL (set by ``pending_plan``).
        self.record_only: set[str] = set()
        #: Of those, the ones whose last replaced migrations run in the same plan.
        self.completed_squashes: set[str] = set()
        #: Migrations recorded as skipped, with the environment they were skipped in.
        self.skipped: dict[str, str] = {}

    # -- reading state --------------------------------------------------------------------

    def applied(self) -> dict[str, str]:
        return recorder.applied(self.conn)

    def check_conflicts(self, applied: dict[str, str]) -> None:
        """Refuse a plugin whose graph has several leaves (SPEC §5), or a missing dependency."""
        conflicts = self.env.conflicts(applied=applied)
        if conflicts:
            raise MigrationGraphError(conflicts[0])

    def entries(self, applied: dict[str, str] | None = None) -> list[drift.Entry]:
        return drift.detect(self.migrations, self.applied() if applied is None else applied)

    def state_before(self, m: Migration) -> State:
        return state_before(m, self.by_key)

    def render(self, m: Migration, environment: str | None = None) -> executor.Rendered:
        """How ``m`` runs forward; in an environment its ``skip_on`` names, it is only
        recorded (as skipped). A gated migration with no environment named is refused: running
        it by default is what the gate exists to prevent."""
        if m.key in self.record_only:
            return executor.Rendered(m, [], record_only=True)
        if m.skip_on:
            if environment is None:
                raise Refused(
                    f"umbral migrate: {m.key} is skipped on {', '.join(m.skip_on)} (its "
                    "`skip_on`), and no environment is named; pass --env NAME, set UMBRAL_ENV, "
                    "or set `env` in the project config"
                )
            if environment in m.skip_on:
                return executor.Rendered(m, [], record_only=True, skipped=environment)
        return executor.render_migration(self.env.pm, self.backend, m, lambda: self.state_before(m))

    # -- migrate --------------------------------------------------------------------------

    def fake(self, spec: str) -> str:
        plugin, name = parse_spec(spec, "--fake")
        self.env.info(plugin)  # unknown plugin -> error naming the known ones
        m = self.by_key.get(f"{plugin}/{name}")
        if m is None:
            raise MigrationFileError(
                no_such_migration("umbral migrate --fake", f"{plugin}/{name}", self.by_key)
            )
        recorder.ensure_table(self.conn)
        self.conn.commit()
        applied = self.applied()
        with self.conn.begin():
            if m.key in applied:
                if applied[m.key] == m.checksum:
                    return f"{m.key} is already applied (nothing to do)"
                recorder.update_checksum(self.conn, m.plugin, m.id, m.checksum)
                return f"Re-recorded {m.key} with its current checksum (no SQL executed)"
            recorder.record(self.conn, m.plugin, m.id, m.checksum)
        return f"Marked {m.key} as applied (no SQL executed)"

    def orphans(self, applied: dict[str, str]) -> list[str]:
        """Tracking rows of migrations neither on disk nor replaced by a squash on disk
        (what ``--prune`` deletes), in plugin then name order."""
        replaced = {r for m in self.migrations for r in m.replaces}
        return sorted(
            (k for k in applied if k not in self.by_key and k not in replaced),
            key=lambda k: tuple(k.split("/", 1)),
        )

    def prune(self, keys: list[str]) -> None:
        """Delete the tracking rows ``keys``, in one transaction; the schema is not touched."""
        with executor.write_transaction(self.conn, self.backend):
            for key in keys:
                plugin, name = key.split("/", 1)
                recorder.unrecord(self.conn, plugin, name)

    def check_drift(
        self, entries: list[drift.Entry], allow: bool, warn: Callable[[str], None]
    ) -> None:
        missing = [e for e in entries if e.state is drift.State.MISSING]
        edited = [e for e in entries if e.state is drift.State.EDITED]
        if (missing or edited) and not allow:
            # A plugin left out of the `plugins` allow-list keeps its files: its rows are not
            # lost files, and restoring files from VCS would not help.
            off = [e for e in missing if e.plugin in self.env.disabled]
            lost = [e for e in missing if e.plugin not in self.env.disabled]
            details: list[str] = []
            if lost:
                details.append(
                    "The following migrations are in the tracking table but missing on disk:"
                )
                details += [f"[!] {e.key}" for e in lost]
            if off:
                if details:
                    details.append("")
                plugins = sorted({e.plugin for e in off})
                details.append(
                    "The following migrations belong to plugin(s) turned off (left out of the "
                    f"`plugins` allow-list of the configuration): {', '.join(plugins)}"
                )
                details += [f"[!] {e.key}" for e in off]
            if edited:
                if details:
                    details.append("")
                details.append(
                    "The following migrations were edited after they were applied "
                    "(checksum differs from the tracking table):"
                )
                details += [f"[~] {e.key}" for e in edited]
            options: list[str] = []
            if lost or edited:
                options.append("Restore the file(s) from VCS.")
            if off:
                plugins = sorted({e.plugin for e in off})
                options.append(
                    f"Add {', '.join(plugins)} back to the `plugins` allow-list of the "
                    "configuration."
                )
            options.append(
                "Run `umbral migrate --allow-drift` to proceed and apply pending migrations."
            )
            if missing:
                options.append(
                    "Run `umbral migrate --prune` to delete the tracking rows of the [!] "
                    "migrations (the schema is not touched)."
                )
            if edited:
                options.append(
                    "Run `umbral migrate --fake <plugin/name>` to re-record an edited migration "
                    "with its current checksum."
                )
            details += ["", "Options:", *(f"{i}. {o}" for i, o in enumerate(options, 1))]
            err = DriftDetected("umbral migrate: drift detected")
            err.details = tuple(details)
            raise err
        for e in missing:
            warn(
                f"umbral migrate --allow-drift: migration {e.key} is recorded in the tracking "
                "table but the file is missing from disk; proceeding."
            )
        for e in edited:
            warn(
                f"umbral migrate --allow-drift: migration {e.key} was edited after it was "
                "applied (checksum differs); proceeding without re-running it."
            )

    def pending_plan(self, applied: dict[str, str], target: str | None = None) -> list[Migration]:
        """Unapplied migrations in topological order (squash-aware, SPEC §5), up to ``target``.

        A squash whose replaced migrations all ran is returned too, to be recorded without SQL
        (``record_only``); with none of them applied only the squash runs; with some applied
        the remaining originals run, and a missing one is refused by name.
        """
        check_dependencies(self.migrations, applied)
        order = plan_order(self.migrations, self.plugin_rank)
        shadowed: set[str] = set()
        self.record_only.clear()
        self.completed_squashes.clear()
        for m in order:
            if not m.replaces or m.key in applied:
                shadowed |= set(m.replaces) if m.key in applied else set()
                continue
            done = [r for r in m.replaces if r in applied]
            if len(done) == len(m.replaces):
                self.record_only.add(m.key)
                shadowed |= set(m.replaces)
            elif not done:
                shadowed |= set(m.replaces)
            else:
                missing = [r for r in m.replaces if r not in applied and r not in self.by_key]
                if missing:
                    raise Refused(
                        f"umbral migrate: squash {m.key} is half-applied and its replaced "
                        f"migration(s) {', '.join(missing)} are missing from disk; restore those "
                        "files so the remaining ones can run"
                    )
                shadowed.add(m.key)  # the remaining originals run instead
        todo = [m for m in order if m.key not in applied and m.key not in shadowed]
        if target is not None:
            todo = self._upto(todo, target)
        return self._complete_squashes(todo, applied)

    def _complete_squashes(self, todo: list[Migration], applied: dict[str, str]) -> list[Migration]:
        """``todo`` with each half-applied squash whose remaining originals all run in it
        recorded (without SQL) right after the last of them, in the same run: the next run has
        nothing left to do. A failure before that point leaves it unrecorded."""
        out = list(todo)
        position = {m.key: i for i, m in enumerate(out)}
        for squash in self.migrations:
            rest = [r for r in squash.replaces if r not in applied]
            if squash.key in applied or not rest or len(rest) == len(squash.replaces):
                continue
            if all(r in position for r in rest):
                self.record_only.add(squash.key)
                self.completed_squashes.add(squash.key)
                out.insert(max(position[r] for r in rest) + 1, squash)
                position = {m.key: i for i, m in enumerate(out)}
        return out

    def _upto(self, todo: list[Migration], target: str) -> list[Migration]:
        """Only the pending migrations ``target`` needs (itself and its dependencies)."""
        plugin, name = parse_spec(target, "")
        self.env.info(plugin)
        key = f"{plugin}/{name}"
        if key not in self.by_key:
            raise MigrationFileError(no_such_migration("umbral migrate", key, self.by_key))
        # A target inside a squashed range is reached by the squash when that runs instead.
        squash_of = {r: m.key for m in self.migrations for r in m.replaces}
        needed: set[str] = set()
        stack = [key]
        while stack:
            k = stack.pop()
            if k in needed:
                continue
            needed.add(k)
            stack.extend(self.by_key[k].depends_on if k in self.by_key else [])
            if k in squash_of:
                stack.append(squash_of[k])
        return [m for m in todo if m.key in needed]

    def is_backward(self, target: str, applied: dict[str, str]) -> bool:
        """True when ``target`` (plugin/name or plugin/zero) lies behind what is applied."""
        plugin, name = parse_spec(target, "")
        self.env.info(plugin)
        if name == "zero":
            return True
        return f"{plugin}/{name}" in applied and bool(self._later_applied(plugin, name, applied))

    def _later_applied(self, plugin: str, name: str, applied: dict[str, str]) -> list[str]:
        seq = id_sequence(name)
        return [
            k
            for k in applied
            if k.split("/", 1)[0] == plugin and id_sequence(k.split("/", 1)[1]) > seq
        ]

    def backward_plan(self, target: str, applied: dict[str, str]) -> list[Migration]:
        """Applied migrations to un-apply to reach ``target``, dependents first (SPEC §8)."""
        plugin, name = parse_spec(target, "")
        if name == "zero":
            roots = [k for k in applied if k.split("/", 1)[0] == plugin]
        else:
            if f"{plugin}/{name}" not in self.by_key:
                raise MigrationFileError(
                    no_such_migration("umbral migrate", f"{plugin}/{name}", self.by_key)
                )
            roots = self._later_applied(plugin, name, applied)
        # Everything applied that depends on a root, in any plugin, goes first.
        dependents: dict[str, list[str]] = {}
        for m in self.migrations:
            for dep in m.depends_on:
                dependents.setdefault(dep, []).append(m.key)
        undo: set[str] = set()
        stack = list(roots)
        while stack:
            key = stack.pop()
            if key in undo or key not in applied:
                continue
            undo.add(key)
            stack.extend(dependents.get(key, []))
        missing = sorted(k for k in undo if k not in self.by_key)
        if missing:
            raise Refused(
                f"umbral migrate {target}: cannot un-apply {', '.join(missing)}: the file(s) are "
                "missing from disk, so their reverse operations are unknown; restore them first"
            )
        order = plan_order(self.migrations, self.plugin_rank)
        return [m for m in reversed(order) if m.key in undo]

    def render_backward(self, m: Migration, allow_irreversible: bool) -> executor.Rendered:
        """Render the reverse of ``m``; irreversible operations stop unless allowed. A
        migration recorded as skipped never ran: un-applying it only deletes its row."""
        if m.key in self.skipped:
            skipped = self.skipped[m.key]
            return executor.Rendered(m, [], backward=True, record_only=True, skipped=skipped)
        before = self.state_before(m)
        after = apply_all(before, m.operations)
        reverse: list[Operation] = []
        state = before
        blocked: list[str] = []
        for op in m.operations:
            if op.irreversible:
                blocked.append(op.describe())
            try:
                reverse[:0] = op.reverse(state)
            except IrreversibleOperation as exc:
                if not allow_irreversible:
                    raise Refused(
                        f"umbral migrate: {m.key} cannot be un-applied: {exc}; pass "
                        "--allow-irreversible to skip that step"
                    ) from None
            state = op.apply(state)
        if blocked and not allow_irreversible:
            raise Refused(
                f"umbral migrate: un-applying {m.key} cannot restore the data removed by: "
                + "; ".join(blocked)
                + ". Pass --allow-irreversible to un-apply it anyway"
            )
        undo = Migration(
            plugin=m.plugin,
            id=m.id,
            operations=reverse,
            snapshot_after=m.snapshot_after,
            depends_on=m.depends_on,
            atomic=m.atomic,
            path=m.path,
        )
        undo._checksum = m.checksum
        rendered = executor.render_migration(self.env.pm, self.backend, undo, after)
        rendered.backward = True
        return rendered

    def initial_to_fake(self, applied: dict[str, str]) -> list[str]:
        """Each plugin's first migration whose tables already exist and match (read only);
        refused when some exist but differ."""
        from sqlalchemy import inspect

        from umbral.inspect import declared_types

        insp = inspect(self.conn)
        existing = set(insp.get_table_names())
        faked: list[str] = []
        problems: list[str] = []
        for plugin in self.env.file_order:
            ms = self.env.migrations(plugin)
            if not ms or ms[0].key in applied:
                continue
            first = ms[0]
            creates = [op for op in first.operations if isinstance(op, CreateTable)]
            if not creates or not all(op.table in existing for op in creates):
                continue
            diffs: list[str] = []
            for op in creates:
                cols = {c["name"]: c for c in insp.get_columns(op.table)}
                # Declared type names: SQLite reflection reports ones it does not know
                # (TIMESTAMPTZ, UUID, which umbral writes) as NUMERIC.
                for name, declared in declared_types(self.conn, op.table).items():
                    if name in cols:
                        cols[name] = {**cols[name], "type": declared}
                for col in op.columns:
                    found = cols.pop(col.name, None)
                    if found is None:
                        diffs.append(f"{op.table}.{col.name}: missing in the database")
                        continue
                    if not col.primary_key and bool(found["nullable"]) != col.nullable:
                        want = "NULL" if col.nullable else "NOT NULL"
                        diffs.append(f"{op.table}.{col.name}: database column is not {want}")
                    if not _compatible(self.backend, col, found["type"]):
                        diffs.append(
                            f"{op.table}.{col.name}: database type {found['type']} does not "
                            f"match {col.storage_type}"
                        )
                for extra in cols:
                    diffs.append(f"{op.table}.{extra}: in the database but not in {first.key}")
            if diffs:
                problems.append(
                    f"{first.key}: tables exist but differ from the migration:\n    "
                    + "\n    ".join(diffs)
                )
                continue
            faked.append(first.key)
        if problems:
            err = Refused(
                "umbral migrate --fake-initial: existing tables do not match the initial "
                "migration; nothing was recorded"
            )
            err.details = tuple(problems)
            raise err
        # The inspector's reads opened a transaction; end it so the records get their own.
        self.conn.rollback()
        return faked

    def record_faked(self, keys: list[str]) -> None:
        """Record the migrations ``initial_to_fake`` found, without running them."""
        with executor.write_transaction(self.conn, self.backend):
            for key in keys:
                m = self.by_key[key]
                recorder.record(self.conn, m.plugin, m.id, m.checksum)


_TYPE_FAMILIES = {
    "SmallInt": "int", "Integer": "int", "BigInt": "int", "Real": "float", "Double": "float",
    "Decimal": "num", "Boolean": "bool", "Text": "str", "Date": "date", "Time": "time",
    "Timestamp": "ts", "Timestamptz": "ts", "Uuid": "uuid", "Json": "json", "Bytes": "bytes",
}  # fmt: skip


def _compatible(backend: Backend, col: Any, db_type: Any) -> bool:
    """Loose type check for --fake-initial: same family of types (names vary by dialect)."""
    name = str(db_type).upper()
    family = _TYPE_FAMILIES.get(col.storage_type, "")
    checks = {
        "int": ("INT",),
        "float": ("REAL", "FLOAT", "DOUBLE"),
        "num": ("NUMERIC", "DECIMAL"),
        "bool": ("BOOL",),
        "str": ("TEXT", "CHAR", "CLOB", "STRING"),
        "date": ("DATE",),
        "time": ("TIME",),
        "ts": ("TIMESTAMP", "DATETIME"),
        "uuid": ("UUID", "CHAR"),
        "json": ("JSON",),
        "bytes": ("BLOB", "BYTEA", "BINARY"),
    }
    return any(k in name for k in checks.get(family, ("",)))


def translate_db_errors(exc: Exception, url: str = "") -> UmbralError:
    from umbral.database import scrub

    orig = getattr(exc, "orig", None) or exc
    return DatabaseError(f"database error: {scrub(str(orig).strip().splitlines()[0], url)}")


__all__ = [
    "Finding",
    "MigrateResult",
    "Migrator",
    "OpSafety",
    "check_pending_safety",
    "classify_operation",
]
