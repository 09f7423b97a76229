"""Project discovery and configuration (SPEC §3).

A project is a directory with ``umbral.toml`` (keys at the top level) or a ``pyproject.toml``
with ``[tool.umbral]``. Commands find it by walking up from the working directory; ``--project``
names it directly. Read with ``tomllib``; written only by ``umbral init`` (``tomli-w``).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umbral.errors import ConfigError
from umbral.values import record

if TYPE_CHECKING:
    from umbral.backend import Backend

ENV_DATABASE = "UMBRAL_DATABASE_URL"
KEYS = (
    "database", "models", "app", "plugins", "migrations", "plugin_modules", "lock_wait",
    "lock_timeout", "statement_timeout", "lock_retries", "env", "tenants", "databases",
    "routing",
)  # fmt: skip
#: The alias of the database ``database`` (and ``--database``) names.
DEFAULT_ALIAS = "default"
TENANT_KEYS = ("schemas", "query", "shared", "jobs")
ENV_NAME = "UMBRAL_ENV"
#: What an environment name (``--env``, ``UMBRAL_ENV``, ``env``, a file's ``skip_on``) may be.
ENV_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@record
class ProjectConfig:
    root: Path
    source: Path | None = None
    database: str | None = None
    models: list[str] = field(default_factory=list)
    app: str | None = None
    plugins: list[str] | None = None
    plugin_modules: dict[str, str] = field(default_factory=dict)
    migrations: str = "migrations"
    lock_wait: float | None = None
    #: Seconds DDL may wait for a table lock / any statement may run (0 = no limit), and how
    #: many times a migration that hit the lock timeout is retried (SPEC §8; Postgres).
    lock_timeout: float | None = None
    statement_timeout: float | None = None
    lock_retries: int | None = None
    #: The environment this project runs in by default (``--env`` and UMBRAL_ENV win): a
    #: migration whose ``skip_on`` names it is recorded as skipped instead of run.
    env: str | None = None
    #: ``[tool.umbral.tenants]``: the tenant schemas ``migrate --tenants`` migrates.
    tenants: TenantsConfig | None = None
    #: ``[tool.umbral.databases]``: alias -> URL of the databases besides the default one,
    #: and ``[tool.umbral.routing]``: plugin -> the alias it lives in (default: ``default``).
    databases: dict[str, str] = field(default_factory=dict)
    routing: dict[str, str] = field(default_factory=dict)


@record
class TenantsConfig:
    """Which schemas are tenants (``schemas``, or ``query`` run on the default database) and
    which plugins are ``shared`` (migrated once, in the default schema); every other plugin is
    migrated in each tenant's schema. A tenant is a schema name, or ``URL#schema`` for a
    tenant on another server."""

    schemas: list[str] | None = None
    query: str | None = None
    shared: list[str] = field(default_factory=list)
    #: How many tenants migrate at once (``--jobs`` wins).
    jobs: int | None = None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror}") from None


def config_in(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The umbral config of ``directory``, if it has one (``umbral.toml`` wins)."""
    toml = directory / "umbral.toml"
    if toml.is_file():
        return toml, _read(toml)
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        data = _read(pyproject)
        section = data.get("tool", {}).get("umbral")
        if section is not None:
            return pyproject, section
    return None


def find_project(start: Path | None = None) -> ProjectConfig | None:
    """Walk up from ``start`` (default: the cwd) to the first directory with a config."""
    try:
        here = (start or Path.cwd()).resolve()
    except FileNotFoundError:  # the shell's directory was deleted under it
        raise ConfigError(
            "the working directory no longer exists; cd into the project or pass --project DIR"
        ) from None
    for directory in (here, *here.parents):
        found = config_in(directory)
        if found:
            return parse(found[1], found[0], directory)
    return None


