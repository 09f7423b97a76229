"""Write one synthetic schema as an umbral project, a Django project and an Alembic project.

Table, column and index layouts are kept equal across the three so the databases they build are
comparable: tables ``<plugin>_<model>``, an integer ``id`` key, foreign keys in ``ref<k>_id``
columns with an index, and the same data columns. Migration files for history steps are written
here for Django and Alembic (what a developer would get from their autogenerators for one small
change); umbral's are produced by umbral itself (see ``gen.py``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from schema import TYPES, Change, Col, ModelSpec, Schema

# -- umbral ---------------------------------------------------------------------------------


def umbral_field(c: Col, models: dict[str, ModelSpec]) -> str:
    if c.fk:
        target = models[c.fk]
        return (
            f'fields.ForeignKey("{target.plugin}.{target.name}", nullable=True, '
            f'on_delete="cascade", index=True, column="{c.name}_id")'
        )
    opts = []
    if c.nullable:
        opts.append("nullable=True")
    if c.index:
        opts.append("index=True")
    tmpl = TYPES[c.type][0]
    o = ", ".join(opts)
    return tmpl.format(o=(", " + o) if o and "max_length" in tmpl else o)


def umbral_models_code(s: Schema, plugin: str) -> str:
    lines = ["from umbral import Model, fields", ""]
    for m in s.by_plugin(plugin):
        default_table = f"{m.plugin}_{m.label}"
        table = f', table="{m.table}"' if m.table != default_table else ""
        lines += ["", f'class {m.name}(Model, plugin="{plugin}"{table}):']
        lines += [f"    {c.name} = {umbral_field(c, s.models)}" for c in m.cols]
    return "\n".join(lines) + "\n"


UMBRAL_PLUGIN = """\
from umbral import hookimpl


@hookimpl
def umbral_models():
    from {plugin} import models

    return [getattr(models, n) for n in dir(models) if n[:1] == "M" and n[1:].isdigit()]
"""


def write_umbral(root: Path, s: Schema, database: str = "sqlite:///db.sqlite3") -> None:
    root.mkdir(parents=True, exist_ok=True)
    mods = ", ".join(f'{p} = "{p}.plugin"' for p in s.plugins)
    plugins = ", ".join(f'"{p}"' for p in s.plugins)
    (root / "umbral.toml").write_text(
        f'database = "{database}"\nplugins = [{plugins}]\nplugin_modules = {{ {mods} }}\n'
    )
    for p in s.plugins:
        write_umbral_plugin(root, s, p)


def write_umbral_plugin(root: Path, s: Schema, plugin: str) -> None:
    pkg = root / plugin
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(UMBRAL_PLUGIN.format(plugin=plugin))
    (pkg / "models.py").write_text(umbral_models_code(s, plugin))


# -- Django ---------------------------------------------------------------------------------


def django_field(c: Col, models: dict[str, ModelSpec]) -> str:
    if c.fk:
        target = models[c.fk]
        return (
            f'models.ForeignKey("{target.plugin}.{target.name}", null=True, '
            'on_delete=models.CASCADE, related_name="+")'
        )
    opts = []
    if c.nullable:
        opts.append("null=True")
    if c.index:
        opts.append("db_index=True")
    tmpl = TYPES[c.type][1]
    o = ", ".join(opts)
    return tmpl.format(o=(", " + o) if o and "max_length" in tmpl else o)


def django_models_code(s: Schema, plugin: str) -> str:
    lines = ["from django.db import models", ""]
    for m in s.by_plugin(plugin):
        lines += ["", f"class {m.name}(models.Model):"]
        lines += [f"    {c.name} = {django_field(c, s.models)}" for c in m.cols]
        if m.table != f"{m.plugin}_{m.label}":
            lines += ["", "    class Meta:", f'        db_table = "{m.table}"']
    return "\n".join(lines) + "\n"


DJANGO_SETTINGS = """\
import os

SECRET_KEY = "bench"
USE_TZ = True
INSTALLED_APPS = [{apps}]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
_url = os.environ.get("BENCH_DB_URL", "sqlite:///db.sqlite3")
if _url.startswith("postgresql://"):
    _rest = _url.split("://", 1)[1]
    _user_host, _name = _rest.rsplit("/", 1)
    _user, _host = _user_host.split("@", 1)
    _host, _port = (_host.split(":") + ["5432"])[:2]
    DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": _name,
                              "USER": _user, "HOST": _host, "PORT": _port}}}}
else:
    DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3",
                              "NAME": os.path.join(os.path.dirname(os.path.dirname(
                                  os.path.abspath(__file__))), _url.split(":///", 1)[1])}}}}
