"""Tenant schemas (``[tool.umbral.tenants]``): the shared plugins migrate once in the default
schema, every other plugin in each tenant's schema, in parallel, one tenant's failure not
stopping the others; on a real PostgreSQL server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SHOP, Project, execute, make_project, rows

ORDERS_1 = """
class Purchase(Model):
    item = fields.ForeignKey("shop.Item")
"""

ORDERS_2 = (
    ORDERS_1
    + """
    quantity = fields.Integer(default=1)
"""
)

APP_KEYS = ["app/0001_purchase", "app/0002_quantity"]


def fleet(p: Project, schemas: list[str], **tenants: object) -> None:
    """A shared plugin ``shop`` and the app's ``Purchase`` (a key to ``shop.Item``) in two
    migrations; ``schemas`` are the tenants."""
    config: dict[str, object] = {"shared": ["shop"], **tenants}
    if "query" not in tenants:
        config["schemas"] = schemas
    p.write_config(plugin_modules={"shop": "shop"}, plugins=["shop"], tenants=config)
    p.write("shop.py", SHOP)
    for name, body in (("purchase", ORDERS_1), ("quantity", ORDERS_2)):
        p.models(body)
        r = p.run("makemigrations", "--name", name)
        assert r.code == 0, r


def tables_by_schema(url: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for schema, table in rows(
        url,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    ):
        found.setdefault(schema, set()).add(table)
    return found


def recorded(url: str, schema: str) -> list[str]:
    return sorted(
        f"{a}/{b}" for a, b in rows(url, f'SELECT plugin, name FROM "{schema}".umbral_migrations')
    )


@pytest.fixture
def pg(tmp_path, postgres_url: str) -> Project:
    return make_project(tmp_path, postgres_url)


def test_fifty_tenants_migrate_in_parallel_and_one_conflict_fails_alone(pg: Project) -> None:
    schemas = [f"t{i:02d}" for i in range(50)]
    fleet(pg, schemas)
    # One tenant already holds a hand-made table of the app's name.
    execute(pg.database, "CREATE SCHEMA t07", "CREATE TABLE t07.purchase (id INTEGER)")

    r = pg.run("migrate", "--tenants", "--create", "--jobs", "6")
    assert r.code == 1, r
    assert "Default schema: applied 1 migration(s)" in r.out_lines
    assert "50 tenant(s): 0 up to date, 49 applied, 1 failed" in r.out_lines, r
    failed = [line for line in r.out_lines if line.startswith("  failed: ")]
    assert len(failed) == 1 and failed[0].startswith("  failed: t07: "), r
    assert "purchase" in failed[0] and "already exists" in failed[0], r
    assert [line for line in r.err_lines if line.startswith("error: ")] == [
        line for line in r.err_lines if line.startswith("error: tenant t07: ")
    ]

    found = tables_by_schema(pg.database)
    own = {"purchase", "umbral_migrations", "umbral_migration_progress"}
    for schema in schemas:
        if schema == "t07":
            continue
        assert found[schema] == own, schema
        assert recorded(pg.database, schema) == APP_KEYS, schema
    # The shared plugin lives in the default schema only, and only it is recorded there.
    assert found["public"] == {"shop_item", "umbral_migrations"}
    assert recorded(pg.database, "public") == ["shop/0001_purchase"]
    assert found["t07"] == {"purchase", "umbral_migrations", "umbral_migration_progress"}
    assert recorded(pg.database, "t07") == []
    # A tenant's key points at the shared table.
    target = rows(
        pg.database,
        "SELECT confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = 't03.purchase'::regclass",
    )
    assert target == [("shop_item",)]

    execute(pg.database, "DROP TABLE t07.purchase")
    r = pg.run("migrate", "--tenants")
    assert r.code == 0, r
    assert r.out_lines == ["t07: applied 2 migration(s)",
                           "50 tenant(s): 49 up to date, 1 applied, 0 failed"], r  # fmt: skip
    r = pg.run("migrate", "--tenants")
    assert (r.code, r.out_lines) == (0, ["50 tenant(s): 50 up to date, 0 applied, 0 failed"]), r

    r = pg.run("showmigrations", "--tenants")
    assert r.code == 0, r
    assert r.out_lines[:2] == ["t00: 2 applied", "t01: 2 applied"], r
    assert r.out_lines[-1] == "50 tenant(s): 50 up to date, 0 behind"


RENDER_LOG = """

