"""Property: any history of model changes migrates without losing a row (SPEC §7, §8).

Hypothesis generates model histories (add/drop/rename tables and columns, nullability flips, safe
casts, default changes, index toggles, foreign keys, ManyToMany fields, Integer primary keys
widened under the foreign keys and junctions holding them, NOT NULL columns without a default
filled by a one-off backfill). After each step makemigrations + migrate
run on a populated database through ``umbral.App``, on SQLite and on PostgreSQL. Checked: no row
of a surviving table is lost, and every value of a surviving column is what the change makes of
it (kept, a NULL filled with the default or the backfill when NOT NULL comes, converted by a
cast; an added column's backfill in every older row), every ManyToMany link kept, rows stored
before an ``ADD COLUMN`` and foreign keys pointing at other tables' rows included; the final
schema equals that of a fresh database built from the final models in one migration; migrating
back to an earlier migration and forward, and back to zero and forward, give the same schema.
A step may squash the migrations written so far (and delete the first original), so the
trips back cross recorded squashes. A rename may leave a compatibility shim
(``--compat``); a later change that would break it waits for its contract migration
(``--drop-compat``), as its user's would. A step may branch: two changes made from the same
migration on two branches (one deployed first, or both at once) and ``makemigrations
--merge``, which must refuse exactly the branches that cannot both run and otherwise leave
nothing to do.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import MYSQL_URL, POSTGRES_URL, execute, is_mysql, rows, schema_of
from umbral import Model, fields
from umbral.app import App
from umbral.compat import live_shims
from umbral.errors import CannotSquash, MergeConflict, UmbralError

CASTS = {"SmallInt": "Integer", "Integer": "BigInt", "Real": "Double", "BigInt": "Text"}
SCALARS = ["SmallInt", "Integer", "BigInt", "Real", "Text", "Boolean"]
DEFAULTS = {"SmallInt": 1, "Integer": 2, "BigInt": 3, "Real": 1.5, "Double": 2.5, "Text": "d",
            "Boolean": True}  # fmt: skip
OTHER_DEFAULTS = {"SmallInt": 4, "Integer": 5, "BigInt": 6, "Real": 3.5, "Double": 4.5,
                  "Text": "e", "Boolean": False}  # fmt: skip


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


@dataclass(frozen=True)
class Rel:
    """A ManyToMany field to ``target``; ``uid`` is the identity of its junction's rows."""

    field: str
    target: str
    uid: str


@dataclass
class Mod:
    name: str
    cols: list[Col]
    table: str | None = None
    #: The primary key's type: some tables start with an Integer key, widened later (the
    #: foreign keys and the junctions' key columns holding it follow).
    key: str = "BigInt"
    m2m: list[Rel] = field(default_factory=list)
    #: The primary key's column: renamed by some steps (its foreign keys follow).
    key_name: str = "id"

    def junction(self, rel: Rel) -> str:
        return f"{self.table or _snake(self.name)}_{rel.field}"


