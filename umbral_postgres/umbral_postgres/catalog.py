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
        f"ARRAY(SELECT a.attname::text FROM unnest({keys}) WITH ORDINALITY k(num, pos) "
        f"JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.num ORDER BY k.pos)"
    )


def _do(comment: str, declare: str, select: str, each: str, after: str = "") -> str:
    """A ``DO`` block that runs ``each`` for every row ``found`` of ``select``, then
    ``after``; ``comment`` says what it does, for ``sqlmigrate``'s reader."""
    return (
        f"DO $umbral$ -- {comment}\nDECLARE {declare}\nBEGIN\n  FOR found IN {select}\n"
        f"  LOOP\n    {each}\n  END LOOP;{after}\nEND$umbral$"
    )


def _on(table: str, columns: Sequence[str]) -> str:
    return f"{_quote(table)} ({', '.join(_quote(c) for c in columns)})"


#: Where a foreign key dropped ahead of a type change leaves its deferral for the one added
#: after it (a session setting: both statements run on the migration's connection).
_HANDED_DEFERRAL = "umbral.fk_deferral"


def replace_foreign_keys_sql(
    table: str,
    columns: Sequence[str],
    targets: Sequence[str],
    add: str | None,
    *,
    hand_over: bool = False,
    take_over: bool = False,
) -> str:
    """Drop every foreign key of ``table`` on ``columns`` that references one of ``targets``,
    then run ``add`` (an ``ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY``), if any, keeping
    what the models cannot say: a dropped one that was ``DEFERRABLE`` (Django makes every
    foreign key ``DEFERRABLE INITIALLY DEFERRED``) makes the new one so too.

    A key dropped ahead of a type change (``hand_over``, no ``add``) leaves its deferral for
    the statement that adds the new key after the change (``take_over``)."""
    targets = list(dict.fromkeys(targets))
    refs = ", ".join(_regclass(t) for t in targets)
    select = (
        f"SELECT conname, condeferrable, condeferred FROM pg_constraint "
        f"WHERE conrelid = {_regclass(table)} AND contype = 'f' AND confrelid IN ({refs}) "
        f"AND {_columns_of('conkey', 'conrelid')} = {_names(columns)}"
    )
    drop = _literal(f"ALTER TABLE {_quote(table)} DROP CONSTRAINT ")
    each = (
        f"EXECUTE {drop} || quote_ident(found.conname);\n"
        "    IF found.condeferrable THEN\n"
        "      deferral := ' DEFERRABLE INITIALLY ' || "
        "CASE WHEN found.condeferred THEN 'DEFERRED' ELSE 'IMMEDIATE' END;\n"
        "    END IF;"
    )
    what = "replace" if add else "drop"
    to = " or ".join(_quote(t) for t in targets)
    setting = _literal(_HANDED_DEFERRAL)
    start = "''"
    after = f"\n  EXECUTE {_literal(add)} || deferral;" if add else ""
    if take_over:
        start = f"coalesce(current_setting({setting}, true), '')"
        after += f"\n  PERFORM set_config({setting}, '', false);"
    if hand_over:
        after += f"\n  PERFORM set_config({setting}, deferral, false);"
    return _do(
        f"{what} the foreign key of {_on(table, columns)} to {to}, whatever its name",
        f"found record; deferral text := {start};",
        select,
        each,
        after,
    )


def drop_unique_sql(table: str, columns: Sequence[str]) -> list[str]:
    """Drop every UNIQUE constraint of ``table`` on ``columns``, and every unique index on
    them that backs no constraint (a ``CREATE UNIQUE INDEX``): a plain one, on the columns
    themselves, not partial."""
    select = (
        f"SELECT conname FROM pg_constraint WHERE conrelid = {_regclass(table)} "
        f"AND contype = 'u' AND {_columns_of('conkey', 'conrelid')} = {_names(columns)}"
    )
    drop = _literal(f"ALTER TABLE {_quote(table)} DROP CONSTRAINT ")
    return [
        _do(
            f"drop the UNIQUE constraints of {_on(table, columns)}, whatever their names",
            "found text;",
            select,
            f"EXECUTE {drop} || quote_ident(found);",
        ),
        drop_indexes_sql(table, columns, unique=True),
    ]


def drop_indexes_sql(table: str, columns: Sequence[str], *, unique: bool) -> str:
    """Drop every index of ``table`` on ``columns`` (in order) with that uniqueness that
    backs no constraint of the table, is not partial, has no expression and sorts each column
    ascending, nulls last (as every index umbral makes)."""
    select = (
        "SELECT i.indexrelid::regclass::text FROM pg_index i "
        f"WHERE i.indrelid = {_regclass(table)} AND i.indisunique = {str(unique).upper()} "
        "AND NOT i.indisprimary AND i.indpred IS NULL AND i.indexprs IS NULL "
        "AND 0 = ALL(i.indoption::int2[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
        "AND c.conrelid = i.indrelid) "
        f"AND {_columns_of('i.indkey::int2[]', 'i.indrelid')} = {_names(columns)}"
    )
    kind = "unique indexes" if unique else "indexes"
    return _do(
        f"drop the {kind} of {_on(table, columns)}, whatever their names",
        "found text;",
        select,
        # indexrelid::regclass is already quoted (and qualified) as the search path needs.
        "EXECUTE 'DROP INDEX ' || found;",
    )