@hookimpl
def umbral_render_operation(operation, backend, context):
    # Counts renderings: one line per operation rendered, whatever the schema.
    with open("renders.log", "a") as log:
        log.write(f"{operation.kind} {getattr(operation, 'table', '')}\\n")
    return None
"""


def test_a_migration_renders_once_for_all_tenants(pg: Project) -> None:
    """Rendering is per migration, not per schema: five tenants, each of the app's operations
    rendered once (a plugin's render hook counts the calls), run in every tenant."""
    schemas = [f"r{i}" for i in range(5)]
    fleet(pg, schemas)
    pg.write("shop.py", SHOP + RENDER_LOG)
    r = pg.run("migrate", "--tenants", "--create", "--jobs", "3")
    assert r.code == 0, r
    assert "5 tenant(s): 0 up to date, 5 applied, 0 failed" in r.out_lines, r
    rendered = (pg.root / "renders.log").read_text().splitlines()
    assert sorted(rendered) == [
        "AddColumn purchase",
        "CreateTable purchase",
        "CreateTable shop_item",
    ]
    for schema in schemas:
        assert recorded(pg.database, schema) == APP_KEYS


def test_concurrent_runs_apply_each_tenants_migrations_once(pg: Project) -> None:
    schemas = [f"c{i:02d}" for i in range(16)]
    fleet(pg, schemas)
    runs = [pg.start("migrate", "--tenants", "--create", "--json", "--jobs", "4") for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in runs]
    assert [proc.returncode for proc in runs] == [0, 0], outputs
    applied: dict[str, list[str]] = {s: [] for s in schemas}
    for stdout, _ in outputs:
        for t in json.loads(stdout)["tenants"]:
            applied[t["schema"]] += t["applied"]
    for schema in schemas:
        assert sorted(applied[schema]) == APP_KEYS, schema  # once, by one run or the other
        assert recorded(pg.database, schema) == APP_KEYS


def test_fail_fast_starts_no_tenant_after_a_failure(pg: Project) -> None:
    fleet(pg, ["a1", "a2", "a3"])
    execute(pg.database, "CREATE SCHEMA a1", "CREATE TABLE a1.purchase (id INTEGER)")
    r = pg.run("migrate", "--tenants", "--create", "--jobs", "1", "--fail-fast")
    assert r.code == 1, r
    assert "3 tenant(s): 0 up to date, 0 applied, 1 failed, 2 not run (--fail-fast)" in r.out_lines
    assert recorded(pg.database, "a1") == []
    assert "a2" not in tables_by_schema(pg.database) or not recorded(pg.database, "a2")


def test_a_missing_schema_fails_without_create(pg: Project) -> None:
    fleet(pg, ["here", "gone"])
    execute(pg.database, "CREATE SCHEMA here")
    r = pg.run("migrate", "--tenants")
    assert r.code == 1, r
    assert "error: tenant gone: schema `gone` does not exist: create it, or pass --create" in (
        r.err_lines
    )
    assert "2 tenant(s): 0 up to date, 1 applied, 1 failed" in r.out_lines
    assert "gone" not in tables_by_schema(pg.database)


def test_tenants_from_a_query_and_one_tenant_at_a_time(pg: Project) -> None:
    execute(
        pg.database,
        "CREATE TABLE customers (schema_name TEXT)",
        "INSERT INTO customers VALUES ('acme'), ('globex')",
    )
    fleet(pg, [], query="SELECT schema_name FROM public.customers ORDER BY 1")
    r = pg.run("migrate", "--tenant", "globex", "--create")
    assert (r.code, r.out_lines) == (
        0,
        ["Default schema: applied 1 migration(s)", "globex: applied 2 migration(s)",
         "1 tenant(s): 0 up to date, 1 applied, 0 failed"],
    ), r  # fmt: skip
    assert "acme" not in tables_by_schema(pg.database)

    r = pg.run("showmigrations", "--tenant", "globex")
    assert r.out_lines == ["# plugin: app", "[X] app/0001_purchase", "[X] app/0002_quantity"], r
    r = pg.run("showmigrations", "--tenants")
    assert r.out_lines == [
        "acme: cannot be read: schema `acme` does not exist: create it, or pass --create",
        "globex: 2 applied",
        "",
        "2 tenant(s): 1 up to date, 0 behind, 1 unreadable",
    ], r
    # The default schema shows the shared plugin only.
    r = pg.run("showmigrations")
    assert r.out_lines == ["# plugin: shop", "[X] shop/0001_purchase"], r

    r = pg.run("migrate", "--tenant", "initech")
    assert r.code == 1, r
    assert r.err_lines == ["error: --tenant initech: no such tenant (tenants: acme, globex)"]


def test_json_summary(pg: Project) -> None:
    fleet(pg, ["j1", "j2"])
    r = pg.run("migrate", "--tenants", "--create", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert data["shared"] == {"applied": ["shop/0001_purchase"]}
    assert sorted((t["schema"], t["state"], t["applied"]) for t in data["tenants"]) == [
        ("j1", "applied", APP_KEYS),
        ("j2", "applied", APP_KEYS),
    ]
    assert data["summary"] == {"up_to_date": 0, "applied": 2, "failed": 0, "not_run": 0}


def test_tenants_need_a_database_with_schemas(project: Project) -> None:
    fleet(project, ["a"])
    r = project.run("migrate", "--tenants")
    assert r.code == 1, r
    assert r.err_lines[-1].startswith(
        "error: tenant schemas need a database with schemas; the sqlite backend has none"
    ), r


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tenants", "--plan"], "--plan works on one database"),
        (["--tenant", "a", "app/0001_purchase"], "a target works on one database"),
        (["--tenants", "--alias", "default"], "--alias works on one database"),
        (["--jobs", "3"], "add --tenants or --tenant NAME"),
        (["--create"], "add --tenants or --tenant NAME"),
    ],
)
def test_usage_errors(project: Project, args: list[str], needle: str) -> None:
    fleet(project, ["a"])
    r = project.run("migrate", *args)
    assert r.code == 2, r
    assert needle in " ".join(r.stderr.split()), r


