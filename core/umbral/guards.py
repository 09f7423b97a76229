"""What ``migrate`` refuses, and why (SPEC §8 guards): each rule is written once here and
asked on every path that reaches it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from umbral.drift import Entry, State
from umbral.errors import DriftDetected, MigrationGraphError, PartlyApplied, Refused

if TYPE_CHECKING:
    from umbral.backend import Backend
    from umbral.environment import Environment
    from umbral.executor import Rendered
    from umbral.plan import Step
    from umbral.progress import Progress


def refuse_in_memory(backend: Backend, url: str, allow: bool) -> None:
    if backend.is_in_memory(url) and not allow:
        raise Refused(
            "umbral migrate: refusing to migrate an in-memory database: the schema would "
            "vanish when this process exits (is the project config being found?); pass "
            "--allow-in-memory if this is intended"
        )


def check_conflicts(env: Environment, applied: Mapping[str, str]) -> None:
    """Refuse a plugin whose graph has several leaves (SPEC §5), or a missing dependency.
    After reading the tracking rows: a dependency that is neither on disk nor applied is
    named as such, not taken for two branches."""
    conflicts = env.conflicts(applied=applied)
    if conflicts:
        raise MigrationGraphError(conflicts[0])


def check_directories(env: Environment, applied: Mapping[str, str], command: str) -> None:
    """Refuse a plugin with migrations recorded as applied and none on disk at all: its
    directory is misnamed (a typo in ``migrations``) rather than every file deleted, and
    every row would read as drift, which ``--prune`` would delete."""
    for plugin in env.plugin_names:
        recorded = sum(key.partition("/")[0] == plugin for key in applied)
        if recorded and not env.migrations(plugin):
            where = env.info(plugin).migrations_dir
            raise Refused(
                f"{command}: plugin `{plugin}` has {recorded} migration(s) recorded as applied, "
                f"and its migrations directory {where} holds none: check `migrations` in the "
                "configuration, or restore the files; nothing was run"
            )


def refuse_pruning_a_history(
    env: Environment, applied: Mapping[str, str], pruned: Sequence[str]
) -> None:
    """Refuse a --prune of a plugin whose migrations on disk share no applied migration with
    the database (none recorded with its checksum): a history written into a misnamed
    directory (a typo in ``migrations``, then ``makemigrations``) rather than files deleted
    one by one."""
    for plugin in env.plugin_names:
        forgotten = [k for k in pruned if k.partition("/")[0] == plugin]
        files = env.migrations(plugin)
        shared = any(applied.get(m.key) == m.checksum for m in files)
        if forgotten and files and not shared:
            where = env.info(plugin).migrations_dir
            raise Refused(
                f"umbral migrate --prune: it would forget {len(forgotten)} applied "
                f"migration(s) of plugin `{plugin}`, whose migrations directory {where} holds "
                "none of the database's history: check `migrations` in the configuration; if "
                "the history was started again on purpose, add --allow-drift"
            )


# -- drift ------------------------------------------------------------------------------------


def check_drift(
    entries: Sequence[Entry], disabled: Collection[str], allow: bool, warn: Callable[[str], None]
) -> None:
    """Refuse missing or edited migrations unless ``allow`` (then warn about each); warn
    about the ones applied out of order. ``disabled``: plugins left out of the ``plugins``
    allow-list, whose rows are not lost files."""
    if not allow:
        refuse_drift(entries, disabled, "umbral migrate")
    missing = [e for e in entries if e.state is State.MISSING]
    edited = [e for e in entries if e.state is State.EDITED]
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
    for e in entries:
        if e.state is State.OUT_OF_ORDER:
            warn(
                f"umbral migrate: migration {e.key} is on disk but appears before the "
                "last applied migration of its plugin; applying it out of order"
            )


def refuse_drift(entries: Sequence[Entry], disabled: Collection[str], command: str) -> None:
    """Refuse missing or edited migrations, listed with the ways out. ``checkmigrations``
    asks it too: a check that passes where ``migrate`` refuses would pass a failing deploy."""
    missing = [e for e in entries if e.state is State.MISSING]
    edited = [e for e in entries if e.state is State.EDITED]
    if missing or edited:
        err = DriftDetected(f"{command}: drift detected")
        err.details = _drift_details(missing, edited, disabled, command)
        raise err


def _drift_details(
    missing: list[Entry], edited: list[Entry], disabled: Collection[str], command: str
) -> tuple[str, ...]:
    # A plugin left out of the `plugins` allow-list keeps its files: its rows are not
    # lost files, and restoring files from VCS would not help.
    off = [e for e in missing if e.plugin in disabled]
    lost = [e for e in missing if e.plugin not in disabled]
    plugins = ", ".join(sorted({e.plugin for e in off}))
    sections: list[list[str]] = []
    if lost:
        sections.append(
            ["The following migrations are in the tracking table but missing on disk:"]
            + [f"[!] {e.key}" for e in lost]
        )
    if off:
        sections.append(
            [
                "The following migrations belong to plugin(s) turned off (left out of the "
                f"`plugins` allow-list of the configuration): {plugins}"
            ]
            + [f"[!] {e.key}" for e in off]
        )
    if edited:
        sections.append(
            [
                "The following migrations were edited after they were applied "
                "(checksum differs from the tracking table):"
            ]
            + [f"[~] {e.key}" for e in edited]
        )
    details = [line for i, s in enumerate(sections) for line in ([""] if i else []) + s]
    options = _drift_options(bool(lost or edited), plugins if off else "", missing, edited)
    if command != "umbral migrate":
        options.append(f"Run `{command} --allow-drift` to check the pending migrations anyway.")
    return (*details, "", "Options:", *(f"{i}. {o}" for i, o in enumerate(options, 1)))


def _drift_options(
    restore: bool, off_plugins: str, missing: list[Entry], edited: list[Entry]
) -> list[str]:
    options: list[str] = []
    if restore:
        options.append("Restore the file(s) from VCS.")
    if off_plugins:
        options.append(f"Add {off_plugins} back to the `plugins` allow-list of the configuration.")
    options.append("Run `umbral migrate --allow-drift` to proceed and apply pending migrations.")
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
    return options


# -- destructive operations -------------------------------------------------------------------

# What to do about a refused run. Forward, the operations come from files not yet applied, so
# they can still be deleted and written again; a rename written as a drop and a create is the
# usual surprise.
_DESTRUCTIVE = (
    "Nothing was applied. If this data is not meant to go (a model or field removed by "
    "mistake, or a rename makemigrations wrote as a drop and a create), delete the unapplied "
    "migration file(s) named above, correct the models and run makemigrations again, or write "
    "the rename by hand (RenameTable, RenameColumn); if the data loss is intended, re-run with "
    "--allow-destructive."
)
_DESTRUCTIVE_BACKWARD = (
    "Nothing was un-applied. Un-applying these migrations removes what they added, with its "
    "data; if that is intended, re-run with --allow-destructive."
)


def destructive_findings(pm: Any, backend: Backend, rendered: Sequence[Rendered]) -> list[str]:
    """``migration: what it destroys`` for each UNSAFE operation about to run (for a backward
    run, of the reverse operations). A forward run's drop of a table or column that the run
    itself makes first destroys nothing the database held: a fresh database built by replaying
    a history with drops needs no flag."""
    from umbral.made import MadeHere
    from umbral.safety import OpSafety, classify

    found = []
    made = MadeHere()
    for r in rendered:
        if r.record_only:  # a squash whose replaced migrations all ran: no SQL runs (SPEC §5)
            continue
        for op in r.migration.operations:  # for a backward run: the reverse operations
            if not r.backward and made.take(op):
                continue
            ctx = {"migration": r.migration.key, "operations": r.migration.operations}
            finding = classify(pm, op, backend, ctx)
            if finding.tier is OpSafety.UNSAFE:
                found.append(f"{r.migration.key}: {finding.message}")
    return found


def destructive_gate(pm: Any, backend: Backend, rendered: Sequence[Rendered]) -> None:
    """Refuse the run when any operation about to run is UNSAFE (SPEC §8 guards)."""
    lines = [f"    [UNSAFE] {line}" for line in destructive_findings(pm, backend, rendered)]
    if lines:
        err = Refused(
            f"umbral migrate: {len(lines)} pending destructive operation(s) would DESTROY DATA:"
        )
        err.details = (*lines, _DESTRUCTIVE_BACKWARD if rendered[0].backward else _DESTRUCTIVE)
        raise err


# -- partly applied migrations ----------------------------------------------------------------


def not_compared(command: str, partial: Mapping[str, Progress], gone: Collection[str]) -> str:
    """Why ``checkschema`` does not compare a database with a partly applied migration: it
    is between two snapshots, so every finished statement would read as drift, and the
    repair would undo what ``migrate`` then takes for done. ``gone``: those whose file is
    not on disk."""
    found = []
    for key, p in sorted(partial.items()):
        if key in gone:
            finish = (
                "its file is gone: restore the file and finish it with `umbral migrate`, or "
                "run `umbral migrate --prune` to forget its progress once the database is "
                "repaired"
            )
        elif p.backward:
            finish = (
                "finish it by running the migrate that was un-applying it again (to its "
                f"target, before it), or, {keep_applied(key, p)}"
            )
        else:
            finish = (
                f"finish it with `umbral migrate` (it continues at statement {p.done + 1}), "
                "or resolve it with `umbral migrate --from-statement N` or "
                f"`umbral migrate --fake {key}`"
            )
        doing = "un-applied" if p.backward else "applied"
        found.append(f"migration {key} is partly {doing} ({p.describe()}); {finish}")
    return (
        f"{command}: {'; '.join(found)}; the database is between two migrations, so it was "
        "not compared: run checkschema again once no migration is partly applied"
    )


def keep_applied(key: str, p: Progress) -> str:
    """The ``--fake`` way out of a partly un-applied migration: it keeps the migration
    applied (there is no un-recording one), so the reverse statements that ran are the
    user's to undo first, or the tracking row would name changes the database lacks."""
    return (
        f"once you have undone by hand the {p.done} reverse statement(s) that ran, "
        f"`umbral migrate --fake {key}` keeps it applied"
    )


