"""``checkmigrations`` and the destructive gate of ``migrate`` (SPEC §8, §10), through the CLI."""

from __future__ import annotations

import json

from conftest import Project, rows, schema_of

ORDER = """
class Order(Model):
    total = fields.Integer(default=0)
    legacy_total = fields.Integer(nullable=True)


class Customer(Model):
    name = fields.Text()
"""

# SPEC §10, byte for byte.
SPEC_OUTPUT = """\
Checking 4 operation(s) across 2 pending migration(s)...

UNSAFE (1):
  [DROP COL] app/0007_drop_legacy: drops column `order.legacy_total` and its data; old code \
reading it breaks. Expand-contract: stop writing it, deploy, then drop

WARNING (1):
  [RENAME COL] app/0006_rename: renames column `order.total` -> `amount`; old code references \
`total` (unless renamed with `umbral makemigrations --compat`, which leaves a compatibility \
view). Expand-contract: add `amount`, backfill, switch reads, then drop `total`

Summary: 2 safe, 1 warning, 1 unsafe.
"""
UNSAFE_ERROR = (
    "error: checkmigrations: 1 unsafe operation(s) found. Review the expand-contract notes "
    "above before deploying."
)
ALL_SAFE = "All pending operations are safe for a rolling deploy."


def not_created_note(p: Project) -> str:
    path = p.database.split(":///", 1)[1]
    return (
        f"note: database {path} does not exist yet: read as empty, and not created "
        "(`umbral migrate` creates it)"
    )


def make(p: Project, body: str, *args: str) -> str:
    """Write the models and run makemigrations; return the one file it wrote (no suffix)."""
    p.models(body)
    r = p.run("makemigrations", *args)
    assert r.code == 0, r
    assert len(r.out_lines) == 1 and r.out_lines[0].startswith("Wrote migrations/app/"), r
    return r.out_lines[0].rsplit("/", 1)[1].removesuffix(".json")


def applied_history(p: Project) -> str:
    """0001-0005 applied: `order` (total, legacy_total) and `customer` with four extra columns."""
    body = ORDER
    make(p, body)
    for n in range(1, 5):
        body += f"    extra{n} = fields.Text(nullable=True)\n"
        make(p, body)
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 5 migration(s)"]), r
    return body


def rename_and_drop(p: Project) -> None:
    """SPEC §10's pending set: 0006 renames `order.total`, 0007 drops `order.legacy_total`.

    Each also adds one nullable column to `customer` (a SAFE operation in another model keeps
    the rename detection of `order` unambiguous).
    """
    body = applied_history(p)
    body = body.replace("total = fields.Integer(default=0)", "amount = fields.Integer(default=0)")
    body += "    note = fields.Text(nullable=True)\n"
    assert make(p, body, "--name", "rename") == "0006_rename"
    body = body.replace("    legacy_total = fields.Integer(nullable=True)\n", "")
    body += "    phone = fields.Text(nullable=True)\n"
    assert make(p, body, "--name", "drop_legacy") == "0007_drop_legacy"
    kinds = [
        [op["kind"] for op in p.load_migration("app", f"{name}.json")["operations"]]
        for name in ("0006_rename", "0007_drop_legacy")
    ]
    assert kinds == [["AddColumn", "RenameColumn"], ["AddColumn", "DropColumn"]]


def test_checkmigrations_reproduces_the_spec_report(any_project: Project) -> None:
    p = any_project
    rename_and_drop(p)
    r = p.run("checkmigrations")
    assert r.code == 1, r
    assert r.stdout == SPEC_OUTPUT
    assert r.err_lines == [UNSAFE_ERROR]
    # Checking is read-only: nothing was applied.
    assert len(rows(p.database, "SELECT name FROM umbral_migrations")) == 5
    assert [c[0] for c in schema_of(p.database)["order"]["columns"]] == [
        "id",
        "total",
        "legacy_total",
    ]


def test_strict_fails_on_warnings_and_plain_check_passes_them(project: Project) -> None:
    p = project
    body = applied_history(p)
    body = body.replace("total = fields.Integer(default=0)", "amount = fields.Integer(default=0)")
    make(p, body, "--name", "rename")

    r = p.run("checkmigrations")
    assert r.code == 0, r
    assert r.out_lines == [
        "Checking 1 operation(s) across 1 pending migration(s)...",
        "",
        "WARNING (1):",
        "  [RENAME COL] app/0006_rename: renames column `order.total` -> `amount`; old code "
        "references `total` (unless renamed with `umbral makemigrations --compat`, which "
        "leaves a compatibility view). Expand-contract: add `amount`, backfill, switch reads, "
        "then drop "
        "`total`",
        "",
        "Summary: 0 safe, 1 warning, 0 unsafe.",
        "",
        ALL_SAFE,
    ]
    assert r.stderr == ""

    r = p.run("checkmigrations", "--strict")
    assert r.code == 1, r
    assert r.out_lines[-1] == "Summary: 0 safe, 1 warning, 0 unsafe."
    assert ALL_SAFE not in r.stdout
    assert r.err_lines == [
        "error: checkmigrations: 1 warning(s) found (--strict). Review the expand-contract "
        "notes above before deploying."
    ]


