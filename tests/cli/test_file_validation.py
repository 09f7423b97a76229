"""Migration files are checked against the format when loaded (SPEC §5, §6): the JSON type and
value of every key of every operation, column and model, so a hand edit with a wrong type is
an error naming the file, the operation and the key, never a different schema or a crash.
Numbers of seconds are finite, on the command line and in the configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import Project, rows, schema_of
from umbral import App


def _post(p: Project) -> None:
    p.models("class Post(Model):\n    title = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0


def _hand_written(p: Project, *operations: dict[str, Any]) -> Path:
    """``0002_hand`` holding ``operations`` (its snapshot is the plugin's current one)."""
    assert p.run("makemigrations", "--empty", "app", "--name", "hand").code == 0
    path = p.root / "migrations" / "app" / "0002_hand.json"
    data = json.loads(path.read_text())
    data["operations"] = list(operations)
    path.write_text(json.dumps(data, indent=2))
    return path


def _column(**attrs: Any) -> dict[str, Any]:
    return {"name": "body", "type": "Text", "primary_key": False, "nullable": True, **attrs}


def _one_clean_error(r: Any, path: Path) -> str:
    assert r.code == 1, r
    assert len(r.err_lines) == 1, r
    assert r.err_lines[0].startswith(f"error: migration file {path}: "), r
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r
    return r.err_lines[0].removeprefix(f"error: migration file {path}: ")


def test_a_string_false_is_not_a_nullable_column(any_project: Project) -> None:
    p = any_project
    _post(p)
    path = _hand_written(
        p, {"kind": "AddColumn", "table": "post", "column": _column(nullable="false")}
    )
    before = schema_of(p.database)
    problem = _one_clean_error(p.run("migrate"), path)
    assert problem == 'operation #1: AddColumn.column.nullable: expected true or false, got "false"'
    assert schema_of(p.database) == before
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_create_post",)]


ADD = {"kind": "AddColumn", "table": "post"}
ALTER_FROM = {"name": "title", "type": "Text", "primary_key": False, "nullable": False}


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        pytest.param(
            {**ADD, "column": _column(primary_key="true")},
            'AddColumn.column.primary_key: expected true or false, got "true"',
            id="primary_key-string",
        ),
        pytest.param(
            {**ADD, "column": _column(type="Timestamp", auto_now_add=1)},
            "AddColumn.column.auto_now_add: expected true or false, got 1",
            id="auto_now_add-number",
        ),
        pytest.param(
            {**ADD, "column": _column(type="ForeignKey", fk_target="post", on_delete=5)},
            "AddColumn.column.on_delete: expected one of",
            id="on_delete-number",
        ),
        pytest.param(
            {**ADD, "column": _column(type="ForeignKey", fk_target="post", on_delete="CASCADE")},
            'AddColumn.column.on_delete: expected one of "cascade", "restrict", "set_null", '
            '"no_action", got "CASCADE"',
            id="on_delete-value",
        ),
        pytest.param(
            {**ADD, "column": _column(max_length="20")},
            'AddColumn.column.max_length: expected a whole number above 0 or null, got "20"',
            id="max_length-string",
        ),
        pytest.param(
            {**ADD, "column": _column(name="")},
            'AddColumn.column.name: expected a non-empty string, got ""',
            id="name-empty",
        ),
        pytest.param(
            {
                "kind": "AlterColumn",
                "table": "post",
                "column": "title",
                "from": {**ALTER_FROM, "name": 5},
                "to": {**ALTER_FROM, "nullable": True},
            },
            "AlterColumn.from.name: expected a non-empty string, got 5",
            id="from-name-number",
        ),
        pytest.param(
            {
                "kind": "AlterColumn",
                "table": "post",
                "column": "title",
                "from": ALTER_FROM,
                "to": {**ALTER_FROM, "type": "Varchar"},
            },
            'AlterColumn.to.type: expected one of "SmallInt"',
            id="to-type-unknown",
        ),
        pytest.param(
            {
                "kind": "CreateTable",
                "table": "t",
                "columns": [_column(primary_key=True)],
                "unique_together": [["body", 1]],
            },
            "CreateTable.unique_together[0]: expected a non-empty list of strings",
            id="unique_together-number",
        ),
        pytest.param(
            {
                "kind": "CreateTable",
                "table": "t",
                "columns": [_column(name="id", primary_key=True), _column()],
                "indexes": [["body", "nope"]],
            },
            'CreateTable.indexes[0]: column "nope" is not one of the table\'s columns',
            id="index-missing-column",
        ),
        pytest.param(
            {
                "kind": "CreateTable",
                "table": "t",
                "columns": [_column(name="id", primary_key=True), _column()],
                "unique_together": [["id", "Body"]],
            },
            'CreateTable.unique_together[0]: column "Body" is not one of the table\'s columns',
            id="unique_together-missing-column",
        ),
        pytest.param(
            {
                "kind": "CreateTable",
                "table": "t",
                "columns": [_column(name="id", primary_key=True), _column(), _column()],
            },
            'CreateTable.columns[2]: column "body" is declared twice',
            id="column-twice",
        ),
        pytest.param(
            {"kind": "AddColumn", "table": "post", "column": _column(type="ForeignKey")},
            "AddColumn.column: a ForeignKey column needs fk_target (the table it references)",
            id="fk-without-target",
        ),
        pytest.param(
            {"kind": "CreateTable", "table": "t", "columns": [_column(colour="red")]},
            "CreateTable.columns[0]: unknown column attribute(s): colour",
            id="column-unknown-key",
        ),
        pytest.param(
            {"kind": "AddIndex", "table": "post", "columns": []},
            "AddIndex.columns: expected a non-empty list of strings, got []",
            id="index-no-columns",
        ),
        pytest.param(
            {"kind": "RunSql", "sql": "SELECT 1", "reverse_sql": 5},
            "RunSql.reverse_sql: expected a string or null, got 5",
            id="reverse_sql-number",
        ),
        pytest.param(
            {"kind": "DropTable", "table": "post", "acknowledged": True},
            "DropTable.acknowledged: expected a string or null, got true",
            id="acknowledged-bool",
        ),
        pytest.param(
            {
                "kind": "CreateM2MTable",
                "table": "post_tags",
                "parent_table": "post",
                "parent_column": "id",
                "child_table": "post",
                "child_column": "id",
                "parent_type": "Float",
            },
            'CreateM2MTable.parent_type: expected one of "SmallInt"',
            id="m2m-type",
        ),
    ],
)
def test_a_wrong_type_or_value_names_the_operation_and_the_key(
    project: Project, operation: dict[str, Any], problem: str
) -> None:
    p = project
    _post(p)
    path = _hand_written(p, operation)
    before = schema_of(p.database)
    assert _one_clean_error(p.run("migrate"), path).startswith(f"operation #1: {problem}")
    assert schema_of(p.database) == before


