"""Reading stored SQLite table definitions, and what a rebuild carries from them
(``umbral_sqlite.tabledef``). Every carried definition is also created in a real SQLite
database, so a carried text that SQLite would not accept fails here."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from umbral_sqlite import tabledef

# What umbral renders for a table with columns id, name, qty, shelf_id (an FK in the models).
EXPECTED = (
    'CREATE TABLE "item" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "name" TEXT NOT NULL, '
    '"qty" INTEGER NOT NULL, "shelf_id" BIGINT REFERENCES "shelf" ("id"))'
)
NEW = (
    'CREATE TABLE "_umbral_new_item" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
    '"name" TEXT NOT NULL, "qty" BIGINT NOT NULL, "shelf_id" BIGINT REFERENCES "shelf" ("id"))'
)


def _created(sql: str) -> str:
    """Create ``sql`` (with the table it references) and return what SQLite stored."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE shelf (id INTEGER PRIMARY KEY, a INT, b INT, UNIQUE (a, b))")
        conn.execute(sql)
        name = tabledef.parse(sql).head.split()[-1].strip('"')
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


def test_parse_splits_columns_clauses_and_table_constraints() -> None:
    t = tabledef.parse(
        "CREATE TABLE [item] (\n"
        "  id INTEGER PRIMARY KEY ASC AUTOINCREMENT, -- the key, (with, commas)\n"
        "  `name` VARCHAR(10, 2) NOT NULL ON CONFLICT IGNORE COLLATE NOCASE DEFAULT 'a,b)',\n"
        "  qty INT CONSTRAINT qty_ok CHECK (qty IN (1, 2)) DEFAULT NULL,\n"
        "  owner INT REFERENCES shelf(id) ON DELETE SET NULL ON UPDATE SET DEFAULT "
        "NOT DEFERRABLE INITIALLY IMMEDIATE,\n"
        '  "we""ird" TEXT AS (upper(name)) STORED,\n'
        "  CONSTRAINT pair UNIQUE (name, qty), /* a comment */ CHECK (qty > 0)\n"
        ") WITHOUT ROWID, STRICT"
    )
    assert t.head == "CREATE TABLE [item]"
    assert t.options == "WITHOUT ROWID, STRICT"
    assert [c.name for c in t.columns] == ["id", "name", "qty", "owner", 'we"ird']
    kinds = {c.name: [(k.kind, k.label, k.body) for k in c.clauses] for c in t.columns}
    assert kinds == {
        "id": [("PRIMARY", "", "PRIMARY KEY ASC AUTOINCREMENT")],
        "name": [
            ("NOT NULL", "", "NOT NULL ON CONFLICT IGNORE"),
            ("COLLATE", "", "COLLATE NOCASE"),
            ("DEFAULT", "", "DEFAULT 'a,b)'"),
        ],
        "qty": [
            ("CHECK", "CONSTRAINT qty_ok", "CHECK (qty IN (1, 2))"),
            ("DEFAULT", "", "DEFAULT NULL"),
        ],
        "owner": [
            (
                "REFERENCES",
                "",
                "REFERENCES shelf(id) ON DELETE SET NULL ON UPDATE SET DEFAULT NOT DEFERRABLE "
                "INITIALLY IMMEDIATE",
            )
        ],
        'we"ird': [("GENERATED", "", "AS (upper(name)) STORED")],
    }
    assert [(k.kind, k.text) for k in t.constraints] == [
        ("UNIQUE", "CONSTRAINT pair UNIQUE (name, qty)"),
        ("CHECK", "CHECK (qty > 0)"),
    ]


def test_nothing_to_carry_for_a_table_as_umbral_writes_it() -> None:
    assert tabledef.carry(EXPECTED, EXPECTED, NEW) is None
    # Spelled differently (quoting, case, spacing) is still the same table.
    assert (
        tabledef.carry(
            "create table item (id integer primary key autoincrement, name text not null, "
            'qty integer not null, shelf_id bigint references shelf("id"))',
            EXPECTED,
            NEW,
        )
        is None
    )