def test_json_report(project: Project) -> None:
    p = project
    rename_and_drop(p)
    r = p.run("checkmigrations", "--json")
    assert r.code == 1, r
    data = json.loads(r.stdout)
    assert data["pending_migrations"] == 2
    assert data["ok"] is False
    assert data["summary"] == {"safe": 2, "warning": 1, "unsafe": 1, "acknowledged": 0}
    assert [(o["migration"], o["kind"], o["tier"], o["tag"]) for o in data["operations"]] == [
        ("app/0006_rename", "AddColumn", "SAFE", "ADD COL"),
        ("app/0006_rename", "RenameColumn", "WARNING", "RENAME COL"),
        ("app/0007_drop_legacy", "AddColumn", "SAFE", "ADD COL"),
        ("app/0007_drop_legacy", "DropColumn", "UNSAFE", "DROP COL"),
    ]
    drop = data["operations"][3]
    assert drop["message"].startswith("drops column `order.legacy_total` and its data")
    assert drop["acknowledged"] is None
    assert data["operations"][0]["message"] == ""

    # Warnings alone pass the JSON check too, unless --strict.
    rename_only = p.root / "migrations/app/0007_drop_legacy.json"
    rename_only.unlink()
    r = p.run("checkmigrations", "--json")
    assert r.code == 0, r
    assert json.loads(r.stdout)["ok"] is True
    r = p.run("checkmigrations", "--json", "--strict")
    assert r.code == 1, r
    data = json.loads(r.stdout)
    assert (data["ok"], data["summary"]["warning"]) == (False, 1)


def test_nothing_pending(project: Project) -> None:
    p = project
    r = p.run("checkmigrations")
    assert (r.code, r.out_lines, r.err_lines) == (
        0,
        ["No pending migrations — nothing to check."],
        [not_created_note(p)],
    ), r
    make(p, "class Post(Model):\n    title = fields.Text()\n")
    assert p.run("migrate").code == 0
    r = p.run("checkmigrations", "--strict")
    assert (r.code, r.out_lines) == (0, ["No pending migrations — nothing to check."]), r
    data = json.loads(p.run("checkmigrations", "--json").stdout)
    assert data == {
        "pending_migrations": 0,
        "operations": [],
        "summary": {"safe": 0, "warning": 0, "unsafe": 0, "acknowledged": 0},
        "ok": True,
    }


def test_all_safe(project: Project) -> None:
    p = project
    body = "class Post(Model):\n    title = fields.Text()\n"
    make(p, body)
    body += "    slug = fields.Text(nullable=True)\n    views = fields.Integer(default=0)\n"
    make(p, body)
    r = p.run("checkmigrations", "--strict")
    assert r.code == 0, r
    assert r.out_lines == [
        "Checking 3 operation(s) across 2 pending migration(s)...",
        "",
        "Summary: 3 safe, 0 warning, 0 unsafe.",
        "",
        ALL_SAFE,
    ]
    assert r.err_lines == [not_created_note(p)]  # the database is read, not created


def test_acknowledged_finding_is_printed_but_does_not_fail(project: Project) -> None:
    p = project
    rename_and_drop(p)
    # The file is not applied anywhere yet, so editing it by hand is fine.
    path = p.root / "migrations/app/0007_drop_legacy.json"
    data = json.loads(path.read_text())
    assert data["operations"][1]["kind"] == "DropColumn"
    data["operations"][1]["acknowledged"] = "legacy_total unread since v2.3"
    path.write_text(json.dumps(data, indent=2) + "\n")

    r = p.run("checkmigrations")
    assert r.code == 0, r
    assert r.stderr == ""
    assert r.out_lines == [
        "Checking 4 operation(s) across 2 pending migration(s)...",
        "",
        "WARNING (1):",
        "  [RENAME COL] app/0006_rename: renames column `order.total` -> `amount`; old code "
        "references `total` (unless renamed with `umbral makemigrations --compat`, which "
        "leaves a compatibility view). Expand-contract: add `amount`, backfill, switch reads, "
        "then drop "
        "`total`",
        "",
        "ACKNOWLEDGED (1):",
        "  [DROP COL] app/0007_drop_legacy: drops column `order.legacy_total` and its data; old "
        "code reading it breaks. Expand-contract: stop writing it, deploy, then drop "
        "(acknowledged: legacy_total unread since v2.3)",
        "",
        "Summary: 2 safe, 1 warning, 0 unsafe, 1 acknowledged.",
        "",
        ALL_SAFE,
    ]
    report = json.loads(p.run("checkmigrations", "--json").stdout)
    assert report["ok"] is True
    assert report["summary"] == {"safe": 2, "warning": 1, "unsafe": 0, "acknowledged": 1}
    assert report["operations"][3]["acknowledged"] == "legacy_total unread since v2.3"
    # Acknowledging one finding does not silence the others under --strict.
    assert p.run("checkmigrations", "--strict").code == 1


