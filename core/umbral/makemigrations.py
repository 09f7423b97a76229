"""makemigrations: diff every plugin, name the files, compute ``depends_on``, write atomically.

All plugins are diffed before anything is written, so a refusal in any plugin writes nothing
(SPEC §12: all plugins' files or none). Files are written to temporary names first and renamed
into place only when every one of them was written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from umbral.autodetector import Backfill, BackfillRequest, Note, diff
from umbral.environment import Environment
from umbral.errors import PluginError, UmbralError
from umbral.migration import Migration, sanitize_suffix, suffix_for
from umbral.naming import given_names
from umbral.operations import CreateTable, DropTable, Operation
from umbral.schema import Shim, Snapshot, backfill_problem, following
from umbral.values import record


@record
class MakeMigrationsResult:
    migrations: list[Migration] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    written: bool = False

    @property
    def changes(self) -> bool:
        return bool(self.migrations)


def _long_names(env: Environment, operations: list[Operation]) -> list[Note]:
    """A warning for each new table or column name that an installed backend's database
    would not keep whole: the user's own names are not shortened as generated ones are
    (``Backend.fit``). Said once, when the name first appears."""
    found = [n for op in operations for n in given_names(op)]
    # Every shipped backend keeps 63 bytes of a name: only a longer one has the installed
    # backends built to be asked (makemigrations otherwise builds none).
    found = [f for f in found if len(f[2].encode()) > 63]
    if not found:
        return []
    out = []
    for what, where, name in found:
        refused = [
            f"{b.name} ({b.IDENTIFIER_LIMIT} {'bytes' if b.IDENTIFIER_IN_BYTES else 'characters'})"
            for b in env.backends
            if b.fit(name) != name
        ]
        if refused:
            out.append(
                Note(
                    "stderr",
                    f"warning: umbral makemigrations: {what} name `{where}` is "
                    f"{len(name.encode())} bytes long, more than {', '.join(refused)} "
                    "keeps: give it a shorter name to use that database",
                )
            )
    return out


def _read_by(env: Environment, plugin: str, shim: Shim) -> tuple[str, ...] | None:
    """The columns a live shim's view reads (``compat.columns_when_made``)."""
    from umbral.compat import columns_when_made

    made = next((m for m in env.migrations(plugin) if m.id == shim.since), None)
    return columns_when_made(made, shim.table)


def _is_initial(operations: list[Operation]) -> bool:
    """A new plugin's first migration of several operations that starts by creating a table
    is ``0001_initial``, as Django (and ``inspectdb``) name it; one operation keeps the SPEC §5
    name (``0001_create_post``)."""
    return len(operations) > 1 and isinstance(operations[0], CreateTable)


def _given_first(given: Mapping[str, Any], ask: Backfill | None, used: set[str]) -> Backfill:
    """Answer from ``given`` (``--backfill Model.column=VALUE``), else ask."""

    def answer(request: BackfillRequest) -> Any:
        if request.key not in given:
            return ask(request) if ask is not None else None
        used.add(request.key)
        problem = backfill_problem(request.column, given[request.key])
        if problem:
            raise UmbralError(f"umbral makemigrations: --backfill {request.key}: {problem}")
        return given[request.key]

    return answer