@pytest.mark.parametrize("name", [5, [], None, {"a": 1}])
def test_a_column_name_that_is_not_a_string_is_an_error_in_every_command(
    project: Project, name: Any
) -> None:
    p = project
    _post(p)
    path = _hand_written(p, {"kind": "RunSql", "sql": "SELECT 1"},
                         {**ADD, "column": _column(name=name)})  # fmt: skip
    for args in (("migrate",), ("migrate", "--plan"), ("sqlmigrate", "app/0002_hand")):
        problem = _one_clean_error(p.run(*args), path)
        assert problem == (
            "operation #2: AddColumn.column.name: expected a non-empty string, got "
            + json.dumps(name)
        )


def test_a_snapshot_column_is_type_checked_too(project: Project) -> None:
    p = project
    _post(p)
    path = _hand_written(p)
    data = json.loads(path.read_text())
    data["snapshot_after"]["models"][0]["fields"][1]["nullable"] = "no"
    path.write_text(json.dumps(data))
    problem = _one_clean_error(p.run("migrate"), path)
    assert problem == (
        'snapshot_after: model Post.fields[1].nullable: expected true or false, got "no"'
    )


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda models: models[0]["fields"].append(dict(models[0]["fields"][1])),
            'snapshot_after: model Post.fields[2]: field "title" is declared twice',
        ),
        (
            lambda models: models[0].update(unique_together=[["title", "nope"]]),
            'snapshot_after: model Post.unique_together[0]: column "nope" is not one of the '
            "model's fields",
        ),
        (
            lambda models: models.append({**models[0], "name": "Author"}),
            "snapshot_after: models Post and Author have the same table `post`",
        ),
        (
            lambda models: models[0]["fields"].append(_column(name="author", type="ForeignKey")),
            "snapshot_after: model Post.fields[2]: a ForeignKey column needs fk_target (the "
            "table it references)",
        ),
    ],
    ids=["field-twice", "group-missing-column", "table-twice", "fk-without-target"],
)
def test_a_snapshot_that_contradicts_itself_is_an_error(
    project: Project, edit: Any, problem: str
) -> None:
    p = project
    _post(p)
    path = _hand_written(p)
    data = json.loads(path.read_text())
    edit(data["snapshot_after"]["models"])
    path.write_text(json.dumps(data))
    for args in (("migrate",), ("checkschema",), ("makemigrations", "--check")):
        assert _one_clean_error(p.run(*args), path) == problem


