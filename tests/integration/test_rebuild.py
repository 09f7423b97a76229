"""A SQLite table rebuild keeps every row, index, constraint and foreign key (SPEC §6).

A populated table with every column type, NULLs, unicode, large text and blobs, a composite
unique constraint, plain indexes, an outbound FK and an inbound FK from a populated child table is
altered through the real CLI; every row must come back byte-identical and every constraint must
still bite.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import Project, execute, rows, sqlite_path

MODELS = """
class Owner(Model):
    name = fields.Text()

class Item(Model, unique_together=[("code", "revision")], indexes=[("kind", "score")]):
    code = fields.Text(max_length=20)
    revision = fields.Integer()
    kind = fields.Text(nullable=True, index=True)
    small = fields.SmallInt(nullable=True)
    score = fields.Integer(nullable=True)
    big = fields.BigInt(nullable=True)
    ratio = fields.Real(nullable=True)
    precise = fields.Double(nullable=True)
    flag = fields.Boolean(nullable=True)
    body = fields.Text(nullable=True)
    born = fields.Date(nullable=True)
    at = fields.Time(nullable=True)
    seen = fields.Timestamp(nullable=True)
    seen_tz = fields.Timestamptz(nullable=True)
    token = fields.Uuid(nullable=True)
    meta = fields.Json(nullable=True)
    blob = fields.Bytes(nullable=True)
    price = fields.Decimal(nullable=True)
    owner = fields.ForeignKey(Owner, nullable=True, on_delete="cascade")
    note = fields.Text(default="", help="free text")

class Part(Model):
    item = fields.ForeignKey(Item, on_delete="cascade")
    label = fields.Text()
"""

N_ROWS = 3000
SCORE = "score = fields.Integer(nullable=True)"
SCORE_BIG = "score = fields.BigInt(nullable=True)"


def _edit(*replacements: tuple[str, str]) -> str:
    text = MODELS
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return text


def _populate(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executemany(
        "INSERT INTO owner (id, name) VALUES (?, ?)", [(i, f"o{i}") for i in range(1, 51)]
    )
    rows = []
    for i in range(1, N_ROWS + 1):
        null = i % 7 == 0
        rows.append(
            (
                i,
                f"c{i % 500}",
                i // 500,
                None if null else f"kind-{i % 3}",
                None if null else i % 100,
                None if null else i * 3,
                None if null else i * 10**12,
                None if null else i / 7,
                None if null else i / 3.0,
                None if null else i % 2,
                None if null else ("ünïcødé ✓ " * (i % 5)) + ("x" * (100_000 if i == 1 else 0)),
                None if null else "2024-01-02",
                None if null else "12:34:56",
                None if null else "2024-01-02 03:04:05",
                None if null else "2024-01-02T03:04:05+00:00",
                None if null else f"{i:032x}",
                None if null else '{"k": [1, 2, "ß"]}',
                None if null else bytes(range(256)) * (1 + i % 3),
                None if null else "12.50",
                None if null else 1 + i % 50,
                f"note {i}",
            )
        )
    conn.executemany(
        "INSERT INTO item (id, code, revision, kind, small, score, big, ratio, precise, flag, body,"
        " born, at, seen, seen_tz, token, meta, blob, price, owner, note) VALUES"
        " (" + ", ".join("?" * 21) + ")",
        rows,
    )
    conn.executemany(
        "INSERT INTO part (item, label) VALUES (?, ?)",
        [(1 + i % N_ROWS, f"p{i}") for i in range(5000)],
    )
    conn.commit()
    conn.close()


def _dump(path: str) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in ("owner", "item", "part"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            # typeof() too: "byte-identical" includes the storage class of every value.
            select = ", ".join(f'"{c}", typeof("{c}")' for c in cols)
            out[table] = conn.execute(f"SELECT {select} FROM {table} ORDER BY id").fetchall()
        return out
    finally:
        conn.close()


def _indexes(path: str) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall())  # fmt: skip
    finally:
        conn.close()


def _add_audit_trigger(path: str, *more: str) -> None:
    """A hand-made trigger on `item` that records updated ids in `audit` (plus ``more`` SQL)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE audit (item_id INTEGER)")
    conn.execute(
        "CREATE TRIGGER item_audit AFTER UPDATE ON item "
        "BEGIN INSERT INTO audit VALUES (new.id); END"
    )
    for sql in more:
        conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.fixture