def plan_migrations(
    env: Environment,
    *,
    name: str | None = None,
    compat: bool = False,
    backfill: Backfill | None = None,
    backfills: Mapping[str, Any] | None = None,
) -> MakeMigrationsResult:
    """Diff every plugin against its latest snapshot and build (unwritten) migrations.

    ``compat``: every rename leaves a compatibility shim (see ``umbral.compat``). The one-off
    value of a NOT NULL column without a default, for the rows its table already has, comes
    from ``backfills`` (``Model.column`` -> value), else from ``backfill`` (the terminal's
    questioner); a value given for no such column is an error (a typo)."""
    from umbral.compat import carry_shims, with_compat

    used: set[str] = set()
    given = dict(backfills or {})
    backfill = _given_first(given, backfill, used) if given else backfill
    result = MakeMigrationsResult()
    pending: dict[str, Migration] = {}
    # Tables renamed by the plugins diffed so far (a plugin comes after those it references),
    # so a reference to one is seen as following the rename, not as pointing elsewhere.
    moved: dict[str, str] = {}
    follows: dict[str, set[str]] = {}
    for plugin in env.order:
        info = env.info(plugin)
        previous_migration = env.latest(plugin)
        previous = env.previous_snapshot(plugin)
        current = env.snapshots.get(plugin)
        assert current is not None
        d = diff(previous, current, moved, backfill)
        moved.update(d.renamed)
        # A plugin whose references follow another plugin's rename gets a migration even with
        # no operation: its snapshot must name the table as it is now called.
        if not d.operations and not d.follows:
            continue
        follows[plugin] = d.follows
        if info.read_only:
            raise PluginError(
                f"plugin `{plugin}` ({info.distribution} {info.version}): its models differ from "
                f"its latest shipped migration in {info.migrations_dir}; upgrade the plugin "
                "(umbral never writes into an installed distribution)"
            )
        result.notes.extend(d.notes)
        if name:
            suffix = sanitize_suffix(name)
        elif previous_migration is None and _is_initial(d.operations):
            suffix = "initial"
        else:
            suffix = suffix_for(d.operations)
        mid = env.next_id(plugin, suffix)
        operations = with_compat(d.operations) if compat else d.operations
        result.notes.extend(_long_names(env, operations))
        pending[plugin] = Migration(
            plugin=plugin,
            id=mid,
            operations=operations,
            snapshot_after=carry_shims(
                previous,
                current,
                mid,
                operations,
                f"umbral makemigrations ({plugin})",
                lambda shim, p=plugin: _read_by(env, p, shim),
            ),
            depends_on=[previous_migration.key] if previous_migration else [],
            path=env.info(plugin).migrations_dir / f"{env.next_id(plugin, suffix)}.json",
        )
    # depends_on: the latest migration of every other plugin whose tables this one references,
    # counting the files written in this same run (SPEC §5).
    owner = env.table_owner()
    for plugin, migration in pending.items():
        referenced = set(follows[plugin])
        for op in migration.operations:
            referenced |= op.references()
        for table in sorted(referenced):
            other = owner.get(table)
            if other is None or other == plugin:
                continue
            latest = pending.get(other) or env.latest(other)
            if latest is not None and latest.key not in migration.depends_on:
                migration.depends_on.append(latest.key)
        # A table moving in from another plugin (kept by emptying both files, models.md) was
        # made by that plugin's migrations so far: run after them, so that a replay has the
        # table before this plugin's later keys to it, and their check sees it there.
        for other in _moved_in(env, plugin, migration):
            latest = env.latest(other)
            if latest is not None and latest.key not in migration.depends_on:
                migration.depends_on.append(latest.key)
        migration.depends_on.sort()
    later = _drops_after_their_references(env, pending, moved)
    unused = sorted(set(given) - used)
    if unused:
        raise UmbralError(
            f"umbral makemigrations: --backfill {unused[0]}: no NOT NULL column without a "
            "default needs a value there (give it as Model.column, as the refusal names it)"
        )
    result.migrations = [pending[p] for p in env.order if p in pending]
    for plugin, second in later.items():
        result.migrations.insert(result.migrations.index(pending[plugin]) + 1, second)
    for migration in result.migrations:
        _check_applies(env, migration, pending.get(migration.plugin))
    return result