@dataclass
class History:
    models: dict[str, Mod] = field(default_factory=dict)
    #: The last number given to a fresh name (shared by both sides of a branch).
    counter: int = 0
    #: The one-off backfills of the current step: column uid -> (``Model.column``, value).
    backfills: dict[str, tuple[str, object]] = field(default_factory=dict)
    #: Whether a column ever became NOT NULL without a default (through a backfill).
    backfilled: bool = False

    #: Whether two branches were merged (their columns then stand in application order).
    merged: bool = False
    #: Whether the step's renames leave compatibility shims (``makemigrations --compat``).
    compat: bool = False
    #: Whether a step may add a ManyToMany (not on a branch: ``merge_models`` has no rule for
    #: a junction).
    m2m: bool = True

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


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
            name,
            [Col(h.fresh("c"), SCALARS[pick % len(SCALARS)], uid=h.fresh("u"))],
            key="Integer" if pick % 5 in (2, 3) else "BigInt",
        )
    elif action == 1:  # drop a table, and every foreign key to it (as its user would)
        del h.models[model.name]
        for other in h.models.values():
            other.cols = [c for c in other.cols if c.fk != model.name]
            other.m2m = [r for r in other.m2m if r.target != model.name]
    elif action == 2:  # rename a table (class-name match)
        model.table = h.fresh("t")
        h.compat = pick % 5 == 4
        if pick % 3 == 0:
            # Long: its index and constraint names outgrow 63 bytes, and every long name
            # shares its first 58 bytes (PostgreSQL's name for its primary key).
            model.table = "long" * 14 + "_" + model.table
    elif action == 3:  # add a column
        t = SCALARS[pick % len(SCALARS)]
        new = Col(h.fresh("c"), t, nullable=pick % 2 == 0, uid=h.fresh("u"),
                  default=None if pick % 2 == 0 else DEFAULTS[t])  # fmt: skip
        if pick % 4 == 3:  # NOT NULL without a default: the older rows take a backfill
            new = replace(new, default=None)
            h.backfills[new.uid] = (f"{model.name}.{new.name}", OTHER_DEFAULTS[t])
        model.cols.append(new)
    elif action == 4 and col and len(cols) > 1:  # drop a column
        model.cols.pop(i)
    elif action == 5 and pick % 7 == 6:  # rename the primary key's column
        model.key_name = h.fresh("k")
    elif action == 5 and col:  # rename a column, on some picks with a shim for N-1
        model.cols[i] = replace(col, name=h.fresh("r"))
        h.compat = pick % 5 == 4
    elif action == 6 and col and col.fk is None:  # flip nullability
        if col.nullable and col.default is None and pick % 3 == 0:  # NULLs take a backfill
            model.cols[i] = replace(col, nullable=False)
            h.backfills[col.uid] = (f"{model.name}.{col.name}", OTHER_DEFAULTS[col.type])
        elif col.nullable:
            model.cols[i] = replace(col, nullable=False, default=DEFAULTS[col.type])
        else:
            model.cols[i] = replace(col, nullable=True)
    elif action == 7 and model.key == "Integer":
        # Widen the primary key: the foreign keys to it follow (MySQL must drop them first).
        model.key = "BigInt"
    elif action == 7 and col and col.type in CASTS and col.fk is None:  # safe cast
        new_type = CASTS[col.type]
        default = DEFAULTS.get(new_type) if col.default is not None else None
        model.cols[i] = replace(col, type=new_type, default=default, index=False)
    elif action == 8 and col and col.fk is None:  # toggle an index
        model.cols[i] = replace(col, index=not col.index)
    elif action == 9 and len(names) > 1:  # add a nullable FK (or a ManyToMany) to another table
        target = names[(pick + 1) % len(names)]
        if target != model.name and pick % 7 >= 5 and h.m2m:
            model.m2m.append(Rel(h.fresh("g"), target, h.fresh("j")))
        elif target != model.name:
            model.cols.append(Col(h.fresh("f"), "ForeignKey", fk=target, uid=h.fresh("u")))
    elif action == 10 and col and col.fk is None:  # add, change or remove a default
        if col.default is None:
            model.cols[i] = replace(col, default=DEFAULTS[col.type])
        elif col.nullable:
            model.cols[i] = replace(col, default=None)
        else:
            other = OTHER_DEFAULTS if col.default == DEFAULTS[col.type] else DEFAULTS
            model.cols[i] = replace(col, default=other[col.type])


def classes(h: History) -> list[type]:
    out = []
    for m in h.models.values():
        attrs: dict[str, object] = {"__module__": __name__}
        if m.key != "BigInt" or m.key_name != "id":
            attrs[m.key_name] = getattr(fields, m.key)(primary_key=True)
        for c in m.cols:
            if c.fk:
                attrs[c.name] = fields.ForeignKey(c.fk, nullable=True, on_delete="set_null")
            else:
                cls = getattr(fields, c.type)
                attrs[c.name] = cls(nullable=c.nullable, default=c.default, index=c.index)
        attrs.update({r.field: fields.ManyToMany(r.target) for r in m.m2m})
        kw = {"table": m.table} if m.table else {}
        out.append(type(m.name, (Model,), attrs, **kw))
    return out


def make_app(root: Path, h: History, url: str) -> App:
    return App(models=classes(h), database=url, plugins=[], root=root)


def make_migrations(root: Path, h: History, url: str, **kwargs: object) -> None:
    """``makemigrations`` as its user runs it: a step whose renames ask for shims passes
    ``--compat`` (not where a shim's name would be long: MySQL refuses those); a change
    refused because it would break a live shim waits for the shims' contract migrations
    (``--drop-compat``), then is made."""
    compat = h.compat and all(len(m.table or m.name) < 40 for m in h.models.values())
    h.compat = False
    try:
        make_app(root, h, url).makemigrations(compat=compat, **kwargs)  # type: ignore[arg-type]
    except UmbralError as exc:
        if "is live and" not in str(exc):  # reads it / fills the column with its default
            raise
        drop_shims(root, h, url)
        make_app(root, h, url).makemigrations(compat=compat, **kwargs)  # type: ignore[arg-type]


