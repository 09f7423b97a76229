"""Migration files: the in-memory form and its canonical JSON (SPEC §5).

Canonical serialization: keys sorted, 2-space indent, trailing newline, non-ASCII kept as is.
Re-writing an unchanged file is byte-identical, and the checksum recorded on apply is the SHA-256
of this canonical text, so re-formatting a file by hand is not drift but changing it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only annotations: commands that read no operation never import them
    from umbral.operations import Operation
    from umbral.schema import Snapshot

FORMAT_VERSION = 1
ID_RE = re.compile(r"^(\d{4,})_[A-Za-z0-9_]+$")
SQUASH_RE = re.compile(r"^(\d{4,})_squashed_(\d{4,})(?:_[A-Za-z0-9_]+)?$")


@dataclass
class Migration:
    plugin: str
    id: str
    operations: list[Operation]
    snapshot_after: Snapshot
    depends_on: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    atomic: bool = True
    #: Environments where the migration is recorded as skipped instead of run.
    skip_on: list[str] = field(default_factory=list)
    path: Path | None = None
    _checksum: str | None = field(default=None, repr=False)
    #: Files written with the migration (a RunPython skeleton module), by path; not part of it.
    #: None (a class default, so a migration the load cache builds has it too): none.
    extra_files: dict[Path, str] | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.plugin}/{self.id}"

    @property
    def where(self) -> str:
        """How an error names the migration: its file, or its key when it has none."""
        return f"migration file {self.path}" if self.path is not None else f"migration {self.key}"

    @property
    def sequence(self) -> int:
        """The number in the id; for ``<first>_squashed_<last>`` the last one."""
        squashed = SQUASH_RE.match(self.id)
        if squashed:
            return int(squashed.group(2))
        return id_sequence(self.id)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "umbral": FORMAT_VERSION,
            "id": self.id,
            "plugin": self.plugin,
            "depends_on": sorted(self.depends_on),
            "operations": [op.to_dict() for op in self.operations],
            "snapshot_after": self.snapshot_after.to_dict(),
        }
        if self.replaces:
            out["replaces"] = list(self.replaces)
        if not self.atomic:
            out["atomic"] = False
        if self.skip_on:
            out["skip_on"] = list(self.skip_on)
        return out

    def dumps(self) -> str:
        return canonical_json(self.to_dict())

    @property
    def checksum(self) -> str:
        if self._checksum is None:
            # A file read from disk: the checksum is over the canonical form of what was read
            # (see loader), computed on first use: re-serialising every file was most of the
            # cost of loading a long history for commands that never look at checksums.
            text = vars(self).pop("_source_text", None)
            canonical = canonical_json(json.loads(text)) if text is not None else self.dumps()
            self._checksum = sha256(canonical)
        return self._checksum


def id_sequence(name: str) -> int:
    """The leading number of a migration id (``0003_add_x`` -> 3); 0 when it has none."""
    m = ID_RE.match(name)
    return int(m.group(1)) if m else 0


def canonical_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def sha256(text: str) -> str:
    import hashlib  # here: loading OpenSSL is a measurable share of a short command

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def suffix_for(operations: list[Operation]) -> str:
    """Name a single-operation migration for its operation (SPEC §5); anything else is `auto`."""
    if len(operations) != 1:
        return "auto"
    op = operations[0]
    d = op.to_dict()
    kind = op.kind
    if kind == "CreateTable":
        return f"create_{d['table']}"
    if kind == "DropTable":
        return f"drop_{d['table']}"
    if kind == "AddColumn":
        return f"add_{d['table']}_{d['column']['name']}"
    if kind == "DropColumn":
        return f"drop_{d['table']}_{d['column']}"
    if kind == "AlterColumn":
        return f"alter_{d['table']}_{d['column']}"
    if kind == "RenameTable":
        return f"rename_{d['from']}_to_{d['to']}"
    if kind == "RenameColumn":
        return f"rename_{d['table']}_{d['from']}_to_{d['to']}"
    if kind == "AddIndex":
        return f"add_index_{d['table']}_{'_'.join(d['columns'])}"
    if kind == "DropIndex":
        return f"drop_index_{d['table']}_{'_'.join(d['columns'])}"
    if kind == "SetColumnComment":
        return f"comment_{d['table']}_{d['column']}"
    if kind == "RunSql":
        return "run_sql"
    if kind == "RunPython":
        return "run_python"
    return "auto"


def sanitize_suffix(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return cleaned or "auto"