def test_a_snapshot_with_an_unknown_key_is_an_error(project: Project) -> None:
    p = project
    _post(p)
    path = _hand_written(p)
    data = json.loads(path.read_text())
    data["snapshot_after"]["views"] = []
    path.write_text(json.dumps(data))
    problem = _one_clean_error(p.run("showmigrations"), path)
    assert problem.startswith("snapshot_after: unknown key(s) views")


# -- crashes that are clean errors --------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deeply_nested_file_is_an_error_naming_it(project: Project, depth: int) -> None:
    p = project
    _post(p)
    path = _hand_written(p, {"kind": "RunSql", "sql": "SELECT 1"})
    text = path.read_text().replace('"SELECT 1"', "[" * depth + "]" * depth)
    path.write_text(text)
    for command in ("migrate", "showmigrations"):
        problem = _one_clean_error(p.run(command), path)
        assert problem.startswith("is nested too deeply to be a migration file"), problem


def test_a_deeply_nested_default_is_an_error_naming_the_key(project: Project) -> None:
    p = project
    _post(p)
    path = _hand_written(p, {**ADD, "column": _column(default=0)})
    text = path.read_text().replace('"default": 0', '"default": ' + "[" * 500 + "]" * 500)
    path.write_text(text)
    problem = _one_clean_error(p.run("migrate"), path)
    assert problem.startswith("operation #1: AddColumn.column.default: expected a JSON value")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(project: Project, constant: str) -> None:
    p = project
    _post(p)
    path = _hand_written(p, {**ADD, "column": _column(type="Double", default=0)})
    path.write_text(path.read_text().replace('"default": 0', f'"default": {constant}'))
    problem = _one_clean_error(p.run("migrate"), path)
    assert problem == f"is not valid JSON ({constant} is not a JSON number)"


@pytest.mark.parametrize(
    "args",
    [
        ("--lock-timeout", "inf"),
        ("--lock-timeout", "nan"),
        ("--statement-timeout", "inf"),
        ("--statement-timeout", "nan"),
        ("--lock-wait", "nan"),
        ("--lock-wait", "inf"),
    ],
)
def test_a_non_finite_number_of_seconds_is_a_usage_error(
    project: Project, args: tuple[str, str]
) -> None:
    r = project.run("migrate", *args)
    assert r.code == 2, r
    assert f"Invalid value for '{args[0]}': {args[1]} is not a finite number of seconds" in (
        r.stderr
    ), r
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r


