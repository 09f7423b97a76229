"""inspectdb on a schema another framework's migration tool created: Django's built-in apps
(auth, contenttypes, sessions, admin, sites) with django-taggit and django-allauth (whose
`account_emailaddress` has partial unique indexes, where the database has them), migrated by
Django itself, on SQLite, PostgreSQL and MariaDB (Django's MySQL backend through PyMySQL, which
umbral-mysql installs, standing in for mysqlclient); then adopted (`inspectdb --exclude
django_migrations`, `migrate --fake-initial`) and evolved by umbral: an FK's `on_delete`, a
nullability flip with an index, column renames. Each step keeps every row and leaves exactly
one index / unique / foreign key per column set.

Django and the apps are installed once per session into a temporary ``--target`` directory
and run as ``python -m django migrate`` in a subprocess, so nothing of them lands in the test
environment. When the install fails (no package index), the tests skip with the reason; in CI
(``CI`` set) they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_inspectdb import adopt_config, assert_round_trip, fingerprint

from conftest import Project, backend_name, execute, rows, schema_of, sqlite_path

SETTINGS = """
import json, os

if json.loads(os.environ["UMBRAL_TEST_DJANGO_DB"])["ENGINE"].endswith("mysql"):
    import pymysql

    pymysql.install_as_MySQLdb()

SECRET_KEY = "umbral-inspectdb-test"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "taggit",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
]
MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
USE_TZ = True
DATABASES = {"default": json.loads(os.environ["UMBRAL_TEST_DJANGO_DB"])}
"""
PACKAGES = ["django>=5.2,<6", "django-taggit>=6", "django-allauth>=65"]


@pytest.fixture(scope="session")
def django_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with Django and the apps installed (``pip install --target``) and a
    settings module."""
    site = tmp_path_factory.mktemp("django_site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(site), *PACKAGES],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        reason = f"pip install {' '.join(PACKAGES)} failed:\n{proc.stdout}\n{proc.stderr}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    (site / "umbral_test_settings.py").write_text(SETTINGS)
    return site


def django_migrate(site: Path, url: str) -> None:
    if url.startswith("sqlite"):
        db = {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path(url)}
    else:
        rest = url.split("://", 1)[1]
        user, hostpart = rest.split("@", 1)
        host, name = hostpart.split("/", 1)
        hostname, _, port = host.partition(":")
        db = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": user,
              "HOST": hostname, "PORT": port or "5432"}  # fmt: skip
        if backend_name(url) == "mysql":
            db.update(ENGINE="django.db.backends.mysql", PORT=port or "3306", PASSWORD="",
                      OPTIONS={"charset": "utf8mb4"})  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
        "UMBRAL_TEST_DJANGO_DB": json.dumps(db),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--settings=umbral_test_settings",
         "--skip-checks", "--verbosity", "0"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, f"django migrate failed:\n{proc.stdout}\n{proc.stderr}"


SEED = [
    "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
    "is_staff, is_active, date_joined) VALUES ('x', FALSE, 'ada', 'Ada', 'Lovelace', "
    "'ada@example.com', FALSE, TRUE, '2024-01-01 00:00:00')",
    "INSERT INTO auth_group (name) VALUES ('staff')",
    "INSERT INTO auth_user_groups (user_id, group_id) VALUES (1, 1)",
    "INSERT INTO account_emailaddress (verified, {primary}, user_id, email) "
    "VALUES (TRUE, TRUE, 1, 'ada@example.com')",
    "INSERT INTO taggit_tag (name, slug) VALUES ('Python', 'python'), ('SQL', 'sql')",
    "INSERT INTO taggit_taggeditem (object_id, content_type_id, tag_id) VALUES (1, (SELECT id "
    "FROM django_content_type WHERE app_label = 'auth' AND model = 'user'), 2)",
    "INSERT INTO django_session (session_key, session_data, expire_date) "
    "VALUES ('k1', 'data', '2030-01-01 00:00:00')",
]


def quote(url: str, name: str) -> str:
    return f"`{name}`" if backend_name(url) == "mysql" else f'"{name}"'


def seed(url: str) -> list[str]:
    return [s.replace("{primary}", quote(url, "primary")) for s in SEED]


