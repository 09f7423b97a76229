"""MySQL / MariaDB rendering (SPEC §6), the RunSql splitter and the safety rules: no server."""

from __future__ import annotations

import pytest

from umbral import operations as ops
from umbral.backend import RenderContext
from umbral.schema import M2M, ModelState
from umbral.schema import Column as C
from umbral.steps import RunTimeStep
from umbral_mysql import safety
from umbral_mysql.backend import MySQLBackend
from umbral_mysql.connection import lock_name
from umbral_mysql.script import commits_on_its_own, fits_a_script, split_mysql_sql
from umbral_mysql.steps import Backfill, DropChecks, DropIndexes, ModifyColumn

B = MySQLBackend()
OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
POST = (
    C("id", "BigInt", primary_key=True),
    C("title", "Text", max_length=100),
    C("body", "Text"),
    C("status", "Text", max_length=10, default="draft", choices=("draft", "published")),
    C("author", "ForeignKey", fk_target="author", fk_column="id", on_delete="cascade"),
    C("note", "Text", nullable=True, help="Free text"),
)
STATE = {"post": ModelState("post", "post", POST, indexes=(("title", "body"),))}


def render(op: ops.Operation, state: dict | None = None) -> list[str]:
    out = B.render(op, RenderContext(state=STATE if state is None else state))
    assert out is not None
    return [str(s) for s in out]


def test_create_table_is_one_innodb_utf8mb4_statement_with_named_constraints() -> None:
    op = ops.CreateTable(table="post", columns=POST, indexes=(("title", "body"),))
    assert render(op, {}) == [
        "CREATE TABLE `post` (`id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
        "`title` VARCHAR(100) NOT NULL, `body` LONGTEXT NOT NULL, "
        "`status` VARCHAR(10) NOT NULL DEFAULT 'draft', `author` BIGINT NOT NULL, "
        "`note` LONGTEXT NULL COMMENT 'Free text', "
        # An index on unbounded text takes a documented prefix of it.
        "INDEX `idx_post_title_body` (`title`, `body`(191)), "
        "INDEX `idx_post_author` (`author`), "
        "CONSTRAINT `post_status_check` CHECK (`status` IN ('draft', 'published')), "
        "CONSTRAINT `post_author_fk` FOREIGN KEY (`author`) REFERENCES `author` (`id`) "
        f"ON DELETE CASCADE) {OPTIONS}"
    ]


def test_unique_on_unbounded_text_is_a_whole_value_key_and_literals_escape_backslashes() -> None:
    op = ops.CreateTable(
        table="tag",
        columns=(
            C("id", "BigInt", primary_key=True),
            C("name", "Text", unique=True, default="a\\b"),
        ),
    )
    [sql] = render(op, {})
    assert "`name` LONGTEXT NOT NULL DEFAULT ('a\\\\b')" in sql
    assert "UNIQUE INDEX `uniq_tag_name` (`name`)" in sql


def test_add_column_with_foreign_key_and_backfill() -> None:
    col = C("editor", "ForeignKey", fk_target="author", fk_column="id", nullable=False)
    assert render(ops.AddColumn(table="post", column=col, backfill=1)) == [
        "ALTER TABLE `post` ADD COLUMN `editor` BIGINT NOT NULL DEFAULT 1, "
        "ADD INDEX `idx_post_editor` (`editor`), ADD CONSTRAINT `post_editor_fk` FOREIGN KEY "
        "(`editor`) REFERENCES `author` (`id`)",
        "ALTER TABLE `post` ALTER COLUMN `editor` DROP DEFAULT",
    ]


def test_alter_column_restates_the_definition_with_modify() -> None:
    old = POST[5]
    new = C("note", "Text", max_length=50, nullable=False, default="")
    assert render(ops.AlterColumn(table="post", column="note", from_=old, to=new)) == [
        "UPDATE `post` SET `note` = '' WHERE `note` IS NULL",
        "ALTER TABLE `post` MODIFY COLUMN `note` VARCHAR(50) NOT NULL DEFAULT ''",
    ]


