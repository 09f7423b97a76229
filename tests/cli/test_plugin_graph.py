"""Several plugins and the app: dependency order, cycles and invalid plugin sets (SPEC §4, §5)."""

from __future__ import annotations

import pytest

from conftest import SHOP, Project, execute, is_mysql, rows, schema_of

BILLING = """
from umbral import Model, fields, hookimpl


class Invoice(Model, plugin="billing"):
    item = fields.ForeignKey("shop.Item", on_delete="cascade")
    total = fields.Integer(default=0)


@hookimpl
def umbral_models():
    return [Invoice]
"""

APP = """
class Order(Model):
    invoice = fields.ForeignKey("billing.Invoice")
    item = fields.ForeignKey("Item", nullable=True)
"""


def three_plugins(p: Project) -> None:
    # "billing" sorts before "shop" by name, so only the FK edge can put shop first.
    p.write_config(
        plugin_modules={"shop": "shop", "billing": "billing"}, plugins=["billing", "shop"]
    )
    p.write("shop.py", SHOP)
    p.write("billing.py", BILLING)
    p.models(APP)


def applied_in_order(url: str) -> list[str]:
    # One transaction per migration: on PostgreSQL each row has a later xmin than the previous.
    if is_mysql(url):
        pytest.skip("MySQL keeps no insertion order of the tracking rows to check")
    order = "rowid" if url.startswith("sqlite") else "xmin::text::bigint"
    return [
        f"{a}/{b}"
        for a, b in rows(url, f"SELECT plugin, name FROM umbral_migrations ORDER BY {order}")
    ]


def test_cross_plugin_foreign_keys_are_applied_in_dependency_order(any_project: Project) -> None:
    p = any_project
    three_plugins(p)
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == [
        "Wrote migrations/shop/0001_create_shop_item.json",
        "Wrote migrations/billing/0001_create_billing_invoice.json",
        "Wrote migrations/app/0001_create_order.json",
    ]
    assert p.load_migration("shop", "0001_create_shop_item.json")["depends_on"] == []
    assert p.load_migration("billing", "0001_create_billing_invoice.json")["depends_on"] == [
        "shop/0001_create_shop_item"
    ]
    assert p.load_migration("app", "0001_create_order.json")["depends_on"] == [
        "billing/0001_create_billing_invoice",
        "shop/0001_create_shop_item",
    ]
    r = p.run("migrate", "--plan", "--replay")
    assert r.code == 0, r
    assert [line for line in r.out_lines if not line.startswith(("Path:", " "))] == [
        "Apply shop/0001_create_shop_item",
        "Apply billing/0001_create_billing_invoice",
        "Apply app/0001_create_order",
    ]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 3 migration(s)"]), r
    assert applied_in_order(p.database) == [
        "shop/0001_create_shop_item",
        "billing/0001_create_billing_invoice",
        "app/0001_create_order",
    ]
    r = p.run("showmigrations")
    assert r.out_lines == [
        "# plugin: app",
        "[X] app/0001_create_order",
        "",
        "# plugin: billing",
        "[X] billing/0001_create_billing_invoice",
        "",
        "# plugin: shop",
        "[X] shop/0001_create_shop_item",
    ]


def test_a_later_migration_depends_on_the_latest_of_the_referenced_plugin(
    project: Project,
) -> None:
    p = project
    three_plugins(p)
    assert p.run("makemigrations").code == 0
    p.write(
        "shop.py",
        SHOP.replace(
            "name = fields.Text()", "name = fields.Text()\n    sku = fields.Text(nullable=True)"
        ),
    )
    p.models(APP + '    item2 = fields.ForeignKey("shop.Item", nullable=True)\n')
    r = p.run("makemigrations")
    assert r.out_lines == [
        "Wrote migrations/shop/0002_add_shop_item_sku.json",
        "Wrote migrations/app/0002_add_order_item2.json",
    ], r
    assert p.load_migration("app", "0002_add_order_item2.json")["depends_on"] == [
        "app/0001_create_order",
        "shop/0002_add_shop_item_sku",
    ]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 5 migration(s)"]), r