def counts(url: str) -> dict[str, int]:
    """Rows per table (umbral's tracking table aside)."""
    return {
        t: rows(url, f"SELECT count(*) FROM {quote(url, t)}")[0][0]
        for t in schema_of(url)
        if t != "umbral_migrations"
    }


def shapes(url: str) -> Counter[tuple[str, ...]]:
    """Every index (unique constraints and primary keys included) and foreign key, by what it
    is: table, kind, columns with their order and operator class, predicate, target table."""
    out: Counter[tuple[str, ...]] = Counter()
    if url.startswith("sqlite"):
        tables = rows(url, "SELECT name FROM sqlite_master WHERE type = 'table' "
                           "AND name NOT LIKE 'sqlite_%'")  # fmt: skip
        for (t,) in tables:
            fks: dict[int, list[tuple]] = {}
            for fk in rows(url, f'PRAGMA foreign_key_list("{t}")'):
                fks.setdefault(fk[0], []).append(fk)
            for group in fks.values():
                out[(t, "fk", ",".join(r[3] for r in group), group[0][2])] += 1
            for _seq, name, unique, _origin, partial in rows(url, f'PRAGMA index_list("{t}")'):
                cols = [c for c in rows(url, f'PRAGMA index_xinfo("{name}")') if c[5]]
                key = ",".join(f"{c[2]}{' DESC' if c[3] else ''}" for c in cols)
                sql = rows(url, f"SELECT sql FROM sqlite_master WHERE name = '{name}'")[0][0]
                where = sql.split(" WHERE ", 1)[1] if partial else ""
                out[(t, "unique" if unique else "index", key, where)] += 1
        return out
    if backend_name(url) == "mysql":
        indexes: dict[tuple[str, str], tuple[bool, list[str]]] = {}
        for t, name, non_unique, column, order, part in rows(
            url,
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, COLLATION, SUB_PART "
            "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
            "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        ):
            key = f"{column}{' DESC' if order == 'D' else ''}{f'({part})' if part else ''}"
            indexes.setdefault((t, name), (not int(non_unique), []))[1].append(key)
        for (t, _name), (unique, cols) in indexes.items():
            out[(t, "unique" if unique else "index", ",".join(cols))] += 1
        for t, _name, cols, target in rows(
            url,
            "SELECT TABLE_NAME, CONSTRAINT_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY "
            "ORDINAL_POSITION), MAX(REFERENCED_TABLE_NAME) "
            "FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL "
            "GROUP BY TABLE_NAME, CONSTRAINT_NAME",
        ):
            out[(t, "fk", cols, target)] += 1
        return out
    for t, definition in rows(
        url, "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    ):
        out[(t, re.sub(r"^(CREATE (UNIQUE )?INDEX) \S+ ON", r"\1 ON", definition))] += 1
    for t, cols, target in rows(
        url,
        "SELECT conrelid::regclass::text, conkey::text, confrelid::regclass::text "
        "FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
    ):
        out[(t, "fk", cols, target)] += 1
    return out


def duplicates(url: str) -> list[tuple[str, ...]]:
    return sorted(k for k, n in shapes(url).items() if n > 1)


def adopt_django(p: Project, site: Path) -> str:
    """Django's schema with rows, adopted by umbral; the text of the written models.py."""
    django_migrate(site, p.database)
    execute(p.database, *seed(p.database))
    adopt_config(p)
    r = p.run("inspectdb", "--output", "legacy", "--exclude", "django_migrations")
    assert r.code == 0, r
    assert_round_trip(p)
    assert p.run("makemigrations", "--check").code == 0
    return (p.root / "legacy" / "models.py").read_text()


def edit(p: Project, text: str, model: str, old: str, new: str) -> str:
    """Replace the field line ``old`` of class ``model`` in models.py with ``new``."""
    start = text.index(f"class {model}(")
    end = text.find("\nclass ", start + 1)
    end = len(text) if end < 0 else end
    block = text[start:end]
    assert f"    {old}\n" in block, (old, block)
    text = text[:start] + block.replace(f"    {old}\n", f"    {new}\n") + text[end:]
    p.write("legacy/models.py", text)
    return text


def test_django_schema_round_trip(any_project: Project, django_site: Path) -> None:
    p = any_project
    sqlite = p.database.startswith("sqlite")
    mysql = backend_name(p.database) == "mysql"
    django_migrate(django_site, p.database)
    execute(p.database, *seed(p.database))
    adopt_config(p)
    before = fingerprint(p.database)

    # The project's configured database; Django's own bookkeeping stays Django's.
    r = p.run("inspectdb", "--output", "legacy", "--exclude", "django_migrations")
    assert r.code == 0, r
    assert r.out_lines[0].startswith("Inspected 18 table(s), "), r
    assert r.out_lines[1:] == [
        "Wrote legacy/models.py",
        "Wrote legacy/migrations/app/0001_initial.json",
    ]
    assert fingerprint(p.database) == before
    # django_admin_log.action_flag is a PositiveSmallIntegerField: CHECK ("action_flag" >= 0).
    assert "django_admin_log: CHECK" in r.stderr, r
    # allauth's partial unique indexes are read, said, and stay in the database (MySQL and
    # MariaDB have none: Django leaves them out there).
    for name in ("unique_verified_email", "unique_primary_email") if not mysql else ():
        assert f"account_emailaddress: unique index {name} is partial (WHERE " in r.stderr, r
    assert "django_migrations" not in r.stderr

    text = (p.root / "legacy" / "models.py").read_text()
    pk = "" if sqlite else "    id = fields.Integer(primary_key=True)\n"
    for expected in [
        "class AuthUser(Model):\n" + pk + "    password = fields.Text(max_length=128)\n",
        "    username = fields.Text(max_length=150, unique=True)\n",
        "    last_login = fields.Timestamp"
        + ("" if sqlite or mysql else "tz")
        + "(nullable=True)\n",
        "    groups = fields.ManyToMany(AuthGroup)\n",
        "    user_permissions = fields.ManyToMany(AuthPermission)\n",
        "    permissions = fields.ManyToMany(AuthPermission)\n",
        "    session_key = fields.Text(primary_key=True, max_length=40)\n",
        'class AuthPermission(Model, unique_together=[("content_type_id", "codename")]):\n',
        "    content_type_id = fields.ForeignKey(DjangoContentType)\n",
    ]:
        assert expected in text, (expected, text)
    # The junction tables became ManyToMany fields, not models.
    assert "class AuthUserGroups" not in text
    assert "class DjangoMigrations" not in text
    assert "    sites = fields.ManyToMany(DjangoSite)\n" in text
    assert "class TaggitTaggeditem(" in text and "class AccountEmailaddress(" in text

    assert_round_trip(p)

    # Evolve the adopted schema with umbral: a new column everywhere, and on SQLite a widening
    # that rebuilds auth_user (rows and inbound FKs from the junction and the admin log kept).
    old = "    username = fields.Text(max_length=150, unique=True)\n"
    text = text.replace(old, old + "    nickname = fields.Text(nullable=True)\n")
    if sqlite:
        old = "    first_name = fields.Text(max_length=150)\n"
        assert old in text
        text = text.replace(old, "    first_name = fields.Text(max_length=200)\n")
    p.write("legacy/models.py", text)
    r = p.run("makemigrations")
    assert r.code == 0 and len(r.out_lines) == 1 and r.out_lines[0].startswith("Wrote "), r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert "nickname" in [c[0] for c in schema_of(p.database)["auth_user"]["columns"]]
    assert rows(p.database, "SELECT username, first_name, nickname FROM auth_user") == [
        ("ada", "Ada", None)
    ]
    assert rows(p.database, "SELECT user_id, group_id FROM auth_user_groups") == [(1, 1)]
    assert p.run("makemigrations").out_lines == ["no changes detected"]
    assert duplicates(p.database) == []


def test_django_fk_on_delete_change(any_project: Project, django_site: Path) -> None:
    """taggit's TaggedItem.tag becomes ON DELETE CASCADE: one foreign key on `tag_id` is left,
    with the new action, and the table's other (unchanged) foreign key stays as Django made it."""
    p, url = any_project, any_project.database
    text = adopt_django(p, django_site)
    before = counts(url)
    edit(p, text, "TaggitTaggeditem", "tag_id = fields.ForeignKey(TaggitTag)",
         'tag_id = fields.ForeignKey(TaggitTag, on_delete="cascade")')  # fmt: skip
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert counts(url) == before
    assert rows(url, "SELECT object_id, tag_id FROM taggit_taggeditem") == [(1, 2)]
    if backend_name(url) == "mysql":
        actions = rows(
            url,
            "SELECT DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'taggit_taggeditem' "
            "AND REFERENCED_TABLE_NAME = 'taggit_tag'",
        )
        assert actions == [("CASCADE",)]
    elif url.startswith("sqlite"):
        fks = {r[3]: r for r in rows(url, "PRAGMA foreign_key_list(taggit_taggeditem)")}
        assert fks["tag_id"][6] == "CASCADE"
        stored = rows(url, "SELECT sql FROM sqlite_master WHERE name = 'taggit_taggeditem'")[0][0]
        # Inline (`"content_type_id" ... REFERENCES ...`) or as a table constraint.
        deferred = r'"content_type_id"\)?[^,]* REFERENCES [^,]* DEFERRABLE INITIALLY DEFERRED'
        assert re.search(deferred, stored), stored
    else:
        actions = rows(
            url,
            "SELECT confdeltype FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid = 'taggit_taggeditem'::regclass AND confrelid = 'taggit_tag'::regclass",
        )
        assert actions == [("c",)]
    assert duplicates(url) == []
    assert p.run("makemigrations", "--check").code == 0


def test_django_nullability_flip_with_index(any_project: Project, django_site: Path) -> None:
    p, url = any_project, any_project.database
    text = adopt_django(p, django_site)
    before = counts(url)
    edit(p, text, "AuthUser", "last_name = fields.Text(max_length=150)",
         "last_name = fields.Text(max_length=150, nullable=True, index=True)")  # fmt: skip
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert counts(url) == before
    execute(
        url,
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
        "is_staff, is_active, date_joined) VALUES ('x', FALSE, 'bob', 'Bob', NULL, "
        "'bob@example.com', FALSE, TRUE, '2024-01-02 00:00:00')",
    )
    assert rows(url, "SELECT username, last_name FROM auth_user ORDER BY id") == [
        ("ada", "Lovelace"), ("bob", None),
    ]  # fmt: skip
    last_name = [k for k in shapes(url) if k[0] == "auth_user" and "last_name" in str(k)]
    assert len(last_name) == 1, shapes(url)
    assert rows(url, "SELECT user_id, group_id FROM auth_user_groups") == [(1, 1)]
    assert duplicates(url) == []
    assert p.run("makemigrations", "--check").code == 0


def test_django_column_renames(any_project: Project, django_site: Path) -> None:
    """An indexed column (django_session.expire_date) and a unique one (taggit_tag.slug) are
    renamed: values kept, and each still has exactly one index / unique constraint."""
    p, url = any_project, any_project.database
    text = adopt_django(p, django_site)
    before = counts(url)
    tz = "" if backend_name(url) in ("sqlite", "mysql") else "tz"
    text = edit(p, text, "DjangoSession", f"expire_date = fields.Timestamp{tz}(index=True)",
                f"expires_at = fields.Timestamp{tz}(index=True)")  # fmt: skip
    edit(p, text, "TaggitTag", "slug = fields.Text(max_length=100, unique=True)",
         "handle = fields.Text(max_length=100, unique=True)")  # fmt: skip
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert "column `django_session.expire_date` -> `expires_at`" in r.stderr, r
    assert "column `taggit_tag.slug` -> `handle`" in r.stderr, r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert counts(url) == before
    assert rows(url, "SELECT name, handle FROM taggit_tag ORDER BY id") == [
        ("Python", "python"), ("SQL", "sql"),
    ]  # fmt: skip
    assert rows(url, "SELECT session_key FROM django_session WHERE expires_at > '2029-01-01'") == [
        ("k1",)
    ]
    session = [k for k in shapes(url) if k[0] == "django_session" and "expires_at" in str(k)]
    tag = [k for k in shapes(url) if k[0] == "taggit_tag" and "handle" in str(k)]
    # PostgreSQL: Django's varchar_pattern_ops (`_like`) index sits beside the unique one.
    assert (len(session), len(tag)) == (1, 2 if backend_name(url) == "postgres" else 1), shapes(url)
    assert duplicates(url) == []
    assert p.run("makemigrations", "--check").code == 0
