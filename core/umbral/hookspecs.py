"""Hook specifications: the whole contract between umbral and its plugins (SPEC §4).

Each docstring is the contract for that hook. Plugins mark implementations with
``umbral.hookimpl``. ``docs/plugins.md`` repeats every signature with an example, and a test
fails when a hook is missing there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from umbral.backend import Backend, RenderContext
    from umbral.operations import Operation

PROJECT = "umbral"
hookspec = pluggy.HookspecMarker(PROJECT)


# -- model contribution ---------------------------------------------------------------------


@hookspec
def umbral_models() -> list[type]:
    """Return the model classes this plugin owns.

    Called once per command, after every plugin is registered. The plugin that returns a model
    owns it: its migrations are written to and read from that plugin's migrations directory.
    Return a list of ``umbral.Model`` subclasses (abstract ones are ignored). A model returned by
    two plugins is an error.
    """


@hookspec
def umbral_plugin_dependencies() -> list[str]:
    """Return the names of plugins whose migrations must run before this plugin's.

    Optional. Foreign keys to tables owned by other plugins are dependencies automatically; list
    only what foreign keys do not show. An unknown name is an error naming both plugins.
    """


@hookspec
def umbral_migrations_dir() -> str | None:
    """Return the directory, shipped inside the plugin's package, that holds its migrations.

    Optional. Return a path (``str`` or ``os.PathLike``), usually
    ``importlib.resources.files(__package__) / "migrations"``. Return None (or do not implement
    the hook) to use ``<project migrations root>/<plugin>/``. A directory inside an installed,
    non-editable distribution is read-only: umbral never writes there.
    """


# -- backends -------------------------------------------------------------------------------


@hookspec
def umbral_backends(scheme: str | None) -> list[Backend]:
    """Return backend objects this plugin provides.

    Each backend has a unique ``name`` and declares the URL schemes it serves in ``schemes``
    (``("sqlite",)``, ``("postgres", "postgresql")``). umbral picks the backend whose scheme
    matches the database URL (the part before ``+driver`` and ``://``).

    ``scheme``: when umbral looks for the backend of one database URL, that URL's scheme; a
    plugin may then return only its backends that serve it, and so not build (or import) the
    others. None: every backend (listing them, or no URL at hand). Optional to accept.
    """


@hookspec(firstresult=True)
def umbral_render_operation(
    operation: Operation, backend: Backend, context: RenderContext
) -> list[str] | None:
    """Render one operation to SQL statements for one backend.

    :param operation: the operation to render (``operation.kind`` tells which).
    :param backend: the active backend; implementations must check ``backend.name`` and return
        None for backends they do not serve.
    :param context: a :class:`umbral.backend.RenderContext` with the table state before the
        operation (``context.state``, a read-only mapping built on first read), the migration
        being rendered and its plugin.
    :return: the list of SQL statements (possibly empty: the operation needs no SQL on this
        backend but is still recorded), or None to let another plugin render it. A
        ``RunPython`` renders as a :class:`umbral.runpython.PythonStep` (a function the
        executor calls in the migration's transaction), and a backend may return
        :class:`umbral.steps.RunTimeStep` objects (steps it adapts to the database at run
        time, such as a SQLite table rebuild); a plugin passes both through as they are.

    The result must depend on these three alone: a rendering that did not read
    ``context.state`` may be kept between runs (``umbral.sqlcache``, keyed by the file, the code
    of umbral, the backend and the plugins implementing this hook, and ``Backend.render_key``).

    Stops at the first non-None result. Backends implement it for their own dialect; a plugin
    may override one operation (use ``tryfirst=True``) or add a new operation kind. An operation
    that no plugin renders is an error, never a silent skip.
    """


@hookspec
def umbral_classify_operation(
    operation: Operation, backend: Backend | None, context: dict[str, Any]
) -> list[Any] | None:
    """Return safety findings for one operation.

    :param operation: the operation to classify.
    :param backend: the active backend, or None when classifying without a database.
    :param context: ``{"migration": "plugin/id", "operations": [...]}`` — the migration's key
        and all its operations (a rule may, say, skip a lock warning for a table the same
        migration creates); more keys may be added later.
    :return: a list of ``umbral.Finding(tier, tag, message)`` or plain ``(tier, tag, message)``
        tuples, ``tier`` an ``OpSafety``; None or ``[]`` for no finding.

    Every plugin's findings are collected; the worst tier wins. Core supplies the default rules
    (SPEC §10); backends add dialect rules.
    """


# -- command line ---------------------------------------------------------------------------


@hookspec
def umbral_commands(cli: Any) -> None:
    """Add sub-commands to the ``umbral`` command line.

    :param cli: a registrar with the typer interface: ``cli.command("name")(function)``.

    Called once when the CLI is built. A plugin command whose name is a built-in command is
    dropped with a warning: plugins can never shadow ``migrate`` and friends. Keep the plugin
    module light: import heavy libraries inside the command function, not at module top.
    """


#: The marker plugins use for their implementations (re-exported as ``umbral.hookimpl``).
hookimpl = pluggy.HookimplMarker(PROJECT)