def test_foreign_key_cycle_between_plugins_names_the_plugins_and_fields(project: Project) -> None:
    """One entry per edge of the cycle, naming every field that makes it (a field once, even
    with several keys between the same two plugins)."""
    p = project
    three_plugins(p)
    p.write(
        "shop.py",
        SHOP.replace(
            "name = fields.Text()",
            "name = fields.Text()\n"
            '    invoice = fields.ForeignKey("billing.Invoice", nullable=True)\n'
            '    refund = fields.ForeignKey("billing.Invoice", nullable=True)\n'
            '    invoices = fields.ManyToMany("billing.Invoice")',
        ),
    )
    before = p.tree()
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert r.out_lines == []
    assert len(r.err_lines) == 1, r
    line = r.err_lines[0]
    assert line.startswith(
        "error: foreign keys between plugins form a cycle: `billing` -> `shop` "
        "(`Invoice.item`), `shop` -> `billing` (`Item.invoice`, `Item.refund`, "
        "`Item.invoices`). "
    ), line
    assert line.endswith(
        ". Set db_constraint=False on one of these foreign keys (the plugins are ordered by the "
        "keys the database enforces, whatever the migration that adds them; a ManyToMany "
        "always is one), or move the models into one plugin"
    ), line
    assert p.tree() == before


