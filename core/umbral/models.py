"""``Model``: declarative model classes, and turning them into snapshots (SPEC §2).

Declaring a model has no side effects: nothing is registered globally. The plugin whose
``umbral_models()`` hook returns a class owns it; :func:`build_snapshots` resolves foreign-key
targets across every plugin's models and produces one :class:`Snapshot` per plugin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from umbral import fields as f
from umbral.errors import ModelDefinitionError, UnknownModel
from umbral.naming import junction_table, table_name
from umbral.schema import INTEGER_TYPES, M2M, Column, ModelState, Snapshot, default_problem


class ModelOptions:
    """What a model class declares, before cross-model resolution."""

    def __init__(
        self,
        name: str,
        *,
        plugin: str | None,
        table: str | None,
        unique_together: Sequence[Sequence[str]] | None,
        indexes: Sequence[Sequence[str]] | None,
        view: str | None,
        abstract: bool,
        fields: dict[str, f.Field],
        m2m: dict[str, f.ManyToMany],
    ) -> None:
        self.name = name
        self.plugin = plugin
        self.table = table or table_name(name, plugin)
        self.unique_together = tuple(tuple(g) for g in (unique_together or ()))
        self.indexes = tuple(tuple(g) for g in (indexes or ()))
        self.view = view
        self.abstract = abstract
        self.fields = fields
        self.m2m = m2m

    @property
    def pk(self) -> f.Field:
        return next(fl for fl in self.fields.values() if fl.primary_key)


class Model:
    """Base class of every model. Subclass it with class keywords::

    class Post(Model, plugin="blog", unique_together=[("author", "slug")]):
        title = fields.Text()
    """

    _meta: ClassVar[ModelOptions]

    def __init_subclass__(
        cls,
        *,
        plugin: str | None = None,
        table: str | None = None,
        unique_together: Sequence[Sequence[str]] | None = None,
        indexes: Sequence[Sequence[str]] | None = None,
        view: str | None = None,
        abstract: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, f.Field] = {}
        m2m: dict[str, f.ManyToMany] = {}
        # Inherit fields from abstract bases first, in MRO order (most basic first).
        for base in reversed(cls.__mro__[1:]):
            meta = base.__dict__.get("_meta")
            if isinstance(meta, ModelOptions) and meta.abstract:
                declared.update(meta.fields)
                m2m.update(meta.m2m)
        for attr, value in cls.__dict__.items():
            if isinstance(value, f.Field):
                declared[attr] = value
            elif isinstance(value, f.ManyToMany):
                m2m[attr] = value
        for fl in declared.values():
            fl.model_name = cls.__name__
            fl.validate()
        if not abstract and view is None and not any(fl.primary_key for fl in declared.values()):
            taken = [a for a, fl in declared.items() if "id" in (a, fl.column_name)]
            if taken:
                raise ModelDefinitionError(
                    f"model `{cls.__name__}`: field `{taken[0]}` takes the name `id` of the "
                    "implicit primary key; add primary_key=True to it, or name it otherwise"
                )
            pk = f.BigInt(primary_key=True)
            pk.attname, pk.model_name = "id", cls.__name__
            declared = {"id": pk, **declared}
        pks = [a for a, fl in declared.items() if fl.primary_key]
        if len(pks) > 1:
            raise ModelDefinitionError(
                f"model `{cls.__name__}` declares several primary keys ({', '.join(pks)}); "
                "composite primary keys are not supported"
            )
        columns = [fl.column_name for fl in declared.values()]
        by_column: dict[str, str] = {}
        for attr, fl in declared.items():
            # By case too: MySQL's column names and SQLite's ignore it.
            same = by_column.get(fl.column_name.lower())
            if same is not None:
                raise ModelDefinitionError(
                    f"model `{cls.__name__}`: fields `{same}` and `{attr}` both map to the "
                    f"column `{fl.column_name}` (names that differ only in case are one column "
                    "on some databases); give one another name or column="
                )
            by_column[fl.column_name.lower()] = attr
        for option, groups in (("unique_together", unique_together), ("indexes", indexes)):
            if groups is None:
                continue
            if isinstance(groups, str) or not all(
                isinstance(g, list | tuple) and g and all(isinstance(c, str) for c in g)
                for g in groups
            ):
                raise ModelDefinitionError(
                    f"model `{cls.__name__}`: {option} must be a list of groups of column "
                    f'names, e.g. {option}=[("author", "slug")], not {groups!r}'
                )
        for group in list(unique_together or ()) + list(indexes or ()):
            for col in group:
                if col not in columns:
                    raise ModelDefinitionError(
                        f"model `{cls.__name__}`: unique_together/indexes names unknown column "
                        f"`{col}`"
                    )
        cls._meta = ModelOptions(
            cls.__name__,
            plugin=plugin,
            table=table,
            unique_together=unique_together,
            indexes=indexes,
            view=view,
            abstract=abstract,
            fields=declared,
            m2m=m2m,
        )


def build_snapshots(owned: Mapping[str, Iterable[type[Model]]]) -> dict[str, Snapshot]:
    """Build one snapshot per plugin from the models each plugin owns.

    ``owned`` maps plugin name to model classes. Foreign keys and many-to-many targets are
    resolved across all plugins (SPEC §2): a class, a class name (same plugin first, then unique
    across plugins), or ``"plugin.ClassName"``.
    """
    owner: dict[type[Model], str] = {}
    by_name: dict[str, list[tuple[str, type[Model]]]] = {}
    for plugin, models in owned.items():
        seen: dict[str, type[Model]] = {}
        for model in models:
            if not (isinstance(model, type) and issubclass(model, Model)):
                raise ModelDefinitionError(
                    f"plugin `{plugin}` returned {model!r} from umbral_models(), not a Model class"
                )
            if model._meta.abstract:
                continue
            name = model.__name__
            if name in seen and seen[name] is not model:
                raise ModelDefinitionError(
                    f"plugin `{plugin}` has two models named `{name}` "
                    f"({_qualname(seen[name])} and {_qualname(model)}); model identity is the "
                    "class name, rename one"
                )
            seen[name] = model
            owner[model] = plugin
            by_name.setdefault(name, []).append((plugin, model))

    tables: dict[str, str] = {}
    for model, plugin in owner.items():
        other = tables.get(model._meta.table)
        if other is not None:
            clash = ModelDefinitionError(
                f"table `{model._meta.table}` is declared twice ({other} and {plugin}."
                f"{model.__name__}); give one model an explicit table="
            )
            # Blame the installed plugin rather than the project's own models.
            clash.plugin = plugin if plugin != "app" else other.split(".", 1)[0]
            raise clash
        tables[model._meta.table] = f"{plugin}.{model.__name__}"

    def resolve(target: Any, plugin: str, where: str) -> type[Model]:
        try:
            return _resolve(target, plugin, where)
        except ModelDefinitionError as exc:
            exc.plugin = exc.plugin or plugin  # the plugin whose model has the bad reference
            raise

    def _resolve(target: Any, plugin: str, where: str) -> type[Model]:
        if isinstance(target, type) and issubclass(target, Model):
            if target not in owner:
                raise ModelDefinitionError(
                    f"`{where}` references {target.__name__}, which no active plugin owns"
                )
            return target
        if isinstance(target, str):
            if "." in target:
                tp, tn = target.split(".", 1)
                for p, m in by_name.get(tn, []):
                    if p == tp:
                        return m
                raise UnknownModel("", target, (where,), removed=tp in owned)
            candidates = by_name.get(target, [])
            same = [m for p, m in candidates if p == plugin]
            if same:
                return same[0]
            if len(candidates) == 1:
                return candidates[0][1]
            if not candidates:
                raise UnknownModel("", target, (where,), removed=True)
            plugins = ", ".join(sorted(p for p, _ in candidates))
            raise ModelDefinitionError(
                f"`{where}` references `{target}`, which exists in several plugins ({plugins}); "
                f'write "plugin.{target}"'
            )
        raise ModelDefinitionError(f"`{where}`: target must be a Model class or a name")

    snapshots: dict[str, Snapshot] = {plugin: Snapshot({}) for plugin in owned}
    # Every field that references a missing model, so the error names them all at once.
    unknown: dict[tuple[str, str], list[UnknownModel]] = {}
    for model, plugin in owner.items():
        meta = model._meta
        cols: list[Column] = []
        m2m: list[M2M] = []
        for attr, fl in meta.fields.items():
            where = f"{meta.name}.{attr}"
            try:
                cols.append(_column(fl, lambda t, w=where, p=plugin: resolve(t, p, w)))
            except UnknownModel as exc:
                unknown.setdefault((plugin, exc.target), []).append(exc)
        for attr, rel in meta.m2m.items():
            try:
                target = resolve(rel.to, plugin, f"{meta.name}.{attr}")
            except UnknownModel as exc:
                unknown.setdefault((plugin, exc.target), []).append(exc)
                continue
            tpk = target._meta.pk
            m2m.append(
                M2M(
                    field=attr,
                    table=junction_table(meta.table, attr),
                    target=target._meta.table,
                    target_column=tpk.column_name,
                    target_type=_storage(tpk),
                )
            )
        snapshots[plugin].models[meta.name] = ModelState(
            name=meta.name,
            table=meta.table,
            fields=tuple(cols),
            unique_together=meta.unique_together,
            indexes=meta.indexes,
            m2m=tuple(m2m),
            view=meta.view,
        )
    if unknown:
        (plugin, target), found = next(iter(unknown.items()))
        wheres = tuple(w for e in found for w in e.fields)
        raise _unknown_model(plugin, target, wheres, found[0].removed)
    return snapshots


def _unknown_model(
    plugin: str, target: str, wheres: tuple[str, ...], removed: bool
) -> UnknownModel:
    """One error for every field of ``plugin`` that references the missing model ``target``.

    A target of an active plugin (or a bare name) is a model that was removed or renamed: the
    fields must go or point elsewhere first, as a Django user would do before deleting it."""
    tp, _, tn = target.partition(".") if "." in target else ("", "", target)
    names = ", ".join(f"`{w}`" for w in wheres)
    verb = "references" if len(wheres) == 1 else "reference"
    message = f"{names} {verb} unknown model `{target}`"
    if removed:
        owner = f"plugin `{tp}` has no model `{tn}`" if tp else f"no active plugin has `{tn}`"
        them = "the field" if len(wheres) == 1 else "these fields"
        it = "it" if len(wheres) == 1 else "them"
        message += (
            f" ({owner}; if it was removed or renamed, remove {them} or point {it} at another "
            "model first)"
        )
    exc = UnknownModel(message, target, wheres, removed)
    exc.plugin = plugin
    return exc


def _storage(field: f.Field) -> str:
    if isinstance(field, f.ForeignKey):
        return "BigInt"  # an FK primary key stores an integer id in practice
    return field.type_name


def _column(fl: f.Field, resolve: Any) -> Column:
    kwargs: dict[str, Any] = dict(
        name=fl.column_name,
        type=fl.type_name,
        primary_key=fl.primary_key,
        nullable=fl.nullable,
        default=fl.default,
        unique=fl.unique and not fl.primary_key,
        index=fl.index and not fl.primary_key,
        help=fl.help,
        choices=fl.choices,
    )
    if isinstance(fl, f.Text):
        kwargs["max_length"] = fl.max_length
    if isinstance(fl, f._Temporal):
        kwargs["auto_now_add"] = fl.auto_now_add
        kwargs["auto_now"] = fl.auto_now
    if isinstance(fl, f.ForeignKey):
        target = resolve(fl.to)
        tpk = target._meta.pk
        storage = _storage(tpk)
        kwargs.update(
            fk_target=target._meta.table,
            fk_column=tpk.column_name,
            fk_type=None if storage == "BigInt" else storage,
            on_delete=fl.on_delete,
            on_update=fl.on_update,
            db_constraint=fl.db_constraint,
        )
    column = Column.build(kwargs)
    if column.default is not None:
        problem = default_problem(column)
        if problem:
            raise ModelDefinitionError(f"field `{fl._where()}`: default {problem}")
    return column


def _qualname(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"


__all__ = ["INTEGER_TYPES", "Model", "build_snapshots"]
