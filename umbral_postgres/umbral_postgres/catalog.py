"""Statements that find a constraint or index by what it is, at run time.

A table umbral did not create names its constraints and indexes its own way (``fk_stock_product``,
Django's ``..._fk_app_product_id`` hashes, ``book_title_ix``); ``inspectdb`` adopts them without
renaming them. Dropping one by the name umbral would have given it drops nothing, and the old
constraint keeps working next to the new one. These statements look the object up in the
catalog when the migration runs, by its table, kind, columns (in order) and, for a foreign key,
the table it references, and drop every one that matches, whatever its name: a ``DO`` block,
so ``sqlmigrate`` shows what runs. Renames of the names umbral gave are skipped when the object
does not have that name (it kept its own through adoption).
"""

from __future__ import annotations

from collections.abc import Sequence


def _quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _regclass(table: str) -> str:
    return f"to_regclass({_literal(_quote(table))})"


def _names(columns: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(_literal(c) for c in columns) + "]::text[]"


def _columns_of(keys: str, relation: str) -> str:
    """The names of the attribute numbers ``keys`` of ``relation``, in their order."""
    return (
        f"ARRAY(SELECT a.attname::text FROM unnest({keys}) WITH ORDINALITY k(n, i) "
        f"JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.n ORDER BY k.i)"
    )


def _loop(select: str, drop: str) -> str:
    return (
        f"DO $umbral$DECLARE found text; BEGIN FOR found IN {select} LOOP "
        f"EXECUTE {_literal(drop)} || quote_ident(found); END LOOP; END$umbral$"
    )


def replace_foreign_keys_sql(
    table: str, columns: Sequence[str], targets: Sequence[str], add: str | None
) -> str:
    """Drop every foreign key of ``table`` on ``columns`` that references one of ``targets``,
    then run ``add`` (an ``ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY``), if any, keeping
    what the models cannot say: a dropped one that was ``DEFERRABLE`` (Django makes every
    foreign key ``DEFERRABLE INITIALLY DEFERRED``) makes the new one so too."""
    refs = ", ".join(_regclass(t) for t in dict.fromkeys(targets))
    select = (
        f"SELECT conname, condeferrable, condeferred FROM pg_constraint "
        f"WHERE conrelid = {_regclass(table)} AND contype = 'f' AND confrelid IN ({refs}) "
        f"AND {_columns_of('conkey', 'conrelid')} = {_names(columns)}"
    )
    drop = _literal(f"ALTER TABLE {_quote(table)} DROP CONSTRAINT ")
    then = f" EXECUTE {_literal(add)} || deferral;" if add else ""
    return (
        "DO $umbral$DECLARE found record; deferral text := ''; BEGIN "
        f"FOR found IN {select} LOOP EXECUTE {drop} || quote_ident(found.conname); "
        "IF found.condeferrable THEN deferral := ' DEFERRABLE INITIALLY ' || "
        "CASE WHEN found.condeferred THEN 'DEFERRED' ELSE 'IMMEDIATE' END; END IF; "
        f"END LOOP;{then} END$umbral$"
    )


def drop_unique_sql(table: str, columns: Sequence[str]) -> list[str]:
    """Drop every UNIQUE constraint of ``table`` on ``columns``, and every unique index on
    them that backs no constraint (a ``CREATE UNIQUE INDEX``): a plain one, on the columns
    themselves, not partial."""
    constraints = (
        f"SELECT conname FROM pg_constraint WHERE conrelid = {_regclass(table)} "
        f"AND contype = 'u' AND {_columns_of('conkey', 'conrelid')} = {_names(columns)}"
    )
    return [
        _loop(constraints, f"ALTER TABLE {_quote(table)} DROP CONSTRAINT "),
        drop_indexes_sql(table, columns, unique=True),
    ]


def drop_indexes_sql(table: str, columns: Sequence[str], *, unique: bool) -> str:
    """Drop every index of ``table`` on ``columns`` (in order) with that uniqueness that
    backs no constraint, is not partial and has no expression."""
    select = (
        "SELECT i.indexrelid::regclass::text FROM pg_index i "
        f"WHERE i.indrelid = {_regclass(table)} AND i.indisunique = {str(unique).upper()} "
        "AND NOT i.indisprimary AND i.indpred IS NULL AND i.indexprs IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        f"AND {_columns_of('i.indkey::int2[]', 'i.indrelid')} = {_names(columns)}"
    )
    # indexrelid::regclass is already quoted as the search path needs it.
    return (
        f"DO $umbral$DECLARE found text; BEGIN FOR found IN {select} LOOP "
        "EXECUTE 'DROP INDEX ' || found; END LOOP; END$umbral$"
    )


def rename_constraint_sql(table: str, old: str, new: str) -> str:
    """Rename constraint ``old`` of ``table`` to ``new`` when it has that name."""
    return (
        f"DO $umbral$BEGIN ALTER TABLE {_quote(table)} RENAME CONSTRAINT {_quote(old)} TO "
        f"{_quote(new)}; EXCEPTION WHEN undefined_object THEN NULL; END$umbral$"
    )