def load_project(directory: Path) -> ProjectConfig:
    """The project in ``directory`` exactly (``--project DIR``)."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise ConfigError(f"--project {directory}: no such directory")
    found = config_in(directory)
    if not found:
        raise ConfigError(
            f"--project {directory}: no umbral.toml or [tool.umbral] in pyproject.toml there; "
            "run `umbral init` to create one"
        )
    return parse(found[1], found[0], directory)


def parse(data: dict[str, Any], source: Path | None, root: Path) -> ProjectConfig:
    where = str(source) if source else "configuration"

    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(f"{where}: `{key}` must be {expected}")

    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(KEYS)})"
        )
    cfg = ProjectConfig(root=root, source=source)
    if "database" in data:
        if not isinstance(data["database"], str):
            raise bad("database", "a URL string")
        cfg.database = data["database"]
    if "models" in data:
        if not _str_list(data["models"]):
            raise bad("models", "a list of module names")
        cfg.models = list(data["models"])
    if "app" in data:
        if not isinstance(data["app"], str) or ":" not in data["app"]:
            raise bad("app", 'a "module:attribute" string')
        cfg.app = data["app"]
        clash = [k for k in ("models", "plugins", "plugin_modules") if k in data]
        if clash:
            raise ConfigError(
                f"{where}: `app` cannot be combined with {', '.join(clash)}; the App object "
                "carries its models and plugins"
            )
    if "plugins" in data:
        if not _str_list(data["plugins"]):
            raise bad("plugins", "a list of plugin names")
        cfg.plugins = list(data["plugins"])
    if "plugin_modules" in data:
        pm = data["plugin_modules"]
        if not _str_table(pm):
            raise bad("plugin_modules", "a table of plugin name = module path")
        cfg.plugin_modules = dict(pm)
    if "migrations" in data:
        if not isinstance(data["migrations"], str):
            raise bad("migrations", "a directory path")
        cfg.migrations = data["migrations"]
    if "lock_wait" in data:
        if not is_seconds(data["lock_wait"]):
            raise bad("lock_wait", "a finite number of seconds >= 0 (0 = no wait)")
        cfg.lock_wait = float(data["lock_wait"])
    for key in ("lock_timeout", "statement_timeout"):
        if key in data:
            value = data[key]
            if not is_seconds(value):
                raise bad(key, "a finite number of seconds >= 0 (0 = no limit)")
            setattr(cfg, key, float(value))
    if "lock_retries" in data:
        value = data["lock_retries"]
        if not is_count(value):
            raise bad("lock_retries", "a whole number of retries >= 0")
        cfg.lock_retries = value
    if "env" in data:
        if not isinstance(data["env"], str) or not ENV_NAME_RE.match(data["env"]):
            raise bad("env", 'an environment name such as "dev" or "production"')
        cfg.env = data["env"]
    if "tenants" in data:
        cfg.tenants = _tenants(data["tenants"], where)
    if "databases" in data:
        databases = data["databases"]
        if not _str_table(databases):
            raise bad("databases", "a table of alias = database URL")
        if DEFAULT_ALIAS in databases and "database" in data:
            raise ConfigError(
                f"{where}: `database` and `databases.{DEFAULT_ALIAS}` both name the default "
                "database; keep one"
            )
        if DEFAULT_ALIAS in databases:
            cfg.database = databases[DEFAULT_ALIAS]
        cfg.databases = {k: v for k, v in databases.items() if k != DEFAULT_ALIAS}
    if "routing" in data:
        routing = data["routing"]
        if not _str_table(routing):
            raise bad("routing", "a table of plugin = database alias")
        aliases = {DEFAULT_ALIAS, *cfg.databases}
        unknown = sorted({v for v in routing.values() if v not in aliases})
        if unknown:
            raise ConfigError(
                f"{where}: `routing` names unknown database alias(es) {', '.join(unknown)} "
                f"(aliases: {', '.join(sorted(aliases))}); add them to [tool.umbral.databases]"
            )
        cfg.routing = dict(routing)
    return cfg


def _tenants(data: Any, where: str) -> TenantsConfig:
    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(f"{where}: `tenants.{key}` must be {expected}")

    if not isinstance(data, dict):
        raise ConfigError(f"{where}: `tenants` must be a table ([tool.umbral.tenants])")
    unknown = sorted(set(data) - set(TENANT_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) tenants.{', tenants.'.join(unknown)} "
            f"(known: {', '.join(TENANT_KEYS)})"
        )
    if ("schemas" in data) == ("query" in data):
        raise ConfigError(
            f"{where}: `tenants` needs exactly one of `schemas` (a list of schema names) or "
            "`query` (SQL run on the default database that returns them)"
        )
    out = TenantsConfig()
    if "schemas" in data:
        if not _str_list(data["schemas"]) or not all(data["schemas"]):
            raise bad("schemas", 'a list of schema names (or "URL#schema")')
        out.schemas = list(data["schemas"])
    if "query" in data:
        if not isinstance(data["query"], str) or not data["query"].strip():
            raise bad("query", "a SQL query returning the tenants' schema names")
        out.query = data["query"]
    if "shared" in data:
        if not _str_list(data["shared"]):
            raise bad("shared", "a list of plugin names")
        out.shared = list(data["shared"])
    if "jobs" in data:
        jobs = data["jobs"]
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise bad("jobs", "a whole number of connections, at least 1")
        out.jobs = jobs
    return out


def is_seconds(value: Any) -> bool:
    """A number of seconds: not negative, and finite (TOML can spell inf and nan)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def is_count(value: Any) -> bool:
    """A whole number >= 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _str_table(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def resolve_database(cli: str | None, config: str | None, app: str | None) -> str | None:
    """``--database`` > ``UMBRAL_DATABASE_URL`` > config > ``App(database=...)`` (SPEC §3).
    An empty ``--database`` or variable is an error, not a fall-through to the config: it
    is how ``--database "$PROD_URL"`` reads with the variable unset."""
    env = os.environ.get(ENV_DATABASE)
    if cli is not None and not cli.strip():
        raise ConfigError("--database is empty: give it a URL, or leave the option out")
    if cli is None and env is not None and not env.strip():
        raise ConfigError(f"{ENV_DATABASE} is set but empty: give it a URL, or unset it")
    return cli or env or config or app


def _credentials(url: str) -> tuple[str, str, str, str] | None:
    """``(scheme, user, password, after)`` of a URL with a password, else None.

    A password may hold any character (``/``, ``:``, ``@``, ``?``, ``#``) when its writer did
    not percent-encode it, and the driver reads such a URL in its own way (SQLAlchemy ends the
    password at the first ``@``, so the rest becomes part of the host). Whatever the driver
    makes of it, the secret lies between the first ``:`` after the user name and the last
    ``@`` of the URL: everything there counts as the password, so nothing of it is printed
    (masking too much of an odd URL beats showing a piece of a password). A URL without
    ``://`` (a mistyped one) counts from its start.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if rest.startswith("/"):
        return None  # no host part (sqlite:///path): nothing secret
    at = rest.rfind("@")
    if at < 0:
        return None
    user, colon, password = rest[:at].partition(":")
    if not colon:
        return None  # a user name alone
    return scheme, user, password, rest[at + 1 :]


def resolve_env(cli: str | None, config: str | None) -> str | None:
    """``--env`` > ``UMBRAL_ENV`` > config ``env``; an ill-formed name is an error."""
    name = cli or os.environ.get(ENV_NAME) or config
    if name is not None and not ENV_NAME_RE.match(name):
        source = "--env" if cli else ENV_NAME if os.environ.get(ENV_NAME) else "`env`"
        raise ConfigError(
            f"{source} {name!r} is not an environment name: use letters, digits, '_', '.', '-'"
        )
    return name


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (passwords never appear in output)."""
    found = _credentials(url)
    if found is None:
        return url
    scheme, user, _password, after = found
    return f"{scheme}{'://' if scheme else ''}{user}:***@{after}"


def url_password(url: str) -> str | None:
    """The password of ``url`` as ``mask_url`` delimits it (see ``_credentials``)."""
    found = _credentials(url)
    return found[2] if found else None


def url_scheme(url: str) -> str:
    """The dialect a database URL names: ``postgresql`` for ``postgresql+psycopg://...``."""
    return url.split("://", 1)[0].split("+", 1)[0].lower()


def backend_for_url(url: str, backends: Sequence[Backend], *, command: str = "") -> Backend:
    """The installed backend that serves ``url``'s scheme, or a ConfigError that names the
    schemes installed; ``command`` (``umbral inspectdb``) starts the message when given."""
    prefix = f"{command}: " if command else ""
    if "://" not in url:
        raise ConfigError(
            f"{prefix}database URL {mask_url(url)!r} is not a URL; write e.g. "
            "sqlite:///db.sqlite3 or postgresql://user@host/dbname"
        )
    scheme = url_scheme(url)
    for backend in backends:
        if scheme in backend.schemes:
            return backend
    known = ", ".join(sorted({s for b in backends for s in b.schemes})) or "none"
    hint = "; pip install umbral-postgres" if scheme.startswith("postgres") else ""
    raise ConfigError(
        f"{prefix}no installed backend serves `{scheme}://` URLs (installed: {known}){hint}"
    )
