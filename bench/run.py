"""Benchmark umbral against Django and Alembic, side by side, and write ``bench/RESULTS.md``.

    python bench/run.py                 # everything (~30 min on 2 cores), writes bench/RESULTS.md
    python bench/run.py --quick         # small sizes, 3 runs: a few minutes, for development
    python bench/run.py --only check,help --runs 7

Everything it builds lives under ``bench/.work/``: a virtualenv with this repository's umbral
distributions installed editable (never the unrelated PyPI project named ``umbral``) plus
Django, Alembic and psycopg; the generated projects; the databases. Every timing is the wall
time of a fresh process (what a developer waits for), the median of ``--runs`` runs, with the
contenders of one case interleaved run by run so background load hits them alike. Peak memory
is the child's maximum RSS from ``wait4``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
VENV = WORK / "venv"
BIN = VENV / "bin"
PY = str(BIN / "python")
ALL = (
    "makemigrations",
    "check",
    "migrate-sqlite",
    "migrate-postgres",
    "migrate-mysql",
    "showmigrations",
    "help",
    "alter1m",
    "tenants",
)


# -- environment ------------------------------------------------------------------------------


def setup_venv() -> None:
    """Create the benchmark virtualenv once; re-running only re-checks the editable installs."""
    if not (BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    # One pip call: umbral-core is satisfied by the local path, so pip never looks for it (or
    # the unrelated `umbral`) on PyPI.
    subprocess.run(
        [
            PY,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-e",
            str(REPO),
            "-e",
            str(REPO / "umbral_sqlite"),
            "-e",
            str(REPO / "umbral_postgres"),
            "-e",
            str(REPO / "umbral_mysql"),
            "django",
            "alembic",
            "psycopg[binary]",
            "django-tenants>=4,<5",
        ],
        check=True,
    )


def versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sqlite3, platform; print(json.dumps({"
        "'python': platform.python_implementation() + ' ' + platform.python_version(), "
        "'sqlite': sqlite3.sqlite_version, **{d: m.version(d) for d in ('umbral-core', "
        "'Django', 'alembic', 'SQLAlchemy', 'typer', 'psycopg', 'PyMySQL')}}))"
    )
    return json.loads(
        subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    )


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    rss_mib: float


def child_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    # Byte-code caching on, as on a developer machine: without it every run of every tool
    # re-compiles all its modules (some sandboxes set this variable).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Sample:
    full_env = child_env(env)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    # wait4 gives this child's own peak RSS (getrusage(RUSAGE_CHILDREN) would be the max over
    # every child so far).
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(cmd)} in {cwd} exited {proc.returncode}:\n{err[-2000:]}")
    return Sample(elapsed, usage.ru_maxrss / 1024)


@dataclass
class Contender:
    name: str  # umbral | django | alembic | floor | ...
    cmd: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[], None] | None = None  # untimed, before every run


@dataclass
class Result:
    seconds: float
    rss_mib: float
    runs: int


PEERS = ("django", "alembic", "django-mp")
#: Results with fewer runs than this are marked in the report (set from --runs).
RUNS_SHOWN = 5


def bench(
    label: str, contenders: list[Contender], runs: int, peer_runs: int | None = None
) -> dict[str, Result]:
    """Median of ``runs`` runs per contender; Django/Alembic get ``peer_runs`` if given."""
    samples: dict[str, list[Sample]] = {c.name: [] for c in contenders}
    for rep in range(runs):
        for c in contenders:  # interleaved: noise from other processes hits every contender
            if peer_runs is not None and c.name in PEERS and rep >= peer_runs:
                continue
            if c.setup:
                c.setup()
            samples[c.name].append(run_once(c.cmd, c.cwd, c.env))
    out = {}
    for name, ss in samples.items():
        out[name] = Result(
            statistics.median(s.seconds for s in ss), max(s.rss_mib for s in ss), len(ss)
        )
    shown = "  ".join(f"{n}={r.seconds:.3f}s/{r.rss_mib:.0f}MiB" for n, r in out.items())
    print(f"  {label}: {shown}", flush=True)
    return out


# -- projects ---------------------------------------------------------------------------------


def project(n: int, h: int, seed: int, models_only: bool = False) -> Path:
    """The generated projects for (n, h), cached under .work/projects (generation is slow)."""
    name = f"n{n}_h{h}_s{seed}" + ("_models" if models_only else "")
    out = WORK / "projects" / name
    if not (out / "manifest.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        print(f"  generating {name} ...", flush=True)
        cmd = [
            PY,
            str(HERE / "gen.py"),
            "project",
            str(out),
            "--n",
            str(n),
            "--h",
            str(h),
            "--seed",
            str(seed),
        ]
        if models_only:
            cmd.append("--models-only")
        subprocess.run(cmd, check=True)
    return out


def fresh_copy(src: Path, label: str) -> Path:
    """A scratch copy of a generated project for one benchmark (databases go in it)."""
    dst = WORK / "run" / label
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    return dst


def rm(*paths: Path) -> Callable[[], None]:
    def go() -> None:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)

    return go


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=child_env(env), capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.stdout


def umbral(*args: str) -> list[str]:
    return [str(BIN / "umbral"), *args]


def django(*args: str) -> list[str]:
    return [PY, "manage.py", *args]


def alembic(*args: str) -> list[str]:
    return [str(BIN / "alembic"), *args]


# -- PostgreSQL -------------------------------------------------------------------------------


class Postgres:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")  # e.g. postgresql://postgres@127.0.0.1:5432/test
        self.base = self.url.rsplit("/", 1)[0]

    def db(self, name: str) -> str:
        return f"{self.base}/{name}"

    def psql(self, *args: str, db: str | None = None) -> list[str]:
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", db or self.url, *args]

    def recreate(self, name: str) -> Callable[[], None]:
        def go() -> None:
            sh(
                self.psql("-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}"),
                HERE,
            )

        return go

    def version(self) -> str:
        return sh(self.psql("-Atc", "SHOW server_version"), HERE).strip().split()[0]


class Mysql:
    """A MySQL / MariaDB server, reached by URL from umbral and by the ``mariadb`` client."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        self.url = url.rstrip("/")  # e.g. mysql://root@127.0.0.1:3306/test
        self.base = self.url.rsplit("/", 1)[0]
        parts = urlsplit(self.url)
        self.login = ["-h", parts.hostname or "127.0.0.1", "-P", str(parts.port or 3306)]
        self.login += ["-u", parts.username or "root"]
        self.login += [f"-p{parts.password}"] if parts.password else []

    def db(self, name: str) -> str:
        return f"{self.base}/{name}"

    def client(self, *args: str, db: str = "") -> list[str]:
        return ["mariadb", *self.login, *args, *([db] if db else [])]

    def recreate(self, name: str) -> Callable[[], None]:
        def go() -> None:
            sh(
                self.client(
                    "-e",
                    f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                ),
                HERE,
            )

        return go

    def version(self) -> str:
        return sh(self.client("-N", "-e", "SELECT VERSION()"), HERE).strip()


# -- the benchmarks ---------------------------------------------------------------------------

Table = list[tuple[str, dict[str, Result]]]