def test_checks_collations_and_foreign_keys_are_carried() -> None:
    stored = (
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, "
        "qty INTEGER NOT NULL CONSTRAINT qty_ok CHECK (qty >= 0), "
        "shelf_id BIGINT REFERENCES shelf (id), "
        "CHECK (length(name) > 1), FOREIGN KEY (qty, shelf_id) REFERENCES shelf (a, b))"
    )
    out = tabledef.carry(stored, EXPECTED, NEW)
    assert out == (
        'CREATE TABLE "_umbral_new_item" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
        '"name" TEXT NOT NULL COLLATE NOCASE, "qty" BIGINT NOT NULL, '
        '"shelf_id" BIGINT REFERENCES "shelf" ("id"), CONSTRAINT qty_ok CHECK (qty >= 0), '
        "CHECK (length(name) > 1), FOREIGN KEY (qty, shelf_id) REFERENCES shelf (a, b))"
    )
    assert _created(out) == out


def test_a_foreign_key_the_models_keep_as_a_plain_column_is_carried() -> None:
    expected = EXPECTED.replace(' REFERENCES "shelf" ("id")', "")
    new = NEW.replace(' REFERENCES "shelf" ("id")', "")
    stored = expected.replace(
        '"shelf_id" BIGINT', '"shelf_id" BIGINT CONSTRAINT to_shelf REFERENCES shelf (id)'
    )
    out = tabledef.carry(stored, expected, new)
    assert out is not None
    assert out.endswith(
        '"shelf_id" BIGINT, CONSTRAINT to_shelf FOREIGN KEY ("shelf_id") REFERENCES shelf (id))'
    )
    assert _created(out) == out


@pytest.mark.parametrize(
    "foreign_key",
    [
        'shelf_id BIGINT, CONSTRAINT fk_item_shelf FOREIGN KEY ("shelf_id") REFERENCES shelf '
        "(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
        'shelf_id BIGINT REFERENCES "shelf" ("id") ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
    ],
    ids=["named table constraint", "inline"],
)
def test_a_foreign_key_the_models_give_the_column_is_theirs_and_keeps_its_deferral(
    foreign_key: str,
) -> None:
    """Written as another tool writes it, it is the models' foreign key: the new table has
    that one, with the models' actions (here ON DELETE SET NULL), once, deferred as before."""
    stored = (
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, "
        f"{foreign_key})"
    )
    new = NEW.replace('("id"))', '("id") ON DELETE SET NULL)')
    out = tabledef.carry(stored, EXPECTED, new)
    assert out == new.replace("SET NULL", "SET NULL DEFERRABLE INITIALLY DEFERRED")
    assert _created(out) == out
    # Without a deferral there is nothing to carry.
    plain = stored.replace(" DEFERRABLE INITIALLY DEFERRED", "")
    assert tabledef.carry(plain, EXPECTED, new) is None


def test_what_names_a_removed_column_goes_with_it() -> None:
    stored = EXPECTED.replace(
        'REFERENCES "shelf" ("id"))',
        'REFERENCES "shelf" ("id") CHECK (shelf_id > 0) COLLATE BINARY, '
        'CHECK ("shelf_id" IS NOT NULL OR qty = 0), CHECK (qty < 10), '
        "FOREIGN KEY (shelf_id, qty) REFERENCES shelf (a, b))",
    )
    new = NEW.replace(', "shelf_id" BIGINT REFERENCES "shelf" ("id")', "")
    out = tabledef.carry(stored, EXPECTED, new)
    assert out == new[:-1] + ", CHECK (qty < 10))"
    assert _created(out) == out


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (EXPECTED + " STRICT", "it is a STRICT table"),
        (EXPECTED + " without  rowid", "it is a WITHOUT ROWID table"),
        (
            EXPECTED[:-1] + ', "total" INT GENERATED ALWAYS AS (qty * 2) VIRTUAL)',
            "it has column(s) `total` that its models do not declare",
        ),
        (
            EXPECTED.replace('"qty" INTEGER NOT NULL', '"qty" INTEGER AS (id + 1)'),
            "generated column(s) `qty` cannot be copied",
        ),
    ],
)
def test_what_cannot_be_carried_is_refused(stored: str, message: str) -> None:
    with pytest.raises(tabledef.CannotCarry, match=message.replace("(", r"\(").replace(")", r"\)")):
        tabledef.carry(stored, EXPECTED, NEW)


