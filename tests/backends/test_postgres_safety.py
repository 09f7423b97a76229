"""PostgreSQL safety findings through ``umbral_classify_operation`` (SPEC §10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from umbral import App
from umbral import operations as ops
from umbral.safety import Finding, OpSafety, classify
from umbral.schema import Column as C
from umbral_postgres import safety
from umbral_postgres.backend import PostgresBackend

PG = PostgresBackend()
FK = C("author", "ForeignKey", fk_target="author", fk_column="id")

CASES: list[tuple[str, ops.Operation, list[str]]] = [
    ("index build", ops.AddIndex(table="post", columns=("title",)), [safety.TAG_INDEX]),
    ("unique index build", ops.AddIndex(table="post", columns=("a", "b"), unique=True),
     [safety.TAG_INDEX]),
    ("concurrent build", ops.AddIndex(table="post", columns=("title",), concurrent=True), []),
    ("index drop", ops.DropIndex(table="post", columns=("title",)), [safety.TAG_DROP_INDEX]),
    ("concurrent drop", ops.DropIndex(table="post", columns=("title",), concurrent=True), []),
    ("plain add column", ops.AddColumn(table="post", column=C("n", "Integer", nullable=True)), []),
    ("add unique column", ops.AddColumn(table="post", column=C("s", "Text", unique=True,
                                                                 nullable=True)),
     [safety.TAG_UNIQUE]),
    ("add FK column", ops.AddColumn(table="post", column=FK),
     [safety.TAG_FK, safety.TAG_INDEX]),
    ("add column with choices", ops.AddColumn(table="post", column=C("k", "Text", default="a",
                                                                       choices=("a", "b"))),
     [safety.TAG_CHECK]),
    ("widen int", ops.AlterColumn(table="post", column="n", from_=C("n", "Integer"),
                                  to=C("n", "BigInt")), [safety.TAG_REWRITE]),
    ("varchar widening", ops.AlterColumn(table="post", column="t",
                                         from_=C("t", "Text", max_length=10),
                                         to=C("t", "Text", max_length=20)), []),
    ("varchar to text", ops.AlterColumn(table="post", column="t",
                                        from_=C("t", "Text", max_length=10), to=C("t", "Text")),
     []),
    ("BigInt becomes FK", ops.AlterColumn(table="post", column="author",
                                          from_=C("author", "BigInt"), to=FK), [safety.TAG_FK]),
    ("set not null", ops.AlterColumn(table="post", column="n", from_=C("n", "Text", nullable=True),
                                     to=C("n", "Text", default="x")), [safety.TAG_NOT_NULL]),
    ("drop not null", ops.AlterColumn(table="post", column="n", from_=C("n", "Text"),
                                      to=C("n", "Text", nullable=True)),
     [safety.TAG_DROP_NOT_NULL]),
    ("add unique", ops.AlterColumn(table="post", column="n", from_=C("n", "Text"),
                                   to=C("n", "Text", unique=True)), [safety.TAG_UNIQUE]),
    ("choices change", ops.AlterColumn(table="post", column="n", from_=C("n", "Text",
                                       choices=("a",)), to=C("n", "Text", choices=("a", "b"))),
     [safety.TAG_CHECK]),
    ("run sql index", ops.RunSql(sql="CREATE INDEX i ON post (n)"), [safety.TAG_SQL_INDEX]),
    ("run sql concurrent index", ops.RunSql(sql="CREATE INDEX CONCURRENTLY i ON post (n)"), []),
    ("run sql commit", ops.RunSql(sql="UPDATE post SET n = 1;\nCOMMIT;"), [safety.TAG_SQL_TXN]),
    ("create table", ops.CreateTable(table="x", columns=(C("id", "BigInt", primary_key=True),)),
     []),
]  # fmt: skip


@pytest.mark.parametrize(("operation", "tags"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(operation: ops.Operation, tags: list[str]) -> None:
    findings = safety.classify(operation, PG, {"migration": "app/0002_x"})
    assert [f.tag for f in findings] == tags
    for f in findings:
        assert isinstance(f, Finding) and f.tier is OpSafety.WARNING
        assert "Safe alternative" in f.message or "Expand-contract" in f.message
        if not isinstance(operation, ops.RunSql):
            assert "`post" in f.message  # names the table (and column)


def test_table_created_in_the_same_migration_is_exempt() -> None:
    create = ops.CreateTable(table="post", columns=(C("id", "BigInt", primary_key=True),))
    index = ops.AddIndex(table="post", columns=("id",))
    context = {"migration": "app/0001", "operations": [create, index]}
    assert safety.classify(index, PG, context) == []


def _pm(tmp_path: Path) -> object:
    return App(database="postgresql://postgres@127.0.0.1/x", plugins=[], root=tmp_path).env.pm


def test_plugin_findings_win_over_core_ones_through_the_hook(tmp_path: Path) -> None:
    pm = _pm(tmp_path)
    op = ops.AlterColumn(
        table="post", column="n", from_=C("n", "Integer"), to=C("n", "BigInt", nullable=False)
    )
    finding = classify(pm, op, PG, {"migration": "app/0002"})
    assert finding.tier is OpSafety.WARNING
    index = ops.AddIndex(table="post", columns=("title",))
    finding = classify(pm, index, PG, {"migration": "app/0002"})
    assert (finding.tier, finding.tag) == (OpSafety.WARNING, safety.TAG_INDEX)
    assert "CONCURRENTLY" in finding.message


def test_no_postgres_findings_for_another_backend(tmp_path: Path) -> None:
    pm = _pm(tmp_path)
    index = ops.AddIndex(table="post", columns=("title",))
    from umbral_sqlite.backend import SQLiteBackend

    finding = classify(pm, index, SQLiteBackend(), {"migration": "app/0002"})
    assert finding.tier is OpSafety.SAFE


def test_a_key_retyped_to_text_says_what_else_it_changes() -> None:
    """An identity key made TEXT: a rewrite (WARNING, as every rewrite), whose message also
    says the referencing columns are rewritten and that inserts leaving the key out fail."""
    op = ops.AlterColumn(
        table="post",
        column="id",
        from_=C("id", "BigInt", primary_key=True),
        to=C("id", "Text", primary_key=True),
    )
    [finding] = safety.classify(op, PG, {"migration": "app/0002_x"})
    assert finding.tag == safety.TAG_REWRITE and finding.tier is OpSafety.WARNING
    assert "every column referencing it" in finding.message
    assert "stops being an identity column" in finding.message
    widen = ops.AlterColumn(
        table="post",
        column="id",
        from_=C("id", "Integer", primary_key=True),
        to=C("id", "BigInt", primary_key=True),
    )
    [finding] = safety.classify(widen, PG, {"migration": "app/0002_x"})
    assert "referencing" not in finding.message and "identity" not in finding.message