"""

DJANGO_MANAGE = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""


def write_django(root: Path, s: Schema) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manage.py").write_text(DJANGO_MANAGE)
    site = root / "benchsite"
    site.mkdir(exist_ok=True)
    (site / "__init__.py").write_text("")
    apps = ", ".join(f'"{p}"' for p in s.plugins)
    (site / "settings.py").write_text(DJANGO_SETTINGS.format(apps=apps))
    for p in s.plugins:
        write_django_app(root, s, p)


def write_django_app(root: Path, s: Schema, plugin: str) -> None:
    pkg = root / plugin
    (pkg / "migrations").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "migrations" / "__init__.py").write_text("")
    (pkg / "models.py").write_text(django_models_code(s, plugin))


def django_operation(ch: Change, after: Schema) -> str:
    m = after.models[ch.model]
    col = next((c for c in m.cols if c.name == ch.column), None)
    if ch.kind == "add":
        assert col is not None
        return (
            f'migrations.AddField(model_name="{m.label}", name="{col.name}", '
            f"field={django_field(col, after.models)})"
        )
    if ch.kind == "drop":
        return f'migrations.RemoveField(model_name="{m.label}", name="{ch.column}")'
    if ch.kind in ("nullable", "index"):
        assert col is not None
        return (
            f'migrations.AlterField(model_name="{m.label}", name="{col.name}", '
            f"field={django_field(col, after.models)})"
        )
    return f'migrations.AlterModelTable(name="{m.label}", table="{m.table}")'


def django_migration_code(previous: str, plugin: str, operation: str) -> str:
    return textwrap.dedent(f"""\
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("{plugin}", "{previous}")]
            operations = [
                {operation},
            ]
        """)


# -- Alembic (SQLAlchemy Core metadata) -------------------------------------------------------


def index_name(m: ModelSpec, column: str) -> str:
    # Named after the original table so a table rename does not make autogenerate see a new
    # index (the database keeps the old name).
    return f"ix_{m.plugin}_{m.label}_{column}"


def sa_column(c: Col, models: dict[str, ModelSpec]) -> str:
    if c.fk:
        target = models[c.fk]
        return (
            f'sa.Column("{c.name}_id", sa.Integer(), sa.ForeignKey("{target.table}.id", '
            'ondelete="CASCADE"), nullable=True)'
        )
    return f'sa.Column("{c.name}", {TYPES[c.type][2]}, nullable={c.nullable})'


def sa_table_code(m: ModelSpec, models: dict[str, ModelSpec]) -> str:
    parts = [f'"{m.table}"', "metadata", 'sa.Column("id", sa.Integer(), primary_key=True)']
    parts += [sa_column(c, models) for c in m.cols]
    for c in m.cols:
        if c.index:
            name = f"{c.name}_id" if c.fk else c.name
            parts.append(f'sa.Index("{index_name(m, name)}", "{name}")')
    return "sa.Table(\n    " + ",\n    ".join(parts) + ",\n)\n"


def sa_models_code(s: Schema) -> str:
    body = "\n".join(sa_table_code(m, s.models) for m in s.models.values())
    return "import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n\n" + body


ALEMBIC_INI = """\
[alembic]
script_location = alembic
prepend_sys_path = .

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

ALEMBIC_ENV = """\
import os

from alembic import context
from sqlalchemy import create_engine

from models import metadata

url = os.environ.get("BENCH_DB_URL", "sqlite:///db.sqlite3")
if url.startswith("postgresql://"):
    url = "postgresql+psycopg://" + url.split("://", 1)[1]
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
"""

ALEMBIC_MAKO = '''\
"""${message}"""
from alembic import op
import sqlalchemy as sa

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''


def write_alembic(root: Path, s: Schema) -> None:
    (root / "alembic" / "versions").mkdir(parents=True, exist_ok=True)
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    (root / "alembic" / "env.py").write_text(ALEMBIC_ENV)
    (root / "alembic" / "script.py.mako").write_text(ALEMBIC_MAKO)
    (root / "models.py").write_text(sa_models_code(s))


def alembic_operation(ch: Change, before: Schema, after: Schema) -> str:
    m = after.models[ch.model]
    old = before.models[ch.model]
    t = m.table
    if ch.kind == "add":
        col = next(c for c in m.cols if c.name == ch.column)
        return f'op.add_column("{t}", {sa_column(col, after.models)})'
    if ch.kind == "drop":
        return f'op.drop_column("{t}", "{ch.column}")'
    if ch.kind == "nullable":
        col = next(c for c in m.cols if c.name == ch.column)
        return (
            f'with op.batch_alter_table("{t}") as b:\n        b.alter_column("{col.name}", '
            f"existing_type={TYPES[col.type][2]}, nullable=True)"
        )
    if ch.kind == "index":
        return f'op.create_index("{index_name(m, str(ch.column))}", "{t}", ["{ch.column}"])'
    return f'op.rename_table("{old.table}", "{t}")'


def alembic_revision_code(rev: str, down: str, operation: str) -> str:
    return (
        f'"""history step {rev}"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        f'revision = "{rev}"\ndown_revision = "{down}"\nbranch_labels = None\n'
        f"depends_on = None\n\n\ndef upgrade():\n    {operation}\n\n\n"
        "def downgrade():\n    pass\n"
    )