def test_index_columns_are_what_the_index_uses_after_its_table() -> None:
    assert tabledef.index_columns('CREATE INDEX "title" ON "title" ("isbn")') == {"isbn"}
    used = tabledef.index_columns(
        "CREATE UNIQUE INDEX ix ON book (lower(Title) COLLATE NOCASE, [isbn] DESC) "
        'WHERE `owner` IS NOT NULL AND "desc" > 0'
    )
    # Keywords are not names unless quoted: a column named "desc" is used only where quoted.
    assert used == {"lower", "title", "nocase", "isbn", "owner", "desc"}
    assert "desc" not in tabledef.index_columns("CREATE INDEX ix ON book (isbn DESC)")


@pytest.mark.parametrize(
    ("sql", "event"),
    [
        ("CREATE TRIGGER update_log AFTER INSERT ON t BEGIN SELECT 1; END", "INSERT"),
        ('CREATE TRIGGER "insert" BEFORE DELETE ON t BEGIN SELECT 1; END', "DELETE"),
        ("CREATE TEMP TRIGGER x AFTER UPDATE OF a, b ON t BEGIN DELETE FROM u; END", "UPDATE"),
    ],
)
def test_trigger_event(sql: str, event: str) -> None:
    assert tabledef.trigger_event(sql) == event


def test_without_constraints_on_a_column() -> None:
    stored = (
        "CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL CHECK (qty >= 0), "
        "price REAL NOT NULL CONSTRAINT  priced\n CHECK (price > 0 OR qty = 0) DEFAULT 1, "
        "shelf INT, CONSTRAINT value CHECK (qty * price < 100), CHECK (price < 50), "
        "FOREIGN KEY (shelf, qty) REFERENCES shelf (a, b), FOREIGN KEY (shelf) REFERENCES "
        "shelf (id))"
    )
    definition, removed = tabledef.without_constraints_on(stored, "QTY") or ("", [])
    # The column's own CHECK goes with the column (SQLite's DROP COLUMN takes it).
    assert definition == (
        "CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL CHECK (qty >= 0), "
        "price REAL NOT NULL DEFAULT 1, shelf INT, CHECK (price < 50), "
        "FOREIGN KEY (shelf) REFERENCES shelf (id))"
    )
    assert removed == [
        "CONSTRAINT priced CHECK (price > 0 OR qty = 0)",
        "CONSTRAINT value CHECK (qty * price < 100)",
        "FOREIGN KEY (shelf, qty) REFERENCES shelf (a, b)",
    ]
    assert _created(definition.replace("TABLE item", 'TABLE "_umbral_new_item"'))
    assert tabledef.without_constraints_on(stored, "id") is None
    assert tabledef.without_constraints_on(EXPECTED + " STRICT", "qty") is None


# -- generated definitions, checked against SQLite itself ----------------------------------------

NAMES = st.sampled_from(["a", "Qty", '"we""ird"', "[br acket]", "`tick`", '"check"', "c_2"])
DEFAULTS = st.sampled_from(
    ["DEFAULT 'x;y)'", "DEFAULT -1", "DEFAULT 1.5e3", "DEFAULT (1 + 2)", "DEFAULT NULL",
     "DEFAULT CURRENT_TIMESTAMP"]
)  # fmt: skip
COMMENTS = st.sampled_from(["", " /* a, (b; */ ", " -- c, (\n "])