def drop_shims(root: Path, h: History, url: str) -> None:
    """Write the contract migration of every live compatibility shim."""
    for live in live_shims(make_app(root, h, url).env):
        make_app(root, h, url).makemigrations(drop_compat=live.shim.name)


class Db:
    """Plain reads and writes on either backend, beside umbral's own connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")

    def query(self, sql: str) -> list[tuple]:
        return rows(self.url, sql)

    def execute(self, *statements: str) -> None:
        execute(self.url, *statements)

    def tables(self) -> set[str]:
        if self.sqlite:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        elif is_mysql(self.url):
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        else:
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        return {r[0] for r in self.query(sql)} - {
            "umbral_migrations",
            "umbral_migration_progress",
            "sqlite_sequence",
        }

    def schema(self) -> dict[str, object]:
        if not self.sqlite:
            return schema_of(self.url)  # columns with types and nullability, indexes, FKs
        out: dict[str, object] = {}
        for t in sorted(self.tables()):
            cols = [r[1:] for r in self.query(f'PRAGMA table_info("{t}")')]
            idx = sorted(
                (r[1], r[2], tuple(c[2] for c in self.query(f'PRAGMA index_info("{r[1]}")')))
                for r in self.query(f'PRAGMA index_list("{t}")')
            )
            fks = sorted(r[2:] for r in self.query(f'PRAGMA foreign_key_list("{t}")'))
            out[t] = (cols, idx, fks)
        return out


def _snake(name: str) -> str:
    from umbral.naming import snake_case

    return snake_case(name)


def counts(db: Db, h: History) -> dict[str, int]:
    """Rows per model and links per ManyToMany (keyed by identity: renames keep the key)."""
    tables = db.tables()
    out = {}
    for m in h.models.values():
        t = m.table or _snake(m.name)
        if t in tables:
            out[m.name] = db.query(f'SELECT count(*) FROM "{t}"')[0][0]
        for r in m.m2m:
            if m.junction(r) in tables:
                out[r.uid] = db.query(f'SELECT count(*) FROM "{m.junction(r)}"')[0][0]
    return out


def values(db: Db, h: History) -> dict[tuple[str, str], tuple[Col, list[object]]]:
    """Every column's values in id order, keyed by (model, column uid)."""
    tables = db.tables()
    out = {}
    for m in h.models.values():
        t = m.table or _snake(m.name)
        if t in tables:
            for c in m.cols:
                got = db.query(f'SELECT "{c.name}" FROM "{t}" ORDER BY "{m.key_name}"')
                out[(m.name, c.uid)] = (c, [r[0] for r in got])
    return out


def expected(before: Col, after: Col, value: object, backfill: object = None) -> object:
    """What a change of column ``before`` into ``after`` makes of one stored value."""
    if value is None and not after.nullable:
        # NOT NULL came with a default or a one-off backfill: the NULLs take it.
        return after.default if after.default is not None else backfill
    if value is not None and after.type == "Text" and before.type != "Text":
        return str(value)  # a cast to Text (SQLite: TEXT affinity) stores the number as text
    return value


def insert_rows(db: Db, h: History) -> None:
    """One row per table: defaults, and each foreign key pointing at its target's newest row
    (NULL while the target is empty), so rebuilds carry references as well as values."""
    stmts = []
    for m in h.models.values():
        table = m.table or _snake(m.name)
        fks = [c for c in m.cols if c.fk]
        # A NOT NULL column without a default (filled by a backfill) needs a value.
        required = [c for c in m.cols if not c.fk and not c.nullable and c.default is None]
        if not fks and not required:
            # MySQL spells a row of defaults `() VALUES ()`.
            values = "() VALUES ()" if is_mysql(db.url) else "DEFAULT VALUES"
            stmts.append(f'INSERT INTO "{table}" {values}')
            continue
        names = ", ".join(f'"{c.name}"' for c in (*fks, *required))
        targets = ", ".join(
            [_newest(h.models[c.fk]) for c in fks]
            + [_literal(DEFAULTS[c.type]) for c in required]
        )
        stmts.append(f'INSERT INTO "{table}" ({names}) VALUES ({targets})')
    db.execute(*stmts)
    # A link between the newest rows of both ends, once.
    links = []
    for m in h.models.values():
        for r in m.m2m:
            parent, child = _newest(m), _newest(h.models[r.target])
            links.append(
                f'INSERT INTO "{m.junction(r)}" (parent_id, child_id) SELECT {parent}, {child} '
                f'WHERE NOT EXISTS (SELECT 1 FROM "{m.junction(r)}" WHERE parent_id = {parent} '
                f"AND child_id = {child})"
            )
    if links:
        db.execute(*links)