def _drops_after_their_references(
    env: Environment, pending: dict[str, Migration], renamed: Mapping[str, str]
) -> dict[str, Migration]:
    """Order a dropped table after the other plugins' migrations that drop their references
    to it: PostgreSQL and MySQL refuse to drop a table a foreign key still points at. The
    plugin's migration depends on those; where one of them also depends on it (it points at
    a table this one makes), the drops move to a second migration of the plugin that depends
    on both, as Django's autodetector splits one. Returns the second migrations by plugin."""
    seconds: dict[str, Migration] = {}
    for plugin, migration in list(pending.items()):
        dropped = {op.table for op in migration.operations if isinstance(op, DropTable)}
        waits = {
            other: _pointed_at(env.previous_snapshot(other), dropped)
            for other in pending
            if other != plugin and dropped
        }
        waits = {other: held for other, held in waits.items() if held}
        if not waits:
            continue
        held = set().union(*waits.values())
        kept = [op for op in migration.operations if not _drops(op, held)]
        if not kept:
            # Only the drops: the others need nothing of it, so they depend on the plugin's
            # migration before it (written before this one, as far as they are concerned).
            before = env.latest(plugin)
            assert before is not None  # a plugin's first migration drops nothing
            for other in pending.values():
                if migration.key in other.depends_on:
                    other.depends_on.remove(migration.key)
                    other.depends_on = sorted({*other.depends_on, before.key})
        if not any(_reaches(pending, pending[other], migration.key) for other in waits):
            migration.depends_on = sorted({*migration.depends_on, *(pending[o].key for o in waits)})
            continue
        moved = [op for op in migration.operations if _drops(op, held)]
        after = migration.snapshot_after
        # The first keeps the id: the other plugins' migrations of this run depend on it. Its
        # snapshot keeps the dropped models, their keys following this run's table renames.
        kept_models = {
            name: following(model, renamed)
            for name, model in env.previous_snapshot(plugin).models.items()
            if model.table in held
        }
        first = Migration(
            plugin=plugin,
            id=migration.id,
            operations=kept,
            snapshot_after=Snapshot({**after.models, **kept_models}, after.shims),
            depends_on=migration.depends_on,
            path=migration.path,
        )
        second_id = f"{migration.sequence + 1:04d}_{suffix_for(moved)}"
        assert migration.path is not None
        pending[plugin] = first
        seconds[plugin] = Migration(
            plugin=plugin,
            id=second_id,
            operations=moved,
            snapshot_after=after,
            depends_on=sorted({first.key, *(pending[o].key for o in waits)}),
            path=migration.path.with_name(f"{second_id}.json"),
        )
    return seconds


def _moved_in(env: Environment, plugin: str, migration: Migration) -> list[str]:
    """The other plugins whose latest snapshot has a table ``migration`` creates."""
    made = {op.table for op in migration.operations if isinstance(op, CreateTable)}
    return [
        other
        for other in env.order
        if other != plugin
        and made & {m.table for m in env.previous_snapshot(other).models.values()}
    ]


def _pointed_at(snapshot: Snapshot, tables: set[str]) -> set[str]:
    """Which of ``tables`` a foreign key or ManyToMany of ``snapshot`` points at."""
    return {t for model in snapshot.models.values() for t in model.targets() if t in tables}


def _drops(op: Operation, tables: set[str]) -> bool:
    return isinstance(op, DropTable) and op.table in tables


def _reaches(pending: dict[str, Migration], start: Migration, key: str) -> bool:
    """Whether ``start`` depends on ``key`` through the migrations written in this run."""
    by_key = {m.key: m for m in pending.values()}
    seen: set[str] = set()
    todo = list(start.depends_on)
    while todo:
        k = todo.pop()
        if k == key:
            return True
        if k in seen or k not in by_key:
            continue
        seen.add(k)
        todo.extend(by_key[k].depends_on)
    return False


def _check_applies(env: Environment, migration: Migration, first: Migration | None) -> None:
    """Refuse a migration that would not apply after the plugin's existing ones: the diff
    read the latest snapshot, and a hand-added operation it does not show (a CreateTable in an
    ``--empty`` migration) made the tables differ from it. ``first``: the plugin's first
    migration of this run, which a second one (split off it) follows."""
    from umbral.opcheck import new_migration_problem

    latest = env.latest(migration.plugin)
    if latest is None:
        return  # the plugin's first migration: no snapshot to differ from
    existing = env.migrations(migration.plugin)
    if first is not None and first is not migration:
        existing = [*existing, first]
    problem = new_migration_problem(existing, migration)
    if problem is not None:
        raise UmbralError(
            f"umbral makemigrations: {migration.key} would not apply: {problem.split('; ')[0]} "
            f"(the operations so far and the snapshot of {latest.path} disagree); make that "
            "snapshot_after show what the operations do (a hand-added table or column needs "
            "its model there), then run makemigrations again"
        )