@pytest.mark.parametrize(
    ("tenants", "needle"),
    [
        ({"schemas": ["a"], "query": "SELECT 1"}, "needs exactly one of `schemas`"),
        ({"shared": ["shop"]}, "needs exactly one of `schemas`"),
        ({"schemas": "a"}, "`tenants.schemas` must be a list of schema names"),
        ({"schemas": ["a"], "jobs": 0}, "`tenants.jobs` must be a whole number"),
        ({"schemas": ["a"], "owner": "x"}, "unknown key(s) tenants.owner"),
        ({"schemas": ["a"], "shared": ["nope"]}, "`tenants.shared` names unknown plugin(s) nope"),
        ({"schemas": ["notaurl#x"]}, "is neither a schema name nor URL#schema"),
    ],
)
def test_configuration_errors(project: Project, tenants: dict, needle: str) -> None:
    project.write_config(tenants=tenants)
    r = project.run("migrate", "--tenants")
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("error: "), r
    assert needle in r.err_lines[0], r


def test_a_shared_plugin_routed_to_another_database_is_an_error(
    project: Project, tmp_path: Path
) -> None:
    project.write("shop.py", SHOP)
    project.write_config(
        plugin_modules={"shop": "shop"},
        plugins=["shop"],
        databases={"other": f"sqlite:///{tmp_path / 'other.sqlite3'}"},
        routing={"shop": "other"},
        tenants={"schemas": ["a"], "shared": ["shop"]},
    )
    r = project.run("migrate", "--tenants")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: `tenants.shared` names plugin(s) that `routing` puts in another database "
        "(shop in `other`); the shared plugins live in the default database beside the "
        "tenants' schemas: remove them from tenants.shared"
    ], r


