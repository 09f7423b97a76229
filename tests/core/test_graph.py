"""The migration graph across plugins (SPEC §5). Pure: Migration objects, no files."""

from __future__ import annotations

import pytest

from umbral.errors import MigrationGraphError
from umbral.graph import check_dependencies, leaves, plan_order
from umbral.migration import Migration
from umbral.schema import EMPTY


def mig(key: str, *depends_on: str, replaces: tuple[str, ...] = ()) -> Migration:
    plugin, mid = key.split("/")
    return Migration(plugin, mid, [], EMPTY, list(depends_on), list(replaces))


def keys(ms: list[Migration]) -> list[str]:
    return [m.key for m in ms]


def test_plan_crosses_plugins_along_depends_on() -> None:
    """
    auth/0001 <- auth/0002 <- blog/0002
                 blog/0001 <- blog/0002
    app/0001 (no edges)
    """
    ms = [
        mig("blog/0002_b", "blog/0001_a", "auth/0002_b"),
        mig("blog/0001_a"),
        mig("auth/0002_b", "auth/0001_a"),
        mig("auth/0001_a"),
        mig("app/0001_a"),
    ]
    order = keys(plan_order(ms, {"auth": 0, "blog": 1, "app": 2}))
    assert order == ["auth/0001_a", "auth/0002_b", "blog/0001_a", "blog/0002_b", "app/0001_a"]


def test_a_migration_runs_before_the_successors_of_what_it_depends_on() -> None:
    """app/0002 was written when lib/0001 was lib's latest: its operations name lib's tables
    as they were then, so it runs before lib/0002 (which may rename one), although lib comes
    first in plugin order. A squash keeps its recorded edges."""
    ms = [
        mig("lib/0001_a"),
        mig("lib/0002_rename", "lib/0001_a"),
        mig("lib/0003_c", "lib/0002_rename"),
        mig("app/0001_a"),
        mig("app/0002_fk", "app/0001_a", "lib/0001_a"),
        mig("app/0003_b", "app/0002_fk", "lib/0002_rename"),
    ]
    order = keys(plan_order(ms, {"lib": 0, "app": 1}))
    assert order == ["lib/0001_a", "app/0001_a", "app/0002_fk", "lib/0002_rename",
                     "app/0003_b", "lib/0003_c"]  # fmt: skip
    # Hand-edited files whose implied edges close a loop: the recorded edges alone.
    looped = [*ms[:4], mig("app/0002_fk", "app/0001_a", "lib/0001_a", "lib/0003_c")]
    order = keys(plan_order(looped, {"lib": 0, "app": 1}))
    assert order == ["lib/0001_a", "lib/0002_rename", "lib/0003_c", "app/0001_a", "app/0002_fk"]


def test_a_migration_inherits_what_its_predecessors_were_written_after() -> None:
    """app/0002 references no lib table in its own operations, but app/0001 depends on
    lib/0001: app/0002 was written before lib/0002 too (a SQLite rebuild of its table re-makes
    the foreign key to lib's table under the name it had then)."""
    ms = [
        mig("lib/0001_a"),
        mig("lib/0002_rename", "lib/0001_a"),
        mig("app/0001_a", "lib/0001_a"),
        mig("app/0002_b", "app/0001_a"),
        mig("app/0003_c", "app/0002_b", "lib/0002_rename"),
    ]
    order = keys(plan_order(ms, {"lib": 0, "app": 1}))
    assert order == ["lib/0001_a", "app/0001_a", "app/0002_b", "lib/0002_rename", "app/0003_c"]


def test_a_redundant_dependency_keeps_the_order() -> None:
    """mid/0002 also names base/0001 (redundant beside base/0002): only the latest counts."""
    ms = [
        mig("base/0001_a"),
        mig("base/0002_b", "base/0001_a"),
        mig("base/0003_rename", "base/0002_b"),
        mig("mid/0001_a", "base/0001_a"),
        mig("mid/0002_b", "mid/0001_a", "base/0002_b", "base/0001_a"),
    ]
    order = keys(plan_order(ms, {"base": 0, "mid": 1}))
    assert order == ["base/0001_a", "mid/0001_a", "base/0002_b", "mid/0002_b",
                     "base/0003_rename"]  # fmt: skip


def test_a_loop_of_implied_edges_drops_them_only_where_it_holds_things_up() -> None:
    """Hand-edited: app/0001 was written when lib/0001 was lib's latest, yet depends on
    mid/0001, which depends on lib/0002. The migrations that loop keep their recorded edges;
    elsewhere (x before other/0002) the implied order stays."""
    ms = [
        mig("lib/0001_a"),
        mig("lib/0002_b", "lib/0001_a"),
        mig("mid/0001_a", "lib/0002_b"),
        mig("app/0001_a", "lib/0001_a", "mid/0001_a"),
        mig("other/0001_a"),
        mig("other/0002_b", "other/0001_a"),
        mig("x/0001_a", "other/0001_a"),
    ]
    order = keys(plan_order(ms, {"lib": 0, "other": 1, "mid": 2, "x": 3, "app": 4}))
    assert order.index("lib/0002_b") < order.index("mid/0001_a") < order.index("app/0001_a")
    assert order.index("x/0001_a") < order.index("other/0002_b")