def empty_migration(env: Environment, plugin: str, *, name: str | None = None) -> Migration:
    """A migration with no operations, carrying the previous snapshot, to fill by hand."""
    if plugin not in env.order:
        raise PluginError(
            f"umbral makemigrations --empty: no plugin named `{plugin}`; known plugins: "
            f"{', '.join(sorted(env.order)) or 'none'}"
        )
    info = env.info(plugin)
    if info.read_only:
        raise PluginError(
            f"plugin `{plugin}` ships its migrations inside an installed distribution "
            f"({info.migrations_dir}); umbral never writes there"
        )
    latest = env.latest(plugin)
    suffix = sanitize_suffix(name) if name else "empty"
    mid = env.next_id(plugin, suffix)
    return Migration(
        plugin=plugin,
        id=mid,
        operations=[],
        snapshot_after=env.previous_snapshot(plugin),
        depends_on=[latest.key] if latest else [],
        path=info.migrations_dir / f"{mid}.json",  # type: ignore[operator]
    )


PYTHON_TEMPLATE = '''"""Data migration {key}: `umbral migrate` calls these functions inside the
migration's transaction (this module is imported only then)."""

from __future__ import annotations

from umbral.runpython import RunPythonContext


def forward(ctx: RunPythonContext) -> None:
    """Apply the data change. ``ctx.connection`` is the SQLAlchemy connection (do not commit),
    ``ctx.backend`` the backend's name, ``ctx.tables`` this plugin's tables as SQLAlchemy
    ``Table`` objects as they are at this point of history: never import today's models."""
    # t = ctx.tables["post"]
    # ctx.connection.execute(t.update().where(t.c.slug.is_(None)).values(slug=t.c.title))


def backward(ctx: RunPythonContext) -> None:
    """Undo ``forward`` when the migration is un-applied (delete ``reverse_code`` from the
    migration file if it cannot be undone: un-applying is then refused)."""
'''


def python_module(env: Environment, directory: Path, stem: str) -> str:
    """The importable name of ``directory/stem.py``: from the project's directory, or else
    from a ``sys.path`` entry holding it."""
    import re
    import sys

    for base in (env.root, *map(Path, sys.path)):
        try:
            parts = directory.resolve().relative_to(base.resolve()).parts
        except (ValueError, OSError):
            continue
        if all(re.fullmatch(r"\w+", p) for p in parts) and parts:
            return ".".join((*parts, stem))
    raise UmbralError(
        f"umbral makemigrations --python: {directory} is not importable from the project's "
        "directory (it must lie inside it, every folder named with letters, digits and _)"
    )


def python_migration(env: Environment, plugin: str, *, name: str | None = None) -> Migration:
    """An empty migration with one RunPython operation calling the functions of a skeleton
    module written beside it (``Migration.extra_files``)."""
    from umbral.operations import RunPython

    m = empty_migration(env, plugin, name=name or "run_python")
    assert m.path is not None
    module = python_module(env, m.path.parent, m.id)
    m.operations = [RunPython(code=f"{module}:forward", reverse_code=f"{module}:backward")]
    m.extra_files = {m.path.with_suffix(".py"): PYTHON_TEMPLATE.format(key=m.key)}
    return m


def write_all(migrations: list[Migration]) -> None:
    """Write every file or none: temp files first, then renames; clean up on any failure."""
    temps: list[tuple[Path, Path]] = []
    done: list[Path] = []
    try:
        for m in migrations:
            assert m.path is not None
            m.path.parent.mkdir(parents=True, exist_ok=True)
            files = {m.path: m.dumps(), **(m.extra_files or {})}
            for path, text in files.items():
                if path.exists():
                    raise UmbralError(f"refusing to overwrite existing migration file {path}")
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(text, encoding="utf-8")
                temps.append((tmp, path))
        for tmp, final in temps:
            os.replace(tmp, final)
            done.append(final)
    except BaseException as exc:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        for final in done:
            final.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UmbralError(f"cannot write migration file: {exc}") from exc
        raise