def b_makemigrations(cfg: argparse.Namespace) -> Table:
    rows: Table = []
    for n in cfg.sizes_scratch:
        d = fresh_copy(project(n, 0, cfg.seed, models_only=True), f"mk_n{n}")
        dj_migs = [
            d / "django" / p / "migrations"
            for p in sorted(os.listdir(d / "django"))
            if (d / "django" / p / "migrations").is_dir()
        ]

        def clear_django(dirs: list[Path] = dj_migs) -> None:
            for m in dirs:
                for f in m.glob("0*.py"):
                    f.unlink()

        empty = d / "alembic" / "empty.sqlite3"
        contenders = [
            Contender(
                "umbral",
                umbral("makemigrations"),
                d / "umbral",
                setup=rm(d / "umbral" / "migrations"),
            ),
            Contender(
                "django", django("makemigrations", "-v", "0"), d / "django", setup=clear_django
            ),
            Contender(
                "alembic",
                alembic("revision", "--autogenerate", "-m", "initial"),
                d / "alembic",
                env={"BENCH_DB_URL": f"sqlite:///{empty}"},
                setup=lambda d=d, e=empty: (
                    rm(d / "alembic" / "alembic" / "versions")(),
                    (d / "alembic" / "alembic" / "versions").mkdir(),
                    e.unlink(missing_ok=True),
                ),
            ),
        ]
        rows.append(
            (f"makemigrations from scratch, N={n}", bench(f"scratch N={n}", contenders, cfg.runs))
        )
    return rows


def b_check(cfg: argparse.Namespace) -> Table:
    n = cfg.n_check
    contenders = []
    for h in cfg.h_check:
        d = fresh_copy(project(n, h, cfg.seed), f"check_n{n}_h{h}")
        # Alembic's check compares against a live database at head.
        sh(alembic("upgrade", "head"), d / "alembic")
        contenders += [
            Contender(f"umbral H={h}", umbral("makemigrations", "--check"), d / "umbral"),
            Contender(
                f"django H={h}", django("makemigrations", "--check", "--dry-run"), d / "django"
            ),
            Contender(f"alembic H={h}", alembic("check"), d / "alembic"),
        ]
    # One interleaved run over every history length: the flatness target compares umbral's
    # medians across H, which background load drifting between separate runs would skew. ~0.2 s
    # medians held to 20% of each other on a noisy 2-core machine: twice the runs.
    results = bench(f"check N={n}", contenders, 2 * cfg.runs)
    return [
        (
            f"no-change check, N={n}, H={h}",
            {tool: results[f"{tool} H={h}"] for tool in ("umbral", "django", "alembic")},
        )
        for h in cfg.h_check
    ]


def floor_sql(
    proj: Path, url: str, out: Path, per_migration: Path | None = None, *, head: bool = False
) -> None:
    """umbral's statements for empty -> head as ``migrate --replay`` runs them, wrapped in one
    transaction; with ``per_migration``, also a transaction per migration with its tracking
    row; with ``head``, the fast path's statements and tracking rows instead (``gen.py``)."""
    raw = out.with_suffix(".raw")
    extra = ["--per-migration", str(per_migration)] if per_migration else []
    extra += ["--head"] if head else []
    sh([PY, str(HERE / "gen.py"), "sql", str(proj), url, str(raw), *extra], HERE)
    out.write_text("BEGIN;\n" + raw.read_text() + "COMMIT;\n")


#: The contender that runs the fast path's own SQL (``floor_sql(head=True)``).
HEAD_FLOOR = "head floor"


def fast_label(backend: str, n: int, h: int) -> str:
    return f"fresh database at head (fast path), {backend}, N={n}, H={h}"


def b_migrate_sqlite(cfg: argparse.Namespace) -> Table:
    rows: Table = []
    for n, h in dict.fromkeys([*cfg.nh_migrate, cfg.nh_fast]):
        d = fresh_copy(project(n, h, cfg.seed), f"mig_n{n}_h{h}")
        db = "db.sqlite3"
        floor = d / "floor.sql"
        floor_sql(d / "umbral", f"sqlite:///{d / 'floor-plan.sqlite3'}", floor)
        floor_contender = Contender(
            "floor",
            ["sqlite3", str(d / "floor.sqlite3"), f".read {floor}"],
            d,
            setup=rm(d / "floor.sqlite3"),
        )
        # S interleaved with the case: the machine's speed drifts between benchmarks.
        start = Contender(START_SQLITE, [PY, "-c", connected("sqlite://")], HERE)
        if (n, h) == cfg.nh_fast:
            # migrate on an empty database: the schema of the plan's end from the snapshots,
            # against the replay floor and the floor of that schema's own SQL.
            head = d / "head.sql"
            floor_sql(d / "umbral", f"sqlite:///{d / 'floor-plan.sqlite3'}", head, head=True)
            contenders = [
                floor_contender,
                Contender(
                    HEAD_FLOOR,
                    ["sqlite3", str(d / "head.sqlite3"), f".read {head}"],
                    d,
                    setup=rm(d / "head.sqlite3"),
                ),
                Contender(
                    "umbral",
                    umbral("migrate", "--allow-destructive"),
                    d / "umbral",
                    setup=rm(d / "umbral" / db),
                ),
                start,
            ]
            label = fast_label("SQLite", n, h)
            rows.append((label, bench(label, contenders, cfg.runs)))
        if (n, h) not in cfg.nh_migrate:
            continue
        contenders = [
            floor_contender,
            Contender(
                "umbral",
                umbral("migrate", "--allow-destructive", "--replay"),
                d / "umbral",
                setup=rm(d / "umbral" / db),
            ),
            start,
        ]
        if cfg.peers:
            contenders += [
                Contender(
                    "django",
                    django("migrate", "-v", "0"),
                    d / "django",
                    setup=rm(d / "django" / db),
                ),
                Contender(
                    "alembic",
                    alembic("upgrade", "head"),
                    d / "alembic",
                    setup=rm(d / "alembic" / db),
                ),
            ]
        rows.append(
            (
                f"migrate empty→head, SQLite, N={n}, H={h}",
                bench(f"migrate sqlite N={n} H={h}", contenders, cfg.runs, cfg.peer_runs),
            )
        )
    return rows


def b_migrate_postgres(cfg: argparse.Namespace) -> Table:
    pg = Postgres(cfg.pg_url)
    rows: Table = []
    for n, h in dict.fromkeys([*cfg.nh_migrate, cfg.nh_fast]):
        d = fresh_copy(project(n, h, cfg.seed), f"pgmig_n{n}_h{h}")
        floor, floor_tx = d / "floor.sql", d / "floor-tx.sql"
        pg.recreate("umbral_bench_plan")()
        floor_sql(d / "umbral", pg.db("umbral_bench_plan"), floor, floor_tx)
        floor_contender = Contender(
            "floor",
            pg.psql("-f", str(floor), db=pg.db("umbral_bench_floor")),
            d,
            setup=pg.recreate("umbral_bench_floor"),
        )
        if (n, h) == cfg.nh_fast:
            head = d / "head.sql"
            floor_sql(d / "umbral", pg.db("umbral_bench_plan"), head, head=True)
            contenders = [
                floor_contender,
                Contender(
                    HEAD_FLOOR,
                    pg.psql("-f", str(head), db=pg.db("umbral_bench_head")),
                    d,
                    setup=pg.recreate("umbral_bench_head"),
                ),
                Contender(
                    "umbral",
                    umbral(
                        "migrate", "--allow-destructive", "--database", pg.db("umbral_bench_umbral")
                    ),
                    d / "umbral",
                    setup=pg.recreate("umbral_bench_umbral"),
                ),
            ]
            label = fast_label("PostgreSQL", n, h)
            rows.append((label, bench(label, contenders, cfg.runs)))
        if (n, h) not in cfg.nh_migrate:
            continue
        contenders = [
            floor_contender,
            # Not a target's reference: what a transaction per migration (SPEC §8) costs the
            # server, for the notes under the targets.
            Contender(
                FLOOR_TX,
                pg.psql("-f", str(floor_tx), db=pg.db("umbral_bench_floor")),
                d,
                setup=pg.recreate("umbral_bench_floor"),
            ),
            Contender(
                "umbral",
                umbral(
                    "migrate",
                    "--allow-destructive",
                    "--replay",
                    "--database",
                    pg.db("umbral_bench_umbral"),
                ),
                d / "umbral",
                setup=pg.recreate("umbral_bench_umbral"),
            ),
        ]
        if cfg.peers:
            contenders += [
                Contender(
                    "django",
                    django("migrate", "-v", "0"),
                    d / "django",
                    env={"BENCH_DB_URL": pg.db("umbral_bench_django")},
                    setup=pg.recreate("umbral_bench_django"),
                ),
                Contender(
                    "alembic",
                    alembic("upgrade", "head"),
                    d / "alembic",
                    env={"BENCH_DB_URL": pg.db("umbral_bench_alembic")},
                    setup=pg.recreate("umbral_bench_alembic"),
                ),
            ]
        rows.append(
            (
                f"migrate empty→head, PostgreSQL, N={n}, H={h}",
                bench(f"migrate pg N={n} H={h}", contenders, cfg.runs, cfg.peer_runs),
            )
        )
    for name in ("plan", "floor", "head", "umbral", "django", "alembic"):
        sh(pg.psql("-c", f"DROP DATABASE IF EXISTS umbral_bench_{name}"), HERE)
    return rows