def test_a_string_fill_into_a_numeric_column_changes_the_type_first() -> None:
    """'e' cannot be stored in the BIGINT the column still is: it becomes text, nullable,
    then the NULLs are filled, then it becomes NOT NULL."""
    old = C("qty", "BigInt", nullable=True)
    new = C("qty", "Text", max_length=5, nullable=False, default="e")
    state = {"post": ModelState("post", "post", (POST[0], old))}
    out = render(ops.AlterColumn(table="post", column="qty", from_=old, to=new), state)
    assert out == [
        "ALTER TABLE `post` MODIFY COLUMN `qty` VARCHAR(5) NULL DEFAULT 'e'",
        "UPDATE `post` SET `qty` = 'e' WHERE `qty` IS NULL",
        "ALTER TABLE `post` MODIFY COLUMN `qty` VARCHAR(5) NOT NULL DEFAULT 'e'",
    ]
    # Each MODIFY keeps a CHECK the column's own definition holds, found at run time; the
    # fill keeps the table's ON UPDATE columns, found at run time too.
    steps = B.render(ops.AlterColumn(table="post", column="qty", from_=old, to=new),
                     RenderContext(state=state))  # fmt: skip
    assert [type(s) for s in steps] == [ModifyColumn, Backfill, ModifyColumn]


def test_a_renamed_column_takes_its_choices_check_to_its_new_name() -> None:
    out = render(ops.RenameColumn(table="post", from_="status", to="state"))
    assert out[0] == "ALTER TABLE `post` RENAME COLUMN `status` TO `state`"
    assert out[-1] == (
        "ALTER TABLE `post` DROP CONSTRAINT IF EXISTS `post_status_check`, "
        "ADD CONSTRAINT `post_state_check` CHECK (`state` IN ('draft', 'published'))"
    )


def test_a_renamed_table_keeps_its_key_to_itself() -> None:
    cols = (C("id", "BigInt", primary_key=True),
            C("parent", "ForeignKey", fk_target="node", fk_column="id", nullable=True))  # fmt: skip
    out = render(
        ops.RenameTable(from_="node", to="tree"), {"node": ModelState("node", "node", cols)}
    )
    assert (
        "ALTER TABLE `tree` ADD CONSTRAINT `tree_parent_fk` FOREIGN KEY (`parent`) "
        "REFERENCES `tree` (`id`)" in out
    ), out
    # As a script (sqlmigrate), the key is dropped by the name it has: the old table's. It
    # named the new one, so a script run by hand left both keys.
    assert "ALTER TABLE `tree` DROP FOREIGN KEY IF EXISTS `node_parent_fk`" in map(str, out), out


def test_a_renamed_key_column_drops_its_key_by_the_name_it_has() -> None:
    cols = (C("id", "BigInt", primary_key=True),
            C("author", "ForeignKey", fk_target="author", fk_column="id"))  # fmt: skip
    out = render(
        ops.RenameColumn(table="post", from_="author", to="writer"),
        {"post": ModelState("post", "post", cols)},
    )
    assert [str(s) for s in out][-2:] == [
        "ALTER TABLE `post` DROP FOREIGN KEY IF EXISTS `post_author_fk`",
        "ALTER TABLE `post` ADD CONSTRAINT `post_writer_fk` FOREIGN KEY (`writer`) "
        "REFERENCES `author` (`id`)",
    ], out


def test_dropping_a_foreign_key_column_drops_its_key_first_whatever_its_name() -> None:
    ctx = RenderContext(state=STATE)
    out = B.render(ops.DropColumn(table="post", column="author"), ctx)
    assert [str(s) for s in out] == [
        "ALTER TABLE `post` DROP FOREIGN KEY IF EXISTS `post_author_fk`",
        "",  # the indexes of several columns holding it, found at run time
        "",  # and the table CHECKs that name it
        "ALTER TABLE `post` DROP COLUMN `author`",
    ]
    # At run time the key is looked up in the catalog by its column instead.
    step = out[0]
    assert isinstance(step, RunTimeStep)
    assert (step.table, step.column) == ("post", "author")  # type: ignore[attr-defined]
    # So are the indexes of several columns holding it: they go with it, as on PostgreSQL.
    indexes = out[1]
    assert isinstance(indexes, DropIndexes)
    assert (indexes.table, indexes.containing, indexes.statements) == ("post", "author", ())
    checks = out[2]
    assert isinstance(checks, DropChecks)
    assert (checks.table, checks.column, checks.statements) == ("post", "author", ())
    assert "every index of several columns holding `author`" in indexes.alternatives()[0]