def test_a_tenant_never_reads_the_default_schemas_tracking_table(pg: Project) -> None:
    """The project ran in the default schema before it had tenants: a tenant schema without a
    tracking table of its own is at zero, not where the default schema's table says."""
    fleet(pg, ["fresh"])
    tenants = pg.config.pop("tenants")
    pg.write_config()
    assert pg.run("migrate").code == 0  # everything in public
    pg.write_config(tenants=tenants)
    execute(pg.database, "CREATE SCHEMA fresh")
    r = pg.run("showmigrations", "--tenant", "fresh")
    assert r.out_lines[:3] == ["# plugin: app", "[ ] app/0001_purchase", "[ ] app/0002_quantity"], r
    r = pg.run("migrate", "--tenant", "fresh")
    assert r.code == 0, r
    assert "fresh: applied 2 migration(s)" in r.out_lines, r
    assert recorded(pg.database, "fresh") == APP_KEYS


def test_tenants_on_another_server_get_the_shared_plugins_there_too(
    pg: Project, postgres_admin: object
) -> None:
    """``URL#schema``: a tenant on another database (here: of the same server) is migrated
    there, after that database's default schema has the shared plugins its keys point at."""
    other = pg.database.rsplit("/", 1)[0] + "/" + pg.database.rsplit("/", 1)[1] + "_b"
    name = other.rsplit("/", 1)[1]
    postgres_admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        fleet(pg, ["local", f"{other}#remote"])
        r = pg.run("migrate", "--tenants", "--create")
        assert r.code == 0, r
        assert r.out_lines[-1] == "2 tenant(s): 0 up to date, 2 applied, 0 failed", r
        assert f"{other}#remote: applied 2 migration(s)" in r.out_lines, r
        assert recorded(other, "remote") == APP_KEYS
        assert recorded(other, "public") == ["shop/0001_purchase"]
        assert "remote" not in tables_by_schema(pg.database)
        assert recorded(pg.database, "local") == APP_KEYS
        r = pg.run("showmigrations", "--tenants")
        assert r.out_lines == [
            "local: 2 applied",
            f"{other}#remote: 2 applied",
            "",
            "2 tenant(s): 2 up to date, 0 behind",
        ], r
    finally:
        postgres_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]


def test_an_unreachable_server_fails_its_tenants_only(pg: Project) -> None:
    gone = "postgresql://postgres@127.0.0.1:1/nowhere"
    fleet(pg, ["local", f"{gone}#remote"])
    r = pg.run("migrate", "--tenants", "--create")
    assert r.code == 1, r
    assert r.out_lines[-2] == "2 tenant(s): 0 up to date, 1 applied, 1 failed", r
    assert r.out_lines[-1].startswith(f"  failed: {gone}#remote: its server's shared plugins "), r
    assert recorded(pg.database, "local") == APP_KEYS