def rename_constraint_sql(table: str, old: str, new: str) -> str:
    """Rename constraint ``old`` of ``table`` to ``new`` when it has that name."""
    return (
        f"DO $umbral$BEGIN ALTER TABLE {_quote(table)} RENAME CONSTRAINT {_quote(old)} TO "
        f"{_quote(new)}; EXCEPTION WHEN undefined_object THEN NULL; END$umbral$"
    )


def rename_primary_key_sql(table: str, old: str, new: str) -> str:
    """Rename the primary key of ``table`` from ``old`` to ``new`` when it has the name
    ``old`` and no relation has the name ``new`` yet (PostgreSQL numbers a name that was
    taken, ``..._pkey1``: such a key keeps its name)."""
    target = _literal(_quote(new))
    return _do(
        f"rename the primary key of {_quote(table)} to {_quote(new)} when it is {_quote(old)}",
        "found text;",
        "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        f"WHERE i.indrelid = {_regclass(table)} AND i.indisprimary AND c.relname = {_literal(old)} "
        f"AND to_regclass({target}) IS NULL",
        f"EXECUTE 'ALTER INDEX ' || quote_ident(found) || ' RENAME TO ' || {target};",
    )


def _attnum(table: str, column: str) -> str:
    return (
        f"(SELECT attnum FROM pg_attribute WHERE attrelid = {_regclass(table)} "
        f"AND attname = {_literal(column)} AND NOT attisdropped)"
    )


def retype_referenced_key_sql(table: str, column: str, retype: str, key_type: str) -> str:
    """Run ``retype`` (the key's ``ALTER COLUMN … TYPE``) with the foreign keys that reference
    ``table.column``, whatever their tables and names, dropped around it: PostgreSQL re-checks
    them at once and refuses one between two types whose values do not compare (``bigint``
    and ``text``). Each referencing column then takes ``key_type`` and its key comes back as
    it was (``pg_get_constraintdef``: actions, deferral)."""
    ref = _literal(key_type)
    select = (
        "SELECT c.conrelid::regclass::text AS tab, a.attname::text AS col, "
        "c.conname::text AS name, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        f"WHERE c.contype = 'f' AND c.confrelid = {_regclass(table)} "
        f"AND c.confkey = ARRAY[{_attnum(table, column)}]::int2[] ORDER BY 1, 3"
    )
    each = (
        "EXECUTE 'ALTER TABLE ' || found.tab || ' DROP CONSTRAINT ' || "
        "quote_ident(found.name);\n"
        "    tabs := tabs || found.tab; cols := cols || found.col; names := names || found.name; "
        "defs := defs || found.def;"
    )
    after = (
        f"\n  EXECUTE {_literal(retype)};\n"
        "  FOR i IN 1 .. coalesce(array_length(tabs, 1), 0) LOOP\n"
        "    EXECUTE 'ALTER TABLE ' || tabs[i] || ' ALTER COLUMN ' || quote_ident(cols[i]) || "
        f"' TYPE ' || {ref} || ' USING ' || quote_ident(cols[i]) || '::' || {ref};\n"
        "    EXECUTE 'ALTER TABLE ' || tabs[i] || ' ADD CONSTRAINT ' || quote_ident(names[i]) "
        "|| ' ' || defs[i];\n"
        "  END LOOP;"
    )
    return _do(
        f"change the type of {_on(table, [column])} and of the columns whose foreign keys "
        "reference it, whatever their tables",
        "found record; i int; tabs text[] := '{}'; cols text[] := '{}'; "
        "names text[] := '{}'; defs text[] := '{}';",
        select,
        each,
        after,
    )


def retype_unless_key_differs_sql(
    table: str, column: str, retype: str, family: Sequence[str]
) -> str:
    """Run ``retype`` (a foreign-key column's ``ALTER COLUMN … TYPE``) unless the key the
    column references has a type outside ``family`` (the types the new one compares with):
    then the key's own change, later, retypes the column (``retype_referenced_key_sql``)."""
    types = ", ".join(f"to_regtype({_literal(t)})" for t in family)
    return (
        f"DO $umbral$ -- change the type of {_on(table, [column])}, unless the key it "
        "references does not have a type it can reference yet (that key's change then makes "
        "it)\nBEGIN\n"
        "  IF NOT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_attribute a ON "
        "a.attrelid = c.confrelid AND a.attnum = c.confkey[1] WHERE c.contype = 'f' "
        f"AND c.conrelid = {_regclass(table)} "
        f"AND c.conkey = ARRAY[{_attnum(table, column)}]::int2[] "
        f"AND a.atttypid NOT IN ({types})) THEN\n"
        f"    EXECUTE {_literal(retype)};\n"
        "  END IF;\nEND$umbral$"
    )
