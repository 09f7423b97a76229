"""Safety classification (SPEC §10). Pure: classifies operations, touches no database.

Core rules live here and are registered as a built-in plugin (``umbral_classify_operation``), so
backends and app plugins add rules the same way. :func:`classify_operation` applies only the core
rules; :func:`classify` collects every plugin's findings and the worst tier wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from umbral.hookspecs import hookimpl
from umbral.values import frozen, record

if TYPE_CHECKING:
    import pluggy

    from umbral import operations as ops


class OpSafety(IntEnum):
    SAFE = 0
    WARNING = 1
    UNSAFE = 2

    def is_unsafe(self) -> bool:
        return self is OpSafety.UNSAFE


class Finding(NamedTuple):
    tier: OpSafety
    tag: str
    message: str


TAGS = {
    "CreateTable": "CREATE TABLE", "DropTable": "DROP TABLE", "AddColumn": "ADD COL",
    "DropColumn": "DROP COL", "AlterColumn": "ALTER COL", "RenameTable": "RENAME TABLE",
    "RenameColumn": "RENAME COL", "CreateM2MTable": "CREATE M2M", "DropM2MTable": "DROP M2M",
    "AlterM2MKey": "ALTER M2M",
    "AddIndex": "ADD INDEX", "DropIndex": "DROP INDEX", "SetColumnComment": "COMMENT COL",
    "CreateView": "CREATE VIEW", "DropView": "DROP VIEW", "RunSql": "RUN SQL",
    "CreateCompatShim": "CREATE SHIM", "DropCompatShim": "DROP SHIM",
    "RunPython": "RUN PYTHON",
}  # fmt: skip


#: A name the database refuses (``_long_names``): no acknowledgement makes migrate run it.
TAG_NAME_TOO_LONG = "NAME TOO LONG"


def tables_created_before(context: Any, op: ops.Operation) -> set[str]:
    """Tables created earlier in the same migration as ``op``, under their names at ``op``
    (no reader can be blocked on them yet), for a backend's safety rules. Known only when the
    caller puts the migration's ``operations`` in the context."""
    from umbral.made import MadeHere

    made = MadeHere()
    operations = context.get("operations") or () if isinstance(context, Mapping) else ()
    for other in operations:
        if other is op:
            break
        made.take(other)
    return made.tables