def _newest(m: Mod) -> str:
    """The key of the newest row of ``m``'s table, as a subquery."""
    return f'(SELECT max("{m.key_name}") FROM "{m.table or _snake(m.name)}")'


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return f"'{value}'" if isinstance(value, str) else repr(value)


@dataclass
class Observed:
    """What a database held before a change: rows per model and every column's values."""

    models: set[str]
    rows: dict[str, int]
    values: dict[tuple[str, str], tuple[Col, list[object]]]


def observe(db: Db, h: History) -> Observed:
    return Observed(set(h.models), counts(db, h), values(db, h))


def take_backfills(h: History) -> dict[str, tuple[str, object]]:
    filled = dict(h.backfills)
    h.backfilled = h.backfilled or bool(filled)
    h.backfills.clear()
    return filled


def check_kept(
    db: Db, h: History, before: Observed, filled: dict[str, tuple[str, object]], history: list
) -> None:
    """No row of a surviving table lost, every value what the change makes of it, and every
    link of a surviving ManyToMany kept (no step drops a row, so each link's rows survive)."""
    rows_after = counts(db, h)
    for name in before.models & set(h.models):
        assert rows_after.get(name) == before.rows.get(name), (name, history)
    for uid in {r.uid for m in h.models.values() for r in m.m2m} & set(before.rows):
        assert rows_after.get(uid) == before.rows[uid], (uid, history)
    for key, (col, now) in values(db, h).items():
        backfill = filled[col.uid][1] if col.uid in filled else None
        if key in before.values:
            old, stored = before.values[key]
            assert now == [expected(old, col, v, backfill) for v in stored], (key, history)
        elif col.uid in filled:  # an added column: every older row holds the backfill
            assert now == [backfill] * len(now), (key, history)


def run_history(
    history: list[tuple[int, int]], roots: Callable[[], Path], urls: Callable[[Path], str]
) -> None:
    """Apply ``history`` step by step on a database, checking rows and values after each."""
    root = roots()
    url = urls(root)
    db = Db(url)
    h = History()
    for action, pick in history:
        if action in (SQUASH, BRANCH):
            # Neither squashes nor branches a live shim: its contract comes first.
            drop_shims(root, h, url)
        if action == SQUASH:
            squash(root, h, url, pick)
            continue
        if action == BRANCH:
            h = branch(root, h, db, url, pick, history)
            h.m2m = True
            insert_rows(db, h)
            continue
        before = observe(db, h)  # keyed by model: survives renames
        step(h, action, pick)
        filled = take_backfills(h)
        make_migrations(root, h, url, backfills=dict(filled.values()))
        make_app(root, h, url).migrate(allow_destructive=True)
        check_kept(db, h, before, filled, history)
        insert_rows(db, h)

    # After a merge, a table's columns stand in the order its database ran the branches.
    schema = (lambda: any_column_order(db.schema())) if h.merged else db.schema
    final = schema()
    # The same final models, migrated from scratch in one migration, give the same schema.
    fresh_root = roots()
    fresh = Db(urls(fresh_root))
    app = make_app(fresh_root, h, fresh.url)
    app.makemigrations()
    app.migrate()
    got = fresh.schema()
    assert (any_column_order(got) if h.merged else got) == final, history

    # All the way back to zero and forward again. PostgreSQL casts every stored value on the
    # way back, and a cast to Text does not come back from the Text default (`'d'` is no
    # bigint: that migration is rolled back, as it should be); there the tables are emptied
    # first, so the run checks the reverse operations. SQLite's rebuilds keep any value, but
    # undoing a relaxed NOT NULL column without a default has no value for the NULLs stored
    # since (that migration is rolled back, as it should be): emptied too after a backfill.
    if not db.sqlite or h.backfilled:
        db.execute(*(f'DELETE FROM "{t}"' for t in sorted(db.tables())))
    # Back to an earlier migration (one a squash replaces, when there is one) and forward.
    names = sorted(p.stem for p in (root / "migrations" / "app").glob("*.json"))
    # A run cannot stop inside a squash whose originals are not all on disk.
    names = [n for n in names if f"app/{n}" not in _partly_gone(root)]
    if names:
        target = f"app/{names[history[-1][1] % len(names)]}"
        back = make_app(root, h, url)
        back.migrate(target, allow_destructive=True, allow_irreversible=True)
        back.migrate(allow_destructive=True)
        assert schema() == final, (target, history)
    make_app(root, h, url).migrate("app/zero", allow_destructive=True, allow_irreversible=True)
    assert db.tables() == set()
    make_app(root, h, url).migrate(allow_destructive=True)
    assert schema() == final, history


