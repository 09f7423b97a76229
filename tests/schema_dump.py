"""A normalized dump of a database schema, read from the catalogs, for comparing two databases.

``dump(url)`` reads every table and view of a SQLite, PostgreSQL or MySQL / MariaDB database
(the connection's current schema or database) into plain tuples: columns (type, nullability,
default, comment, and what else the database keeps of a column that models cannot say: a
collation other than the table's, a generation expression, MySQL's ``ON UPDATE``), the primary
key, foreign keys with their actions and deferrability, unique
constraints and unique indexes, plain indexes with their columns or expressions, sort order and
predicate, CHECK constraints, and the table comment. Two databases built from the same models
must dump equal.

* ``without_names(d)`` drops every constraint and index name, for databases whose objects were
  named by another tool (an adopted schema against one umbral built).
* ``duplicates(d)`` lists every column set that carries more than one constraint or index of one
  kind (two foreign keys, two unique constraints, two plain indexes on the same columns).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from conftest import _libpq, _mysql_connect, is_mysql, sqlite_path


@dataclass(frozen=True, order=True)
class Fk:
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    on_delete: str
    on_update: str
    deferred: bool
    name: str = ""


@dataclass(frozen=True, order=True)
class Index:
    #: Column names, or an expression's normalized text; " DESC" marks a descending key.
    keys: tuple[str, ...]
    unique: bool
    predicate: str  # "" for a full index
    name: str = ""


@dataclass(frozen=True, order=True)
class Check:
    sql: str
    name: str = ""


@dataclass(frozen=True)
class Table:
    #: name, type, nullable, default, comment, extra (``column_extra``'s parts, space-joined).
    columns: tuple[tuple[str, str, bool, str, str, str], ...]
    pk: tuple[str, ...]
    fks: tuple[Fk, ...]
    indexes: tuple[Index, ...]  # unique constraints are unique indexes here
    checks: tuple[Check, ...]
    comment: str


Dump = dict[str, Any]  # table name -> Table; "view:<name>" -> normalized SQL


def dump(url: str) -> Dump:
    if url.startswith("sqlite"):
        return _sqlite(sqlite_path(url))
    return _mysql(url) if is_mysql(url) else _postgres(url)


def without_names(d: Dump) -> Dump:
    out: Dump = {}
    for k, t in d.items():
        if isinstance(t, Table):
            t = replace(
                t,
                fks=tuple(sorted(replace(f, name="") for f in t.fks)),
                indexes=tuple(sorted(replace(i, name="") for i in t.indexes)),
                checks=tuple(sorted(replace(c, name="") for c in t.checks)),
            )
        out[k] = t
    return out


def duplicates(d: Dump) -> list[str]:
    """Every column set with more than one constraint of a kind (a doubled FK, unique, index)."""
    found = []
    for name, t in d.items():
        if not isinstance(t, Table):
            continue
        seen: dict[tuple, int] = {}
        for f in t.fks:
            key = ("fk", f.columns)
            seen[key] = seen.get(key, 0) + 1
        for i in t.indexes:
            if not i.predicate:
                key = ("unique" if i.unique else "index", i.keys)
                seen[key] = seen.get(key, 0) + 1
        if t.pk:  # the primary key's own unique index is the primary key
            seen.pop(("unique", t.pk), None)
        found += [f"{name}: {n} x {kind} {cols}" for (kind, cols), n in seen.items() if n > 1]
    return found


def column_extra(
    collation: str = "", generated: str = "", expression: str = "", on_update: bool = False
) -> str:
    """The ``extra`` of a column in a dump: ``collate <name>`` (a collation other than the
    table's default: MySQL's, or PostgreSQL's other than the type's), ``<virtual|stored> as
    (<expression>)`` for a generated column, ``on update current_timestamp``."""
    parts = []
    if collation:
        parts.append(f"collate {collation}")
    if generated:
        parts.append(f"{generated.lower()} as ({_norm(expression)})")
    if on_update:
        parts.append("on update current_timestamp")
    return " ".join(parts)  # fmt: skip


def _norm(sql: str | None) -> str:
    """Whitespace, quotes and case do not make two definitions differ."""
    if sql is None:
        return ""
    s = re.sub(r"\s+", " ", sql.replace('"', "").replace("`", "")).strip().lower()
    s = re.sub(r"\s*([(),=<>])\s*", r"\1", s)
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1]
    return s


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


# -- SQLite ------------------------------------------------------------------------------------

_ACTIONS = {"CASCADE": "cascade", "RESTRICT": "restrict", "SET NULL": "set_null",
            "NO ACTION": "no_action", "SET DEFAULT": "set_default"}  # fmt: skip


def _sqlite(path: str) -> Dump:
    conn = sqlite3.connect(path)
    try:
        out: Dump = {}
        objects = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'umbral_migration%' ORDER BY name"
        ).fetchall()
        for kind, name, sql in objects:
            if kind == "view":
                out[f"view:{name}"] = _norm(sql)
            else:
                out[name] = _sqlite_table(conn, name, sql)
        return out
    finally:
        conn.close()


def _items(create_sql: str) -> list[str]:
    """The top-level comma-separated items of a CREATE TABLE body."""
    body = create_sql[create_sql.index("(") + 1 : create_sql.rindex(")")]
    items, depth, cur, quote = [], 0, [], ""
    for ch in body:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`[":
            quote = "]" if ch == "[" else ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    items.append("".join(cur).strip())
    return items


def _checks(item: str) -> list[tuple[str, str]]:
    """(name, expression) of every CHECK in one item of a CREATE TABLE body."""
    out = []
    for m in re.finditer(r"(?:CONSTRAINT\s+(\"[^\"]+\"|\S+)\s+)?CHECK\s*\(", item, re.I):
        start = m.end() - 1
        depth = 0
        for j in range(start, len(item)):
            depth += {"(": 1, ")": -1}.get(item[j], 0)
            if depth == 0:
                out.append(((m.group(1) or "").strip('"'), _norm(item[start : j + 1])))
                break
    return out


def _sqlite_table(conn: sqlite3.Connection, name: str, sql: str) -> Table:
    q = name.replace('"', '""')
    info = conn.execute(f'PRAGMA table_info("{q}")').fetchall()
    columns = tuple(
        sorted((r[1], r[2].upper(), not r[3] and not r[5], _norm(r[4]), "", "") for r in info)
    )
    pk = tuple(r[1] for r in sorted(info, key=lambda r: r[5]) if r[5])
    items = _items(sql)
    deferred_cols: set[tuple[str, ...]] = set()
    fk_names: dict[tuple[str, ...], str] = {}
    checks: list[Check] = []
    for item in items:
        checks += [Check(expr, n) for n, expr in _checks(item)]
        up = item.upper()
        m = re.match(
            r"(?:CONSTRAINT\s+(\"[^\"]+\"|\S+)\s+)?FOREIGN\s+KEY\s*\(([^)]*)\)", item, re.I
        )
        if m:
            cols = tuple(c.strip().strip('"`[]') for c in m.group(2).split(","))
            fk_names[cols] = (m.group(1) or "").strip('"')
        elif "REFERENCES" in up:
            cols = (
                re.match(r"\s*(\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|\S+)", item).group(1).strip('"`[]'),
            )
            m2 = re.search(r"CONSTRAINT\s+(\"[^\"]+\"|\S+)\s+REFERENCES", item, re.I)
            fk_names[cols] = m2.group(1).strip('"') if m2 else ""
        else:
            continue
        if re.search(r"DEFERRABLE\s+INITIALLY\s+DEFERRED", item, re.I) and not re.search(
            r"NOT\s+DEFERRABLE", item, re.I
        ):
            deferred_cols.add(cols)
    by_id: dict[int, list[tuple]] = {}
    for r in conn.execute(f'PRAGMA foreign_key_list("{q}")').fetchall():
        by_id.setdefault(r[0], []).append(r)
    fks = []
    for parts in by_id.values():
        parts.sort(key=lambda r: r[1])
        cols = tuple(r[3] for r in parts)
        fks.append(
            Fk(
                cols,
                parts[0][2],
                tuple(r[4] or "" for r in parts),
                _ACTIONS.get(parts[0][6], parts[0][6]),
                _ACTIONS.get(parts[0][5], parts[0][5]),
                cols in deferred_cols,
                fk_names.get(cols, ""),
            )
        )
    indexes = []
    for _, iname, unique, origin, partial in conn.execute(f'PRAGMA index_list("{q}")'):
        if origin == "pk":
            continue
        keys = []
        xinfo = conn.execute(f'PRAGMA index_xinfo("{iname}")').fetchall()
        isql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (iname,)
        ).fetchone()[0]
        exprs = _index_exprs(isql) if isql else []
        for r in xinfo:
            if not r[5]:  # not a key column (the rowid)
                continue
            key = r[2] if r[1] >= 0 else (exprs[r[0]] if r[0] < len(exprs) else "<expr>")
            keys.append(key + (" DESC" if r[3] else ""))
        pred = ""
        if partial and isql:
            pred = _norm(re.split(r"\bWHERE\b", isql, maxsplit=1, flags=re.I)[1])
        stored_name = "" if origin == "u" and iname.startswith("sqlite_autoindex") else iname
        indexes.append(Index(tuple(keys), bool(unique), pred, stored_name))
    comment = ""
    return Table(columns, pk, tuple(sorted(fks)), tuple(sorted(indexes)), tuple(sorted(checks)),
                 comment)  # fmt: skip


def _index_exprs(sql: str) -> list[str]:
    """The normalized key terms of a CREATE INDEX statement, in order."""
    on = re.search(r"\bON\s+(\"[^\"]+\"|\S+)\s*\(", sql, re.I)
    if not on:
        return []
    rest = sql[on.end() - 1 :]
    depth = 0
    for j, ch in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            inner = rest[1:j]
            break
    else:
        return []
    terms = _items(f"({inner})")
    return [_norm(re.sub(r"\s+(ASC|DESC)\s*$", "", t, flags=re.I)) for t in terms]


# -- PostgreSQL --------------------------------------------------------------------------------

_PG_ACTIONS = {"a": "no_action", "r": "restrict", "c": "cascade", "n": "set_null",
               "d": "set_default"}  # fmt: skip


def _pg_norm(sql: str | None) -> str:
    """PostgreSQL's deparsed text without casts of literals to their own column's type."""
    s = _norm(sql)
    s = re.sub(r"::(character varying|text|bigint|integer|numeric|double precision|real)", "", s)
    return s


def _postgres(url: str) -> Dump:
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        out: Dump = {}
        rels = conn.execute(
            "SELECT c.oid, c.relname, c.relkind, obj_description(c.oid, 'pg_class') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v') "
            "AND c.relname NOT LIKE 'umbral\\_migration%%' "
            "ORDER BY c.relname",
            (schema,),
        ).fetchall()
        for oid, name, kind, comment in rels:
            if kind == "v":
                sql = conn.execute("SELECT pg_get_viewdef(%s::oid)", (oid,)).fetchone()[0]
                out[f"view:{name}"] = _norm(sql)
                continue
            out[name] = _pg_table(conn, oid, comment or "")
        return out


def _pg_table(conn: Any, oid: int, comment: str) -> Table:
    cols = conn.execute(
        "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum), a.attidentity, "
        "a.attgenerated, CASE WHEN a.attcollation <> t.typcollation THEN co.collname END "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
        "AND d.adnum = a.attnum WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (oid,),
    ).fetchall()
    names = {r[0]: r[1] for r in cols}
    columns = tuple(
        sorted(
            (
                r[1],
                r[2],
                r[3],
                "identity" if r[6] else "" if r[7] else _pg_norm(r[4]),
                r[5] or "",
                # A generated column's expression is its pg_attrdef row, not a default.
                column_extra(r[8] or "", "stored" if r[7] else "", _pg_norm(r[4]) if r[7] else ""),
            )
            for r in cols
        )
    )
    pk: tuple[str, ...] = ()
    fks, checks, indexes = [], [], []
    constraint_indexes: set[int] = set()
    for cname, ctype, conkey, target, confkey, upd, dele, deferred, cdef, conindid in conn.execute(
        "SELECT conname, contype, conkey, confrelid::regclass::text, confkey, confupdtype, "
        "confdeltype, condeferred, pg_get_constraintdef(oid), conindid FROM pg_constraint "
        "WHERE conrelid = %s",
        (oid,),
    ).fetchall():
        cs = tuple(names[k] for k in conkey or ())
        if ctype == "p":
            pk = cs
            constraint_indexes.add(conindid)
        elif ctype == "f":
            tcols = conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum = ANY(%s)",
                (target, list(confkey)),
            ).fetchall()
            fks.append(Fk(cs, target.strip('"'), tuple(r[0] for r in tcols), _PG_ACTIONS[dele],
                          _PG_ACTIONS[upd], bool(deferred), cname))  # fmt: skip
        elif ctype == "u":
            indexes.append(Index(cs, True, "", cname))
            constraint_indexes.add(conindid)
        elif ctype == "c":
            checks.append(Check(_pg_norm(cdef.removeprefix("CHECK ")), cname))
    for iname, ioid, unique, nkeys, indoption, pred in conn.execute(
        "SELECT c.relname, i.indexrelid, i.indisunique, i.indnkeyatts, i.indoption::int2[], "
        "pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s",
        (oid,),
    ).fetchall():
        if ioid in constraint_indexes:
            continue
        keys = []
        for k in range(nkeys):
            term = conn.execute("SELECT pg_get_indexdef(%s, %s, true)", (ioid, k + 1)).fetchone()
            keys.append(_pg_norm(term[0]) + (" DESC" if indoption[k] & 1 else ""))
        indexes.append(Index(tuple(keys), bool(unique), _pg_norm(pred), iname))
    return Table(columns, pk, tuple(sorted(fks)), tuple(sorted(indexes)), tuple(sorted(checks)),
                 comment)  # fmt: skip


# -- MySQL / MariaDB ----------------------------------------------------------------------------


_MYSQL_ACTIONS = {**_ACTIONS, "RESTRICT": "no_action"}


def _mysql(url: str) -> Dump:
    conn = _mysql_connect(url)
    try:
        cur = conn.cursor()

        def q(sql: str, *args: Any) -> list[tuple]:
            cur.execute(sql, args)
            return [tuple(r) for r in cur.fetchall()]

        database = q("SELECT DATABASE()")[0][0]
        mariadb = "mariadb" in q("SELECT VERSION()")[0][0].lower()
        out: Dump = {}
        for name, kind, comment, collation in q(
            "SELECT TABLE_NAME, TABLE_TYPE, TABLE_COMMENT, TABLE_COLLATION "
            "FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'umbral\\_migration%%' "
            "ORDER BY TABLE_NAME"
        ):
            if kind == "VIEW":
                (sql,) = q(
                    "SELECT VIEW_DEFINITION FROM information_schema.VIEWS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                    name,
                )[0]
                # The server qualifies every name with the database's: two databases differ.
                out[f"view:{name}"] = _norm(sql.replace(f"`{database}`.", ""))
                continue
            out[name] = _mysql_table(q, name, comment or "", mariadb, collation or "")
        return out
    finally:
        conn.close()


def _mysql_table(q: Any, table: str, comment: str, mariadb: bool, collation: str) -> Table:
    columns = tuple(
        sorted(
            (
                name,
                kind,
                nullable == "YES",
                "identity" if "auto_increment" in extra else _mysql_default(default),
                col_comment or "",
                column_extra(
                    col_collation if col_collation and col_collation != collation else "",
                    extra.split()[0] if extra.upper().endswith(" GENERATED") else "",
                    expression or "",
                    "on update" in extra.lower(),
                ),
            )
            for name, kind, nullable, default, extra, col_comment, col_collation, expression in q(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, "
                "COLUMN_COMMENT, COLLATION_NAME, GENERATION_EXPRESSION "
                "FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                table,
            )
        )
    )
    keyed: dict[str, tuple[bool, list[str]]] = {}
    for iname, non_unique, column, order, part in q(
        "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, COLLATION, SUB_PART "
        "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
        "ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        table,
    ):
        key = f"{column}({part})" if part else str(column)
        keyed.setdefault(iname, (not int(non_unique), []))[1].append(
            key + (" DESC" if order == "D" else "")
        )
    pk = tuple(keyed.pop("PRIMARY", (True, []))[1])
    indexes = [Index(tuple(keys), unique, "", name) for name, (unique, keys) in keyed.items()]
    fks: dict[str, tuple[list[str], str, list[str], str, str]] = {}
    for name, column, target, target_column, upd, dele in q(
        "SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
        "k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE "
        "FROM information_schema.KEY_COLUMN_USAGE k "
        "JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = "
        "k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME AND r.CONSTRAINT_NAME = "
        "k.CONSTRAINT_NAME WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = %s "
        "ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        table,
    ):
        entry = fks.setdefault(name, ([], target, [], upd, dele))
        entry[0].append(column)
        entry[2].append(target_column)
    # InnoDB checks NO ACTION as RESTRICT (at once), and lists a key written without an
    # action as RESTRICT: one action to the dump.
    fk_list = [
        Fk(tuple(cs), target, tuple(tcs), _MYSQL_ACTIONS[dele], _MYSQL_ACTIONS[upd], False, name)
        for name, (cs, target, tcs, upd, dele) in fks.items()
    ]
    if mariadb:
        found = q(
            "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            table,
        )
    else:
        found = q(
            "SELECT c.CONSTRAINT_NAME, c.CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS c "
            "JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = "
            "c.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME "
            "WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = %s",
            table,
        )
    checks = [Check(_norm(clause), name) for name, clause in found]
    return Table(columns, pk, tuple(sorted(fk_list)), tuple(sorted(indexes)),
                 tuple(sorted(checks)), comment)  # fmt: skip


def _mysql_default(default: str | None) -> str:
    """MariaDB writes a column without a default as NULL, and a string default quoted."""
    if default is None or default == "NULL":
        return ""
    return _norm(default)


def difference(a: Dump, b: Dump) -> dict[str, Any]:
    """What differs between two dumps, per table and attribute (for assertion messages)."""
    out: dict[str, Any] = {}
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x == y:
            continue
        if isinstance(x, Table) and isinstance(y, Table):
            out[k] = {
                attr: (sorted(set(getattr(x, attr)) - set(getattr(y, attr)))
                       if isinstance(getattr(x, attr), tuple) else getattr(x, attr),
                       sorted(set(getattr(y, attr)) - set(getattr(x, attr)))
                       if isinstance(getattr(y, attr), tuple) else getattr(y, attr))
                for attr in ("columns", "pk", "fks", "indexes", "checks", "comment")
                if getattr(x, attr) != getattr(y, attr)
            }  # fmt: skip
        else:
            out[k] = (x, y)
    return out