def test_ties_go_by_plugin_order_then_id() -> None:
    ms = [mig("zeta/0001_a"), mig("alpha/0002_b"), mig("alpha/0001_a"), mig("app/0001_a")]
    # Plugin order (not the alphabet) decides between plugins; ids decide within one.
    order = keys(plan_order(ms, {"zeta": 0, "alpha": 1, "app": 2}))
    assert order == ["zeta/0001_a", "alpha/0001_a", "alpha/0002_b", "app/0001_a"]


def test_a_dependency_overrides_plugin_order() -> None:
    """zeta/0001 must wait for alpha/0001 although zeta comes first."""
    ms = [mig("zeta/0001_a", "alpha/0001_a"), mig("alpha/0001_a")]
    assert keys(plan_order(ms, {"zeta": 0, "alpha": 1})) == ["alpha/0001_a", "zeta/0001_a"]


def test_plugins_missing_from_the_order_go_last() -> None:
    ms = [mig("extra/0001_a"), mig("app/0001_a")]
    assert keys(plan_order(ms, {"app": 0})) == ["app/0001_a", "extra/0001_a"]


def test_recorded_only_dependencies_are_satisfied() -> None:
    ms = [mig("blog/0002_b", "blog/0001_a")]
    check_dependencies(ms, applied=["blog/0001_a"])
    assert keys(plan_order(ms, {})) == ["blog/0002_b"]


def test_cycle_is_an_error_naming_the_nodes() -> None:
    """blog/0001 -> auth/0002 -> blog/0001, plus an innocent app/0001."""
    ms = [
        mig("blog/0001_a", "auth/0002_b"),
        mig("auth/0002_b", "blog/0001_a"),
        mig("app/0001_a"),
    ]
    with pytest.raises(MigrationGraphError) as exc:
        plan_order(ms, {})
    msg = str(exc.value)
    assert msg == (
        "migration dependency cycle among auth/0002_b, blog/0001_a: auth/0002_b -> blog/0001_a "
        "-> auth/0002_b (each depends on the next); fix `depends_on` in those files so the "
        "graph has no loop"
    )


def test_cycle_error_names_the_loop_not_what_waits_behind_it() -> None:
    """Every migration after a loop is held up too: the error named them all as the cycle."""
    ms = [
        mig("blog/0001_a", "auth/0002_b"),
        mig("auth/0002_b", "blog/0001_a"),
        mig("blog/0002_c", "blog/0001_a"),
        mig("app/0001_a", "blog/0002_c"),
    ]
    with pytest.raises(MigrationGraphError) as exc:
        plan_order(ms, {})
    assert str(exc.value).startswith(
        "migration dependency cycle among auth/0002_b, blog/0001_a: auth/0002_b -> blog/0001_a "
        "-> auth/0002_b (each depends on the next) (2 more migration(s) wait behind it); "
    )


def test_missing_dependency_is_an_error_naming_file_and_dependency(tmp_path) -> None:
    m = mig("blog/0002_b", "blog/0001_a", "auth/0009_gone")
    m.path = tmp_path / "blog" / "0002_b.json"
    with pytest.raises(MigrationGraphError) as exc:
        check_dependencies([m, mig("blog/0001_a")], applied=[])
    msg = str(exc.value)
    assert f"migration file {m.path}: depends on auth/0009_gone" in msg
    assert "neither on disk nor recorded as applied" in msg


def test_leaves_per_plugin() -> None:
    ms = [
        mig("blog/0001_a"),
        mig("blog/0002_b", "blog/0001_a"),
        mig("blog/0002_c", "blog/0001_a"),
        mig("auth/0001_a"),
        mig("auth/0002_b", "auth/0001_a"),
    ]
    found = {p: keys(ls) for p, ls in leaves(ms).items()}
    assert found == {"blog": ["blog/0002_b", "blog/0002_c"], "auth": ["auth/0002_b"]}
    merge = mig("blog/0003_merge", "blog/0002_b", "blog/0002_c")
    assert keys(leaves([*ms, merge])["blog"]) == ["blog/0003_merge"]


def test_a_squash_and_its_replaced_migrations_leave_one_leaf() -> None:
    ms = [
        mig("blog/0001_a"),
        mig("blog/0002_b", "blog/0001_a"),
        mig("blog/0001_a_squashed_0002_b", replaces=("blog/0001_a", "blog/0002_b")),
    ]
    assert keys(leaves(ms)["blog"]) == ["blog/0001_a_squashed_0002_b"]
