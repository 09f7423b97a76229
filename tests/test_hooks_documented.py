"""Every hook is documented with its exact signature and has a test of its own (STYLE.md).

The signature ``name(arg1, arg2)`` comes from the hookspec itself
(``pm.hook.<name>.spec.argnames``), so renaming an argument without updating
``docs/plugins.md`` fails here; so does adding a hook without a ``test_hook_<name>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from umbral.plugins import new_manager

TESTS = Path(__file__).resolve().parent
DOCS = TESTS.parent / "docs" / "plugins.md"


def _hooks() -> dict[str, tuple[str, ...]]:
    pm = new_manager()
    return {
        name: tuple(caller.spec.argnames)
        for name, caller in vars(pm.hook).items()
        if not name.startswith("_") and caller.spec is not None
    }


HOOKS = _hooks()


def test_the_hook_list_is_not_empty() -> None:
    # Guards the parametrization below against silently testing nothing.
    assert "umbral_render_operation" in HOOKS
    assert HOOKS["umbral_render_operation"] == ("operation", "backend", "context")


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_documented_with_its_signature(name: str) -> None:
    signature = f"{name}({', '.join(HOOKS[name])})"
    assert DOCS.is_file(), f"{DOCS} is missing"
    assert signature in DOCS.read_text(encoding="utf-8"), (
        f"{signature} does not appear in docs/plugins.md"
    )


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_has_a_test(name: str) -> None:
    pattern = re.compile(rf"^\s*def test_hook_{name}\b", re.MULTILINE)
    found = [
        p.relative_to(TESTS)
        for p in TESTS.rglob("test_*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert found, f"no test named test_hook_{name} under tests/"
