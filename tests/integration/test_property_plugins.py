"""Property: histories across two plugins migrate without losing a row (SPEC §3, §7, §8).

The two-plugin sibling of ``test_property_histories.py``: the project's ``app`` plugin and a
plugin module ``lib`` (registered through ``App(plugin_modules=...)``, with its own migrations
directory and ``lib_``-prefixed tables). The same change generator adds, drops and renames
tables and columns of either plugin and widens their Integer keys; foreign keys and
ManyToMany fields go within a plugin and from ``app`` to ``lib`` (never back: the plugins would
depend on each other), so each ``makemigrations`` may
write one file per plugin, ``app``'s depending on ``lib``'s. After each step every row and value
is checked as there; at the end the schema equals a fresh database's built from the final
models, and the database goes back to a migration of ``lib`` (un-applying the ``app``
migrations that need it first) and forward, and back to zero and forward.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import types
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from test_property_histories import (
    SETTINGS,
    Col,
    Db,
    History,
    check_kept,
    insert_rows,
    mysql_databases,
    observe,
    postgres_databases,
    step,
    take_backfills,
)

from umbral import Model, fields, hookimpl
from umbral.app import App
from umbral.errors import CannotSquash
from umbral.naming import snake_case


@dataclass
class Plugins(History):
    #: The plugin of each model (``app`` unless ``lib``).
    plugin_of: dict[str, str] = field(default_factory=dict)


#: The action that makes two changes (from ``pick``) before one makemigrations.
TWO = 11


def change(h: Plugins, action: int, pick: int) -> None:
    """One change of ``step``; a new model goes to ``lib`` on an odd ``pick``, and a foreign
    key or a ManyToMany from ``lib`` to ``app`` is not made (one from ``app`` to ``lib`` is)."""
    if action == TWO:
        existed = set(h.models)
        start = {c.uid: c for m in h.models.values() for c in m.cols}
        change(h, pick % 11, pick // 11)
        # A second change to a column the first asked a backfill for would leave the value
        # nowhere to go (the column dropped, or given a default): it is not made. Nor one that
        # leaves a column renamed and changed otherwise too: makemigrations takes that for a
        # column dropped and another added (a rename is found by an unchanged definition).
        asked = {uid: _column(h, uid) for uid in h.backfills}
        kept = copy.deepcopy(h)
        change(h, (pick // 11) % 11, pick // 7 + 1)
        if any(_column(h, uid) != col for uid, col in asked.items()) or any(
            _renamed_and_changed(start[c.uid], c)
            for m in h.models.values()
            for c in m.cols
            if c.uid in start
        ):
            h.__dict__.update(kept.__dict__)
        for uid, (name, _) in list(h.backfills.items()):
            if name.partition(".")[0] not in existed:
                del h.backfills[uid]  # a table made in this step has no rows to fill
            elif start.get(uid) == _column(h, uid):
                del h.backfills[uid]  # made NOT NULL again as it was: no change to fill
        return
    before = set(h.models)
    step(h, action, pick)
    for name in set(h.models) - before:
        if pick % 2:
            h.plugin_of[name] = "lib"
            h.models[name].table = "lib_" + snake_case(name)  # the name its plugin gives it
    for m in h.models.values():
        if h.plugin_of.get(m.name) == "lib":
            m.cols = [c for c in m.cols if c.fk is None or h.plugin_of.get(c.fk) == "lib"]
            m.m2m = [r for r in m.m2m if h.plugin_of.get(r.target) == "lib"]
    for gone in set(h.plugin_of) - set(h.models):
        del h.plugin_of[gone]


#: The action that squashes `lib`'s migrations from one ``pick`` chooses to its last.
SQUASH = 12


def squash_lib(root: Path, h: Plugins, url: str, pick: int) -> None:
    """Squash `lib`'s migrations and migrate (the squash is recorded without SQL: its originals
    ran); where squashmigrations refuses (fewer than two, a second squash, a table the range
    renames under an `app` migration), only the migrate runs."""
    names = sorted(p.stem for p in (root / "migrations" / "lib").glob("*.json"))
    with contextlib.suppress(CannotSquash):
        make_app(root, h, url).squashmigrations(
            "lib", start=names[pick % len(names)] if names else None
        )
    make_app(root, h, url).migrate()


def _renamed_and_changed(before: Col, after: Col) -> bool:
    return before.name != after.name and replace(before, name=after.name) != after


def _column(h: Plugins, uid: str) -> object:
    return next((c for m in h.models.values() for c in m.cols if c.uid == uid), None)


def make_app(root: Path, h: Plugins, url: str) -> App:
    built: dict[str, list[type]] = {"app": [], "lib": []}
    for m in h.models.values():
        plugin = h.plugin_of.get(m.name, "app")
        attrs: dict[str, object] = {"__module__": __name__}
        if m.key != "BigInt" or m.key_name != "id":  # an Integer key widened later, or renamed
            attrs[m.key_name] = getattr(fields, m.key)(primary_key=True)
        for c in m.cols:
            if c.fk:
                target = c.fk if h.plugin_of.get(c.fk, "app") == plugin else f"lib.{c.fk}"
                attrs[c.name] = fields.ForeignKey(target, nullable=True, on_delete="set_null")
            else:
                cls = getattr(fields, c.type)
                attrs[c.name] = cls(nullable=c.nullable, default=c.default, index=c.index)
        for r in m.m2m:
            target = r.target if h.plugin_of.get(r.target, "app") == plugin else f"lib.{r.target}"
            attrs[r.field] = fields.ManyToMany(target)
        kw: dict[str, str] = {"plugin": "lib"} if plugin == "lib" else {}
        if m.table:
            kw["table"] = m.table
        built[plugin].append(type(m.name, (Model,), attrs, **kw))
    lib = types.ModuleType("umbral_property_lib")
    lib_models = built["lib"]
    lib.umbral_models = hookimpl(lambda: list(lib_models))  # type: ignore[attr-defined]
    return App(
        models=built["app"], database=url, plugins=["lib"], plugin_modules={"lib": lib}, root=root
    )


def run_plugins(
    history: list[tuple[int, int]], roots: Callable[[], Path], urls: Callable[[Path], str]
) -> None:
    root = roots()
    url = urls(root)
    db = Db(url)
    h = Plugins()
    for action, pick in history:
        if action == SQUASH:
            squash_lib(root, h, url, pick)
            continue
        before = observe(db, h)
        change(h, action, pick)
        filled = take_backfills(h)
        app = make_app(root, h, url)
        app.makemigrations(backfills=dict(filled.values()))
        app.migrate(allow_destructive=True)
        check_kept(db, h, before, filled, history)
        insert_rows(db, h)
        assert not make_app(root, h, url).makemigrations(dry_run=True).changes, history

    final = db.schema()
    # The same files on an empty database: the schema is built from the snapshots where they
    # cover the plan (the fast path), and is the same.
    twin_root = roots()
    if (root / "migrations").exists():
        shutil.copytree(root / "migrations", twin_root / "migrations")
    twin = Db(urls(twin_root))
    make_app(twin_root, h, twin.url).migrate(allow_destructive=True)
    assert twin.schema() == final, history
    fresh_root = roots()
    fresh = Db(urls(fresh_root))
    app = make_app(fresh_root, h, fresh.url)
    app.makemigrations()
    app.migrate()
    assert fresh.schema() == final, history

    # Emptied first, as the single-plugin test does where a way back may meet a value the
    # older column cannot take (a backfill, a cast to Text on PostgreSQL).
    if not db.sqlite or h.backfilled:
        db.execute(*(f'DELETE FROM "{t}"' for t in sorted(db.tables())))
    libs = sorted(p.stem for p in (root / "migrations" / "lib").glob("*.json"))
    if libs:
        target = f"lib/{libs[history[-1][1] % len(libs)]}"
        back = make_app(root, h, url)
        back.migrate(target, allow_destructive=True, allow_irreversible=True)
        back.migrate(allow_destructive=True)
        assert db.schema() == final, (target, history)
    for plugin in ("app", "lib"):
        if not any((root / "migrations" / plugin).glob("*.json")):
            continue  # a plugin without models has no migrations to un-apply
        make_app(root, h, url).migrate(
            f"{plugin}/zero", allow_destructive=True, allow_irreversible=True
        )
    assert db.tables() == set(), history
    make_app(root, h, url).migrate(allow_destructive=True)
    assert db.schema() == final, history


HISTORIES = st.lists(
    st.tuples(st.integers(0, SQUASH), st.integers(0, 1000)), min_size=1, max_size=7
)
#: A `lib` table, an `app` table with a foreign key to it, then the `lib` table renamed (the
#: key follows) and a column added to it; the way back un-applies `app`'s migration first.
ACROSS = [(0, 1), (0, 0), (9, 1), (2, 2), (3, 2)]
#: The same, with a change to another column of the `app` table between the foreign key and
#: the rename: its SQLite rebuild re-makes the foreign key under the name `lib` gave the table
#: then, so it too runs before the rename (it depends on no `lib` migration itself).
REBUILT_BEFORE_RENAME = [(0, 1), (0, 0), (3, 1), (9, 1), (6, 3), (2, 2)]
#: A `lib` table, an `app` table with a foreign key to it, then the `lib` table dropped with
#: that key: `lib`'s drop must wait for `app`'s migration that drops the key.
DROPPED_WITH_ITS_KEYS = [(0, 1), (0, 0), (9, 1), (1, 0)]
#: Two `lib` tables and an `app` table with a foreign key to the first; then at once the first
#: dropped with that key and a key to the second added: `app`'s migration pointed at `lib`'s
#: latest, the drop, which must wait for `app`'s; it now depends on `lib`'s migration before.
REPLACED_IN_ONE_RUN = [(0, 1), (0, 3), (0, 0), (9, 2), (TWO, 100)]
#: A `lib` table with a column added, an `app` foreign key to it, the `lib` table renamed, and
#: `lib` squashed from its first migration: a replay would make the foreign key after the
#: squash, to the old name, so the squash is refused.
#: An `app` table with a foreign key to a `lib` table, then at once the `lib` table renamed and
#: another column of the `app` table cast, which SQLite does by rebuilding the table: the
#: rebuild's key must name the table as `lib` renamed it in the same run.
RENAMED_BESIDE_A_REBUILD = [(0, 1), (0, 0), (9, 1), (3, 1), (TWO, 200)]
#: A NOT NULL column made nullable, then NOT NULL again with a backfill, in one step: no
#: change, so no backfill to give (makemigrations refuses one for no column).
BACKFILL_UNDONE = [(0, 0), (3, 3), (TWO, 435)]
SQUASHED_UNDER_A_KEY = [(0, 1), (3, 1), (0, 0), (9, 1), (2, 2), (SQUASH, 0)]
#: A `lib` table with an Integer key, an `app` foreign key to it, the key widened; the way back
#: to `lib`'s first migration narrows the key under `app`'s key column (MariaDB refused the
#: foreign key between two integer types, errno 150, and left the migration half-applied).
KEY_WIDENED_ACROSS = [(0, 7), (0, 0), (9, 1), (7, 2)]
#: The same with a ManyToMany from `app` to `lib`: the junction in `app`'s plugin follows the
#: key `lib` widens (PostgreSQL kept an INTEGER column), and every link is kept.
M2M_KEY_WIDENED_ACROSS = [(0, 7), (0, 0), (9, 13), (7, 2)]


@SETTINGS
@given(HISTORIES)
@example(history=ACROSS)
@example(history=REBUILT_BEFORE_RENAME)
@example(history=DROPPED_WITH_ITS_KEYS)
@example(history=REPLACED_IN_ONE_RUN)
@example(history=SQUASHED_UNDER_A_KEY)
@example(history=RENAMED_BESIDE_A_REBUILD)
@example(history=BACKFILL_UNDONE)
@example(history=KEY_WIDENED_ACROSS)
@example(history=M2M_KEY_WIDENED_ACROSS)
def test_histories_across_plugins_keep_every_row(tmp_path_factory, history) -> None:
    run_plugins(
        history,
        lambda: tmp_path_factory.mktemp("plug"),
        lambda root: f"sqlite:///{root / 'db.sqlite3'}",
    )


@pytest.mark.postgres
@SETTINGS
@given(HISTORIES)
@example(history=ACROSS)
@example(history=REBUILT_BEFORE_RENAME)
@example(history=DROPPED_WITH_ITS_KEYS)
@example(history=REPLACED_IN_ONE_RUN)
@example(history=SQUASHED_UNDER_A_KEY)
@example(history=RENAMED_BESIDE_A_REBUILD)
@example(history=BACKFILL_UNDONE)
@example(history=KEY_WIDENED_ACROSS)
@example(history=M2M_KEY_WIDENED_ACROSS)
def test_histories_across_plugins_keep_every_row_on_postgres(
    tmp_path_factory, postgres_admin, history
) -> None:
    with postgres_databases(postgres_admin, "umbral_pp") as database:
        run_plugins(history, lambda: tmp_path_factory.mktemp("plug"), database)


@pytest.mark.mysql
@SETTINGS
@given(HISTORIES)
@example(history=ACROSS)
@example(history=REBUILT_BEFORE_RENAME)
@example(history=DROPPED_WITH_ITS_KEYS)
@example(history=REPLACED_IN_ONE_RUN)
@example(history=SQUASHED_UNDER_A_KEY)
@example(history=RENAMED_BESIDE_A_REBUILD)
@example(history=BACKFILL_UNDONE)
@example(history=KEY_WIDENED_ACROSS)
@example(history=M2M_KEY_WIDENED_ACROSS)
def test_histories_across_plugins_keep_every_row_on_mysql(
    tmp_path_factory, mysql_admin, history
) -> None:
    with mysql_databases(mysql_admin, "umbral_pp") as database:
        run_plugins(history, lambda: tmp_path_factory.mktemp("plug"), database)