@pytest.mark.parametrize("value", ["-1", "-0.5", "-inf"])
def test_a_negative_lock_wait_is_a_usage_error(project: Project, value: str) -> None:
    r = project.run("migrate", "--lock-wait", value)
    assert r.code == 2, r
    assert "Invalid value for '--lock-wait'" in r.stderr and ">=0" in r.stderr, r
    assert not (project.root.parent / "db.sqlite3").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("lock_wait", float("nan")), ("lock_wait", -1), ("lock_timeout", float("inf")),
     ("statement_timeout", True), ("lock_retries", -2), ("lock_retries", 1.5)],
)  # fmt: skip
def test_the_python_api_refuses_a_bad_run_option(
    project: Project, name: str, value: object
) -> None:
    app = App(root=project.root, database=project.database, plugins=[])
    with pytest.raises(ValueError, match=f"^{name} must be"):
        app.migrate(**{name: value})
    assert not (project.root.parent / "db.sqlite3").exists()
    if name == "lock_wait":
        with pytest.raises(ValueError, match=r"^lock_wait must be"):
            App(root=project.root, database=project.database, plugins=[], lock_wait=value).migrate()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lock_timeout", "inf"),
        ("lock_timeout", "nan"),
        ("statement_timeout", "+inf"),
        ("lock_wait", "nan"),
        ("lock_wait", "inf"),
        ("lock_wait", "true"),
        ("lock_wait", "-5"),
        ("lock_timeout", "-0.5"),
    ],
)
def test_a_non_finite_number_of_seconds_in_the_config_names_the_key(
    project: Project, key: str, value: str
) -> None:
    p = project
    config = p.root / "umbral.toml"
    config.write_text(config.read_text() + f"{key} = {value}\n")
    r = p.run("migrate")
    assert r.code == 1, r
    assert len(r.err_lines) == 1, r
    assert r.err_lines[0].startswith(f"error: {config}: `{key}` must be a finite number"), r
    assert "seconds >= 0" in r.err_lines[0], r


def test_an_unreadable_migrations_directory_is_named(project: Project) -> None:
    p = project
    p.models("class Post(Model):\n    title = fields.Text()\n")
    (p.root / "migrations").mkdir(exist_ok=True)
    (p.root / "migrations" / "app").symlink_to("app")  # a loop: reading it fails
    for command in ("showmigrations", "makemigrations", "migrate"):
        r = p.run(command)
        assert r.code == 1, r
        assert r.err_lines[-1] == (
            f"error: cannot read the migrations directory {p.root / 'migrations' / 'app'}: "
            "Too many levels of symbolic links; make it a readable directory, or remove it"
        ), r
        assert "Traceback" not in r.stderr


def test_a_hand_written_index_on_a_missing_column_fails_on_every_backend(
    any_project: Project,
) -> None:
    """SQLite would read the quoted name as a text constant and index that; like the other
    databases, the migration fails instead (nothing recorded, no index). The loader cannot
    check the index after a RunSql (its effect is not known): the run does."""
    p = any_project
    p.models("class Item(Model):\n    name = fields.Text(max_length=20)\n")
    assert p.run("makemigrations").code == 0
    assert p.run("makemigrations", "--empty", "app", "--name", "by_hand").code == 0
    path = p.root / "migrations" / "app" / "0002_by_hand.json"
    data = json.loads(path.read_text())
    data["operations"] = [
        {"kind": "RunSql", "sql": "DROP TABLE IF EXISTS nothing_here", "reverse_sql": "SELECT 1"},
        {"kind": "AddIndex", "table": "item", "columns": ["nosuch"], "unique": False},
    ]
    path.write_text(json.dumps(data, indent=2))
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0].startswith("error: umbral migrate: migration app/0002_by_hand failed"), r
    assert "nosuch" in r.stderr, r
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_create_item",)]
    assert schema_of(p.database)["item"]["indexes"] == []