def b_migrate_mysql(cfg: argparse.Namespace) -> Table:
    """migrate empty -> head on MariaDB / MySQL, every migration run (as on a database with
    history), against the same statements run by one ``mariadb`` client process. Django and
    Alembic are not run here (each needs a MySQL driver of its own)."""
    my = Mysql(cfg.mysql_url)
    rows: Table = []
    for n, h in cfg.nh_mysql:
        d = fresh_copy(project(n, h, cfg.seed), f"mymig_n{n}_h{h}")
        floor, floor_tx = d / "floor.sql", d / "floor-tx.sql"
        my.recreate("umbral_bench_plan")()
        floor_sql(d / "umbral", my.db("umbral_bench_plan"), floor, floor_tx)
        contenders = [
            Contender(
                "floor",
                my.client("-e", f"source {floor}", db="umbral_bench_floor"),
                d,
                setup=my.recreate("umbral_bench_floor"),
            ),
            # Not the target's reference: the same statements with a tracking row committed
            # after each migration, which on InnoDB is a log flush each (SPEC §8's cost).
            Contender(
                FLOOR_TX,
                my.client("-e", f"source {floor_tx}", db="umbral_bench_floor"),
                d,
                setup=my.recreate("umbral_bench_floor"),
            ),
            Contender(
                "umbral",
                umbral(
                    "migrate",
                    "--allow-destructive",
                    "--replay",
                    "--database",
                    my.db("umbral_bench_umbral"),
                ),
                d / "umbral",
                setup=my.recreate("umbral_bench_umbral"),
            ),
        ]
        label = f"migrate empty→head, MariaDB, N={n}, H={h}"
        rows.append((label, bench(f"migrate mariadb N={n} H={h}", contenders, cfg.runs)))
    for name in ("plan", "floor", "umbral"):
        sh(my.client("-e", f"DROP DATABASE IF EXISTS umbral_bench_{name}"), HERE)
    return rows


def b_showmigrations(cfg: argparse.Namespace) -> Table:
    n, h = cfg.nh_show
    d = fresh_copy(project(n, h, cfg.seed), f"show_n{n}_h{h}")
    sh(umbral("migrate", "--allow-destructive"), d / "umbral")
    sh(django("migrate", "-v", "0"), d / "django")
    sh(alembic("upgrade", "head"), d / "alembic")
    contenders = [
        Contender(START_SQLITE, [PY, "-c", connected("sqlite://")], HERE),
        Contender("umbral", umbral("showmigrations"), d / "umbral"),
        Contender("django", django("showmigrations"), d / "django"),
        Contender("alembic", alembic("current"), d / "alembic"),
    ]
    return [
        (
            f"showmigrations (all applied), N={n}, H={h}",
            bench("showmigrations", contenders, 2 * cfg.runs),  # a ~0.3 s median: twice the runs
        )
    ]


GC_OFF = "import gc; gc.disable()"
FREEZE = "gc.freeze()"
#: The `--help` benchmark's start-up references (names of its contenders): the CLI library and
#: a SQLAlchemy engine connected to the database, up to its first statement.
START_SQLITE = "typer + a SQLAlchemy SQLite connection (gc off)"
START_PG = "typer + a SQLAlchemy PostgreSQL connection (gc off)"
START_MYSQL = "typer + a SQLAlchemy MariaDB connection (gc off)"


def start_row(label: str, rows: dict[str, Result], help_rows: dict[str, Result]) -> Result | None:
    """S of a case: measured beside it where it was, else from the `--help` rows."""
    name = start_of(label)
    return rows.get(name) or help_rows.get(name)


def start_of(label: str) -> str:
    """The start-up reference of a case: the connection its backend opens."""
    if "PostgreSQL" in label:
        return START_PG
    return START_MYSQL if "MariaDB" in label else START_SQLITE


#: The PostgreSQL migrate benchmarks' second floor (b_migrate_postgres).
FLOOR_TX = "floor, a transaction per migration"


def connected(url: str) -> str:
    """Python source: import typer, connect a SQLAlchemy engine to ``url``, run one statement."""
    return (
        f"{GC_OFF}; import typer, sqlalchemy; "
        f"c = sqlalchemy.create_engine({url!r}, poolclass=sqlalchemy.pool.NullPool).connect(); "
        f'c.exec_driver_sql("SELECT 1"); c.close(); {FREEZE}'
    )


def b_help(cfg: argparse.Namespace) -> Table:
    runs = max(cfg.runs, 15)  # tens of milliseconds: more runs for a stable median
    contenders = [
        Contender("python -c pass", [PY, "-c", "pass"], HERE),
        Contender("import typer", [PY, "-c", "import typer"], HERE),
        # The start-up every database command pays before its first statement, whatever umbral
        # does (SPEC §1's stack): the CLI library, and a SQLAlchemy engine that connects and
        # runs one statement (SQLite through the standard library, PostgreSQL through psycopg,
        # to the benchmark's server), with the cyclic garbage collector off and the heap frozen
        # before exit, as the `umbral` command runs (core/umbral/cli/main.py).
        Contender(START_SQLITE, [PY, "-c", connected("sqlite://")], HERE),
        Contender(
            START_PG,
            [PY, "-c", connected(cfg.pg_url.replace("postgresql://", "postgresql+psycopg://"))],
            HERE,
        ),
        Contender(
            START_MYSQL,
            [PY, "-c", connected(cfg.mysql_url.replace("mysql://", "mysql+pymysql://"))],
            HERE,
        ),
        Contender("umbral", umbral("--help"), HERE),
        Contender("django", [str(BIN / "django-admin"), "help"], HERE),
        Contender("alembic", alembic("--help"), HERE),
    ]
    return [("`--help`", bench("--help", contenders, runs))]


BIG_UMBRAL = """\
from umbral import Model, fields


class Big(Model):
    name = fields.Text(max_length=100)
    qty = fields.{qty_umbral}(nullable={nullable})
    price = fields.Double()
    created = fields.Timestamptz()
    code = fields.Text(max_length={code_len}, index=True)
"""

