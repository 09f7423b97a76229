"""Every public exception umbral defines is an UmbralError, defined in ``umbral.errors``: the
CLI prints an UmbralError as one ``error:`` line and exits 1 (SPEC §12); anything else that
escapes is reported as a bug."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import umbral
from umbral.errors import UmbralError

#: Public exceptions still defined beside the code that raises them; they move to
#: ``umbral.errors`` with the reshape of the executor (issue #23, item 2). The test fails when
#: one of them moves, so that this set only shrinks.
DEFINED_ELSEWHERE: set[str] = set()


def _public_exceptions() -> dict[str, type[BaseException]]:
    """``module.Name`` -> class, for each public exception class a module of umbral defines."""
    names = ["umbral"] + [
        info.name
        for info in pkgutil.walk_packages(umbral.__path__, "umbral.")
        if not info.name.endswith("__main__")  # importing it runs the CLI
    ]
    found = {}
    for name in names:
        for attr, value in vars(importlib.import_module(name)).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name  # not one imported from elsewhere
                and not attr.startswith("_")
            ):
                found[f"{name}.{attr}"] = value
    return found


def test_every_public_exception_derives_from_umbral_error() -> None:
    found = _public_exceptions()
    assert "umbral.errors.IrreversibleOperation" in found
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, UmbralError))
    assert not outside, f"not an UmbralError: {', '.join(outside)}"


def test_public_exceptions_live_in_errors() -> None:
    elsewhere = {name for name in _public_exceptions() if not name.startswith("umbral.errors.")}
    new, moved = sorted(elsewhere - DEFINED_ELSEWHERE), sorted(DEFINED_ELSEWHERE - elsewhere)
    assert not new, f"define in umbral.errors: {', '.join(new)}"
    assert not moved, f"moved to umbral.errors, take out of DEFINED_ELSEWHERE: {', '.join(moved)}"


def test_old_import_paths_still_work() -> None:
    from umbral import errors
    from umbral.inspect import UnsupportedColumnType, UnsupportedTable
    from umbral.merge import MergeConflict
    from umbral.operations import IrreversibleOperation
    from umbral.squash import CannotSquash

    assert IrreversibleOperation is errors.IrreversibleOperation
    assert MergeConflict is errors.MergeConflict
    assert CannotSquash is errors.CannotSquash
    assert UnsupportedColumnType is errors.UnsupportedColumnType
    assert UnsupportedTable is errors.UnsupportedTable