def test_a_query_may_return_the_server_and_the_schema(pg: Project) -> None:
    """Two columns: the server's URL (NULL for the default database) and the schema."""
    execute(
        pg.database,
        "CREATE TABLE customers (server TEXT, schema_name TEXT)",
        "INSERT INTO customers VALUES (NULL, 'acme'), (NULL, 'globex')",
    )
    fleet(pg, [], query="SELECT server, schema_name FROM public.customers ORDER BY 2")
    r = pg.run("migrate", "--tenants", "--create")
    assert r.code == 0, r
    assert r.out_lines[-1] == "2 tenant(s): 0 up to date, 2 applied, 0 failed", r
    assert recorded(pg.database, "acme") == recorded(pg.database, "globex") == APP_KEYS
    execute(pg.database, "INSERT INTO customers VALUES (NULL, NULL)")
    r = pg.run("migrate", "--tenants")
    assert r.code == 1, r
    assert r.err_lines[-1].startswith("error: tenants.query must return one column"), r


def test_the_default_schema_and_a_name_cut_short_are_no_tenants(pg: Project) -> None:
    """`public` as a tenant put every tenant plugin's tables in the default schema and their
    rows in its tracking table; a name over 63 bytes was created cut short, and every later
    --create then stopped the whole fleet ("already exists"). Each fails its own tenant."""
    long = "t" * 70
    fleet(pg, ["acme", "public", long, "pg_catalog", "information_schema", "te%st"])
    for _ in range(2):
        r = pg.run("migrate", "--tenants", "--create")
        assert r.code == 1, r
        default = (
            "error: tenant public: schema `public` is the database's default schema, where the "
            "shared plugins and the default tracking table live: a tenant needs a schema of "
            "its own"
        )
        cut = (
            f"error: tenant {long}: schema name `{long}` is longer than the database keeps "
            "(63): it would be cut short; give the tenant a shorter one"
        )
        assert default in r.err_lines and cut in r.err_lines, r
        for system in ("pg_catalog", "information_schema"):
            assert (
                f"error: tenant {system}: schema `{system}` is a system schema of PostgreSQL's: "
                "a tenant needs a schema of its own"
            ) in r.err_lines, r
        assert any(line.startswith("error: tenant te%st: schema name") for line in r.err_lines)
    assert recorded(pg.database, "acme") == APP_KEYS
    assert recorded(pg.database, "public") == ["shop/0001_purchase"]
    assert set(tables_by_schema(pg.database)) == {"acme", "public"}


def test_a_query_may_hold_a_percent_sign(pg: Project) -> None:
    execute(pg.database, "CREATE SCHEMA tenant_a")
    fleet(pg, [], query="SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_%'")
    r = pg.run("migrate", "--tenants")
    assert r.code == 0, r
    assert recorded(pg.database, "tenant_a") == APP_KEYS
    # A query that fails says it is the query.
    fleet(pg, [], query="SELECT nope FROM nowhere")
    r = pg.run("migrate", "--tenants")
    assert r.code == 1, r
    assert r.err_lines[0].startswith('error: tenants.query failed: relation "nowhere" does not'), r


def test_a_refused_tenant_says_what_and_how(pg: Project) -> None:
    """Only the first line of a refusal reached the tenant's error: which operation and what
    to do were lost."""
    fleet(pg, ["acme"])
    assert pg.run("migrate", "--tenants", "--create").code == 0
    pg.models(ORDERS_1)
    assert pg.run("makemigrations", "--name", "drop").code == 0
    r = pg.run("migrate", "--tenants")
    assert r.code == 1, r
    assert any(
        line.startswith("    [UNSAFE] app/0003_drop: drops column") for line in r.err_lines
    ), r


def test_checkmigrations_classifies_what_the_tenants_would_run(pg: Project) -> None:
    """It read the default schema only: a drop pending in every tenant passed the check
    (`No pending migrations`), while migrate --tenants refused it as destructive."""
    fleet(pg, ["acme", "globex"])
    assert pg.run("migrate", "--tenants", "--create").code == 0
    r = pg.run("checkmigrations")
    assert (r.code, r.out_lines[0]) == (0, "No pending migrations — nothing to check."), r
    pg.models(ORDERS_1)
    assert pg.run("makemigrations", "--name", "drop").code == 0
    r = pg.run("checkmigrations")
    assert r.code == 1, r
    assert any(
        line.startswith("  [DROP COL] app/0003_drop: drops column") for line in r.out_lines
    ), r
    assert r.out_lines[0] == "Checking 1 operation(s) across 1 pending migration(s)...", r