BIG_DJANGO = """\
from django.db import models


class Big(models.Model):
    name = models.CharField(max_length=100)
    qty = models.{qty_django}(null={nullable})
    price = models.FloatField()
    created = models.DateTimeField()
    code = models.CharField(max_length={code_len}, db_index=True)
"""

BIG_SA = """\
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table(
    "big", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("qty", {qty_sa}, nullable={nullable}),
    sa.Column("price", sa.Float(), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("code", sa.String({code_len}), nullable=False),
    sa.Index("ix_big_code", "code"),
)
"""

ALEMBIC_ALTER = '''\
"""{doc}"""
from alembic import op
import sqlalchemy as sa

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("big") as b:
        b.alter_column({alter})


def downgrade():
    pass
'''


@dataclass(frozen=True)
class Alter:
    """One AlterColumn of the 1M-row benchmark, as each tool writes it."""

    key: str
    label: str
    model: dict[str, object]  # BIG_* template values after the change
    #: The column definition before and after, as it appears in the table's CREATE TABLE.
    column: tuple[str, str]
    alembic: tuple[str, str]  # docstring, alter_column arguments


BIG_BEFORE = {
    "nullable": False,
    "code_len": 20,
    "qty_umbral": "Integer",
    "qty_django": "IntegerField",
    "qty_sa": "sa.Integer()",
}
ALTERS = (
    Alter(
        "nullable",
        "AlterColumn (make nullable)",
        {**BIG_BEFORE, "nullable": True},
        ('"qty" INTEGER NOT NULL', '"qty" INTEGER'),
        ("make big.qty nullable", '"qty", existing_type=sa.Integer(), nullable=True'),
    ),
    Alter(
        "widen",
        "AlterColumn (widen a VARCHAR)",
        {**BIG_BEFORE, "code_len": 40},
        ('"code" VARCHAR(20) NOT NULL', '"code" VARCHAR(40) NOT NULL'),
        (
            "widen big.code",
            '"code", existing_type=sa.String(20), type_=sa.String(40), existing_nullable=False',
        ),
    ),
    # Integer to text changes SQLite's type affinity: every tool rebuilds the table and
    # converts each value, so this case times umbral's rebuild.
    Alter(
        "retype",
        "AlterColumn (integer to text: a rebuild)",
        {**BIG_BEFORE, "qty_umbral": "Text", "qty_django": "TextField", "qty_sa": "sa.Text()"},
        ('"qty" INTEGER NOT NULL', '"qty" TEXT NOT NULL'),
        (
            "make big.qty text",
            '"qty", existing_type=sa.Integer(), type_=sa.Text(), existing_nullable=False',
        ),
    ),
)


def populate(db: Path, table: str, rows: int) -> None:
    """Fill ``table`` with ``rows`` deterministic rows, in one sqlite3 process."""
    sql = (
        f"BEGIN; WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}) "
        f"INSERT INTO {table} (name, qty, price, created, code) SELECT 'name ' || i, i % 1000, "
        "i * 0.5, '2024-01-01T00:00:00+00:00', 'c' || (i % 5000) FROM s; COMMIT;"
    )
    sh(["sqlite3", str(db), sql], HERE)


def hand_rebuild_sql(template: Path, table: str, column: tuple[str, str]) -> str:
    """The SQLite rebuild written by hand: new table, copy, drop, rename, re-index."""
    rows = sh(
        [
            "sqlite3",
            str(template),
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = "
            f"'{table}' AND sql IS NOT NULL ORDER BY type DESC",
        ],
        HERE,
    )
    create = next(line for line in rows.splitlines() if line.startswith("table|"))[6:]
    indexes = [line[6:] for line in rows.splitlines() if line.startswith("index|")]
    new = create.replace(f'"{table}"', '"big_new"', 1).replace(f"TABLE {table}", "TABLE big_new")
    assert column[0] in new
    new = new.replace(column[0], column[1])
    return "\n".join(
        [
            "BEGIN;",
            new + ";",
            f'INSERT INTO big_new SELECT * FROM "{table}";',
            f'DROP TABLE "{table}";',
            f'ALTER TABLE big_new RENAME TO "{table}";',
            *(i + ";" for i in indexes),
            "COMMIT;",
            "",
        ]
    )


def b_alter1m(cfg: argparse.Namespace) -> Table:
    return [alter1m(cfg, alter) for alter in ALTERS]


def alter1m(cfg: argparse.Namespace, alter: Alter) -> tuple[str, dict[str, Result]]:
    rows_n = cfg.big_rows
    d = WORK / "run" / f"alter1m_{alter.key}"
    shutil.rmtree(d, ignore_errors=True)
    # umbral: migration 0001 applied and populated = the template; 0002 is the change.
    u = d / "umbral"
    u.mkdir(parents=True)
    (u / "umbral.toml").write_text('database = "sqlite:///db.sqlite3"\nmodels = ["bigmodels"]\n')
    (u / "bigmodels.py").write_text(BIG_UMBRAL.format(**BIG_BEFORE))
    sh(umbral("makemigrations"), u)
    sh(umbral("migrate"), u)
    populate(u / "db.sqlite3", "big", rows_n)
    shutil.move(u / "db.sqlite3", u / "template.sqlite3")
    (u / "bigmodels.py").write_text(BIG_UMBRAL.format(**alter.model))
    shutil.rmtree(u / "__pycache__", ignore_errors=True)
    sh(umbral("makemigrations"), u)
    # The floor: the same rebuild by hand, on a copy of the same template.
    (d / "rebuild.sql").write_text(hand_rebuild_sql(u / "template.sqlite3", "big", alter.column))
    contenders = [
        Contender(
            "floor",
            ["sqlite3", str(d / "floor.sqlite3"), f".read {d / 'rebuild.sql'}"],
            d,
            setup=lambda: shutil.copyfile(u / "template.sqlite3", d / "floor.sqlite3"),
        ),
        Contender(
            "umbral",
            umbral("migrate"),
            u,
            setup=lambda: shutil.copyfile(u / "template.sqlite3", u / "db.sqlite3"),
        ),
    ]
    if cfg.peers:
        j = d / "django"
        (j / "big" / "migrations").mkdir(parents=True)
        (j / "benchsite").mkdir()
        from projects import DJANGO_MANAGE, DJANGO_SETTINGS

        (j / "manage.py").write_text(DJANGO_MANAGE)
        (j / "benchsite" / "__init__.py").write_text("")
        (j / "benchsite" / "settings.py").write_text(DJANGO_SETTINGS.format(apps='"big"'))
        (j / "big" / "__init__.py").write_text("")
        (j / "big" / "migrations" / "__init__.py").write_text("")
        (j / "big" / "models.py").write_text(BIG_DJANGO.format(**BIG_BEFORE))
        sh(django("makemigrations", "-v", "0"), j)
        sh(django("migrate", "-v", "0"), j)
        populate(j / "db.sqlite3", "big_big", rows_n)
        shutil.move(j / "db.sqlite3", j / "template.sqlite3")
        (j / "big" / "models.py").write_text(BIG_DJANGO.format(**alter.model))
        sh(django("makemigrations", "-v", "0"), j)
        a = d / "alembic"
        (a / "alembic" / "versions").mkdir(parents=True)
        from projects import ALEMBIC_ENV, ALEMBIC_INI, ALEMBIC_MAKO

        (a / "alembic.ini").write_text(ALEMBIC_INI)
        (a / "alembic" / "env.py").write_text(ALEMBIC_ENV)
        (a / "alembic" / "script.py.mako").write_text(ALEMBIC_MAKO)
        (a / "models.py").write_text(BIG_SA.format(**BIG_BEFORE))
        sh(alembic("revision", "--autogenerate", "--rev-id", "r0001", "-m", "big"), a)
        sh(alembic("upgrade", "head"), a)
        populate(a / "db.sqlite3", "big", rows_n)
        shutil.move(a / "db.sqlite3", a / "template.sqlite3")
        (a / "models.py").write_text(BIG_SA.format(**alter.model))
        doc, args = alter.alembic
        (a / "alembic" / "versions" / "r0002.py").write_text(
            ALEMBIC_ALTER.format(doc=doc, alter=args)
        )
        contenders += [
            Contender(
                "django",
                django("migrate", "-v", "0"),
                j,
                setup=lambda: shutil.copyfile(j / "template.sqlite3", j / "db.sqlite3"),
            ),
            Contender(
                "alembic",
                alembic("upgrade", "head"),
                a,
                setup=lambda: shutil.copyfile(a / "template.sqlite3", a / "db.sqlite3"),
            ),
        ]
    return (
        f"{alter.label} on a {rows_n:,}-row SQLite table",
        bench(f"alter1m {alter.key}", contenders, cfg.runs),
    )