def populated(project: Project) -> Project:
    project.models(MODELS)
    assert project.run("makemigrations").code == 0
    assert project.run("migrate").code == 0
    _populate(sqlite_path(project.database))
    return project


def test_alter_column_keeps_every_row_index_and_constraint(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    before, indexes_before = _dump(path), _indexes(path)

    # Three alterations of `item` in one migration: a safe cast, a loosening and a widening.
    p.models(
        _edit(
            (SCORE, SCORE_BIG),
            ('note = fields.Text(default=""', 'note = fields.Text(nullable=True, default=""'),
            ("code = fields.Text(max_length=20)", "code = fields.Text(max_length=40)"),
        )
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0002_auto.json"]
    ops = [op["kind"] for op in p.load_migration("app", "0002_auto.json")["operations"]]
    assert ops == ["AlterColumn", "AlterColumn", "AlterColumn"]
    r = p.run("migrate")
    assert r.code == 0, r

    after = _dump(path)
    assert after["owner"] == before["owner"]
    assert after["part"] == before["part"]
    assert after["item"] == before["item"]
    assert _indexes(path) == indexes_before

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    cols = {r[1]: r for r in conn.execute("PRAGMA table_info(item)")}
    assert cols["score"][2] == "BIGINT" and cols["code"][2] == "VARCHAR(40)"
    assert cols["note"][3] == 0  # now nullable
    # unique_together still bites
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO item (code, revision) VALUES ('c1', 0)")
    # outbound FK still bites
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO item (code, revision, owner) VALUES ('new', 99, 999999)")
    # inbound FK still bites, and still cascades
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO part (item, label) VALUES (999999, 'dangling')")
    conn.execute("DELETE FROM item WHERE id = 1")
    assert conn.execute("SELECT count(*) FROM part WHERE item = 1").fetchone() == (0,)
    conn.rollback()
    conn.close()


def test_alter_add_and_drop_in_one_migration(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    before = _dump(path)
    p.models(
        _edit(
            (SCORE, SCORE_BIG),
            ("    big = fields.BigInt(nullable=True)\n", ""),
            (
                "    owner = fields.ForeignKey",
                "    added = fields.Text(default='new')\n    owner = fields.ForeignKey",
            ),
        )
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    ops = [op["kind"] for op in p.load_migration("app", "0002_auto.json")["operations"]]
    assert ops == ["AlterColumn", "DropColumn", "AddColumn"]
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    conn = sqlite3.connect(path)
    got = conn.execute("SELECT id, score, added FROM item ORDER BY id").fetchall()
    want = [(row[0], row[10], "new") for row in before["item"]]  # id, score
    assert got == want
    assert conn.execute("SELECT count(*) FROM part").fetchone() == (5000,)
    conn.close()


def test_tightening_with_default_backfills_nulls(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    p.models(
        MODELS.replace(
            "kind = fields.Text(nullable=True, index=True)",
            "kind = fields.Text(default='none', index=True)",
        )
    )
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM item WHERE kind IS NULL").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM item WHERE kind = 'none'").fetchone() == (
        N_ROWS // 7,
    )
    assert conn.execute("SELECT count(*) FROM item").fetchone() == (N_ROWS,)
    conn.close()


@pytest.mark.parametrize("emptied", [False, True])
def test_rebuild_keeps_the_autoincrement_counter(project: Project, emptied: bool) -> None:
    # AUTOINCREMENT promises that an id is never used twice, even after its row is deleted:
    # the counter lives in sqlite_sequence, which a rebuild must carry to the new table.
    p = project
    path = sqlite_path(p.database)
    p.models("class Item(Model):\n    qty = fields.Integer()\n")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO item (qty) VALUES (?)", [(i,) for i in range(1, 6)])
    conn.execute("DELETE FROM item WHERE id >= 4" if not emptied else "DELETE FROM item")
    conn.commit()
    conn.close()
    p.models("class Item(Model):\n    qty = fields.Text()\n")  # another affinity: a rebuild
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'item'").fetchall() == [(5,)]
    assert conn.execute("SELECT count(*) FROM sqlite_sequence").fetchone() == (1,)
    conn.execute("INSERT INTO item (qty) VALUES ('new')")
    assert conn.execute("SELECT id FROM item WHERE qty = 'new'").fetchone() == (6,)
    conn.close()


def _index_sql(path: str) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(
            conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            ).fetchall()
        )
    finally:
        conn.close()


HAND_MADE_INDEXES = (
    "CREATE INDEX item_lower_kind ON item (lower(kind)) WHERE score > 10",
    "CREATE UNIQUE INDEX item_body_unique ON item (code, revision, kind)",
    'CREATE INDEX "idx_item_code" ON item (code, small)',  # umbral's name, other columns
)


@pytest.mark.parametrize("change", ["rebuild", "in place"])
def test_a_rebuild_keeps_indexes_made_outside_the_models(populated: Project, change: str) -> None:
    # Indexes created by hand or by RunSql are not in the models; DROP TABLE takes them with
    # it, so the rebuild puts them back as they were (a unique one is a constraint).
    p = populated
    path = sqlite_path(p.database)
    conn = sqlite3.connect(path)
    for sql in HAND_MADE_INDEXES:
        conn.execute(sql)
    conn.commit()
    conn.close()
    before = _index_sql(path)
    p.models(
        _edit(
            (SCORE, SCORE_BIG)
            if change == "in place"
            else (SCORE, "score = fields.Integer(default=0)")
        )
    )
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert _index_sql(path) == before
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):  # the hand-made unique index still bites
        conn.execute(
            "INSERT INTO item (code, revision, kind) SELECT code, revision, kind FROM item "
            "WHERE kind IS NOT NULL LIMIT 1"
        )
    conn.close()


def test_an_index_the_migration_drops_is_not_brought_back(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    conn = sqlite3.connect(path)
    conn.execute(HAND_MADE_INDEXES[0])
    conn.commit()
    conn.close()
    p.models(_edit((SCORE, "score = fields.Integer(default=0)")))
    assert p.run("makemigrations").code == 0
    (migration,) = (p.root / "migrations" / "app").glob("0002_*.json")
    data = json.loads(migration.read_text())
    data["operations"].insert(0, {"kind": "RunSql", "sql": "DROP INDEX item_lower_kind"})
    migration.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    r = p.run("migrate")
    assert r.code == 0, r
    assert "item_lower_kind" not in _index_sql(path)


def _trigger_sql(path: str) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    finally:
        conn.close()


AUDIT_INSERTS = (
    "CREATE TRIGGER item_audit_insert AFTER INSERT ON item "
    "BEGIN INSERT INTO audit VALUES (-new.id); END"
)


@pytest.mark.parametrize("where", ["before", "after"])
def test_triggers_and_indexes_changed_in_the_same_migration_as_a_rebuild(
    populated: Project, where: str
) -> None:
    """The rebuild keeps what the table has when it is dropped: a RunSql of the same migration
    may create, drop or replace a trigger or an index before the rebuild or after it."""
    p = populated
    path = sqlite_path(p.database)
    _add_audit_trigger(path, HAND_MADE_INDEXES[0], HAND_MADE_INDEXES[1])
    p.models(_edit((SCORE, "score = fields.Integer(default=0)")))
    assert p.run("makemigrations").code == 0
    (migration,) = (p.root / "migrations" / "app").glob("0002_*.json")
    data = json.loads(migration.read_text())
    run_sql = {
        "kind": "RunSql",
        "sql": "DROP TRIGGER item_audit; "
        # replaced: the updated id, negated
        "CREATE TRIGGER item_audit AFTER UPDATE ON item BEGIN INSERT INTO audit VALUES "
        "(new.id * 10); END; "
        f"{AUDIT_INSERTS}; "  # created
        "DROP INDEX item_lower_kind; "  # dropped
        "CREATE INDEX item_kind_score ON item (kind, score DESC)",  # created
    }
    if where == "before":
        data["operations"].insert(0, run_sql)
    else:
        data["operations"].append(run_sql)
    migration.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    before = _dump(path)

    r = p.run("migrate")

    assert r.code == 0, r
    assert sorted(_trigger_sql(path)) == ["item_audit", "item_audit_insert"]
    assert "new.id * 10" in _trigger_sql(path)["item_audit"]
    indexes = _index_sql(path)
    assert "item_lower_kind" not in indexes
    assert indexes["item_kind_score"] == "CREATE INDEX item_kind_score ON item (kind, score DESC)"
    assert indexes["item_body_unique"] == HAND_MADE_INDEXES[1]
    dumped = _dump(path)
    assert dumped["owner"] == before["owner"] and dumped["part"] == before["part"]
    assert len(dumped["item"]) == len(before["item"])
    conn = sqlite3.connect(path)
    conn.execute("UPDATE item SET score = 1 WHERE id = 2")
    conn.execute("INSERT INTO item (code, revision) VALUES ('new', 1)")
    new_id = conn.execute("SELECT max(id) FROM item").fetchone()[0]
    assert conn.execute("SELECT item_id FROM audit").fetchall() == [(20,), (-new_id,)]
    conn.close()


def _drop_owner_beside(p: Project, hand_made: str) -> str:
    """Create ``hand_made`` on the populated database, then remove the FK field `owner` from
    the models (dropping that column rebuilds `item`) and write the migration."""
    path = sqlite_path(p.database)
    conn = sqlite3.connect(path)
    conn.execute(hand_made)
    conn.commit()
    conn.close()
    p.models(
        _edit(('    owner = fields.ForeignKey(Owner, nullable=True, on_delete="cascade")\n', ""))
    )
    assert p.run("makemigrations").code == 0
    return path


def test_a_removed_column_takes_the_hand_made_indexes_that_use_it(populated: Project) -> None:
    # As on PostgreSQL: dropping a column drops the indexes that use it, the others stay.
    p = populated
    path = _drop_owner_beside(p, "CREATE INDEX item_owner_code ON item (owner, code)")
    conn = sqlite3.connect(path)
    conn.execute("CREATE INDEX item_owned ON item (code) WHERE owner IS NOT NULL")
    conn.execute(HAND_MADE_INDEXES[1])
    conn.commit()
    conn.close()
    before = _dump(path)

    r = p.run("migrate", "--allow-destructive")

    assert r.code == 0, r
    indexes = _index_sql(path)
    assert "item_owner_code" not in indexes and "item_owned" not in indexes
    assert indexes["item_body_unique"] == HAND_MADE_INDEXES[1]
    after = _dump(path)
    assert len(after["item"]) == len(before["item"])
    assert after["part"] == before["part"]


@pytest.mark.parametrize("on", ["item", "part"])
def test_a_trigger_the_rebuild_would_break_stops_it(populated: Project, on: str) -> None:
    """SQLite accepts a trigger naming a column that is gone, then fails every write that fires
    it: a rebuild that would leave one so (on the table or on another) is refused."""
    p = populated
    trigger = {
        "item": "CREATE TRIGGER item_audit AFTER UPDATE ON item "
        "BEGIN INSERT INTO audit VALUES (new.owner); END",
        "part": "CREATE TRIGGER part_claims AFTER INSERT ON part "
        "BEGIN UPDATE item SET owner = NULL WHERE id = new.item; END",
    }[on]
    path = _drop_owner_beside(p, "CREATE TABLE audit (item_id INTEGER)")
    conn = sqlite3.connect(path)
    conn.execute(trigger)
    conn.commit()
    conn.close()
    before, indexes = _dump(path), _index_sql(path)

    r = p.run("migrate", "--allow-destructive")

    assert r.code == 1, r
    name, column = ("item_audit", "new.owner") if on == "item" else ("part_claims", "owner")
    assert r.err_lines[0] == (
        "error: umbral migrate: migration app/0002_drop_item_owner failed and was rolled back: "
        f"the rebuild of `item` would break trigger `{name}` (no such column: {column}); drop "
        "or change the trigger in the same migration, before the change"
    ), r
    assert _dump(path) == before and _index_sql(path) == indexes


def test_rebuild_keeps_triggers_and_views(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    _add_audit_trigger(path, "CREATE VIEW item_codes AS SELECT id, code FROM item")
    p.models(
        MODELS.replace(
            "score = fields.Integer(nullable=True)", "score = fields.BigInt(nullable=True)"
        )
    )
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    conn = sqlite3.connect(path)
    conn.execute("UPDATE item SET score = 1 WHERE id = 2")
    assert conn.execute("SELECT item_id FROM audit").fetchall() == [(2,)]
    assert conn.execute("SELECT count(*) FROM item_codes").fetchone() == (N_ROWS,)
    conn.close()


def test_rebuild_that_would_break_a_view_is_refused(populated: Project) -> None:
    p = populated
    # Dropping the FK column `owner` rebuilds `item`; the hand-made view reads it.
    path = _drop_owner_beside(p, "CREATE VIEW item_owner AS SELECT id, owner FROM item")
    before = _dump(path)
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 1, r
    assert "item_owner" in r.stderr and "0002_drop_item_owner" in r.stderr
    assert _dump(path) == before  # rolled back: nothing changed


def _rootpage(path: str, table: str) -> int:
    """Where the table's rows live: a rebuild moves them, an in-place edit does not."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()[0]
    finally:
        conn.close()


def test_a_unique_column_of_a_table_umbral_made_is_dropped_in_place(project: Project) -> None:
    p = project
    p.models(
        """
        class Book(Model, unique_together=[("shelf", "slot")]):
            isbn = fields.Text(unique=True)
            shelf = fields.Integer()
            slot = fields.Integer()
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    path = sqlite_path(p.database)
    execute(p.database, "INSERT INTO book (isbn, shelf, slot) VALUES ('1', 1, 1), ('2', 1, 2)")
    rootpage = _rootpage(path, "book")
    p.models(
        """
        class Book(Model):
            shelf = fields.Integer()
        """
    )
    assert p.run("makemigrations").code == 0

    r = p.run("migrate", "--allow-destructive")

    assert r.code == 0, r
    assert _rootpage(path, "book") == rootpage  # ALTER TABLE DROP COLUMN, no rebuild
    assert rows(p.database, "SELECT id, shelf FROM book ORDER BY id") == [(1, 1), (2, 1)]
    assert _index_sql(path) == {}


REVISION = "revision = fields.Integer()"
REVISION_NULL = "revision = fields.Integer(nullable=True)"
NOTE = 'note = fields.Text(default="", help="free text")\n'
ADDED = "    added = fields.Text(nullable=True)\n"  # last: ALTER TABLE ADD COLUMN appends


def test_dropping_not_null_edits_the_definition_in_place(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    # First a column added with ALTER TABLE (SQLite appends it to the stored text), then the
    # NOT NULL dropped: both pending, applied by one `migrate`.
    p.models(_edit((NOTE, NOTE + ADDED)))
    assert p.run("makemigrations", "--name", "add_added").code == 0
    p.models(_edit((NOTE, NOTE + ADDED), (REVISION, REVISION_NULL)))
    assert p.run("makemigrations", "--name", "revision_null").code == 0
    ops = [op["kind"] for op in p.load_migration("app", "0003_revision_null.json")["operations"]]
    assert ops == ["AlterColumn"]
    # sqlmigrate shows the rebuild: what runs when the table is not as the migrations made it.
    shown = p.run("sqlmigrate", "app/0003_revision_null")
    assert 'INSERT INTO "_umbral_new_item"' in shown.stdout
    before, indexes_before = _dump(path), _indexes(path)
    rootpage = _rootpage(path, "item")
    # The application's connection, open across the migration with the old schema loaded.
    early = sqlite3.connect(path)
    assert early.execute("SELECT count(*) FROM item").fetchone() == (N_ROWS,)

    r = p.run("migrate")
    assert r.code == 0, r

    assert _rootpage(path, "item") == rootpage  # no row was copied
    # It re-reads the schema (schema_version moved) and sees the new definition.
    early.execute("INSERT INTO item (code, revision) VALUES ('early', NULL)")
    early.rollback()
    early.close()
    after = _dump(path)
    assert after["owner"] == before["owner"] and after["part"] == before["part"]
    # Every row, value and storage class; the added column (last) is NULL everywhere.
    assert [row[:-2] for row in after["item"]] == before["item"]
    assert {row[-2:] for row in after["item"]} == {(None, "null")}
    assert _indexes(path) == indexes_before
    conn = sqlite3.connect(path)  # a connection that never saw the old definition
    conn.execute("PRAGMA foreign_keys = ON")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    cols = {r[1]: r for r in conn.execute("PRAGMA table_info(item)")}
    assert cols["revision"][3] == 0 and cols["code"][3] == 1 and "added" in cols
    conn.execute("INSERT INTO item (code, revision) VALUES ('new', NULL)")
    with pytest.raises(sqlite3.IntegrityError):  # unique_together still bites
        conn.execute("INSERT INTO item (code, revision) VALUES ('c1', 0)")
    with pytest.raises(sqlite3.IntegrityError):  # the other NOT NULLs too
        conn.execute("INSERT INTO item (code, revision) VALUES (NULL, 1)")
    with pytest.raises(sqlite3.IntegrityError):  # inbound FK still bites, and cascades
        conn.execute("INSERT INTO part (item, label) VALUES (999999, 'dangling')")
    conn.execute("DELETE FROM item WHERE id = 1")
    assert conn.execute("SELECT count(*) FROM part WHERE item = 1").fetchone() == (0,)
    conn.rollback()
    conn.close()
    assert p.run("makemigrations", "--check").code == 0


@pytest.mark.parametrize(
    "size", ["fields.Integer(nullable=True)", "fields.BigInt()"], ids=["drop-not-null", "retype"]
)
def test_a_table_not_laid_out_as_the_migrations_made_it_is_rebuilt(
    project: Project, size: str
) -> None:
    # The stored definition decides: here the table was created by hand with its columns in
    # another order, so editing the text or copying with SELECT * would re-label the values;
    # the rebuild copies by name.
    p = project
    path = sqlite_path(p.database)
    p.models("class Thing(Model):\n    name = fields.Text()\n    size = fields.Integer()\n")
    assert p.run("makemigrations").code == 0
    (initial,) = p.migration_files()
    conn = sqlite3.connect(path)
    conn.execute(
        'CREATE TABLE "thing" ("size" INTEGER NOT NULL, '
        '"id" INTEGER PRIMARY KEY AUTOINCREMENT, "name" TEXT NOT NULL)'
    )
    conn.executemany(
        "INSERT INTO thing (id, name, size) VALUES (?, ?, ?)",
        [(i, f"n{i}", i * 10) for i in range(1, 201)],
    )
    conn.commit()
    conn.close()
    assert p.run("migrate", "--fake", f"app/{initial.removesuffix('.json')}").code == 0
    rootpage = _rootpage(path, "thing")
    p.models(f"class Thing(Model):\n    name = fields.Text()\n    size = {size}\n")
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert _rootpage(path, "thing") != rootpage
    conn = sqlite3.connect(path)
    got = conn.execute("SELECT id, name, size FROM thing ORDER BY id").fetchall()
    assert got == [(i, f"n{i}", i * 10) for i in range(1, 201)]
    size_column = {r[1]: r for r in conn.execute("PRAGMA table_info(thing)")}["size"]
    assert size_column[2:4] == (("INTEGER", 0) if "nullable" in size else ("BIGINT", 1))
    conn.close()


def test_a_table_with_triggers_is_rebuilt_and_keeps_them(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    _add_audit_trigger(path)
    rootpage = _rootpage(path, "item")
    before = _dump(path)
    p.models(_edit((REVISION, REVISION_NULL)))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert _rootpage(path, "item") != rootpage
    assert _dump(path) == before
    conn = sqlite3.connect(path)
    conn.execute("UPDATE item SET revision = NULL WHERE id = 2")
    assert conn.execute("SELECT item_id FROM audit").fetchall() == [(2,)]
    conn.close()


def test_an_in_place_edit_rolls_back_with_its_migration(populated: Project) -> None:
    p = populated
    path = sqlite_path(p.database)
    p.models(_edit((REVISION, REVISION_NULL)))
    assert p.run("makemigrations", "--name", "revision_null").code == 0
    file = p.root / "migrations" / "app" / "0002_revision_null.json"
    data = json.loads(file.read_text())
    good = json.dumps(data, indent=2)
    data["operations"].append({"kind": "RunSql", "sql": "INSERT INTO no_such_table VALUES (1)"})
    file.write_text(json.dumps(data, indent=2))
    conn = sqlite3.connect(path)
    definition = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'item'").fetchone()
    conn.close()
    before = _dump(path)

    r = p.run("migrate")
    assert r.code == 1, r
    assert "app/0002_revision_null" in r.stderr and "no_such_table" in r.stderr

    conn = sqlite3.connect(path)
    assert (
        conn.execute("SELECT sql FROM sqlite_master WHERE name = 'item'").fetchone() == definition
    )
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO item (code, revision) VALUES ('new', NULL)")
    assert (
        conn.execute("SELECT name FROM umbral_migrations WHERE name LIKE '0002%'").fetchall() == []
    )
    conn.close()
    assert _dump(path) == before

    file.write_text(good)  # without the failing statement it applies, in place
    rootpage = _rootpage(path, "item")
    assert p.run("migrate").code == 0
    assert _rootpage(path, "item") == rootpage
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO item (code, revision) VALUES ('new', NULL)")
    conn.close()


PG_MODELS = """
class Owner(Model):
    name = fields.Text()

class Item(Model, unique_together=[("code", "revision")], indexes=[("kind", "score")]):
    code = fields.Text(max_length=20)
    revision = fields.Integer()
    kind = fields.Text(nullable=True, index=True)
    score = fields.Integer(nullable=True)
    flag = fields.Boolean(nullable=True)
    body = fields.Text(nullable=True)
    seen = fields.Timestamptz(nullable=True)
    meta = fields.Json(nullable=True)
    blob = fields.Bytes(nullable=True)
    owner = fields.ForeignKey(Owner, nullable=True, on_delete="cascade")
    note = fields.Text(default="")

class Part(Model):
    item = fields.ForeignKey(Item, on_delete="cascade")
    label = fields.Text()
"""


@pytest.mark.postgres
def test_postgres_alter_keeps_rows_indexes_and_constraints(tmp_path, postgres_url) -> None:
    from conftest import execute, rows, schema_of

    p = Project(tmp_path, postgres_url)
    p.write_config()
    p.models(PG_MODELS)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        postgres_url,
        "INSERT INTO owner (name) SELECT 'o' || i FROM generate_series(1, 50) i",
        "INSERT INTO item (code, revision, kind, score, flag, body, seen, meta, blob, owner, note)"
        " SELECT 'c' || (i % 500), i / 500, CASE WHEN i % 7 = 0 THEN NULL ELSE 'k' || (i % 3) END,"
        " CASE WHEN i % 7 = 0 THEN NULL ELSE i END, i % 2 = 0, repeat('ü✓', i % 50),"
        " timestamptz '2024-01-02 03:04:05+00' + i * interval '1 minute',"
        " jsonb_build_object('i', i), decode(md5(i::text), 'hex'), 1 + i % 50, 'n' || i"
        " FROM generate_series(1, 3000) i",
        "INSERT INTO part (item, label) SELECT 1 + i % 3000, 'p' || i"
        " FROM generate_series(1, 5000) i",
    )
    dump = "SELECT * FROM {} ORDER BY id"
    before = {t: rows(postgres_url, dump.format(t)) for t in ("owner", "item", "part")}
    schema_before = schema_of(postgres_url)

    edited = PG_MODELS
    for old, new in (
        (SCORE, SCORE_BIG),
        ('note = fields.Text(default="")', 'note = fields.Text(nullable=True, default="")'),
        ("code = fields.Text(max_length=20)", "code = fields.Text(max_length=40)"),
    ):
        edited = edited.replace(old, new)
    p.models(edited)
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r

    after = {t: rows(postgres_url, dump.format(t)) for t in ("owner", "item", "part")}
    assert after == before
    schema_after = schema_of(postgres_url)
    for table in ("owner", "part"):
        assert schema_after[table] == schema_before[table]
    assert schema_after["item"]["indexes"] == schema_before["item"]["indexes"]
    assert schema_after["item"]["fks"] == schema_before["item"]["fks"]
    cols = {c[0]: c for c in schema_after["item"]["columns"]}
    assert cols["score"][1] == "BIGINT" and cols["code"][1] == "VARCHAR(40)"
    assert cols["note"][2] is True
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO item (code, revision) VALUES ('c1', 0)")
        conn.rollback()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO part (item, label) VALUES (999999, 'dangling')")
        conn.rollback()
        conn.execute("DELETE FROM item WHERE id = 1")
        assert conn.execute("SELECT count(*) FROM part WHERE item = 1").fetchone() == (0,)
        conn.rollback()


def test_a_failure_inside_the_swap_names_its_own_statement(project: Project) -> None:
    """A rebuild's swap (drop, rename, the models' indexes) runs as one run-time step: a
    statement of it that fails is the one the error names, not the swap's first."""
    p = project
    p.models("class Person(Model):\n    email = fields.Text(nullable=True, unique=True)\n")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO person (email) VALUES ('a'), ('b')")
    p.models('class Person(Model):\n    email = fields.Text(unique=True, default="z")\n')
    assert p.run("makemigrations").code == 0
    name = p.migration_files()[-1]
    data = p.load_migration("app", name)
    # A data change in the same migration, before the change: both NULLs then get "z".
    data["operations"].insert(0, {"kind": "RunSql", "sql": "UPDATE person SET email = NULL"})
    (p.root / "migrations" / "app" / name).write_text(json.dumps(data, indent=2))
    r = p.run("migrate")
    assert r.code == 1, r
    assert "UNIQUE constraint failed: person.email" in r.err_lines[0], r
    create = 'CREATE UNIQUE INDEX "uniq_person_email" ON "person" ("email")'
    assert r.err_lines[1] == f"  statement: {create}", r
    assert rows(p.database, "SELECT email FROM person ORDER BY id") == [("a",), ("b",)]