def steps_migration(p: Project, sql: str) -> Path:
    """``app/0003_steps``: a non-atomic ``RunSql`` (one statement at a time, resumable)."""
    path = p.root / "migrations" / "app" / "0003_steps.json"
    if not path.exists():
        assert p.run("makemigrations", "--empty", "app", "--name", "steps").code == 0
    data = json.loads(path.read_text())
    data["atomic"] = False
    data["operations"] = [{"kind": "RunSql", "sql": sql}]
    path.write_text(json.dumps(data, indent=2))
    return path


def test_one_tenants_partly_applied_migration_is_finished_with_its_own_flags(pg: Project) -> None:
    """A tenant whose non-atomic migration stopped part way, its file then edited, was told to
    run `umbral migrate --from-statement N` or `--fake`, both refused with --tenant (and
    without it they ran on the default schema): that tenant had no way on."""
    fleet(pg, ["acme", "globex"])
    assert pg.run("migrate", "--tenants", "--create").code == 0
    execute(pg.database, "INSERT INTO public.shop_item (name) VALUES ('x')",
            "INSERT INTO acme.purchase (item) VALUES (1)")  # fmt: skip
    # The second statement divides by zero where a row holds 2: in acme, not in globex.
    steps_migration(pg, "UPDATE purchase SET quantity = 2;"
                        " UPDATE purchase SET quantity = 1 / (quantity - 2);"
                        " UPDATE purchase SET quantity = quantity + 1;")  # fmt: skip
    r = pg.run("migrate", "--tenants")
    assert r.code == 1, r
    assert "2 tenant(s): 0 up to date, 1 applied, 1 failed" in r.out_lines, r
    steps_migration(pg, "UPDATE purchase SET quantity = 2; UPDATE purchase SET quantity = 5;"
                        " UPDATE purchase SET quantity = quantity + 1;")  # fmt: skip
    r = pg.run("migrate", "--tenant", "acme")
    assert r.code == 1, r
    assert "its file was edited since" in r.stderr and "--from-statement N" in r.stderr, r

    r = pg.run("migrate", "--tenant", "acme", "--from-statement", "2")
    assert (r.code, r.out_lines) == (
        0, ["acme: applied 1 migration(s)", "1 tenant(s): 0 up to date, 1 applied, 0 failed"]
    ), r  # fmt: skip
    assert rows(pg.database, "SELECT quantity FROM acme.purchase") == [(6,)]
    assert recorded(pg.database, "acme") == [*APP_KEYS, "app/0003_steps"]
    assert rows(pg.database, "SELECT count(*) FROM acme.umbral_migration_progress") == [(0,)]

    # globex (no rows) ran the first version whole; --fake re-records the edited file there,
    # in that tenant's schema only.
    assert "[~] app/0003_steps" in pg.run("showmigrations", "--tenant", "globex").out_lines
    r = pg.run("migrate", "--tenant", "globex", "--fake", "app/0003_steps")
    assert r.code == 0, r
    assert r.out_lines[0] == (
        "globex: Re-recorded app/0003_steps with its current checksum (no SQL executed)"
    ), r
    assert recorded(pg.database, "globex") == [*APP_KEYS, "app/0003_steps"]
    assert recorded(pg.database, "public") == ["shop/0001_purchase"]

    # Every tenant at once: still one database's flags, a usage error.
    for flag in (["--fake", "app/0003_steps"], ["--from-statement", "2"]):
        r = pg.run("migrate", "--tenants", *flag)
        assert r.code == 2, r
        assert "works on one tenant" in " ".join(r.stderr.split()), r