def test_fk_cycle_broken_by_db_constraint_false(project: Project) -> None:
    p = project
    three_plugins(p)
    p.write(
        "shop.py",
        SHOP.replace(
            "name = fields.Text()",
            "name = fields.Text()\n"
            '    invoice = fields.ForeignKey("billing.Invoice", nullable=True,'
            " db_constraint=False)",
        ),
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert p.run("migrate").code == 0


def deps_plugin(name: str, deps: list[str]) -> str:
    return f"""
from umbral import hookimpl


@hookimpl
def umbral_models():
    return []


@hookimpl
def umbral_plugin_dependencies():
    return {deps!r}
"""


def error_line(p: Project, *args: str) -> str:
    before = p.tree()
    r = p.run(*args)
    assert r.code == 1, r
    assert r.out_lines == []
    assert len(r.err_lines) == 1, r
    assert "Traceback" not in r.stderr
    assert p.tree() == before
    return r.err_lines[0]


def test_declared_dependency_cycle(project: Project) -> None:
    p = project
    p.write_config(plugin_modules={"alpha": "alpha", "beta": "beta"}, plugins=["alpha", "beta"])
    p.write("alpha.py", deps_plugin("alpha", ["beta"]))
    p.write("beta.py", deps_plugin("beta", ["alpha"]))
    line = error_line(p, "makemigrations")
    assert line == "error: plugin dependency cycle: alpha -> beta -> alpha"
    # Every command that loads the plugins refuses the same way, before touching the database.
    assert error_line(p, "migrate") == line
    assert not (p.root.parent / "db.sqlite3").exists()


def test_dependency_on_an_unknown_plugin(project: Project) -> None:
    p = project
    p.write_config(plugin_modules={"alpha": "alpha"}, plugins=["alpha"])
    p.write("alpha.py", deps_plugin("alpha", ["ghost"]))
    line = error_line(p, "makemigrations")
    assert line.startswith("error: plugin `alpha` depends on unknown plugin `ghost`")


def test_a_plugin_named_app_is_refused(project: Project) -> None:
    p = project
    p.write_config(plugin_modules={"app": "shop"})
    p.write("shop.py", SHOP)
    line = error_line(p, "makemigrations")
    assert line.startswith("error: a plugin may not be named `app`")


def test_two_models_with_one_class_name_in_a_plugin(project: Project) -> None:
    p = project
    p.write_config(plugin_modules={"shop": "shop"}, plugins=["shop"])
    p.write(
        "shop_extra.py",
        SHOP.split("@hookimpl")[0].replace('plugin="shop"', 'plugin="shop", table="other_item"'),
    )
    p.write(
        "shop.py",
        SHOP.replace("return [Item]", "return [Item, shop_extra.Item]").replace(
            "from umbral import", "import shop_extra\nfrom umbral import"
        ),
    )
    line = error_line(p, "makemigrations")
    assert line == (
        "error: plugin `shop` has two models named `Item` (shop.Item and shop_extra.Item); "
        "model identity is the class name, rename one"
    )


def test_two_app_models_with_one_class_name(project: Project) -> None:
    p = project
    p.write_config(models=["models", "more_models"])
    p.models("class Post(Model):\n    title = fields.Text()\n")
    p.write(
        "more_models.py",
        'from umbral import Model, fields\n\n\nclass Post(Model, table="post2"):\n'
        "    body = fields.Text()\n",
    )
    line = error_line(p, "makemigrations")
    assert line.startswith("error: plugin `app` has two models named `Post`")
    assert "models.Post" in line and "more_models.Post" in line


def test_plugins_allow_list_filters_project_plugins(project: Project) -> None:
    p = project
    three_plugins(p)
    p.write_config(plugins=["shop"])
    p.models("class Note(Model):\n    text = fields.Text()\n")
    r = p.run("makemigrations")
    assert r.out_lines == [
        "Wrote migrations/shop/0001_create_shop_item.json",
        "Wrote migrations/app/0001_create_note.json",
    ], r


SHOP_TWO = SHOP.replace("return [Item]", "return [Item, Tag]").replace(
    "@hookimpl", 'class Tag(Model, plugin="shop"):\n    label = fields.Text()\n\n\n@hookimpl'
)
INVOICE_ITEM = 'item = fields.ForeignKey("shop.Item", on_delete="cascade")\n    '
ORDER_ITEM = '    item = fields.ForeignKey("Item", nullable=True)\n'
ITEM = 'class Item(Model, plugin="shop"):\n    name = fields.Text()'
#: Not Item renamed (the columns differ): a new model.
PRODUCT = (
    'class Product(Model, plugin="shop"):\n    title = fields.Text()\n    price = fields.Integer()'
)


def applied_with_a_tag(p: Project) -> None:
    """The three plugins, shop with a second model (Tag), migrated."""
    three_plugins(p)
    p.write("shop.py", SHOP_TWO)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0


def test_a_dropped_table_waits_for_the_other_plugins_to_drop_their_keys_to_it(
    any_project: Project,
) -> None:
    # PostgreSQL and MySQL refuse to drop a table a foreign key points at: shop's drop of
    # shop_item runs after billing's and app's migrations that drop their keys to it.
    p = any_project
    applied_with_a_tag(p)
    p.write("shop.py", SHOP_TWO.replace("[Item, Tag]", "[Tag]"))
    p.write("billing.py", BILLING.replace(INVOICE_ITEM, ""))
    p.models(APP.replace(ORDER_ITEM, ""))
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert p.load_migration("shop", "0002_drop_shop_item.json")["depends_on"] == [
        "app/0002_drop_order_item",
        "billing/0002_drop_billing_invoice_item",
        "shop/0001_initial",
    ]
    r = p.run("migrate", "--plan", "--allow-destructive")
    assert r.code == 0, r
    applies = [line for line in r.out_lines if line.startswith("Apply")]
    assert sorted(applies[:2]) == [
        "Apply app/0002_drop_order_item",
        "Apply billing/0002_drop_billing_invoice_item",
    ], r
    assert applies[2:] == ["Apply shop/0002_drop_shop_item"], r
    r = p.run("migrate", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Applied 3 migration(s)"]), r
    assert "shop_item" not in schema_of(p.database)
    # Back to before billing's drop: shop's is un-applied first, so the table is back before
    # the key to it; and forward again.
    back = ("--allow-destructive", "--allow-irreversible")
    r = p.run("migrate", "billing/0001_create_billing_invoice", *back)
    assert r.code == 0, r
    assert schema_of(p.database)["billing_invoice"]["fks"] == [(("item",), "shop_item")]
    r = p.run("migrate", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r


def test_a_table_replaced_in_one_run_splits_its_drop_into_a_second_migration(
    any_project: Project,
) -> None:
    # shop replaces Item with Product; billing and app point their keys at Product. Their
    # migrations need shop's new table, and shop's drop of shop_item needs theirs (the keys to
    # it gone): shop's drop goes to a second migration, as Django's autodetector splits one.
    p = any_project
    three_plugins(p)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    p.write("shop.py", SHOP.replace(ITEM, PRODUCT).replace("[Item]", "[Product]"))
    p.write("billing.py", BILLING.replace("shop.Item", "shop.Product"))
    p.models(APP.replace('"Item"', '"Product"'))
    r = p.run("makemigrations")
    assert r.out_lines == [
        "Wrote migrations/shop/0002_auto.json",
        "Wrote migrations/shop/0003_drop_shop_item.json",
        "Wrote migrations/billing/0002_alter_billing_invoice_item.json",
        "Wrote migrations/app/0002_alter_order_item.json",
    ], r
    assert p.load_migration("billing", "0002_alter_billing_invoice_item.json")["depends_on"] == [
        "billing/0001_create_billing_invoice",
        "shop/0002_auto",
    ]
    assert p.load_migration("shop", "0003_drop_shop_item.json")["depends_on"] == [
        "app/0002_alter_order_item",
        "billing/0002_alter_billing_invoice_item",
        "shop/0002_auto",
    ]
    assert [op["kind"] for op in p.load_migration("shop", "0002_auto.json")["operations"]] == [
        "CreateTable"
    ]
    r = p.run("migrate", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Applied 4 migration(s)"]), r
    assert "shop_item" not in schema_of(p.database)
    assert p.run("makemigrations", "--check").code == 0
    # All the way back and forward again, each migration's reverse in the graph's order.
    back = ("--allow-destructive", "--allow-irreversible")
    r = p.run("migrate", "shop/zero", *back)
    assert r.code == 0, r
    assert p.run("migrate", "--allow-destructive").code == 0
    assert "shop_item" not in schema_of(p.database)


def test_a_drop_alone_is_not_split_the_others_depend_on_the_migration_before(
    any_project: Project,
) -> None:
    # billing moves its key from Item to Tag (which shop already had) while shop drops Item:
    # billing's migration needs nothing of shop's drop, so it depends on shop/0001 and the
    # drop on it.
    p = any_project
    applied_with_a_tag(p)
    p.write("shop.py", SHOP_TWO.replace("[Item, Tag]", "[Tag]"))
    p.write("billing.py", BILLING.replace("shop.Item", "shop.Tag"))
    p.models(APP.replace(ORDER_ITEM, ""))
    r = p.run("makemigrations")
    assert r.out_lines == [
        "Wrote migrations/shop/0002_drop_shop_item.json",
        "Wrote migrations/billing/0002_alter_billing_invoice_item.json",
        "Wrote migrations/app/0002_drop_order_item.json",
    ], r
    assert p.load_migration("billing", "0002_alter_billing_invoice_item.json")["depends_on"] == [
        "billing/0001_create_billing_invoice",
        "shop/0001_initial",
    ]
    assert p.load_migration("shop", "0002_drop_shop_item.json")["depends_on"] == [
        "app/0002_drop_order_item",
        "billing/0002_alter_billing_invoice_item",
        "shop/0001_initial",
    ]
    r = p.run("migrate", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Applied 3 migration(s)"]), r
    assert schema_of(p.database)["billing_invoice"]["fks"] == [(("item",), "shop_tag")]
    back = ("--allow-destructive", "--allow-irreversible")
    assert p.run("migrate", "billing/0001_create_billing_invoice", *back).code == 0
    assert schema_of(p.database)["billing_invoice"]["fks"] == [(("item",), "shop_item")]
    # The files of shop and billing now depend on each other both ways; a fresh database built
    # from the snapshots still makes shop's tables before billing's key to shop_tag.
    fresh = f"sqlite:///{p.root / 'fresh.sqlite3'}"
    r = p.run("--database", fresh, "migrate", "--plan", "--allow-destructive")
    assert [line for line in r.out_lines if line.startswith("Build")] == [
        "Build shop at shop/0002_drop_shop_item",
        "Build billing at billing/0002_alter_billing_invoice_item",
        "Build app at app/0002_drop_order_item",
    ], r


def test_a_rebuild_in_the_run_of_another_plugins_rename_keeps_its_key_to_the_new_name(
    any_project: Project,
) -> None:
    # In one run shop renames shop_tag and billing drops a foreign-key column, which SQLite
    # does by rebuilding billing_invoice: the rebuild's key to shop_tag must name shop_label.
    p = any_project
    three_plugins(p)
    p.write("shop.py", SHOP_TWO)
    tag = '    tag = fields.ForeignKey("shop.Tag", nullable=True)\n'
    p.write("billing.py", BILLING.replace("    total = ", tag + "    total = "))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO shop_item (name) VALUES ('i')",
        "INSERT INTO shop_tag (label) VALUES ('t')",
        "INSERT INTO billing_invoice (item, tag, total) VALUES (1, 1, 5)",
    )
    p.write(
        "shop.py",
        SHOP_TWO.replace(
            'class Tag(Model, plugin="shop")', 'class Tag(Model, plugin="shop", table="shop_label")'
        ),
    )
    p.write("billing.py", BILLING.replace(INVOICE_ITEM, tag.lstrip() + "    "))
    r = p.run("makemigrations")
    assert r.code == 0, r
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert schema_of(p.database)["billing_invoice"]["fks"] == [(("tag",), "shop_label")]
    assert rows(p.database, "SELECT tag, total FROM billing_invoice") == [(1, 5)]