# -- tenant schemas (issue #22) ----------------------------------------------------------------

#: How many tenants migrate at once, for every contender: umbral's --jobs, django-tenants'
#: processes, the floor's psql sessions.
TENANT_JOBS = 8

CUSTOMERS_MODELS = """\
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    auto_create_schema = False


class Domain(DomainMixin):
    pass
"""

TENANTS_SETTINGS = """
# django-tenants (bench/run.py): the generated apps live in every tenant's schema.
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
SHARED_APPS = ["django_tenants", "django.contrib.contenttypes", "customers"]
TENANT_APPS = [{apps}]
INSTALLED_APPS = SHARED_APPS + TENANT_APPS
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
TENANT_MULTIPROCESSING_MAX_PROCESSES = {jobs}
"""


def tenant_names(count: int) -> list[str]:
    return [f"t{i:04d}" for i in range(count)]


def tenantize(d: Path, apps: list[str], count: int, pg: Postgres) -> None:
    """The generated projects as tenant projects: umbral's with ``[tenants]`` (no shared
    plugin), Django's with django-tenants (a ``customers`` app for its tenant table, shared)."""
    names = tenant_names(count)
    toml = d / "umbral" / "umbral.toml"
    listed = ", ".join(f'"{n}"' for n in names)
    toml.write_text(toml.read_text() + f"\n[tenants]\nschemas = [{listed}]\n")
    site = d / "django"
    customers = site / "customers"
    (customers / "migrations").mkdir(parents=True, exist_ok=True)
    (customers / "__init__.py").write_text("")
    (customers / "migrations" / "__init__.py").write_text("")
    (customers / "models.py").write_text(CUSTOMERS_MODELS)
    settings = site / "benchsite" / "settings.py"
    quoted = ", ".join(f'"{a}"' for a in apps)
    settings.write_text(
        settings.read_text() + TENANTS_SETTINGS.format(apps=quoted, jobs=TENANT_JOBS)
    )
    pg.recreate("umbral_bench_tenants")()
    env = {"BENCH_DB_URL": pg.db("umbral_bench_tenants")}
    sh(django("makemigrations", "customers", "-v", "0"), site, env)


def tenant_floor(d: Path, count: int) -> list[Path]:
    """The floor: each tenant's statements as umbral runs them (its tracking table, then each
    migration in its own transaction with its tracking row, synchronous_commit off), the
    tenants dealt round-robin to TENANT_JOBS files, one psql session each."""
    per_migration = d / "floor-tx.sql"
    body = per_migration.read_text().replace("SET synchronous_commit = off;\n", "")
    files = []
    for job in range(TENANT_JOBS):
        lines = ["SET synchronous_commit = off;\n"]
        for name in tenant_names(count)[job::TENANT_JOBS]:
            lines.append(f"SET search_path TO {name}, public;\n")
            lines.append(body)
        path = d / f"tenants-floor-{job}.sql"
        path.write_text("".join(lines))
        files.append(path)
    return files


def in_parallel(commands: list[list[str]]) -> list[str]:
    """One command line running ``commands`` at once, failing if any fails."""
    import shlex

    started = " ".join(f"{shlex.join(c)} & p{i}=$!;" for i, c in enumerate(commands))
    waited = " ".join(f"wait $p{i} || exit 1;" for i in range(len(commands)))
    return ["bash", "-c", f"{started} {waited}"]


def b_tenants(cfg: argparse.Namespace) -> Table:
    """N tenant schemas through a 20-migration history (10 plugins / apps, 10 changes), from
    empty schemas, and again with nothing to apply: umbral ``migrate --tenants``, the same
    statements through as many psql sessions, django-tenants' ``migrate_schemas`` (standard
    and multiprocessing executors) on the same schema and history."""
    pg = Postgres(cfg.pg_url)
    count = cfg.tenants
    d = fresh_copy(project(10, 10, cfg.seed), f"tenants_{count}")
    apps = sorted(p.name for p in (d / "django").iterdir() if (p / "migrations").is_dir())
    pg.recreate("umbral_bench_plan")()
    floor_sql(d / "umbral", pg.db("umbral_bench_plan"), d / "floor.sql", d / "floor-tx.sql")
    tenantize(d, apps, count, pg)
    floor = tenant_floor(d, count)
    db = pg.db("umbral_bench_tenants")
    env = {"BENCH_DB_URL": db}
    schemas = "".join(f"CREATE SCHEMA {n};\n" for n in tenant_names(count))
    (d / "schemas.sql").write_text(schemas)
    clients = ",".join(f"('{n}', '{n}')" for n in tenant_names(count))
    (d / "clients.sql").write_text(
        f"INSERT INTO customers_client (schema_name, name) VALUES {clients};\n"
    )

    def empty_schemas(with_django: bool) -> Callable[[], None]:
        def go() -> None:
            pg.recreate("umbral_bench_tenants")()
            sh(pg.psql("-f", str(d / "schemas.sql"), db=db), HERE)
            if with_django:
                sh(django("migrate_schemas", "--shared", "-v", "0"), d / "django", env)
                sh(pg.psql("-f", str(d / "clients.sql"), db=db), HERE)

        return go

    umbral_run = umbral(
        "migrate", "--tenants", "--allow-destructive", "--jobs", str(TENANT_JOBS), "--database", db
    )
    dt = django("migrate_schemas", "--tenant", "-v", "0")
    dt_mp = django("migrate_schemas", "--tenant", "--executor=multiprocessing", "-v", "0")
    fresh = [
        Contender(
            "floor",
            in_parallel([pg.psql("-f", str(f), db=db) for f in floor]),
            d,
            setup=empty_schemas(False),
        ),
        Contender("umbral", umbral_run, d / "umbral", setup=empty_schemas(False)),
    ]
    if cfg.peers:
        fresh += [
            Contender("django", dt, d / "django", env=env, setup=empty_schemas(True)),
            Contender("django-mp", dt_mp, d / "django", env=env, setup=empty_schemas(True)),
        ]
    rows: Table = []
    label = f"migrate {count} fresh tenants, 20 migrations, PostgreSQL"
    rows.append((label, bench(label, fresh, cfg.runs, cfg.peer_runs or 1)))

    # Nothing to apply: both tools' tenants at head (umbral's in one database, Django's in
    # another), then only the no-op runs are timed.
    for name, ready in (("umbral", umbral_run), ("django", dt)):
        where = pg.db(f"umbral_bench_noop_{name}")
        pg.recreate(f"umbral_bench_noop_{name}")()
        sh(pg.psql("-f", str(d / "schemas.sql"), db=where), HERE)
        if name == "django":
            if not cfg.peers:
                continue
            sh(
                django("migrate_schemas", "--shared", "-v", "0"),
                d / "django",
                {"BENCH_DB_URL": where},
            )
            sh(pg.psql("-f", str(d / "clients.sql"), db=where), HERE)
            sh(ready, d / "django", {"BENCH_DB_URL": where})
        else:
            sh(
                umbral("migrate", "--tenants", "--allow-destructive", "--database", where),
                d / "umbral",
            )
    noop_db = pg.db("umbral_bench_noop_umbral")
    noop = [
        Contender(
            "umbral",
            umbral("migrate", "--tenants", "--jobs", str(TENANT_JOBS), "--database", noop_db),
            d / "umbral",
        )
    ]
    if cfg.peers:
        dj_env = {"BENCH_DB_URL": pg.db("umbral_bench_noop_django")}
        noop += [
            Contender("django", dt, d / "django", env=dj_env),
            Contender("django-mp", dt_mp, d / "django", env=dj_env),
        ]
    label = f"migrate {count} tenants, nothing to apply, PostgreSQL"
    rows.append((label, bench(label, noop, cfg.runs, cfg.peer_runs or 1)))
    for name in ("plan", "tenants", "noop_umbral", "noop_django"):
        sh(pg.psql("-c", f"DROP DATABASE IF EXISTS umbral_bench_{name}"), HERE)
    return rows


