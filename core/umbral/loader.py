"""Read and validate migration files from disk (SPEC §5).

Every file is validated before anything touches the database: bad JSON, an unknown ``kind``, a
missing key, an id that does not match the file name, a plugin that does not match the folder, a
duplicate sequence number. Errors name the file. This module reads files; it never writes them
(see ``writer``) and never opens a database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umbral.errors import MigrationFileError
from umbral.migration import FORMAT_VERSION, ID_RE, Migration
from umbral.schema import Snapshot

if TYPE_CHECKING:
    from umbral.operations import Operation

_REQUIRED = ("umbral", "id", "plugin", "depends_on", "operations", "snapshot_after")
_ALLOWED = frozenset((*_REQUIRED, "replaces", "atomic", "skip_on"))


def load_file(path: Path, plugin: str) -> Migration:
    def fail(problem: str) -> MigrationFileError:
        return MigrationFileError(f"migration file {path}: {problem}")

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise fail("is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise fail(
            f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise fail(_TOO_DEEP) from None
    except ValueError as exc:  # NaN/Infinity, an integer of thousands of digits
        raise fail(f"is not valid JSON ({exc})") from None
    try:
        return _build(path, plugin, text, data, fail)
    except RecursionError:  # a structure nested beyond what any step of loading can walk
        raise fail(_TOO_DEEP) from None


_TOO_DEEP = "is nested too deeply to be a migration file (lists or objects within each other)"


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _build(path: Path, plugin: str, text: str, data: Any, fail: Any) -> Migration:
    if not isinstance(data, dict):
        raise fail("must contain a JSON object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise fail(f"missing key(s) {', '.join(repr(k) for k in missing)}")
    unknown = set(data) - _ALLOWED
    if unknown:
        raise fail(f"unknown key(s) {', '.join(repr(k) for k in sorted(unknown))}")
    if type(data["umbral"]) is not int or data["umbral"] != FORMAT_VERSION:
        raise fail(f"unsupported format version {data['umbral']!r} (this umbral reads 1)")
    if data["id"] != path.stem:
        raise fail(f"id {data['id']!r} does not match the file name {path.name!r}")
    if not ID_RE.match(path.stem):
        raise fail("file name must look like NNNN_name.json")
    if data["plugin"] != plugin:
        raise fail(f"plugin {data['plugin']!r} does not match its directory's plugin {plugin!r}")
    depends_on = _string_list(data["depends_on"], "depends_on", fail)
    for dep in depends_on:
        if dep.count("/") != 1 or not all(dep.split("/")):
            raise fail(f"depends_on entry {dep!r} must look like plugin/NNNN_name")
    replaces = _string_list(data.get("replaces", []), "replaces", fail)
    for key in replaces:
        if key.count("/") != 1 or not all(key.split("/")):
            raise fail(f"replaces entry {key!r} must look like plugin/NNNN_name")
    atomic = data.get("atomic", True)
    if not isinstance(atomic, bool):
        raise fail("`atomic` must be true or false")
    skip_on = _string_list(data.get("skip_on", []), "skip_on", fail)
    from umbral.config import ENV_NAME_RE

    bad_names = [name for name in skip_on if not ENV_NAME_RE.match(name)]
    if bad_names:
        raise fail(
            f"`skip_on` entry {bad_names[0]!r} is not an environment name "
            "(letters, digits, '_', '.', '-')"
        )
    if not isinstance(data["operations"], list):
        raise fail("`operations` must be a list")
    # here: a load from the cache never needs them
    from umbral.fileschema import check_operation
    from umbral.operations import Operation

    operations: list[Operation] = []
    for i, raw in enumerate(data["operations"]):
        if not isinstance(raw, dict):
            raise fail(f"operation #{i + 1} must be an object")
        try:
            check_operation(raw)  # every key's type and value (fileschema)
            operations.append(Operation.from_dict(raw))
        except (ValueError, TypeError) as exc:
            raise fail(f"operation #{i + 1}: {exc}") from None
    if atomic:
        for i, op in enumerate(operations):
            statement = _transaction_control(op)
            if statement is not None:
                problem = in_transaction_problem(i, op.kind, statement, "controls the transaction")
                raise fail(problem)
        for i, op in enumerate(operations):
            if getattr(op, "concurrent", False):
                # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction (SPEC §5).
                raise fail(
                    f'operation #{i + 1} ({op.kind}) has "concurrent": true but the migration is '
                    'atomic; add "atomic": false to the file (a concurrent index build runs '
                    "outside a transaction, best alone in its migration)"
                )
    try:
        snapshot = Snapshot.from_dict(data["snapshot_after"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise fail(f"snapshot_after: {exc}") from None
    migration = Migration(
        plugin=plugin,
        id=data["id"],
        operations=operations,
        snapshot_after=snapshot,
        depends_on=depends_on,
        replaces=replaces,
        atomic=atomic,
        skip_on=skip_on,
        path=path,
    )
    # The checksum is over the canonical form of what was read, so formatting-only edits by
    # hand are not drift but any change of content is.
    migration._source_text = text  # type: ignore[attr-defined]  # Migration.checksum uses it
    return migration


def _transaction_control(op: Operation) -> str | None:
    """The first statement of a RunSql (``sql``, or ``reverse_sql``, which runs when the
    migration is un-applied) that begins, ends or divides a transaction."""
    if op.kind != "RunSql":
        return None
    from umbral.sqlscript import split_sql, transaction_control

    scripts = (op.sql, op.reverse_sql or "")  # type: ignore[attr-defined]
    return next((s for sql in scripts for s in split_sql(sql) if transaction_control(s)), None)


def in_transaction_problem(
    index: int, kind: str, statement: str, reason: str, remedy: str | None = None
) -> str:
    """Why operation ``index`` cannot run in its migration's transaction, and what to do."""
    shown = " ".join(statement.split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    remedy = remedy or (
        'remove the statement, or add "atomic": false to the file to run the migration '
        "statement by statement outside a transaction"
    )
    return (
        f"operation #{index + 1} ({kind}): statement `{shown}` {reason}, but the migration "
        f"runs in one transaction with its tracking row (a failure must undo all of it); {remedy}"
    )


def _string_list(value: Any, key: str, fail: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"`{key}` must be a list of strings")
    return list(value)


def load_plugin(plugin: str, directory: Path, *, branches: bool = False) -> list[Migration]:
    """Load every ``*.json`` of a plugin's migrations directory, sorted by id.

    ``branches=True`` accepts unmerged duplicate sequence numbers (for ``--merge``).
    """
    if not directory.is_dir():
        return []
    from umbral.loadcache import load_files

    # Unchanged, already-validated files come from the validation cache (see loadcache).
    migrations = load_files(plugin, directory, sorted(directory.glob("*.json")), load_file)
    # Two files with one sequence number are two branches; once a merge migration depends on
    # both they are resolved (SPEC §5).
    merged = {frozenset(m.depends_on) for m in migrations if len(m.depends_on) > 1}
    seen: dict[int, Migration] = {}
    for m in migrations:
        if "_squashed_" in m.id:
            continue  # a squash's name does not count as a sequence number (SPEC §5)
        other = seen.get(m.sequence)
        if (
            other is not None
            and not branches
            and not any({other.key, m.key} <= deps for deps in merged)
        ):
            raise MigrationFileError(
                f"plugin `{plugin}` has two migrations with sequence {m.sequence:04d}: "
                f"{other.path} and {m.path}; if two branches each ran makemigrations, run "
                "`umbral makemigrations --merge`, otherwise renumber one of them"
            )
        seen[m.sequence] = m
    return migrations