def test_renames_carry_index_and_foreign_key_names() -> None:
    out = render(ops.RenameTable(from_="post", to="article"))
    assert out[0] == "RENAME TABLE `post` TO `article`"
    # Renamed at run time only where they have umbral's names (an adopted index keeps its own).
    assert out[1] == (
        "ALTER TABLE `article` RENAME INDEX `idx_post_title_body` TO `idx_article_title_body`, "
        "RENAME INDEX `idx_post_author` TO `idx_article_author`"
    )
    assert out[-1] == (
        "ALTER TABLE `article` ADD CONSTRAINT `article_author_fk` FOREIGN KEY (`author`) "
        "REFERENCES `author` (`id`) ON DELETE CASCADE"
    )
    assert render(ops.RenameColumn(table="post", from_="title", to="headline")) == [
        "ALTER TABLE `post` RENAME COLUMN `title` TO `headline`",
        "ALTER TABLE `post` RENAME INDEX `idx_post_title_body` TO `idx_post_headline_body`",
    ]


def test_m2m_junction_and_indexes() -> None:
    op = ops.CreateM2MTable(
        table="post_tags", parent_table="post", parent_column="id", child_table="tag",
        child_column="id",
    )  # fmt: skip
    [sql] = render(op, {})
    assert sql.startswith(
        "CREATE TABLE `post_tags` (`parent_id` BIGINT NOT NULL, `child_id` BIGINT NOT NULL, "
        "PRIMARY KEY (`parent_id`, `child_id`), INDEX `idx_post_tags_child_id` (`child_id`)"
    )
    assert render(ops.DropIndex(table="post", columns=("title",), unique=True)) == [
        "DROP INDEX IF EXISTS `uniq_post_title` ON `post`"
    ]
    assert M2M  # the junction's state type, used by the rename rules


def test_set_column_comment_restates_the_column() -> None:
    assert render(ops.SetColumnComment(table="post", column="title", comment="Shown")) == [
        "ALTER TABLE `post` MODIFY COLUMN `title` VARCHAR(100) NOT NULL COMMENT 'Shown'"
    ]


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ('SELECT \'a;b\'; SELECT "c\\";d"', ["SELECT 'a;b'", 'SELECT "c\\";d"']),
        ("SELECT 1; # note; here\nSELECT 2; -- x;\n", ["SELECT 1", "# note; here\nSELECT 2"]),
        ("SELECT 'it\\'s;'; SELECT `a;b`", ["SELECT 'it\\'s;'", "SELECT `a;b`"]),
        (
            "CREATE TRIGGER t BEFORE INSERT ON p FOR EACH ROW BEGIN IF NEW.a THEN "
            "SET NEW.b = IF(1, 2, 3); END IF; END; SELECT 1",
            [
                "CREATE TRIGGER t BEFORE INSERT ON p FOR EACH ROW BEGIN IF NEW.a THEN "
                "SET NEW.b = IF(1, 2, 3); END IF; END",
                "SELECT 1",
            ],
        ),
    ],
)
def test_run_sql_splits_as_the_mysql_client_does(script: str, statements: list[str]) -> None:
    assert split_mysql_sql(script) == statements


def test_lock_name_is_per_database_and_fits_64_characters() -> None:
    assert lock_name("shop") == "umbral_migrations.shop"
    assert lock_name("a" * 64) != lock_name("b" * 64)
    assert len(lock_name("a" * 64)) <= 64


def _tags(op: ops.Operation, server: tuple[str, tuple[int, ...]] | None = None) -> list[str]:
    backend = MySQLBackend()
    backend.server = server
    return [f.tag for f in safety.classify(op, backend, {"operations": [op]})]


def test_safety_rules_by_server_version() -> None:
    add = ops.AddColumn(table="post", column=C("views", "Integer", default=0))
    assert _tags(add, ("mariadb", (10, 11, 6))) == []  # INSTANT
    assert _tags(add, ("mysql", (8, 0, 20))) == [safety.TAG_REBUILD]
    drop = ops.DropColumn(table="post", column="views")
    assert _tags(drop, ("mysql", (8, 0, 35))) == []
    assert _tags(drop, ("mariadb", (10, 3, 0))) == [safety.TAG_REBUILD]
    assert _tags(ops.AddIndex(table="post", columns=("title",), unique=True)) == [safety.TAG_UNIQUE]
    assert _tags(ops.AddIndex(table="post", columns=("title",))) == []


def test_a_new_foreign_key_names_the_table_the_server_copies() -> None:
    fk = C("author_id", "ForeignKey", nullable=True, fk_target="author", fk_column="id")
    op = ops.AddColumn(table="post", column=fk)
    [finding] = safety.classify(op, MySQLBackend(), {"operations": [op]})
    assert finding.tag == safety.TAG_FK
    assert "the server copies `post` (ALGORITHM=COPY" in finding.message