def test_out_of_order_migrations_are_checked(project: Project) -> None:
    p = project
    body = (
        "class Post(Model):\n    title = fields.Text()\n    legacy = fields.Text(nullable=True)\n"
    )
    make(p, body)
    body = body.replace("    legacy = fields.Text(nullable=True)\n", "")
    assert make(p, body) == "0002_drop_post_legacy"
    body += "    slug = fields.Text(nullable=True)\n"
    assert make(p, body) == "0003_add_post_slug"
    assert p.run("migrate", "app/0001_create_post").code == 0
    assert p.run("migrate", "--fake", "app/0003_add_post_slug").code == 0
    assert "[?] app/0002_drop_post_legacy" in p.run("showmigrations").out_lines

    r = p.run("checkmigrations")
    assert r.code == 1, r
    assert r.out_lines[:4] == [
        "Checking 1 operation(s) across 1 pending migration(s)...",
        "",
        "UNSAFE (1):",
        "  [DROP COL] app/0002_drop_post_legacy: drops column `post.legacy` and its data; old "
        "code reading it breaks. Expand-contract: stop writing it, deploy, then drop",
    ]
    assert r.err_lines == [UNSAFE_ERROR]


# -- the destructive gate of migrate (SPEC §8) ------------------------------------------------

BLOG = """
class Author(Model):
    name = fields.Text()
    bio = fields.Text(nullable=True)


class Post(Model):
    title = fields.Text()
"""


def test_migrate_refuses_destructive_operations_until_allowed(any_project: Project) -> None:
    p = any_project
    make(p, BLOG)
    assert p.run("migrate").code == 0
    body = BLOG.replace("bio = fields.Text(nullable=True)", "rank = fields.Integer(default=0)")
    assert make(p, body) == "0002_auto"
    body = body.split("class Post", 1)[0].rstrip() + "\n"
    assert make(p, body) == "0003_drop_post"
    before = schema_of(p.database)
    recorded = rows(p.database, "SELECT plugin, name FROM umbral_migrations")

    r = p.run("migrate")
    assert r.code == 1, r
    assert r.out_lines == []
    assert r.err_lines == [
        "error: umbral migrate: 2 pending destructive operation(s) would DESTROY DATA:",
        "    [UNSAFE] app/0002_auto: drops column `author.bio` and its data; old code reading it "
        "breaks. Expand-contract: stop writing it, deploy, then drop",
        "    [UNSAFE] app/0003_drop_post: drops table `post` and all its rows; old code reading "
        "it breaks. Expand-contract: stop reading and writing it, deploy, then drop",
        "Nothing was applied. If this data is not meant to go (a model or field removed by "
        "mistake, or a rename makemigrations wrote as a drop and a create), delete the unapplied "
        "migration file(s) named above, correct the models and run makemigrations again, or "
        "write the rename by hand (RenameTable, RenameColumn); if the data loss is intended, "
        "re-run with --allow-destructive.",
    ]
    # The SAFE AddColumn of 0002 did not run either: the whole run is refused.
    assert schema_of(p.database) == before
    assert rows(p.database, "SELECT plugin, name FROM umbral_migrations") == recorded

    r = p.run("migrate", "--plan")
    assert r.code == 1, r
    assert r.err_lines[0] == (
        "error: umbral migrate: 2 pending destructive operation(s) would DESTROY DATA:"
    )

    r = p.run("migrate", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    after = schema_of(p.database)
    assert "post" not in after
    assert [c[0] for c in after["author"]["columns"]] == ["id", "name", "rank"]


def test_backward_run_that_drops_a_column_is_gated(any_project: Project) -> None:
    p = any_project
    make(p, BLOG)
    make(p, BLOG + "    views = fields.Integer(default=0)\n")
    assert p.run("migrate").code == 0
    # Un-applying an AddColumn drops the column: the reverse operation is what is classified.
    r = p.run("migrate", "app/0001_initial")
    assert r.code == 1, r
    assert r.err_lines[:2] == [
        "error: umbral migrate: 1 pending destructive operation(s) would DESTROY DATA:",
        "    [UNSAFE] app/0002_add_post_views: drops column `post.views` and its data; old code "
        "reading it breaks. Expand-contract: stop writing it, deploy, then drop",
    ]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == ["id", "title", "views"]
    assert len(rows(p.database, "SELECT name FROM umbral_migrations")) == 2

    r = p.run("migrate", "app/0001_initial", "--allow-destructive")
    assert r.code == 0, r
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == ["id", "title"]
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_initial",)]
