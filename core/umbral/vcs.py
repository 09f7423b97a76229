"""Which migration files a git revision does not have: the input of an offline check.

``checkmigrations --offline`` classifies the migrations a branch adds, without a database, as
squawk and ``atlas migrate lint --git-base`` do in CI. This module only asks git; it never
changes the work tree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from umbral.errors import ConfigError

DEFAULT_BASE = "main"


def _git(root: Path, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise ConfigError(
            "umbral checkmigrations --offline: git is not installed; it finds the migrations "
            "added since --since REV"
        ) from None
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["git failed"])[-1]
        raise ConfigError(f"umbral checkmigrations --offline: git {args[0]}: {reason}")
    return proc.stdout


def resolve_base(root: Path, since: str | None) -> str:
    """The revision to compare with: ``since``, or the merge base of HEAD and ``main``."""
    _git(root, "rev-parse", "--show-toplevel")  # a clear error outside a git work tree
    if since is not None:
        try:
            return _git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}").strip()
        except ConfigError:
            raise ConfigError(
                f"umbral checkmigrations --offline: --since {since!r} is not a revision of "
                f"the git repository at {root}"
            ) from None
    try:
        return _git(root, "merge-base", "HEAD", DEFAULT_BASE).strip()
    except ConfigError:
        raise ConfigError(
            f"umbral checkmigrations --offline: no merge base of HEAD and `{DEFAULT_BASE}` in "
            f"the git repository at {root}; pass --since REV"
        ) from None


def added_files(root: Path, base: str, directories: list[Path]) -> set[Path]:
    """Files under ``directories`` that exist now (committed, staged, or untracked and not
    ignored) but not at ``base``."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip()).resolve()
    inside = [str(d.resolve()) for d in directories if d.resolve().is_relative_to(top)]
    if not inside:
        return set()
    changed = _git(root, "diff", "--name-only", "--diff-filter=A", "-z", base, "--", *inside)
    untracked = _git(
        root, "ls-files", "--others", "--exclude-standard", "--full-name", "-z", "--", *inside
    )
    names = [n for n in (changed + untracked).split("\0") if n]
    return {(top / n).resolve() for n in names}
