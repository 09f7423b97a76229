"""`migrate --prune`: forgetting the tracking rows of migrations no longer on disk (SPEC §9)."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, rows, schema_of, sqlite_path


def recorded(p: Project) -> list[tuple[str, str]]:
    return sorted(rows(p.database, "SELECT plugin, name FROM umbral_migrations"))


def user_schema(p: Project) -> dict:
    return {t: v for t, v in schema_of(p.database).items() if t != "umbral_migrations"}


def three(p: Project) -> None:
    body = "class Post(Model):\n    title = fields.Text()\n"
    p.models(body)
    assert p.run("makemigrations").code == 0
    for letter in "ab":
        body += f"    {letter} = fields.Text(nullable=True)\n"
        p.models(body)
        assert p.run("makemigrations").code == 0


def test_drift_message_points_to_prune_and_prune_clears_it(any_project: Project) -> None:
    p = any_project
    three(p)
    assert p.run("migrate").code == 0
    (p.root / "migrations/app/0003_add_post_b.json").unlink()
    (p.root / "migrations/app/0002_add_post_a.json").unlink()
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate: drift detected",
        "The following migrations are in the tracking table but missing on disk:",
        "[!] app/0002_add_post_a",
        "[!] app/0003_add_post_b",
        "",
        "Options:",
        "1. Restore the file(s) from VCS.",
        "2. Run `umbral migrate --allow-drift` to proceed and apply pending migrations.",
        "3. Run `umbral migrate --prune` to delete the tracking rows of the [!] migrations "
        "(the schema is not touched).",
    ]
    before = user_schema(p)

    r = p.run("migrate", "--prune", "--plan")
    assert r.code == 0, r
    assert r.out_lines == [
        "Prune app/0002_add_post_a (delete its tracking row; the schema is not touched)",
        "Prune app/0003_add_post_b (delete its tracking row; the schema is not touched)",
    ]
    assert len(recorded(p)) == 3

    r = p.run("migrate", "--prune")
    assert r.code == 0, r
    assert r.out_lines == [
        "Pruned app/0002_add_post_a (tracking row deleted; the schema is not touched)",
        "Pruned app/0003_add_post_b (tracking row deleted; the schema is not touched)",
    ]
    assert recorded(p) == [("app", "0001_create_post")]
    assert user_schema(p) == before  # the columns a and b stay
    assert p.run("showmigrations").out_lines == ["# plugin: app", "[X] app/0001_create_post"]
    r = p.run("migrate")
    assert (r.code, r.out_lines, r.err_lines) == (0, ["No pending migrations"], [])
    r = p.run("migrate", "--prune")
    assert (r.code, r.out_lines) == (0, ["No orphan tracking rows to prune"])


def test_prune_keeps_rows_replaced_by_a_squash_on_disk(any_project: Project) -> None:
    p = any_project
    three(p)
    assert p.run("migrate").code == 0
    r = p.run("squashmigrations", "app")
    assert r.code == 0, r
    squashed = [f for f in p.migration_files() if "_squashed_" in f]
    assert squashed, p.migration_files()
    for name in ("0001_create_post", "0002_add_post_a", "0003_add_post_b"):
        (p.root / f"migrations/app/{name}.json").unlink()
    before = recorded(p)
    r = p.run("migrate", "--prune")
    assert (r.code, r.out_lines) == (0, ["No orphan tracking rows to prune"]), r
    assert recorded(p) == before


def test_prune_refuses_a_target(project: Project) -> None:
    r = project.run("migrate", "--prune", "app/0001_x")
    assert r.code == 2, r
    assert "--prune" in r.stderr


def test_turning_a_plugin_off_says_so_and_prune_forgets_it(any_project: Project) -> None:
    p = any_project
    p.write_config(plugins=["accounts"])
    p.models("")
    r = p.run("migrate")
    assert r.code == 0, r
    shipped = [k for k in recorded(p) if k[0] == "accounts"]
    assert shipped
    p.write_config(plugins=[])
    r = p.run("migrate")
    assert r.code == 1, r
    assert "Restore the file(s) from VCS." not in r.stderr
    assert r.err_lines[1] == (
        "The following migrations belong to plugin(s) turned off (left out of the `plugins` "
        "allow-list of the configuration): accounts"
    )
    assert r.err_lines[-3:] == [
        "1. Add accounts back to the `plugins` allow-list of the configuration.",
        "2. Run `umbral migrate --allow-drift` to proceed and apply pending migrations.",
        "3. Run `umbral migrate --prune` to delete the tracking rows of the [!] migrations "
        "(the schema is not touched).",
    ]
    r = p.run("migrate", "--prune")
    assert r.code == 0, r
    assert r.out_lines == [
        f"Pruned {a}/{n} (tracking row deleted; the schema is not touched)" for a, n in shipped
    ]
    assert "accounts_user" in schema_of(p.database)  # its tables stay
    assert p.run("migrate").code == 0


def test_prune_on_a_database_not_created_yet_creates_none(project: Project) -> None:
    p = project
    three(p)
    path = Path(sqlite_path(p.database))
    assert not path.exists()
    r = p.run("migrate", "--prune")
    assert (r.code, r.out_lines) == (0, ["No orphan tracking rows to prune"]), r
    assert r.err_lines == [
        f"note: database {path} does not exist yet: read as empty, and not created "
        "(`umbral migrate` creates it)"
    ]
    assert not path.exists()


def test_a_misnamed_migrations_directory_is_refused_not_pruned(project: Project) -> None:
    """A typo in `migrations` made every applied migration read as deleted (`[!]`), and the
    refusal offered --prune, which would have emptied the tracking table."""
    p = project
    three(p)
    assert p.run("migrate").code == 0
    p.write_config(migrations="migrations_typo")
    refusal = (
        "umbral migrate: plugin `app` has 3 migration(s) recorded as applied, and its "
        f"migrations directory {p.root / 'migrations_typo' / 'app'} holds none: check "
        "`migrations` in the configuration, or restore the files; nothing was run"
    )
    for args in (["migrate"], ["migrate", "--prune"], ["migrate", "--plan"]):
        r = p.run(*args)
        assert (r.code, r.err_lines) == (1, [f"error: {refusal}"]), r
    assert len(recorded(p)) == 3
    # makemigrations then starts a history there: --prune would forget the real one.
    assert p.run("makemigrations").code == 0
    r = p.run("migrate", "--prune")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral migrate --prune: it would forget 2 applied migration(s) of plugin "
        "`app`, whose migrations directory"
    ), r
    assert len(recorded(p)) == 3
    # Started again on purpose: said so.
    assert p.run("migrate", "--prune", "--allow-drift").code == 0
    assert recorded(p) == [("app", "0001_create_post")]
