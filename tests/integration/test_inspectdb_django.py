"""inspectdb on a schema another framework's migration tool created: Django's built-in apps
(auth, contenttypes, sessions, admin) migrated by Django itself, on SQLite and PostgreSQL.

Django is installed once per session into a temporary ``--target`` directory (PyPI is needed;
a failed install fails the test rather than skipping it) and runs as ``python -m django
migrate`` in a subprocess, so nothing of it lands in the test environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_inspectdb import adopt_config, assert_round_trip, fingerprint

from conftest import Project, execute, rows, schema_of, sqlite_path

SETTINGS = """
import json, os

SECRET_KEY = "umbral-inspectdb-test"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
USE_TZ = True
DATABASES = {"default": json.loads(os.environ["UMBRAL_TEST_DJANGO_DB"])}
"""


@pytest.fixture(scope="session")
def django_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with Django installed (``pip install --target``) and a settings module."""
    site = tmp_path_factory.mktemp("django_site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(site), "django>=5.2,<6"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, f"pip install django failed:\n{proc.stdout}\n{proc.stderr}"
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


def test_django_schema_round_trip(any_project: Project, django_site: Path) -> None:
    p = any_project
    sqlite = p.database.startswith("sqlite")
    django_migrate(django_site, p.database)
    execute(
        p.database,
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
        "is_staff, is_active, date_joined) VALUES ('x', FALSE, 'ada', 'Ada', 'Lovelace', "
        "'ada@example.com', FALSE, TRUE, '2024-01-01 00:00:00')",
        "INSERT INTO auth_group (name) VALUES ('staff')",
        "INSERT INTO auth_user_groups (user_id, group_id) VALUES (1, 1)",
    )
    adopt_config(p)
    before = fingerprint(p.database)

    r = p.run("inspectdb", "--output", "legacy")  # the project's configured database
    assert r.code == 0, r
    assert r.out_lines[0].startswith("Inspected 10 table(s), "), r
    assert r.out_lines[1:] == [
        "Wrote legacy/models.py",
        "Wrote legacy/migrations/app/0001_initial.json",
    ]
    assert fingerprint(p.database) == before
    # django_admin_log.action_flag is a PositiveSmallIntegerField: CHECK ("action_flag" >= 0).
    assert "django_admin_log: CHECK" in r.stderr, r

    text = (p.root / "legacy" / "models.py").read_text()
    pk = "" if sqlite else "    id = fields.Integer(primary_key=True)\n"
    for expected in [
        "class AuthUser(Model):\n" + pk + "    password = fields.Text(max_length=128)\n",
        "    username = fields.Text(max_length=150, unique=True)\n",
        "    last_login = fields.Timestamp" + ("" if sqlite else "tz") + "(nullable=True)\n",
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
