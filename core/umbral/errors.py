"""Exceptions for every user-facing failure.

Anything that derives from :class:`UmbralError` is a user mistake or a refusal: the CLI prints
``error: <message>`` on one line and exits 1, without a traceback (SPEC §12). Anything else that
escapes is a bug in umbral.
"""

from __future__ import annotations


class UmbralError(Exception):
    """A user-facing error. ``str(error)`` is the one line the CLI prints after ``error: ``."""

    #: Extra lines printed after the error line (a list of affected migrations, options...).
    details: tuple[str, ...] = ()


class ConfigError(UmbralError):
    """The project configuration is missing or invalid."""


class ModelDefinitionError(UmbralError):
    """A model or field declaration is invalid."""

    #: The app plugin whose models the error is about, when known.
    plugin: str | None = None


class UnknownModel(ModelDefinitionError):
    """Fields reference a model no active plugin has. ``removed``: the target names a model of
    an active plugin (or a bare name), so the model was most likely removed or renamed and the
    fields are what to change, not the plugin list."""

    def __init__(self, message: str, target: str, fields: tuple[str, ...], removed: bool) -> None:
        super().__init__(message)
        self.target, self.fields, self.removed = target, fields, removed


class PluginError(UmbralError):
    """A plugin cannot be loaded, or the plugin graph is invalid."""


class PluginCycle(PluginError):
    """Declared plugin dependencies form a cycle."""


class ForeignKeyCycle(PluginError):
    """Foreign keys between plugins form a cycle (the declared graph alone is acyclic)."""


class MigrationFileError(UmbralError):
    """A migration file is unreadable or invalid."""


class MigrationGraphError(UmbralError):
    """The merged migration graph is invalid (missing dependency, cycle, conflict)."""


class UnsafeAlter(UmbralError):
    """The autodetector refuses a column change that could lose data (SPEC §7)."""

    def __init__(self, model: str, column: str, reason: str, advice: str) -> None:
        self.model, self.column, self.reason, self.advice = model, column, reason, advice
        super().__init__(
            f"umbral makemigrations: unsafe column change on `{model}.{column}`: {reason}; {advice}"
        )


class UnsupportedChange(UmbralError):
    """The autodetector sees a change it cannot express as operations."""


class NameTooLong(UnsupportedChange):
    """An operation gives a name the database refuses as too long (``Backend.LONG_NAMES_REFUSED``):
    ``what`` and ``where`` as ``naming.given_names`` says them, ``size`` in the backend's unit."""

    def __init__(self, message: str, what: str, where: str, size: str) -> None:
        super().__init__(message)
        self.what, self.where, self.size = what, where, size


class DatabaseError(UmbralError):
    """The database is unreachable or rejected a statement outside a migration."""


class MigrationFailed(UmbralError):
    """A migration's statement failed; the migration was rolled back."""

    def __init__(self, key: str, statement: str, error: str) -> None:
        self.key, self.statement, self.error = key, statement, error
        super().__init__(f"umbral migrate: migration {key} failed and was rolled back: {error}")
        self.details = (f"  statement: {statement}",)


class MigrationNotRolledBack(MigrationFailed):
    """A migration failed after one of its statements had ended its transaction: what ran
    before that point stays committed, so it was not rolled back as a failure should be."""

    gave_up = True  # never retried: running it again would repeat what stayed committed

    def __init__(self, failure: MigrationFailed, *, unrecorded: bool) -> None:
        super().__init__(failure.key, failure.statement, failure.error)
        row = (
            "umbral removed its tracking row, so it shows as pending"
            if unrecorded
            else "umbral could not remove its tracking row, so it shows as applied"
        )
        self.args = (
            f"umbral migrate: migration {failure.key} failed and was NOT rolled back: a "
            "statement of it ended its transaction before the failure, so the statements "
            f"before that point stay committed; {row}; check and repair the database by hand "
            f"before running migrate again: {failure.error}",
        )


class MigrationPartlyApplied(MigrationFailed):
    """A statement of a migration that runs statement by statement failed (a migration the
    database cannot roll back as a whole): the statements before it stay applied, and the next
    ``migrate`` continues at the failed one (``umbral.progress``)."""

    def __init__(
        self, key: str, statement: str, error: str, *, done: int, total: int, backward: bool
    ) -> None:
        super().__init__(key, statement, error)
        self.done, self.total, self.backward = done, total, backward
        what = "un-applying migration" if backward else "migration"
        self.args = (
            f"umbral migrate: {what} {key} failed at statement {done + 1} of {total}: {error}",
        )
        if done:
            state = "un-applied" if backward else "applied"
            after = (
                f"  Statements 1-{done} stay {state}: the database cannot roll this migration "
                "back as a whole. Fix the cause and run the same migrate again: it continues "
                f"at statement {done + 1} (a fix in the migration's own file: add "
                f"--from-statement {done + 1})."
            )
        else:
            after = "  No statement of it completed; fix the cause and run migrate again."
        self.details = (f"  statement: {statement}", after)


class Refused(UmbralError):
    """A guard refused to run (in-memory database, drift, destructive operations...)."""


class PartlyApplied(Refused):
    """``migrate`` refuses to go on past a partly applied migration without being told how
    (SPEC §8, statement-level resume)."""


class CannotApply(Refused):
    """What the database holds would make a migration fail part way (``umbral.preflight``):
    refused before its first statement runs."""


class DriftDetected(Refused):
    """The tracking table and the files on disk disagree (SPEC §9)."""


class IrreversibleOperation(UmbralError):
    """An operation that cannot be undone at all (RunSql without reverse_sql)."""


class MergeConflict(UmbralError):
    """``makemigrations --merge`` cannot merge two branches of a plugin's migrations."""


class CannotSquash(UmbralError):
    """``squashmigrations`` refuses the range it was given."""


class UnsupportedColumnType(UmbralError):
    """A column's type has no umbral field type (SPEC §11: exit 1, nothing written)."""


class UnsupportedTable(UmbralError):
    """A table cannot be expressed as an umbral model (no or a composite primary key)."""