def _core_rule(op: ops.Operation) -> Finding:
    from umbral import operations as ops  # not at import: the plugin manager loads this module

    tag = TAGS.get(op.kind, op.kind.upper())
    S, W, U = OpSafety.SAFE, OpSafety.WARNING, OpSafety.UNSAFE
    if isinstance(op, ops.DropTable):
        return Finding(
            U,
            tag,
            f"drops table `{op.table}` and all its rows; old code reading it "
            "breaks. Expand-contract: stop reading and writing it, deploy, then drop",
        )
    if isinstance(op, ops.DropColumn):
        return Finding(
            U,
            tag,
            f"drops column `{op.table}.{op.column}` and its data; old code "
            "reading it breaks. Expand-contract: stop writing it, deploy, then drop",
        )
    if isinstance(op, ops.DropM2MTable):
        return Finding(
            U,
            tag,
            f"drops junction table `{op.table}` and every link in it; old "
            "code reading it breaks. Expand-contract: stop using the relation, "
            "deploy, then drop",
        )
    if isinstance(op, ops.AddColumn):
        c = op.column
        if not c.nullable and not c.has_default and not (c.auto_now or c.auto_now_add):
            once = "" if op.backfill is None else f" (existing rows get {_json(op.backfill)})"
            return Finding(
                W,
                tag,
                f"adds NOT NULL column `{op.table}.{c.name}` without a "
                f"default{once}; old code inserting rows fails. Expand-contract: add it "
                "nullable or with a default, backfill, then tighten",
            )
        return Finding(S, tag, "")
    if isinstance(op, ops.AlterColumn) and _adds_unique_only(op):
        return Finding(
            W,
            "ADD UNIQUE",
            f"makes `{op.table}.{op.column}` unique: the duplicate check and the index build "
            "scan the table under lock (migrate stops, naming the duplicates, if it has any), "
            "and old code inserting duplicates breaks. Expand-contract: de-duplicate, deploy "
            "code that keeps it unique, then add it",
        )
    if isinstance(op, ops.AlterColumn):
        once = "" if op.backfill is None else f" (its NULLs get {_json(op.backfill)})"
        return Finding(
            W,
            tag,
            f"alters column `{op.table}.{op.column}`{once}; the table may be "
            "rewritten or locked and old code may not expect the new definition. "
            f"Expand-contract: add a new column, backfill, switch reads, then drop "
            f"`{op.column}`",
        )
    if isinstance(op, ops.AlterM2MKey):
        return Finding(
            W,
            tag,
            f"changes junction column `{op.table}.{op.column}` from {op.from_} to {op.to}, "
            f"with the primary key of `{op.key_table}` it holds; the junction may be "
            "rewritten or locked while its links are copied. Expand-contract: widen the key "
            "while the tables are small, or in a quiet window",
        )
    if isinstance(op, ops.RenameTable | ops.RenameColumn) and op.compat:
        return Finding(
            S, tag, f"{op.describe()}: the previous release keeps working through the view"
        )
    if isinstance(op, ops.RenameTable):
        return Finding(
            W,
            tag,
            f"renames table `{op.from_}` -> `{op.to}`; old code references "
            f"`{op.from_}` (unless renamed with `umbral makemigrations --compat`, which leaves "
            f"a compatibility view under the old name). Expand-contract: create `{op.to}`, "
            f"copy and dual-write, switch reads, then drop `{op.from_}`",
        )
    if isinstance(op, ops.RenameColumn):
        return Finding(
            W,
            tag,
            f"renames column `{op.table}.{op.from_}` -> `{op.to}`; old code "
            f"references `{op.from_}` (unless renamed with `umbral makemigrations --compat`, "
            f"which leaves a compatibility view). Expand-contract: add `{op.to}`, backfill, "
            f"switch reads, then drop `{op.from_}`",
        )
    if isinstance(op, ops.DropCompatShim):
        return Finding(
            W,
            tag,
            f"drops compatibility view `{op.name}`; code of the release before the rename "
            "that still reads it breaks. Expand-contract: drop it once no such code runs",
        )
    if isinstance(op, ops.AddIndex) and op.unique:
        cols = ", ".join(op.columns)
        return Finding(
            W,
            "ADD UNIQUE",
            f"adds a unique index on `{op.table}({cols})`: the duplicate check and the "
            "build scan the table under lock (migrate stops, naming the duplicates, if it "
            "has any), and old code inserting duplicates breaks. Expand-contract: "
            "de-duplicate, deploy code that keeps it unique, then add the index",
        )
    if isinstance(op, ops.DropView):
        return Finding(
            W,
            tag,
            f"drops view `{op.name}`; code reading it breaks until it is "
            "re-created. Expand-contract: stop reading it, deploy, then drop",
        )
    if isinstance(op, ops.RunSql):
        return Finding(
            W,
            tag,
            "runs hand-written SQL that umbral cannot classify; review its "
            "row impact, locking and idempotency. Expand-contract: keep it backward "
            "compatible with the running code",
        )
    if isinstance(op, ops.RunPython):
        return Finding(
            W,
            tag,
            f"runs the Python function {op.code}, which umbral cannot classify; review its "
            "row impact, locking and idempotency. Expand-contract: keep it backward "
            "compatible with the running code",
        )
    return Finding(S, tag, "")


