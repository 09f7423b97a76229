"""One test per hook (SPEC §4), with real plugin classes on a fresh plugin manager.

Plugins here are small classes with ``@hookimpl`` methods, registered through
``App(plugin_modules=...)`` (which accepts modules and plugin objects) or directly on
``umbral.plugins.new_manager()``. Installed entry points are left out (``entry_points=False``)
so that only the plugins a test names take part; the SQLite backend plugin is registered as
the module it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer
from typer.testing import CliRunner

from conftest import rows
from umbral import App, Finding, Model, OpSafety, fields, hookimpl
from umbral import operations as ops
from umbral.backend import Backend, RenderContext
from umbral.errors import ConfigError, PluginError, Refused, UnsupportedChange
from umbral.executor import render_migration
from umbral.migration import Migration
from umbral.plugins import new_manager
from umbral.safety import classify
from umbral.schema import EMPTY, Column
from umbral_sqlite import plugin as sqlite_plugin
from umbral_sqlite.backend import SQLiteBackend


def make_app(tmp_path: Path, database: str | None = None, **plugins: Any) -> App:
    return App(
        database=database or f"sqlite:///{tmp_path / 'db.sqlite3'}",
        plugin_modules={"sqlite": sqlite_plugin, **plugins},
        root=tmp_path,
        entry_points=False,
    )


class Product(Model, plugin="shop"):
    name = fields.Text(max_length=200)


class Order(Model, plugin="shop"):
    product = fields.ForeignKey(Product)


class ShopPlugin:
    @hookimpl
    def umbral_models(self) -> list[type]:
        return [Product, Order]


def test_hook_umbral_models(tmp_path: Path) -> None:
    app = make_app(tmp_path, shop=ShopPlugin())
    result = app.makemigrations()
    # The plugin that returns the models owns them: its folder, its tables.
    assert [m.key for m in result.migrations] == ["shop/0001_initial"]
    assert [op.table for op in result.migrations[0].operations] == ["shop_product", "shop_order"]
    assert (tmp_path / "migrations" / "shop" / "0001_initial.json").is_file()
    assert not (tmp_path / "migrations" / "app").exists()
    assert app.migrate().applied == ["shop/0001_initial"]
    assert rows(app.database, "SELECT plugin, name FROM umbral_migrations") == [
        ("shop", "0001_initial")
    ]


def test_hook_umbral_models_a_model_owned_twice_is_an_error(tmp_path: Path) -> None:
    class Thief:
        @hookimpl
        def umbral_models(self) -> list[type]:
            return [Product]

    app = make_app(tmp_path, shop=ShopPlugin(), thief=Thief())
    with pytest.raises(PluginError, match="model `Product` is returned by two plugins"):
        app.makemigrations()


class Gadget(Model, plugin="alpha"):
    name = fields.Text()


class Widget(Model, plugin="zeta"):
    name = fields.Text()


class AlphaPlugin:
    @hookimpl
    def umbral_models(self) -> list[type]:
        return [Gadget]

    @hookimpl
    def umbral_plugin_dependencies(self) -> list[str]:
        return ["zeta"]


class ZetaPlugin:
    @hookimpl
    def umbral_models(self) -> list[type]:
        return [Widget]


def test_hook_umbral_plugin_dependencies(tmp_path: Path) -> None:
    app = make_app(tmp_path, alpha=AlphaPlugin(), zeta=ZetaPlugin())
    # Without the declared dependency the tie would go alphabetically (alpha first).
    assert app.env.order == ["zeta", "alpha"]
    app.makemigrations()
    order = ["zeta/0001_create_zeta_widget", "alpha/0001_create_alpha_gadget"]
    result = app.migrate(plan=True, replay=True)
    assert [r.migration.key for r in result.plan] == order
    fast = app.migrate(plan=True).fast  # an empty database: built from the snapshots
    assert fast is not None
    assert [m.key for m in fast.covered] == order
    assert [r.migration.plugin for r in fast.build] == ["zeta", "alpha"]


def test_hook_umbral_plugin_dependencies_unknown_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError) as exc:
        make_app(tmp_path, alpha=AlphaPlugin()).env  # noqa: B018 - building the env validates
    assert "plugin `alpha` depends on unknown plugin `zeta`" in str(exc.value)


def test_hook_umbral_plugin_dependencies_cycle_is_an_error(tmp_path: Path) -> None:
    class Zeta(ZetaPlugin):
        @hookimpl
        def umbral_plugin_dependencies(self) -> list[str]:
            return ["alpha"]

    with pytest.raises(PluginError, match="plugin dependency cycle: alpha -> zeta -> alpha"):
        make_app(tmp_path, alpha=AlphaPlugin(), zeta=Zeta()).env  # noqa: B018


def test_hook_umbral_migrations_dir(tmp_path: Path) -> None:
    shipped = tmp_path / "pkg" / "migrations"

    class Shop(ShopPlugin):
        @hookimpl
        def umbral_migrations_dir(self) -> Path:
            return shipped

    app = make_app(tmp_path, shop=Shop())
    assert app.env.info("shop").migrations_dir == shipped
    # A project plugin module is not an installed distribution: its directory is writable.
    assert app.env.info("shop").read_only is False
    app.makemigrations()
    assert sorted(p.name for p in shipped.iterdir()) == ["0001_initial.json"]
    assert not (tmp_path / "migrations" / "shop").exists()
    assert app.migrate().applied == ["shop/0001_initial"]


class EchoBackend(Backend):
    """A dialect of its own: a different scheme and type names, no database behind it."""

    name: ClassVar[str] = "echo"
    schemes: ClassVar[tuple[str, ...]] = ("echo",)
    TYPES: ClassVar[dict[str, str]] = {"BigInt": "NUMBER(19)", "Text": "VARCHAR2(4000)"}


class EchoPlugin:
    backend = EchoBackend()

    @hookimpl
    def umbral_backends(self) -> list[Backend]:  # without `scheme`: the older signature works
        return [self.backend]

    @hookimpl
    def umbral_render_operation(
        self, operation: ops.Operation, backend: Backend, context: RenderContext
    ) -> list[str] | None:
        if backend.name != "echo":
            return None
        return backend.render(operation, context)


def test_hook_umbral_backends(tmp_path: Path) -> None:
    app = make_app(tmp_path, database="echo://nowhere", shop=ShopPlugin(), echo=EchoPlugin())
    assert app.env.backend_for("echo://nowhere") is EchoPlugin.backend
    assert isinstance(app.env.backend_for("sqlite:///x.db"), SQLiteBackend)
    assert app.env.info("echo").is_backend
    app.makemigrations()
    # sqlmigrate renders for the configured backend without opening a database.
    rendered = app.sqlmigrate("shop/0001_initial")
    assert rendered.statements[0] == (
        'CREATE TABLE "shop_product" ("id" NUMBER(19) NOT NULL PRIMARY KEY, '
        '"name" VARCHAR(200) NOT NULL)'
    )


def test_hook_umbral_backends_unknown_scheme_lists_the_installed_ones(tmp_path: Path) -> None:
    app = make_app(tmp_path, echo=EchoPlugin())
    with pytest.raises(ConfigError) as exc:
        app.env.backend_for("mysql://host/db")
    assert "no installed backend serves `mysql://` URLs (installed: echo, sqlite)" in str(exc.value)


class AnalyzeTables:
    """Overrides one operation on one backend: every table SQLite creates is analyzed."""

    @hookimpl(tryfirst=True)
    def umbral_render_operation(
        self, operation: ops.Operation, backend: Backend, context: RenderContext
    ) -> list[str] | None:
        if backend.name != "sqlite" or not isinstance(operation, ops.CreateTable):
            return None
        return [*(backend.render(operation, context) or []), f'ANALYZE "{operation.table}"']


@dataclass(frozen=True)
class Vacuum(ops.Operation):
    """An operation kind the core does not know."""

    kind: ClassVar[str] = "Vacuum"

    def describe(self) -> str:
        return "Vacuum the database"


def _render(pm: Any, *operations: ops.Operation) -> list[str]:
    migration = Migration("app", "0001_x", list(operations), EMPTY)
    return render_migration(pm, SQLiteBackend(), migration, {}).statements


def test_hook_umbral_render_operation(tmp_path: Path) -> None:
    pm = new_manager()
    pm.register(sqlite_plugin, name="sqlite")
    pm.register(AnalyzeTables(), name="analyze")
    create = ops.CreateTable(table="t", columns=(Column("id", "Integer", primary_key=True),))
    add = ops.AddColumn(table="t", column=Column("c", "Text", nullable=True))
    assert _render(pm, create, add) == [
        'CREATE TABLE "t" ("id" INTEGER PRIMARY KEY AUTOINCREMENT)',
        'ANALYZE "t"',
        'ALTER TABLE "t" ADD COLUMN "c" TEXT',  # not overridden: the backend's own rendering
    ]
    pm.unregister(name="analyze")
    assert _render(pm, create) == ['CREATE TABLE "t" ("id" INTEGER PRIMARY KEY AUTOINCREMENT)']


def test_hook_umbral_render_operation_unrendered_operation_is_an_error() -> None:
    pm = new_manager()
    pm.register(sqlite_plugin, name="sqlite")
    with pytest.raises(UnsupportedChange) as exc:
        _render(pm, ops.RunSql(sql="SELECT 1"), Vacuum())
    assert str(exc.value) == (
        "migration app/0001_x: no plugin renders operation Vacuum for the sqlite backend; "
        "install the plugin that provides it"
    )

    class VacuumPlugin:
        @hookimpl
        def umbral_render_operation(
            self, operation: ops.Operation, backend: Backend, context: RenderContext
        ) -> list[str] | None:
            return ["PRAGMA optimize"] if operation.kind == "Vacuum" else None

    # A plugin may add the kind; then it renders like any other.
    pm.register(VacuumPlugin(), name="vacuum")
    assert _render(pm, Vacuum()) == ["PRAGMA optimize"]


@pytest.mark.parametrize("with_plugin", [True, False])
def test_hook_umbral_render_operation_override_runs_on_sqlite(
    tmp_path: Path, with_plugin: bool
) -> None:
    extra = {"analyze": AnalyzeTables()} if with_plugin else {}
    app = make_app(tmp_path, shop=ShopPlugin(), **extra)
    app.makemigrations()
    assert app.migrate().applied == ["shop/0001_initial"]
    # ANALYZE leaves its statistics table behind: proof the override's SQL ran.
    stats = rows(app.database, "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
    assert stats == ([("sqlite_stat1",)] if with_plugin else [])


class BigTables:
    """A plugin rule: indexes on `shop_order` lock a huge table."""

    @hookimpl
    def umbral_classify_operation(
        self, operation: ops.Operation, backend: Any, context: dict[str, Any]
    ) -> list[Any] | None:
        if isinstance(operation, ops.AddIndex) and operation.table == "shop_order":
            return [(OpSafety.UNSAFE, "ADD INDEX", "locks shop_order for minutes")]
        if isinstance(operation, ops.DropTable):
            # Milder than the core rule: the worst tier must still win.
            return [Finding(OpSafety.SAFE, "DROP TABLE", "fine by me")]
        return None


def test_hook_umbral_classify_operation() -> None:
    pm = new_manager()
    pm.register(BigTables(), name="big")
    ctx = {"migration": "shop/0002_x"}
    index = ops.AddIndex(table="shop_order", columns=("product",))
    assert classify(pm, index, None, ctx) == Finding(
        OpSafety.UNSAFE, "ADD INDEX", "locks shop_order for minutes"
    )
    # Other tables keep the core verdict.
    other = classify(pm, ops.AddIndex(table="shop_product", columns=("name",)), None, ctx)
    assert other.tier is OpSafety.SAFE
    # A plugin saying SAFE does not overrule the core's UNSAFE.
    drop = classify(pm, ops.DropTable(table="shop_order"), None, ctx)
    assert drop.tier is OpSafety.UNSAFE
    assert drop.message.startswith("drops table `shop_order` and all its rows")


def test_hook_umbral_classify_operation_changes_what_migrate_allows(tmp_path: Path) -> None:
    class Shop(ShopPlugin):
        @hookimpl
        def umbral_models(self) -> list[type]:
            class Order(Model, plugin="shop", indexes=[("product", "id")]):
                product = fields.ForeignKey(Product)

            return [Product, Order]

    make_app(tmp_path, shop=ShopPlugin()).makemigrations()
    make_app(tmp_path, shop=Shop()).makemigrations()
    app = make_app(tmp_path, shop=Shop(), big=BigTables())
    with pytest.raises(Refused) as exc:
        app.migrate()
    assert str(exc.value) == (
        "umbral migrate: 1 pending destructive operation(s) would DESTROY DATA:"
    )
    assert exc.value.details[0] == (
        "    [UNSAFE] shop/0002_add_index_shop_order_product_id: locks shop_order for minutes"
    )
    # Without the plugin the same history is safe to apply.
    assert len(make_app(tmp_path, shop=Shop()).migrate().applied) == 2


def test_hook_umbral_commands() -> None:
    from umbral.cli.main import build_cli
    from umbral.cli.plugincmds import Registrar

    class Report:
        @hookimpl
        def umbral_commands(self, cli: Any) -> None:
            @cli.command("shop-report")
            def shop_report(limit: int = 10) -> None:
                """Print the report limit."""
                typer.echo(f"limit={limit}")

            @cli.command("migrate")
            def evil() -> None:
                typer.echo("hijacked")

    pm = new_manager()
    pm.register(Report(), name="report")
    cli = build_cli(plugin_commands=False)
    registrar = Registrar(cli)
    pm.hook.umbral_commands(cli=registrar)
    assert registrar.dropped == ["migrate"]
    runner = CliRunner()
    r = runner.invoke(cli, ["shop-report", "--limit", "3"])
    assert (r.exit_code, r.stdout) == (0, "limit=3\n")
    assert "shop-report" in runner.invoke(cli, ["--help"]).stdout
    # The built-in survives.
    r = runner.invoke(cli, ["migrate", "--help"])
    assert r.exit_code == 0
    assert "hijacked" not in r.stdout
    assert "Apply pending migrations" in r.stdout


def test_a_run_of_a_builtin_command_registers_only_that_command() -> None:
    from umbral.cli.main import BUILTIN_COMMANDS, build_cli, invoked_command
    from umbral.cli.plugincmds import Registrar

    # The command past the global options; None whenever the whole CLI must answer.
    assert invoked_command(["migrate", "--plan"]) == "migrate"
    assert invoked_command(["--project", "p", "--database=sqlite://", "sqlmigrate", "x"]) == (
        "sqlmigrate"
    )
    assert invoked_command(["--traceback", "--project=p", "--database", "u", "plugins"]) == (
        "plugins"
    )
    assert invoked_command(["--project", "migrate"]) is None  # `migrate` is the option's value
    assert invoked_command([]) is None
    assert invoked_command(["--help", "migrate"]) is None
    assert invoked_command(["-h"]) is None
    assert invoked_command(["shop-report"]) is None  # a plugin's command
    assert invoked_command(["migrat"]) is None  # a typo: typer says there is no such command

    def commands(cli: typer.Typer) -> list[str]:
        return list(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]

    full = build_cli(plugin_commands=False)
    assert commands(full) == list(BUILTIN_COMMANDS)
    for name in BUILTIN_COMMANDS:
        cli = build_cli(plugin_commands=False, only=name)
        assert commands(cli) == [name]
        r = CliRunner().invoke(cli, [name, "--help"])
        assert r.exit_code == 0, r.output
        assert r.stdout == CliRunner().invoke(full, [name, "--help"]).stdout  # the same command
        r = CliRunner().invoke(cli, [name, "--no-such-flag"])
        assert r.exit_code == 2
        assert "No such option: --no-such-flag" in r.output

    # A plugin command that shadows a built-in is still noted; none is registered.
    cli = build_cli(plugin_commands=False, only="migrate")
    registrar = Registrar(None)
    registrar.command("migrate")(lambda: None)
    registrar.command("shop-report")(lambda: None)
    assert registrar.dropped == ["migrate"]
    assert commands(cli) == ["migrate"]