def test_fake_of_a_tenant_plugin_is_refused_in_the_default_schema(pg: Project) -> None:
    """`migrate --fake app/…` without --tenant recorded the tenant plugin's migration in the
    default schema, which holds the shared plugins only: a tracking row without its schema
    change, shown as `[!]` there."""
    fleet(pg, ["acme"])
    assert pg.run("migrate", "--tenants", "--create").code == 0
    for args in (["--fake", "app/0002_quantity"], ["--fake", "app/0002_quantity", "--plan"]):
        r = pg.run("migrate", *args)
        assert r.code == 1, r
        assert r.err_lines == [
            "error: umbral migrate --fake app/0002_quantity: plugin `app` lives in the tenant "
            "schemas, not in the default schema, which holds the shared plugins (shop); "
            "nothing was recorded; add --tenant NAME to record it in one tenant"
        ], r
    assert recorded(pg.database, "public") == ["shop/0001_purchase"]


def test_a_tenant_with_drift_is_not_counted_up_to_date(pg: Project) -> None:
    """A tenant whose tracking table names a migration not on disk (`[!]`) or whose file was
    edited (`[~]`) was counted `up to date` by `showmigrations --tenants`, while `migrate
    --tenants` refused it (drift detected)."""
    fleet(pg, ["acme", "globex"])
    assert pg.run("migrate", "--tenants", "--create").code == 0
    execute(
        pg.database,
        "INSERT INTO acme.umbral_migrations (plugin, name, applied_at, checksum)"
        " VALUES ('app', '0009_gone', '2026-01-01T00:00:00+00:00', 'x')",
    )
    r = pg.run("showmigrations", "--tenants")
    assert (r.code, r.out_lines) == (
        0,
        ["acme: 2 applied, 1 missing", "globex: 2 applied", "",
         "2 tenant(s): 1 up to date, 0 behind, 1 with drift (showmigrations --tenant NAME)"],
    ), r  # fmt: skip
    data = json.loads(pg.run("showmigrations", "--tenants", "--json").stdout)
    assert [(t["tenant"], t["drift"]) for t in data["tenants"]] == [("acme", 1), ("globex", 0)]
    r = pg.run("migrate", "--tenants")
    assert r.code == 1 and "  failed: acme: umbral migrate: drift detected" in r.out_lines, r

    # The way out the drift message names, for that tenant.
    r = pg.run("migrate", "--tenant", "acme", "--prune")
    assert (r.code, r.out_lines) == (0, [
        "acme: Pruned app/0009_gone (tracking row deleted; the schema is not touched)",
        "1 tenant(s): 1 up to date, 0 applied, 0 failed",
    ]), r  # fmt: skip
    assert recorded(pg.database, "acme") == APP_KEYS
    r = pg.run("showmigrations", "--tenants")
    assert r.out_lines[-1] == "2 tenant(s): 2 up to date, 0 behind", r
    assert pg.run("migrate", "--tenants", "--prune").code == 2


def test_a_target_of_a_tenant_plugin_is_refused_in_the_default_schema(pg: Project) -> None:
    """`migrate app/zero` on a project with tenants said `No pending migrations` (exit 0): the
    default schema holds no tenant plugin, and the tenants were never looked at, so a
    rollback the user asked for silently did nothing."""
    fleet(pg, ["acme"])
    assert pg.run("migrate", "--tenants", "--create").code == 0
    for args in (["app/zero"], ["app/0001_purchase", "--plan"]):
        r = pg.run("migrate", *args)
        assert r.code == 1, r
        assert r.err_lines == [
            f"error: umbral migrate {args[0]}: plugin `app` lives in the tenant schemas, not in "
            "the default schema, which holds the shared plugins (shop); nothing was run here or "
            "in any tenant: a target works on one database and has no tenant form yet"
        ], r
    assert recorded(pg.database, "acme") == APP_KEYS
    # A target of a shared plugin works as before.
    r = pg.run("migrate", "shop/0001_purchase")
    assert (r.code, r.out_lines) == (0, ["No pending migrations"]), r
