"""Synthetic schemas for the benchmarks: deterministic from a seed, no umbral import.

A schema is N models spread over A plugins in contiguous blocks (plugin k owns models
``k*N/A .. (k+1)*N/A - 1``), each with about ten data columns of mixed types and zero to two
nullable foreign keys to *earlier* models. Blocks plus "earlier only" keep the plugin graph
acyclic, which all three tools need.

A history is H small changes applied one at a time: add a column, drop a column, make a column
nullable, index a column, rename a table. Each change touches one model in one plugin, so every
tool turns it into exactly one migration. Changes are chosen so that every tool accepts them
without prompting: added columns are nullable (no default needed), flips go NOT NULL -> NULL
(the reverse needs a default), dropped/indexed columns are plain data columns, and only tables
nobody references are renamed (a rename of a referenced table rewrites the referencing
foreign keys differently in each tool).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

# (umbral field, Django field, SQLAlchemy type) per abstract column type.
TYPES: dict[str, tuple[str, str, str]] = {
    "char": (
        "fields.Text(max_length=100{o})",
        "models.CharField(max_length=100{o})",
        "sa.String(100)",
    ),
    "text": ("fields.Text({o})", "models.TextField({o})", "sa.Text()"),
    "int": ("fields.Integer({o})", "models.IntegerField({o})", "sa.Integer()"),
    "bigint": ("fields.BigInt({o})", "models.BigIntegerField({o})", "sa.BigInteger()"),
    "bool": ("fields.Boolean({o})", "models.BooleanField({o})", "sa.Boolean()"),
    "float": ("fields.Double({o})", "models.FloatField({o})", "sa.Float()"),
    "date": ("fields.Date({o})", "models.DateField({o})", "sa.Date()"),
    "ts": ("fields.Timestamptz({o})", "models.DateTimeField({o})", "sa.DateTime(timezone=True)"),
}
DATA_TYPES = list(TYPES)


@dataclass
class Col:
    name: str
    type: str  # a key of TYPES, or "fk"
    nullable: bool = False
    index: bool = False
    fk: str | None = None  # target model name (always nullable, always indexed)


@dataclass
class ModelSpec:
    name: str  # class name, e.g. M0042
    plugin: str  # e.g. p03
    table: str  # current table name
    cols: list[Col] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name.lower()  # Django's model_name


@dataclass
class Change:
    kind: str  # add | drop | nullable | index | rename
    model: str
    column: str | None = None
    new_type: str | None = None
    new_table: str | None = None
    old_table: str | None = None


@dataclass
class Schema:
    plugins: list[str]
    models: dict[str, ModelSpec]  # insertion order = definition order

    def by_plugin(self, plugin: str) -> list[ModelSpec]:
        return [m for m in self.models.values() if m.plugin == plugin]

    def clone(self) -> Schema:
        return copy.deepcopy(self)


def plugin_names(a: int) -> list[str]:
    return [f"p{k:02d}" for k in range(a)]


def initial(n: int, a: int, seed: int = 7) -> Schema:
    rnd = random.Random(f"schema-{seed}-{n}-{a}")
    plugins = plugin_names(a)
    models: dict[str, ModelSpec] = {}
    per = max(1, -(-n // a))
    for i in range(n):
        name = f"M{i:04d}"
        plugin = plugins[min(i // per, a - 1)]
        m = ModelSpec(name, plugin, f"{plugin}_{name.lower()}")
        for c in range(10):
            t = DATA_TYPES[(i + c) % len(DATA_TYPES)] if c < 8 else rnd.choice(DATA_TYPES)
            m.cols.append(Col(f"c{c}", t, nullable=rnd.random() < 0.3, index=rnd.random() < 0.1))
        if i:
            for k in range(rnd.choice((0, 1, 1, 2))):
                target = f"M{rnd.randrange(max(0, i - 60), i):04d}"
                m.cols.append(Col(f"ref{k}", "fk", nullable=True, index=True, fk=target))
        models[name] = m
    return Schema(plugins, models)


def history(schema: Schema, h: int, seed: int = 7) -> list[Change]:
    """H changes, each valid against the schema produced by the ones before it."""
    # Seeded without h: a shorter history is a prefix of a longer one.
    rnd = random.Random(f"history-{seed}-{len(schema.models)}")
    s = schema.clone()
    changes: list[Change] = []
    names = list(s.models)
    counter = 0
    while len(changes) < h:
        m = s.models[rnd.choice(names)]
        plain = [c for c in m.cols if c.fk is None and not c.index]
        roll = rnd.random()
        ch: Change | None = None
        if roll < 0.3:
            counter += 1
            ch = Change("add", m.name, column=f"h{counter}", new_type=rnd.choice(DATA_TYPES))
        elif roll < 0.5 and len(plain) > 3:
            ch = Change("drop", m.name, column=rnd.choice(plain).name)
        elif roll < 0.7:
            strict = [c for c in plain if not c.nullable]
            if strict:
                ch = Change("nullable", m.name, column=rnd.choice(strict).name)
        elif roll < 0.9:
            if plain:
                ch = Change("index", m.name, column=rnd.choice(plain).name)
        else:
            referenced = {c.fk for x in s.models.values() for c in x.cols if c.fk}
            if m.name not in referenced:
                counter += 1
                ch = Change(
                    "rename",
                    m.name,
                    new_table=f"{m.plugin}_{m.label}_v{counter}",
                    old_table=m.table,
                )
        if ch is not None:
            apply(s, ch)
            changes.append(ch)
    return changes


def apply(s: Schema, ch: Change) -> None:
    m = s.models[ch.model]
    if ch.kind == "add":
        assert ch.column and ch.new_type
        m.cols.append(Col(ch.column, ch.new_type, nullable=True))
    elif ch.kind == "drop":
        m.cols = [c for c in m.cols if c.name != ch.column]
    elif ch.kind == "nullable":
        next(c for c in m.cols if c.name == ch.column).nullable = True
    elif ch.kind == "index":
        next(c for c in m.cols if c.name == ch.column).index = True
    elif ch.kind == "rename":
        assert ch.new_table
        m.table = ch.new_table
    else:  # pragma: no cover - the generator only makes the kinds above
        raise ValueError(ch.kind)


def at(base: Schema, changes: list[Change]) -> Schema:
    s = base.clone()
    for ch in changes:
        apply(s, ch)
    return s