def any_column_order(schema: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for table, shape in schema.items():
        if isinstance(shape, dict):
            out[table] = {**shape, "columns": sorted(shape["columns"])}
        else:
            cols, *rest = shape  # SQLite: (columns, indexes, foreign keys)
            out[table] = (sorted(cols), *rest)
    return out


def _partly_gone(root: Path) -> set[str]:
    """The originals of a squash some of whose originals are no longer on disk."""
    directory = root / "migrations" / "app"
    on_disk = {f"app/{p.stem}" for p in directory.glob("*.json")}
    out: set[str] = set()
    for path in directory.glob("*.json"):
        replaces = set(json.loads(path.read_text()).get("replaces", []))
        if replaces - on_disk:
            out |= replaces
    return out


@contextlib.contextmanager
def postgres_databases(admin, prefix: str) -> Iterator[Callable[..., str]]:
    """A maker of throwaway PostgreSQL databases (their URLs), all dropped at the end."""
    created: list[str] = []
    base = POSTGRES_URL.rsplit("/", 1)[0]

    def database(*_args: object) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{base}/{name}"

    try:
        yield database
    finally:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def mysql_databases(admin, prefix: str) -> Iterator[Callable[..., str]]:
    """A maker of throwaway MySQL / MariaDB databases (their URLs), all dropped at the end."""
    created: list[str] = []
    base = MYSQL_URL.rsplit("/", 1)[0]

    def database(*_args: object) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin.ping()
        admin.cursor().execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
        created.append(name)
        return f"{base}/{name}"

    try:
        yield database
    finally:
        admin.ping()
        for name in created:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


#: The action that makes two branches of one change each and merges them.
BRANCH = 12


def branch(root: Path, h: History, db: Db, url: str, pick: int, history: list) -> History:
    """Two developers each change the models from the same migration (one step each, from
    ``pick``) and run makemigrations; then ``makemigrations --merge``. On an even ``pick`` the
    database runs the first branch before the second exists (it was deployed first); on an odd
    one it runs both and the merge at once. Where the branches conflict, umbral must refuse the
    merge exactly where the models cannot be merged (``merge_models``); the second branch's file
    is then deleted, as its developer would, to make it again on top of the first. After a
    merge, makemigrations finds nothing to do: the merge's snapshot is the merged models."""
    directory = root / "migrations" / "app"
    base = copy.deepcopy(h)
    before = observe(db, h)
    first = copy.deepcopy(h)
    first.m2m = False
    step(first, pick % 11, pick // 3)
    first.compat = False  # branches rename without shims
    filled = take_backfills(first)
    on_disk = set(directory.glob("*.json"))
    make_app(root, first, url).makemigrations(backfills=dict(filled.values()))
    written_first = set(directory.glob("*.json")) - on_disk
    if pick % 2 == 0:
        make_app(root, first, url).migrate(allow_destructive=True)
        check_kept(db, first, before, filled, history)
        before = observe(db, first)

    second = copy.deepcopy(base)
    second.m2m = False
    second.counter = first.counter  # fresh names stay unique across the branches
    step(second, (pick // 11) % 11, pick // 7 + 1)
    second.compat = False
    filled_second = take_backfills(second)
    first.counter = second.counter
    aside = root / "aside"
    aside.mkdir(exist_ok=True)
    for path in written_first:  # the second developer does not have the first's file
        path.rename(aside / path.name)
    on_disk = set(directory.glob("*.json"))
    # Named apart: two files of one name would be one migration, not two branches.
    make_app(root, second, url).makemigrations(
        backfills=dict(filled_second.values()), name="other_branch"
    )
    written_second = set(directory.glob("*.json")) - on_disk
    for path in written_first:
        (aside / path.name).rename(path)
    filled.update(filled_second)

    if not written_first or not written_second:  # one side changed nothing: no branch
        after = first if written_first or not written_second else second
        make_app(root, after, url).migrate(allow_destructive=True)
        check_kept(db, after, before, filled, history)
        return after

    merged = merge_models(base, first, second)
    try:
        make_app(root, first, url).makemigrations(merge=True)
    except MergeConflict as exc:
        assert merged is None, (str(exc), history)
        for path in written_second:
            path.unlink()
        make_app(root, first, url).migrate(allow_destructive=True)
        check_kept(db, first, before, filled, history)
        return first
    assert merged is not None, ("the merge should have been refused", history)
    merged.counter = first.counter
    merged.backfilled = first.backfilled or second.backfilled
    merged.merged = True
    app = make_app(root, merged, url)
    assert not app.makemigrations(dry_run=True).changes, history
    app.migrate(allow_destructive=True)
    check_kept(db, merged, before, filled, history)
    return merged


def merge_models(base: History, first: History, second: History) -> History | None:
    """The models both branches' changes make, or None where they cannot both stand: one
    changes what the other changes differently or drops, or refers to (by a table name its
    migration holds) a table the other renames or drops."""
    out = History()
    for name in sorted({*base.models, *first.models, *second.models}):
        b, x, y = base.models.get(name), first.models.get(name), second.models.get(name)
        if x == y != b:
            return None  # both make the same change: one branch's file would repeat it
        if x == b:
            picked = y
        elif y == b:
            picked = x
        elif b is None or x is None or y is None:
            return None
        else:
            picked = _merge_mod(b, x, y)
            if picked is None:
                return None
        if picked is not None:
            out.models[name] = copy.deepcopy(picked)
    for one, other in ((first, second), (second, first)):
        gone = {
            n for n, m in base.models.items()
            if n not in other.models or other.models[n].table != m.table
        }  # fmt: skip
        for n in gone & set(one.models):
            if n in base.models and one.models[n] != base.models[n]:
                return None  # changes a table the other renames (or drops)
        for m in one.models.values():
            old = {c.uid for c in base.models[m.name].cols} if m.name in base.models else set()
            if any(c.fk in gone and c.uid not in old for c in m.cols):
                return None  # a new foreign key to a table the other renames or drops
    return out


def _merge_mod(b: Mod, x: Mod, y: Mod) -> Mod | None:
    if x.table != b.table and y.table != b.table:
        return None  # renamed on both sides
    if x.key != b.key and y.key != b.key:
        return None  # widened on both sides
    if x.key_name != b.key_name and y.key_name != b.key_name:
        return None  # its key renamed on both sides
    if x.m2m != b.m2m and y.m2m != b.m2m:
        return None  # both change its ManyToMany fields (a target dropped on each side)
    table = x.table if x.table != b.table else y.table
    key = x.key if x.key != b.key else y.key
    key_name = x.key_name if x.key_name != b.key_name else y.key_name
    m2m = x.m2m if x.m2m != b.m2m else y.m2m
    old = {c.uid: c for c in b.cols}
    mine = {c.uid: c for c in x.cols}
    theirs = {c.uid: c for c in y.cols}
    cols = []
    news = [u for u in theirs if u not in mine]
    for uid in [*mine, *news, *(u for u in old if u not in mine and u not in theirs)]:
        o, m, t = old.get(uid), mine.get(uid), theirs.get(uid)
        if m == t != o:
            return None
        if m == o:
            c = t
        elif t == o:
            c = m
        else:
            return None
        if c is not None:
            cols.append(c)
    return Mod(b.name, cols, table, key, list(m2m), key_name)


#: The action that squashes the migrations written so far (from one ``pick`` chooses).
SQUASH = 11


def squash(root: Path, h: History, url: str, pick: int) -> None:
    """Squash the plugin's migrations from one of them to the last, and migrate, as every
    step does (the squash is recorded without SQL: its originals ran). Where squashmigrations
    refuses (fewer than two migrations, a second squash, a backfill), only the migrate runs.
    On an odd ``pick`` the first original is then deleted, as a project deleting them after
    the squash has been applied everywhere leaves the others for a while."""
    app = make_app(root, h, url)
    names = sorted(p.stem for p in (root / "migrations" / "app").glob("*.json"))
    with contextlib.suppress(CannotSquash):
        squashed = app.squashmigrations("app", start=names[pick % len(names)] if names else None)
        make_app(root, h, url).migrate()
        if pick % 2:
            plugin, _, first = min(squashed.replaces).partition("/")
            (root / "migrations" / plugin / f"{first}.json").unlink()
        return
    make_app(root, h, url).migrate()


HISTORIES = st.lists(
    st.tuples(st.integers(0, BRANCH), st.integers(0, 1000)), min_size=1, max_size=7
)
#: Branches: one drops a model whose foreign key names a table the other renames (merged: the
#: model's reference changes on the other side only by following the rename).
DROPPED_WHILE_ITS_TARGET_RENAMED = [(12, 0), (9, 0), (12, 870)]
#: A table with rows, a NOT NULL column added with default 2 (the rows do not store it), then
#: cast to BigInt with default 3: the older rows must still read 2 (SQLite reads a column a row
#: does not store from the column's current default).
ADDED_THEN_CAST = [(0, 1), (3, 1), (7, 1)]
#: A table with an Integer key, a foreign key to it, and the key widened: MySQL refused to
#: change the referenced column (the key's change comes first: `m1` sorts before `m7`).
KEY_WIDENED = [(0, 2), (0, 0), (0, 0), (0, 0), (9, 3), (7, 8)]
#: The same with the key's table renamed first (`m7` sorts before `t15`: the foreign key's
#: column changes first, and MySQL refused a key between two integer types).
KEY_WIDENED_LAST = [(0, 2), (0, 0), (0, 0), (0, 0), (9, 3), (2, 4), (7, 8)]
#: The same with only the default changed.
ADDED_THEN_NEW_DEFAULT = [(0, 1), (3, 1), (10, 1)]
#: A NOT NULL column added with a backfill, then a nullable one made NOT NULL with one.
BACKFILLS = [(0, 0), (3, 3), (3, 0), (6, 6)]
#: A column made NOT NULL with a backfill, then nullable again (undoing that needs no NULLs).
BACKFILLED_THEN_RELAXED = [(0, 0), (6, 0), (6, 0)]
#: A squash of three migrations, then one more: the trips back cross the recorded squash, to
#: the first migration it replaces and to zero.
SQUASHED = [(0, 0), (0, 0), (0, 0), (SQUASH, 0), (0, 0)]
#: A squash as the last step, of the migrations from the second one on.
#: A long table name, then two indexes: their names differ only past 63 bytes; another long
#: name, which PostgreSQL cuts as it cut the first for the primary key's name.
LONG_NAMES = [(0, 0), (3, 1), (2, 0), (8, 0), (8, 1), (9, 0), (0, 1), (9, 1), (2, 3)]
SQUASHED_LAST = [(0, 0), (3, 1), (0, 2), (SQUASH, 1)]
#: A squash of three migrations whose first original is then deleted (the others stay), and
#: one more migration: the originals left are not checked against the squash's tables.
SQUASHED_FIRST_GONE = [(0, 0), (0, 0), (0, 0), (SQUASH, 3), (0, 0)]
#: Two branches from one migration: the first adds a column (and is deployed first), the
#: second alters another column of the same table, which SQLite rebuilds: the rebuild must keep
#: the first branch's column. Then the same with both branches run at once.
BRANCHES_DEPLOYED_FIRST = [(0, 0), (BRANCH, 80)]
BRANCHES_AT_ONCE = [(0, 0), (BRANCH, 69)]
#: One branch renames the table, the other changes it: the merge must be refused.
BRANCH_RENAMES_WHAT_THE_OTHER_CHANGES = [(0, 0), (BRANCH, 68)]
#: A column renamed with a shim, then dropped: the drop waits for the shim's contract
#: migration (PostgreSQL refused it at migrate; MySQL left the view naming it).
SHIM_THEN_DROPPED = [(0, 0), (3, 0), (5, 4), (4, 0)]
#: A table renamed with a shim that is still live at the end: the trips back and to zero
#: undo the rename with its view.
SHIM_LIVE_AT_THE_END = [(0, 0), (3, 1), (2, 4)]
#: A column added while a shim lives, then the shim dropped (a later drop waits for it): going
#: back past the drop re-makes the view without the column its own un-applying then drops.
SHIM_OUTLIVED_BY_A_COLUMN = [(0, 0), (5, 4), (3, 1), (4, 0)]
#: A ManyToMany to a table with an Integer key, then that key widened: the junction's key
#: column must follow it (SQLite kept an INTEGER column), every link kept.
M2M_KEY_WIDENED = [(0, 2), (0, 0), (9, 13), (7, 2)]
#: The same with both ends' keys widened, one after the other.
M2M_BOTH_KEYS_WIDENED = [(0, 2), (0, 2), (9, 13), (7, 2), (7, 5)]
#: Two tables, a foreign key and a ManyToMany to one of them, then its key's column renamed
#: (the references follow), and the other's.
KEY_RENAMED = [(0, 0), (0, 0), (9, 3), (9, 12), (5, 6), (5, 13)]
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(HISTORIES)
@example(history=DROPPED_WHILE_ITS_TARGET_RENAMED)
@example(history=ADDED_THEN_CAST)
@example(history=KEY_WIDENED)
@example(history=KEY_WIDENED_LAST)
@example(history=ADDED_THEN_NEW_DEFAULT)
@example(history=BACKFILLS)
@example(history=BACKFILLED_THEN_RELAXED)
@example(history=SQUASHED)
@example(history=SQUASHED_LAST)
@example(history=SQUASHED_FIRST_GONE)
@example(history=LONG_NAMES)
@example(history=BRANCHES_DEPLOYED_FIRST)
@example(history=BRANCHES_AT_ONCE)
@example(history=BRANCH_RENAMES_WHAT_THE_OTHER_CHANGES)
@example(history=SHIM_THEN_DROPPED)
@example(history=SHIM_LIVE_AT_THE_END)
@example(history=SHIM_OUTLIVED_BY_A_COLUMN)
@example(history=M2M_KEY_WIDENED)
@example(history=M2M_BOTH_KEYS_WIDENED)
@example(history=KEY_RENAMED)
def test_histories_never_lose_a_row_or_change_a_value(tmp_path_factory, history) -> None:
    run_history(
        history,
        lambda: tmp_path_factory.mktemp("hist"),
        lambda root: f"sqlite:///{root / 'db.sqlite3'}",
    )


@pytest.mark.postgres
@SETTINGS
@given(HISTORIES)
@example(history=ADDED_THEN_CAST)
@example(history=KEY_WIDENED)
@example(history=KEY_WIDENED_LAST)
@example(history=ADDED_THEN_NEW_DEFAULT)
@example(history=BACKFILLS)
@example(history=BACKFILLED_THEN_RELAXED)
@example(history=SQUASHED)
@example(history=SQUASHED_LAST)
@example(history=SQUASHED_FIRST_GONE)
@example(history=LONG_NAMES)
@example(history=BRANCHES_DEPLOYED_FIRST)
@example(history=BRANCHES_AT_ONCE)
@example(history=BRANCH_RENAMES_WHAT_THE_OTHER_CHANGES)
@example(history=SHIM_THEN_DROPPED)
@example(history=SHIM_LIVE_AT_THE_END)
@example(history=SHIM_OUTLIVED_BY_A_COLUMN)
@example(history=M2M_KEY_WIDENED)
@example(history=M2M_BOTH_KEYS_WIDENED)
@example(history=KEY_RENAMED)
def test_histories_never_lose_a_row_or_change_a_value_on_postgres(
    tmp_path_factory, postgres_admin, history
) -> None:
    with postgres_databases(postgres_admin, "umbral_p") as database:
        run_history(history, lambda: tmp_path_factory.mktemp("hist"), database)


@pytest.mark.mysql
@SETTINGS
@given(HISTORIES)
@example(history=ADDED_THEN_CAST)
@example(history=KEY_WIDENED)
@example(history=KEY_WIDENED_LAST)
@example(history=ADDED_THEN_NEW_DEFAULT)
@example(history=BACKFILLS)
@example(history=BACKFILLED_THEN_RELAXED)
@example(history=SQUASHED)
@example(history=SQUASHED_LAST)
@example(history=SQUASHED_FIRST_GONE)
@example(history=LONG_NAMES)
@example(history=BRANCHES_DEPLOYED_FIRST)
@example(history=BRANCHES_AT_ONCE)
@example(history=BRANCH_RENAMES_WHAT_THE_OTHER_CHANGES)
@example(history=SHIM_THEN_DROPPED)
@example(history=SHIM_LIVE_AT_THE_END)
@example(history=SHIM_OUTLIVED_BY_A_COLUMN)
@example(history=M2M_KEY_WIDENED)
@example(history=M2M_BOTH_KEYS_WIDENED)
@example(history=KEY_RENAMED)
def test_histories_never_lose_a_row_or_change_a_value_on_mysql(
    tmp_path_factory, mysql_admin, history
) -> None:
    with mysql_databases(mysql_admin, "umbral_p") as database:
        run_history(history, lambda: tmp_path_factory.mktemp("hist"), database)