@st.composite
def definitions(draw: st.DrawFn) -> tuple[str, list[str], int, int]:
    """A CREATE TABLE SQLite accepts: (sql, column names, CHECKs, foreign keys)."""
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    checks = fks = 0
    items = []
    for i, name in enumerate(names):
        parts = [name, draw(st.sampled_from(["", "INTEGER", "VARCHAR(20)", "DECIMAL(10, 2)"]))]
        if i == 0:
            parts.append("PRIMARY KEY")
        for clause in draw(
            st.lists(
                st.sampled_from(["nn", "default", "collate", "check", "fk", "unique"]),
                unique=True,
                max_size=4,
            )
        ):
            comment = draw(COMMENTS)
            if clause == "nn":
                parts.append("NOT NULL ON CONFLICT ABORT")
            elif clause == "default":
                parts.append(draw(DEFAULTS))
            elif clause == "collate":
                parts.append("COLLATE NOCASE")
            elif clause == "check":
                checks += 1
                label = draw(st.sampled_from(["", f"CONSTRAINT ck{i} "]))
                other = draw(st.sampled_from([name, names[-1]]))  # the last may be dropped
                parts.append(f"{label}CHECK ({name} IS NOT NULL OR {other} = 'a,b')")
            elif clause == "fk":
                fks += 1
                parts.append("REFERENCES shelf (id) ON DELETE SET NULL NOT DEFERRABLE")
            else:
                parts.append("UNIQUE")
            parts.append(comment)
        items.append(" ".join(p for p in parts if p))
    if draw(st.booleans()):
        checks += 1
        items.append(f"CONSTRAINT whole CHECK (CASE WHEN {names[0]} > 0 THEN 1 ELSE 1 END)")
    if len(names) > 1 and draw(st.booleans()):
        fks += 1
        items.append(f"FOREIGN KEY ({names[1]}) REFERENCES shelf (id)")
    return f"CREATE TABLE item ({', '.join(items)})", names, checks, fks


def _fk_count(conn: sqlite3.Connection, table: str) -> int:
    return len({r[0] for r in conn.execute(f'PRAGMA foreign_key_list("{table}")')})


@settings(max_examples=150, deadline=None)
@given(definitions())
def test_generated_definitions_read_as_sqlite_reads_them(
    definition: tuple[str, list[str], int, int],
) -> None:
    sql, names, checks, fks = definition
    assert len(names) == len(set(names))
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE shelf (id INTEGER PRIMARY KEY)")
        conn.execute(sql)
        t = tabledef.parse(sql)
        pragma = [r[1] for r in conn.execute("PRAGMA table_info(item)")]
        assert [c.name for c in t.columns] == pragma
        found = [c for col in t.columns for c in col.of("CHECK")]
        found += [c for c in t.constraints if c.kind == "CHECK"]
        assert len(found) == checks

        # Carried onto a table written from the columns alone: every CHECK and foreign key,
        # and SQLite accepts the result.
        bare = ", ".join('"' + n.replace('"', '""') + '"' for n in pragma)
        expected = f"CREATE TABLE item ({bare})"
        new = f'CREATE TABLE "_umbral_new_item" ({bare})'
        carried = tabledef.carry(sql, expected, new) or new
        conn.execute(carried)
        assert _fk_count(conn, "_umbral_new_item") == _fk_count(conn, "item") == fks
        assert carried.count("CHECK") == checks
        conn.execute('DROP TABLE "_umbral_new_item"')

        # Without what names the last column, the definition still creates the same columns,
        # and then SQLite drops that column.
        cut = tabledef.without_constraints_on(sql, pragma[-1])
        if cut is not None:
            conn.execute(cut[0].replace("CREATE TABLE item", 'CREATE TABLE "_umbral_new_item"', 1))
            columns = [r[1] for r in conn.execute('PRAGMA table_info("_umbral_new_item")')]
            assert columns == pragma
            kept_and_cut = cut[0].count("CHECK") + sum(r.count("CHECK") for r in cut[1])
            assert kept_and_cut == checks
            last = '"' + pragma[-1].replace('"', '""') + '"'
            if len(pragma) > 1:
                try:
                    conn.execute(f'ALTER TABLE "_umbral_new_item" DROP COLUMN {last}')
                except sqlite3.OperationalError as exc:  # what SQLite refuses on its own
                    assert "cannot drop UNIQUE column" in str(exc), exc
    finally:
        conn.close()
