"""Property: any history of model changes migrates without losing a row (SPEC §7, §8).

Hypothesis generates model histories (add/drop/rename tables and columns, nullability flips, safe
casts, index toggles, foreign keys). After each step makemigrations + migrate run on a populated
SQLite database through ``umbral.App``. Checked: no row of a surviving table is lost, and every
value of a surviving column is what the change makes of it (kept, a NULL filled with the
default when NOT NULL comes, converted by a cast), rows stored before an ``ADD COLUMN`` included;
the final schema equals that of a fresh database built from the final models in one migration;
migrating back to zero and forward again gives the same schema.
"""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from umbral import Model, fields
from umbral.app import App

CASTS = {"SmallInt": "Integer", "Integer": "BigInt", "Real": "Double", "BigInt": "Text"}
SCALARS = ["SmallInt", "Integer", "BigInt", "Real", "Text", "Boolean"]
DEFAULTS = {"SmallInt": 1, "Integer": 2, "BigInt": 3, "Real": 1.5, "Double": 2.5, "Text": "d",
            "Boolean": True}  # fmt: skip


@dataclass(frozen=True)
class Col:
    name: str
    type: str
    nullable: bool = True
    default: object = None
    index: bool = False
    fk: str | None = None  # target model name
    #: Identity through renames and alterations (not part of the schema).
    uid: str = ""


@dataclass
class Mod:
    name: str
    cols: list[Col]
    table: str | None = None


@dataclass
class History:
    models: dict[str, Mod] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def referenced(self, name: str) -> bool:
        return any(c.fk == name for m in self.models.values() for c in m.cols if m.name != name)


def step(h: History, action: int, pick: int) -> None:
    """Apply one change to the declared models (a no-op when it does not apply)."""
    names = sorted(h.models)
    model = h.models[names[pick % len(names)]] if names else None
    cols = [c for c in model.cols] if model else []
    col = cols[pick % len(cols)] if cols else None
    i = cols.index(col) if col else 0
    if action == 0 or model is None:  # add a table
        name = h.fresh("M")
        h.models[name] = Mod(
            name, [Col(h.fresh("c"), SCALARS[pick % len(SCALARS)], uid=h.fresh("u"))]
        )
    elif action == 1 and not h.referenced(model.name):  # drop a table
        del h.models[model.name]
    elif action == 2:  # rename a table (class-name match)
        model.table = h.fresh("t")
    elif action == 3:  # add a column
        t = SCALARS[pick % len(SCALARS)]
        model.cols.append(Col(h.fresh("c"), t, nullable=pick % 2 == 0, uid=h.fresh("u"),
                              default=None if pick % 2 == 0 else DEFAULTS[t]))  # fmt: skip
    elif action == 4 and col and len(cols) > 1:  # drop a column
        model.cols.pop(i)
    elif action == 5 and col:  # rename a column
        model.cols[i] = replace(col, name=h.fresh("r"))
    elif action == 6 and col and col.fk is None:  # flip nullability (tightening needs a default)
        if col.nullable:
            model.cols[i] = replace(col, nullable=False, default=DEFAULTS[col.type])
        else:
            model.cols[i] = replace(col, nullable=True)
    elif action == 7 and col and col.type in CASTS and col.fk is None:  # safe cast
        new_type = CASTS[col.type]
        default = DEFAULTS.get(new_type) if col.default is not None else None
        model.cols[i] = replace(col, type=new_type, default=default, index=False)
    elif action == 8 and col and col.fk is None:  # toggle an index
        model.cols[i] = replace(col, index=not col.index)
    elif action == 9 and len(names) > 1:  # add a nullable FK to another table
        target = names[(pick + 1) % len(names)]
        if target != model.name:
            model.cols.append(Col(h.fresh("f"), "ForeignKey", fk=target, uid=h.fresh("u")))


def classes(h: History) -> list[type]:
    out = []
    for m in h.models.values():
        attrs: dict[str, object] = {"__module__": __name__}
        for c in m.cols:
            if c.fk:
                attrs[c.name] = fields.ForeignKey(c.fk, nullable=True, on_delete="set_null")
            else:
                cls = getattr(fields, c.type)
                attrs[c.name] = cls(nullable=c.nullable, default=c.default, index=c.index)
        kw = {"table": m.table} if m.table else {}
        out.append(type(m.name, (Model,), attrs, **kw))
    return out