def refuse_recording_partial(steps: Sequence[Step], partial: Mapping[str, Progress]) -> None:
    """``--record-only`` writes or deletes whole tracking rows; a partly applied migration of
    its plan has a progress row that says which of its statements ran, which only running it,
    ``--from-statement`` or ``--fake`` settle."""
    for step in steps:
        p = partial.get(step.key)
        if p is not None:
            doing = "un-applied" if p.backward else "applied"
            raise PartlyApplied(
                f"umbral migrate --record-only: migration {step.key} is partly {doing} "
                f"({p.describe()}); finish it with `umbral migrate` or settle it with "
                f"`umbral migrate --fake {step.key}` first; nothing was recorded"
            )


def resume_plan(
    partial: Mapping[str, Progress],
    steps: Sequence[Step],
    checksums: Mapping[str, str],
    from_statement: int | None,
    before: Mapping[str, str] | None = None,
) -> dict[str, Progress]:
    """Where each partly applied migration of the plan continues (``umbral.progress``), after
    refusing a run that would pass one by, or continue one whose file changed since its
    first statements ran, without being told where (``from_statement``). ``before`` names,
    for a partly un-applied migration, a target before it (its predecessor in its plugin,
    or ``PLUGIN/zero``), for the command the refusal suggests."""
    before = before or {}
    planned = {s.key: s.backward for s in steps if not s.record_only}
    if from_statement is not None and len(partial) != 1:
        found = ", ".join(sorted(partial)) or "none is"
        raise PartlyApplied(
            "umbral migrate --from-statement: it continues the one partly applied migration, "
            f"and {found}{' are' if len(partial) > 1 else ''} partly applied"
        )
    out: dict[str, Progress] = {}
    for key, p in sorted(partial.items()):
        doing = "un-applied" if p.backward else "applied"
        where = f"migration {key} is partly {doing} ({p.describe()})"
        if key not in checksums:
            raise PartlyApplied(
                f"umbral migrate: {where}, and its file is gone; restore the file, or run "
                "`umbral migrate --prune` to forget its progress once the database is repaired"
            )
        back = f"umbral migrate {before.get(key, '<a migration before it>')}"
        if planned.get(key) != p.backward:
            if not p.backward:
                raise PartlyApplied(
                    f"umbral migrate: {where}; run `umbral migrate {key}` to continue it "
                    "first, or, once its remaining statements are done by hand, "
                    f"`umbral migrate --fake {key}`"
                )
            raise PartlyApplied(
                f"umbral migrate: {where}; run the migrate that was un-applying it again (to "
                f"its target, before it) to continue it first (`{back}`), or, "
                f"{keep_applied(key, p)}"
            )
        if from_statement is not None:
            p = replace(p, checksum=checksums[key], done=from_statement - 1, error=None)
        elif p.checksum != checksums[key] and p.backward:
            # The un-applying continues only in a backward run: name it, not a forward one.
            raise PartlyApplied(
                f"umbral migrate: {where}, and its file was edited since; say where the edited "
                f"file's reverse continues: `{back} --from-statement N` runs its reverse from "
                f"its statement N (1 runs it whole), or, {keep_applied(key, p)}"
            )
        elif p.checksum != checksums[key]:
            raise PartlyApplied(
                f"umbral migrate: {where}, and its file was edited since; say where the edited "
                "file continues: `umbral migrate --from-statement N` runs it from its "
                f"statement N (1 runs it whole), or `umbral migrate --fake {key}` marks it "
                "applied"
            )
        out[key] = p
    return out