def test_safety_rules_for_type_changes() -> None:
    def alter(old: C, new: C) -> list[str]:
        return _tags(ops.AlterColumn(table="post", column="c", from_=old, to=new))

    assert alter(C("c", "Text", max_length=20), C("c", "Text", max_length=40)) == []
    assert alter(C("c", "Text", max_length=20), C("c", "Text", max_length=100)) == [
        safety.TAG_COPY,
    ]  # fmt: skip
    assert alter(C("c", "Integer"), C("c", "BigInt")) == [safety.TAG_COPY]
    assert alter(C("c", "Text"), C("c", "Text", unique=True)) == [safety.TAG_UNIQUE]
    # TIMESTAMP holds 1970 to 2038: a DATETIME's later values fail the change.
    assert alter(C("c", "Timestamp"), C("c", "Timestamptz")) == [
        safety.TAG_COPY, safety.TAG_TIMESTAMP_RANGE,
    ]  # fmt: skip
    assert alter(C("c", "Timestamptz"), C("c", "Timestamp")) == [safety.TAG_COPY]


def test_a_charset_change_in_hand_written_sql_is_warned() -> None:
    sql = "ALTER TABLE post CONVERT TO CHARACTER SET latin1"
    assert _tags(ops.RunSql(sql=sql)) == [safety.TAG_CHARSET]
    assert _tags(ops.RunSql(sql="UPDATE post SET title = 'x'")) == []


@pytest.mark.parametrize(
    ("statement", "commits"),
    [
        ("CREATE TABLE t (id INT)", True),
        ("  -- a comment\n/* another */ alter table t add x int", True),
        ("# hash comment\nDROP INDEX i ON t", True),
        ("RENAME TABLE a TO b", True),
        ("TRUNCATE t", True),
        ("INSERT INTO t VALUES (1)", False),
        ("UPDATE t SET x = 1", False),
        ("SELECT 1", False),
        ("-- only a comment", False),
    ],
)
def test_statements_the_server_commits_around(statement: str, commits: bool) -> None:
    """A migration holding one of these cannot be rolled back as a whole: it runs statement by
    statement and resumes where it failed."""
    assert commits_on_its_own(statement) is commits
    backend = MySQLBackend()
    assert backend.runs_in_steps([statement], atomic=True) is commits


@pytest.mark.parametrize(
    ("statement", "fits"),
    [
        ("CREATE TABLE t (id INT)", True),
        ("INSERT INTO t VALUES ('/* not a comment')", True),
        ("/*!40101 SET NAMES utf8mb4 */", True),
        ("ALTER TABLE t ADD x INT /* closed */", True),
        ("  -- a comment\ncall refresh()", False),
        ("CALL refresh()", False),
        ("UPDATE t SET x = 1 /* left open", False),
        ("SELECT 1 /*/", False),
        ("SELECT caller FROM t", True),
    ],
)
def test_statements_that_may_share_a_multi_statement_query(statement: str, fits: bool) -> None:
    """A migration's statements go to the server as one query, each result counted: a
    procedure call may return several results, an open comment would hide the statements
    after it. Those run one at a time."""
    assert fits_a_script(statement) is fits


def test_a_column_made_unique_is_looked_at_for_duplicates_before_its_ddl() -> None:
    """MySQL commits each DDL statement: the duplicates found after the MODIFY left the
    migration partly applied, where the docs promise nothing applied."""
    from umbral.steps import UniqueCheck

    old, new = C("code", "Text", max_length=20), C("code", "Text", max_length=40, unique=True)
    out = B.render(ops.AlterColumn(table="post", column="code", from_=old, to=new),
                   RenderContext(state=STATE))  # fmt: skip
    assert isinstance(out[0], UniqueCheck), out
    # Made NOT NULL too, its NULLs are filled first: the look follows the fill.
    old = C("code", "Text", max_length=20, nullable=True)
    new = C("code", "Text", max_length=20, default="x", unique=True)
    out = B.render(ops.AlterColumn(table="post", column="code", from_=old, to=new),
                   RenderContext(state=STATE))  # fmt: skip
    kinds = [type(s).__name__ for s in out]
    assert kinds.index("UniqueCheck") > kinds.index("Backfill"), out