def _adds_unique_only(op: ops.AlterColumn) -> bool:
    """The change makes the column unique and nothing else of its definition."""
    old, new = op.from_, op.to
    if old.unique or not new.unique or new.primary_key:
        return False
    return replace(old, unique=True, index=new.index, help=new.help) == new


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def classify_operation(op: ops.Operation) -> Finding:
    """The core verdict for one operation (pure; plugin rules not included)."""
    return _core_rule(op)


@hookimpl
def umbral_classify_operation(operation: ops.Operation, backend: Any, context: Any) -> list:
    return [_core_rule(operation)]


def _long_names(op: ops.Operation, backend: Any) -> list[Finding]:
    """A name the database refuses as too long: ``migrate`` refuses the migration before it
    runs (``executor._refuse_long_names``), so the deploy would stop there. Not a rule of
    ``classify``: the destructive gate reads those, and this destroys nothing."""
    from umbral.naming import WHERE_NAMED, refused_names

    return [
        Finding(
            OpSafety.UNSAFE,
            TAG_NAME_TOO_LONG,
            f"names the {what} `{where}`, {size} long, and the {backend.name} backend's "
            f"database refuses names over {backend.IDENTIFIER_LIMIT}: migrate will refuse this "
            f"migration. Shorten {WHERE_NAMED[what]} and make the migration again",
        )
        for what, where, size in refused_names(backend, op)
    ]


def _as_finding(item: Any) -> Finding:
    if isinstance(item, Finding):
        return item
    tier, tag, message = item
    return Finding(OpSafety(tier), str(tag), str(message))


def classify(
    pm: pluggy.PluginManager, op: ops.Operation, backend: Any, context: dict[str, Any]
) -> Finding:
    """Collect every plugin's findings for ``op``; the worst tier wins (first one on ties)."""
    findings: list[Finding] = []
    for result in pm.hook.umbral_classify_operation(operation=op, backend=backend, context=context):
        findings.extend(_as_finding(f) for f in (result or []))
    if not findings:
        return Finding(OpSafety.SAFE, TAGS.get(op.kind, op.kind.upper()), "")
    worst = max(f.tier for f in findings)
    # Prefer a backend/plugin finding over the core one at the same tier: it is more specific.
    at_worst = [f for f in findings if f.tier == worst]
    return at_worst[0]


@frozen
class Classified:
    migration: str
    operation: ops.Operation
    finding: Finding


@record
class CheckReport:
    """The verdict of ``checkmigrations`` over the pending operations."""

    items: list[Classified]

    @property
    def migrations(self) -> int:
        """Pending migrations with at least one operation."""
        return len({c.migration for c in self.items})

    def acknowledged(self, item: Classified) -> bool:
        # An `"acknowledged": "<reason>"` on a reviewed operation turns its finding into a note.
        return (
            bool(item.operation.acknowledged)
            and item.finding.tier > OpSafety.SAFE
            and item.finding.tag != TAG_NAME_TOO_LONG
        )

    def by_tier(self, tier: OpSafety) -> list[Classified]:
        return [c for c in self.items if c.finding.tier == tier and not self.acknowledged(c)]

    @property
    def notes(self) -> list[Classified]:
        return [c for c in self.items if self.acknowledged(c)]

    def passes(self, strict: bool = False) -> bool:
        if self.by_tier(OpSafety.UNSAFE):
            return False
        return not (strict and self.by_tier(OpSafety.WARNING))


def classify_migrations(
    pm: pluggy.PluginManager, migrations: Iterable[Any], backend: Any
) -> list[Classified]:
    out = []
    for m in migrations:
        for op in m.operations:
            ctx = {"migration": m.key, "operations": m.operations}
            refused = _long_names(op, backend)
            finding = refused[0] if refused else classify(pm, op, backend, ctx)
            out.append(Classified(m.key, op, finding))
    return out


def check_pending_safety(app: Any) -> list[Classified]:
    """Classify every operation ``app.migrate()`` would run now (``App`` or project path)."""
    return app.check_pending_safety()