BENCHES: dict[str, Callable[[argparse.Namespace], Table]] = {
    "makemigrations": b_makemigrations,
    "check": b_check,
    "migrate-sqlite": b_migrate_sqlite,
    "migrate-postgres": b_migrate_postgres,
    "migrate-mysql": b_migrate_mysql,
    "showmigrations": b_showmigrations,
    "help": b_help,
    "alter1m": b_alter1m,
    "tenants": b_tenants,
}


# -- report -----------------------------------------------------------------------------------


def fmt_s(r: Result | None) -> str:
    if r is None:
        return "—"
    text = f"{r.seconds * 1000:.0f} ms" if r.seconds < 1 else f"{r.seconds:.2f} s"
    return text + (f" ({r.runs} runs)" if r.runs < RUNS_SHOWN else "")


def ratio(rows: dict[str, Result], a: str, b: str) -> float | None:
    if a in rows and b in rows and rows[b].seconds > 0:
        return rows[a].seconds / rows[b].seconds
    return None


def fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}x"


def targets(results: dict[str, dict[str, Result]]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for every target of the issue that this run measured."""
    out: list[tuple[str, str, bool]] = []
    help_rows = results.get("`--help`", {})

    def beyond_start(label: str, rows: dict[str, Result], limit: float, what: str) -> None:
        """A start-up-bound case, judged by umbral's time beyond the start-up of its stack."""
        start = start_row(label, rows, help_rows)
        if start is None or "umbral" not in rows or "floor" not in rows:
            return
        beyond = rows["umbral"].seconds - start.seconds
        x = beyond / rows["floor"].seconds
        out.append(
            (
                what,
                f"{fmt_s(rows['umbral'])} - S {fmt_s(start)} = {beyond * 1000:.0f} ms "
                f"vs {fmt_s(rows['floor'])} = {x:.2f}x",
                x <= limit,
            )
        )

    for label, rows in results.items():
        if label.startswith("migrate empty→head"):
            where = label.split(", ", 1)[1]
            beyond_start(
                label, rows, 1.5, f"migrate: time beyond start-up ≤ 1.5x the raw floor ({where})"
            )
        if label.startswith("fresh database at head"):
            where = label.split(", ", 1)[1]
            r = ratio(rows, "umbral", "floor")
            if r is not None:
                out.append(
                    (
                        f"fresh database at head ≤ 0.25x the replay floor ({where})",
                        f"{fmt_s(rows['umbral'])} vs {fmt_s(rows['floor'])} = {r:.2f}x",
                        r <= 0.25,
                    )
                )
            start = start_row(label, rows, help_rows)
            head = rows.get(HEAD_FLOOR)
            if start is not None and head is not None and "umbral" in rows:
                beyond = rows["umbral"].seconds - start.seconds
                x = beyond / head.seconds
                out.append(
                    (
                        f"fresh database at head: beyond start-up ≤ 1.5x the head floor ({where})",
                        f"{fmt_s(rows['umbral'])} - S {fmt_s(start)} = {beyond * 1000:.0f} ms "
                        f"vs {fmt_s(head)} = {x:.2f}x",
                        x <= 1.5,
                    )
                )
    checks = {
        lbl: rows["umbral"]
        for lbl, rows in results.items()
        if lbl.startswith("no-change check") and "umbral" in rows
    }
    for lbl, r in checks.items():
        out.append(
            (f"no-change check ≤ 0.3 s ({lbl.split(', ', 1)[1]})", fmt_s(r), r.seconds <= 0.3)
        )
    hs = sorted(((int(lbl.rsplit("H=", 1)[1]), r) for lbl, r in checks.items()), key=lambda t: t[0])
    if len(hs) > 1 and hs[0][0] == 0:
        x = hs[-1][1].seconds / hs[0][1].seconds
        out.append(
            (
                f"no-change check flat: H={hs[-1][0]} ≤ 1.2x H=0",
                f"{fmt_s(hs[-1][1])} / {fmt_s(hs[0][1])} = {x:.2f}x",
                x <= 1.2,
            )
        )
    scratch = [
        (lbl, rows)
        for lbl, rows in results.items()
        if lbl.startswith("makemigrations from scratch")
    ]
    if scratch:
        lbl, rows = max(scratch, key=lambda t: int(t[0].rsplit("N=", 1)[1]))
        n = lbl.rsplit("N=", 1)[1]
        r = ratio(rows, "django", "umbral")
        if r is not None:
            out.append(
                (
                    f"makemigrations from scratch N={n} ≥ 3x faster than Django",
                    f"{fmt_s(rows['umbral'])} vs {fmt_s(rows['django'])} = {r:.1f}x",
                    r >= 3,
                )
            )
            out.append(
                (
                    f"peak memory at N={n} below Django's",
                    f"{rows['umbral'].rss_mib:.0f} MiB vs {rows['django'].rss_mib:.0f} MiB",
                    rows["umbral"].rss_mib < rows["django"].rss_mib,
                )
            )
    for lbl, rows in results.items():
        start = rows.get(START_SQLITE) or help_rows.get(START_SQLITE)
        if lbl.startswith("showmigrations") and start is not None and "umbral" in rows:
            beyond = rows["umbral"].seconds - start.seconds
            out.append(
                (
                    f"showmigrations: time beyond start-up ≤ 50 ms ({lbl.split(', ', 1)[1]})",
                    f"{fmt_s(rows['umbral'])} - S {fmt_s(start)} = {beyond * 1000:.0f} ms",
                    beyond <= 0.050,
                )
            )
        if lbl == "`--help`":
            u, t = rows["umbral"], rows["import typer"]
            out.append(("`umbral --help` ≤ 150 ms", fmt_s(u), u.seconds <= 0.150))
            x = u.seconds / t.seconds
            out.append(
                (
                    "`umbral --help` ≤ 1.5x a bare `import typer`",
                    f"{fmt_s(u)} vs {fmt_s(t)} = {x:.2f}x",
                    x <= 1.5,
                )
            )
        if lbl.startswith("migrate ") and "tenants" in lbl and "umbral" in rows:
            u = rows["umbral"]
            if "nothing to apply" in lbl:
                count = lbl.split()[1]
                out.append((f"{count} tenants, nothing to apply ≤ 5 s", fmt_s(u), u.seconds <= 5.0))
            elif "floor" in rows:
                x = u.seconds / rows["floor"].seconds
                out.append(
                    (
                        f"{lbl.split(',')[0].removeprefix('migrate ')}: ≤ 1.5x the floor "
                        f"({TENANT_JOBS} psql sessions)",
                        f"{fmt_s(u)} vs {fmt_s(rows['floor'])} = {x:.2f}x",
                        x <= 1.5,
                    )
                )
            for peer in ("django", "django-mp"):
                if peer in rows:
                    x = rows[peer].seconds / u.seconds
                    executor = "multiprocessing" if peer == "django-mp" else "standard"
                    out.append(
                        (
                            f"{lbl.removeprefix('migrate ').split(', PostgreSQL')[0]}: ≥ 10x "
                            f"faster than django-tenants ({executor} executor)",
                            f"{fmt_s(u)} vs {fmt_s(rows[peer])} = {x:.1f}x",
                            x >= 10,
                        )
                    )
        if lbl.startswith("AlterColumn"):
            what = lbl.split(" on a ", 1)[0].removeprefix("AlterColumn ")
            beyond_start(
                lbl,
                rows,
                1.5,
                f"1M-row AlterColumn {what}: time beyond start-up ≤ 1.5x the hand-written rebuild",
            )
    return out


def startup_bounds(results: dict[str, dict[str, Result]]) -> list[str]:
    """The start-up-bound targets set against the start-up of the mandated stack: the ratio
    umbral would reach if its own work took no time, and what its own work took."""
    help_rows = results.get("`--help`", {})
    if START_SQLITE not in help_rows:
        return []
    out = [
        "## The start-up-bound targets against the mandated stack",
        "",
        "Every `umbral` command that opens a database first imports typer and SQLAlchemy and "
        "connects a SQLAlchemy engine (psycopg for PostgreSQL), as SPEC §1 mandates; S is that "
        "alone, up to a first `SELECT 1`, timed as the `umbral` command runs, interleaved with "
        "the case where the case measures it (SQLite's migrate cases and showmigrations; the "
        "speed of this kind of machine drifts between benchmarks), else from the `--help` row "
        'below. "Best possible" is the ratio umbral would reach if everything else it does '
        "took no time: S plus the reference's own work. \"umbral's own work\" is what is left "
        "of umbral's time after S and the reference's work (negative where umbral runs less "
        "SQL than the floor: SQLite's in-place definition edits).",
        "",
        "| case | target | umbral | S | best possible | umbral's own work |",
        "|---|---|---|---|---|---|",
    ]

    def ms(x: float) -> str:
        return f"{x * 1000:.0f} ms"

    for label, rows in results.items():
        u = rows.get("umbral")
        if u is None:
            continue
        start = start_row(label, rows, help_rows)
        if start is None:
            continue
        S = start.seconds
        if label.startswith(("migrate empty→head", "AlterColumn")) and "floor" in rows:
            f = rows["floor"].seconds
            limit = "1.5x"
            best = f"{(S + f) / f:.2f}x"
            own = ms(u.seconds - S - f)
            tx = rows.get(FLOOR_TX)
            if tx is not None:
                best += (
                    f"; {(S + tx.seconds) / f:.2f}x with a transaction per migration ({fmt_s(tx)})"
                )
                own += f"; {ms(u.seconds - S - tx.seconds)} beyond those transactions"
            target = f"beyond S ≤ {limit} floor ({fmt_s(rows['floor'])})"
            out.append(
                f"| {label} | {target} | {fmt_s(u)} = {u.seconds / f:.2f}x; beyond S "
                f"{(u.seconds - S) / f:.2f}x | {fmt_s(start)} | {best} | {own} |"
            )
        elif label.startswith("showmigrations") and "django" in rows:
            d = rows["django"].seconds
            out.append(
                f"| {label} | beyond S ≤ 50 ms (was: ≥ 4x faster than Django, "
                f"{fmt_s(rows['django'])}) | {fmt_s(u)} = {d / u.seconds:.1f}x faster than "
                f"Django | {fmt_s(start)} | {d / S:.1f}x | {ms(u.seconds - S)} |"
            )
    out.append("")
    return out


def render(results: dict[str, dict[str, Result]], meta: dict) -> str:
    v = meta["versions"]
    lines = [
        "# umbral vs Django vs Alembic",
        "",
        f"Machine: {meta['machine']}; {v['python']}; SQLite {v['sqlite']}; "
        f"PostgreSQL {meta.get('postgres', 'not measured')}; MariaDB "
        f"{meta.get('mysql', 'not measured')}; umbral-core {v['umbral-core']} "
        f"(this repository); Django {v['Django']}; Alembic {v['alembic']}; "
        f"SQLAlchemy {v['SQLAlchemy']}; typer {v['typer']}; psycopg {v['psycopg']}; "
        f"PyMySQL {v.get('PyMySQL', 'not installed')}.",
        f"Generated {meta['date']} by `{meta['command']}` (see `bench/README.md`). Every number "
        f"is the median wall time of fresh processes ({meta['runs']} runs, contenders "
        "interleaved); memory is the peak RSS over those runs. Schemas: N models over 10 "
        "plugins/apps, ~10 mixed columns, 0-2 foreign keys each, H history steps (seed "
        f'{meta["seed"]}). "floor" = umbral\'s own DDL run by one `sqlite3` / `psql` / `mariadb` '
        "process in one transaction (for the 1M-row case: the rebuild written by hand). "
        "S = the start-up of the mandated stack (typer + SQLAlchemy + a connection), measured "
        "beside the case where it says so, else from the `--help` rows.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, measured, ok in targets(results):
        lines.append(f"| {name} | {measured} | {'yes' if ok else '**NO**'} |")
    lines.append("")
    lines += startup_bounds(results)
    lines += [
        "## Raw numbers",
        "",
        "| case | umbral | Django | Alembic | floor | umbral / Django | umbral / Alembic "
        "| umbral / floor | peak RSS umbral / Django / Alembic |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, rows in results.items():
        rss = " / ".join(
            f"{rows[k].rss_mib:.0f}" if k in rows else "—" for k in ("umbral", "django", "alembic")
        )
        extra = ""
        if FLOOR_TX in rows:
            extra = f" ({FLOOR_TX}: {fmt_s(rows[FLOOR_TX])})"
        if label != "`--help`" and start_of(label) in rows:
            extra += f" (S measured beside it: {fmt_s(rows[start_of(label)])})"
        if "django-mp" in rows:
            extra = (
                f" (Django: django-tenants' standard executor; its multiprocessing executor, "
                f"{TENANT_JOBS} processes: {fmt_s(rows['django-mp'])})"
            )
        if label == "`--help`":
            extra = (
                " ("
                + ", ".join(
                    f"`{name}` {fmt_s(rows[name])}"
                    for name in rows
                    if name.startswith(("python -c", "import ", "typer + "))
                )
                + ")"
            )
        lines.append(
            f"| {label}{extra} | {fmt_s(rows.get('umbral'))} | {fmt_s(rows.get('django'))} | "
            f"{fmt_s(rows.get('alembic'))} | {fmt_s(rows.get('floor'))} | "
            f"{fmt_ratio(ratio(rows, 'umbral', 'django'))} | "
            f"{fmt_ratio(ratio(rows, 'umbral', 'alembic'))} | "
            f"{fmt_ratio(ratio(rows, 'umbral', 'floor'))} | {rss} MiB |"
        )
    lines += [
        "",
        "What each tool runs: umbral `makemigrations` / `makemigrations --check` / `migrate "
        "--allow-destructive` / `showmigrations` / `--help`; Django `manage.py makemigrations` / "
        "`makemigrations --check --dry-run` / `migrate` / `showmigrations` / `django-admin help`; "
        "Alembic `revision --autogenerate` / `check` (against a database at head) / "
        "`upgrade head` / `current` / `--help`. Tenants: umbral `migrate --tenants --jobs "
        f"{TENANT_JOBS}`, django-tenants `migrate_schemas --tenant` (its own executor options), "
        f"the floor the same statements through {TENANT_JOBS} `psql` sessions at once.",
        "",
    ]
    notes = HERE / "NOTES.md"
    if notes.exists():
        lines.append(notes.read_text())
    return "\n".join(lines)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU {cpu} ({platform.system()} {platform.machine()})".strip()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and 3 runs (development; targets are not meaningful)",
    )
    ap.add_argument(
        "--only",
        default=",".join(ALL),
        help=f"comma-separated benchmarks (default all: {','.join(ALL)})",
    )
    ap.add_argument("--runs", type=int, help="runs per contender (default 5, --quick 3)")
    ap.add_argument(
        "--no-peers",
        dest="peers",
        action="store_false",
        help="skip Django/Alembic in the migrate and 1M-row benchmarks",
    )
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an existing database on the server to benchmark against (CREATE DATABASE needed)",
    )
    ap.add_argument(
        "--peer-runs",
        type=int,
        help="runs for Django/Alembic in the migrate benchmarks (default: --runs); they take "
        "minutes per run at N=500",
    )
    ap.add_argument(
        "--mysql-url",
        default=os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
        help="a MySQL / MariaDB server where the user may CREATE DATABASE",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--tenants", type=int, help="tenant schemas of the tenants case (default 1000, --quick 50)"
    )
    ap.add_argument(
        "--fast-nh",
        dest="nh_fast",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        help="N,H of the fresh-database (fast path) case (default 500,500; --quick 50,50)",
    )
    ap.add_argument("--skip-setup", action="store_true", help="do not re-run pip install")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="re-write the report from the saved results (after editing bench/NOTES.md)",
    )
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep earlier results of benchmarks not selected by --only",
    )
    cfg = ap.parse_args()
    only = [b.strip() for b in cfg.only.split(",") if b.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; known: {', '.join(ALL)}")
    cfg.runs = cfg.runs or (3 if cfg.quick else 5)
    global RUNS_SHOWN
    RUNS_SHOWN = cfg.runs
    if cfg.quick:
        cfg.sizes_scratch, cfg.n_check, cfg.h_check = [50, 200], 100, [0, 50]
        cfg.nh_migrate, cfg.nh_show, cfg.big_rows = [(50, 50), (100, 0)], (100, 50), 100_000
        cfg.nh_fast = cfg.nh_fast or (50, 50)
        cfg.nh_mysql = [(50, 50)]
        cfg.tenants = cfg.tenants or 50
    else:
        cfg.sizes_scratch, cfg.n_check, cfg.h_check = [100, 500, 2000], 500, [0, 50, 200, 500]
        cfg.nh_migrate = [(100, 500), (500, 0), (500, 500)]
        cfg.nh_show, cfg.big_rows = (500, 500), 1_000_000
        cfg.nh_fast = cfg.nh_fast or (500, 500)
        cfg.nh_mysql = [(100, 500)]
        cfg.tenants = cfg.tenants or 1000
    if cfg.report_only:
        store = WORK / ("results-quick.json" if cfg.quick else "results.json")
        data = json.loads(store.read_text())
        results = {k: {n: Result(**r) for n, r in rs.items()} for k, rs in data["results"].items()}
        Path(cfg.out).write_text(render(results, data["meta"]))
        print(f"wrote {cfg.out}")
        return
    if not cfg.skip_setup:
        print("setting up bench/.work/venv ...", flush=True)
        setup_venv()
    (WORK / "run").mkdir(parents=True, exist_ok=True)
    store = WORK / ("results-quick.json" if cfg.quick else "results.json")
    saved = json.loads(store.read_text()) if cfg.merge and store.exists() else {"results": {}}
    results = {k: {n: Result(**r) for n, r in rows.items()} for k, rows in saved["results"].items()}
    meta = {
        "versions": versions(),
        "machine": machine(),
        "seed": cfg.seed,
        "runs": cfg.runs,
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python bench/run.py", *sys.argv[1:]]),
    }
    earlier = saved.get("meta", {}).get("command")
    if cfg.merge and earlier and earlier != meta["command"]:
        meta["command"] = f"{earlier}` then `{meta['command']}"  # rendered inside backticks
    if "migrate-mysql" in only or "mysql" in saved.get("meta", {}):
        meta["mysql"] = Mysql(cfg.mysql_url).version()
    if "migrate-postgres" in only or "postgres" in saved.get("meta", {}):
        try:
            meta["postgres"] = Postgres(cfg.pg_url).version()
        except RuntimeError as exc:
            if "migrate-postgres" in only:
                raise SystemExit(f"PostgreSQL at {cfg.pg_url} is not reachable: {exc}") from exc
    started = time.perf_counter()
    order = {lbl: i for i, lbl in enumerate(_label_order(cfg))}
    for name in ALL:
        if name in only:
            print(f"[{name}]", flush=True)
            for label, rows in BENCHES[name](cfg):
                results[label] = rows
            # Saved after every benchmark: an interrupted run keeps what it measured (--merge).
            results = dict(sorted(results.items(), key=lambda kv: order.get(kv[0], 999)))
            payload = {k: {n: vars(r) for n, r in rs.items()} for k, rs in results.items()}
            store.write_text(json.dumps({"meta": meta, "results": payload}, indent=1))
            Path(cfg.out).write_text(render(results, meta))
    print(f"wrote {cfg.out} in {time.perf_counter() - started:.0f} s")
    for target, measured, ok in targets(results):
        print(f"  [{'ok' if ok else 'MISS'}] {target}: {measured}")


def _label_order(cfg: argparse.Namespace) -> list[str]:
    """Report rows in the issue's order, whatever order --merge accumulated them in."""
    out = [f"makemigrations from scratch, N={n}" for n in cfg.sizes_scratch]
    out += [f"no-change check, N={cfg.n_check}, H={h}" for h in cfg.h_check]
    out += [f"migrate empty→head, SQLite, N={n}, H={h}" for n, h in cfg.nh_migrate]
    out += [f"migrate empty→head, PostgreSQL, N={n}, H={h}" for n, h in cfg.nh_migrate]
    out += [f"migrate empty→head, MariaDB, N={n}, H={h}" for n, h in cfg.nh_mysql]
    out += [fast_label(backend, *cfg.nh_fast) for backend in ("SQLite", "PostgreSQL")]
    out += [f"showmigrations (all applied), N={cfg.nh_show[0]}, H={cfg.nh_show[1]}", "`--help`"]
    out += [
        f"migrate {cfg.tenants} fresh tenants, 20 migrations, PostgreSQL",
        f"migrate {cfg.tenants} tenants, nothing to apply, PostgreSQL",
    ]
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
