"""The hooks a backend plugin implements the way every backend does (light: a backend's plugin
module is imported at every start-up, ``umbral --help`` included, so the backend and its safety
rules are imported on first use only)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from umbral.hookspecs import hookimpl


class BackendHooks:
    """``umbral_backends``, ``umbral_render_operation`` and ``umbral_classify_operation`` of
    one backend: the backend ``make`` builds, its own rendering, and the dialect rules of the
    module ``safety`` returns (its ``classify``), each only when that backend is the active
    one. A plugin module exposes the three bound methods under their hook names."""

    def __init__(
        self,
        name: str,
        schemes: tuple[str, ...],
        make: Callable[[], Any],
        safety: Callable[[], Any],
    ) -> None:
        self.name, self.schemes, self._make, self._safety = name, schemes, make, safety

    @cached_property
    def backend(self) -> Any:
        return self._make()

    def _ours(self, backend: Any) -> bool:
        return getattr(backend, "name", None) == self.name

    @hookimpl
    def umbral_backends(self, scheme: str | None) -> list[Any]:
        if scheme is not None and scheme not in self.schemes:
            return []  # not built: a project on another database never imports it
        return [self.backend]

    @hookimpl
    def umbral_render_operation(
        self, operation: Any, backend: Any, context: Any
    ) -> list[str] | None:
        if not self._ours(backend):
            return None
        return backend.render(operation, context)

    @hookimpl
    def umbral_classify_operation(
        self, operation: Any, backend: Any, context: Any
    ) -> list[Any] | None:
        if not self._ours(backend):
            return None
        return self._safety().classify(operation, backend, context)