def make_app(root: Path, h: History, db: str) -> App:
    return App(models=classes(h), database=f"sqlite:///{root / db}", plugins=[], root=root)


def counts(path: Path, h: History) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        out = {}
        for m in h.models.values():
            t = m.table or _snake(m.name)
            if t in tables:
                out[m.name] = conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
        return out
    finally:
        conn.close()


def _snake(name: str) -> str:
    from umbral.naming import snake_case

    return snake_case(name)


def values(path: Path, h: History) -> dict[tuple[str, str], tuple[Col, list[object]]]:
    """Every column's values in id order, keyed by (model, column uid)."""
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        out = {}
        for m in h.models.values():
            t = m.table or _snake(m.name)
            if t not in tables:
                continue
            for c in m.cols:
                got = conn.execute(f'SELECT "{c.name}" FROM "{t}" ORDER BY id').fetchall()
                out[(m.name, c.uid)] = (c, [r[0] for r in got])
        return out
    finally:
        conn.close()


def expected(before: Col, after: Col, value: object) -> object:
    """What a change of column ``before`` into ``after`` makes of one stored value."""
    if value is None and not after.nullable:
        return after.default  # NOT NULL came with a default: the NULLs take it
    if value is not None and after.type == "Text" and before.type != "Text":
        return str(value)  # TEXT affinity stores the number as text
    return value


def insert_rows(path: Path, h: History) -> None:
    conn = sqlite3.connect(path)
    try:
        for m in h.models.values():
            t = m.table or _snake(m.name)
            conn.execute(f'INSERT INTO "{t}" DEFAULT VALUES')
        conn.commit()
    finally:
        conn.close()


def schema(path: Path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        out: dict[str, object] = {}
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'umbral_migrations' ORDER BY name"
        )]  # fmt: skip
        for t in tables:
            cols = [tuple(r[1:]) for r in conn.execute(f'PRAGMA table_info("{t}")')]
            idx = sorted(
                (r[1], r[2], tuple(c[2] for c in conn.execute(f'PRAGMA index_info("{r[1]}")')))
                for r in conn.execute(f'PRAGMA index_list("{t}")')
            )
            fks = sorted(tuple(r[2:]) for r in conn.execute(f'PRAGMA foreign_key_list("{t}")'))
            out[t] = (cols, idx, fks)
        return out
    finally:
        conn.close()


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 1000)), min_size=1, max_size=7))
# A table with rows, a NOT NULL column added with default 2 (the rows do not store it), then
# cast to BigInt with default 3: the older rows must still read 2 (SQLite reads a column missing
# from a row from its current default).
@example(history=[(0, 1), (3, 1), (7, 1)])
def test_histories_never_lose_rows(tmp_path_factory, history) -> None:
    root = tmp_path_factory.mktemp("hist")
    db = root / "db.sqlite3"
    h = History()
    for action, pick in history:
        before_models = set(h.models)
        rows_before = counts(db, h) if db.exists() else {}  # keyed by model: survives renames
        values_before = values(db, h) if db.exists() else {}
        step(h, action, pick)
        app = make_app(root, h, "db.sqlite3")
        app.makemigrations()
        app.migrate(allow_destructive=True)
        rows_after = counts(db, h)
        for name in before_models & set(h.models):
            assert rows_after.get(name) == rows_before.get(name), (name, history)
        for key, (col, now) in values(db, h).items():
            if key in values_before:
                old, stored = values_before[key]
                assert now == [expected(old, col, v) for v in stored], (key, history)
        insert_rows(db, h)

    final = schema(db)
    # The same final models, migrated from scratch in one migration, give the same schema.
    fresh_root = tmp_path_factory.mktemp("fresh")
    fresh = make_app(fresh_root, h, "fresh.sqlite3")
    fresh.makemigrations()
    fresh.migrate()
    assert schema(fresh_root / "fresh.sqlite3") == final, history

    # All the way back to zero and forward again.
    app = make_app(root, h, "db.sqlite3")
    app.migrate("app/zero", allow_destructive=True, allow_irreversible=True)
    assert schema(db) == {}
    make_app(root, h, "db.sqlite3").migrate(allow_destructive=True)
    assert schema(db) == final, history
