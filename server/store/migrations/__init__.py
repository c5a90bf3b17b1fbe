"""Schema migrations through Alembic, run at start-up (`migrate(engine)`).

The revisions are `versions/NNNN_*.py` next to this file, shipped as package data; the
Alembic environment (`env.py`) is configured here in code, so no alembic.ini is needed at run
time. `migrate(engine)` runs in ONE transaction that first serializes concurrent start-ups
(PostgreSQL: `pg_advisory_xact_lock`, the key the old runner used; SQLite: the engine's
`BEGIN IMMEDIATE`, see `db.make_engine`), then:

1. adopts a database of the old hand-written runner: its table `schema_version` (one row per
   applied migration, 1-3) is translated to the Alembic revision of the same number
   (version N <=> revision id "000N", e.g. 3 => "0003") by stamping `alembic_version`, and the
   old table is dropped. An `alembic_version` already on file wins over a `schema_version`;
2. upgrades to the head revision.

A database already at the head (every start-up after the first) is recognised with one SELECT
on `alembic_version` against the head read from the revision files (`declared_head`), without
importing Alembic, which would cost each serving process ~9 MB of memory.

Revisions 0001-0003 are the old runner's migrations 1-3: 0001 and 0002 create the tables as
the models defined them, 0003 switches case JSON to lz4 compression on PostgreSQL 14+ (a
no-op elsewhere).

Adding a migration (e.g. porting "migration 4" of the old MIGRATIONS list): add ONE file
`versions/0004_<what>.py` with `revision = "0004"`, `down_revision = "0003"` and an
`upgrade()` of explicit `op.*` DDL (copy 0003 for the shape; never edit an applied revision).
The NNNN id keeps the old numbering: a database that reached version 4 under the old runner
is then stamped "0004" by step 1 without any further change. The model change goes in
`models.py` / `review_models.py` as usual, and `tests/test_migrations.py` fails until the
revision and the models agree (Alembic's autogenerate compare on SQLite and PostgreSQL).
A developer can let Alembic draft the file from the models against a database at head:

    .venv/bin/python -m server.store.migrations --database-url sqlite:///var/dev.db \\
        revision --autogenerate --rev-id 0004 -m "what it adds"

(then read and trim it); the same entry point runs any other Alembic command (`history`,
`current`, `heads`, `upgrade head`, ...).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, column, func, inspect, select, table, text

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
LEGACY_VERSION_TABLE = "schema_version"
_PG_LOCK_KEY = 0x6F6E636F  # "onco": the old runner's key, so old and new start-ups also queue


def legacy_revision(version: int) -> str:
    """The Alembic revision that the old runner's schema_version N corresponds to."""
    return f"{version:04d}"


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """The Alembic configuration, built in code: the scripts are this package's files."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


_scripts: ScriptDirectory | None = None


def scripts() -> ScriptDirectory:
    """The revision scripts (read once per process)."""
    global _scripts
    if _scripts is None:
        from alembic.script import ScriptDirectory

        _scripts = ScriptDirectory.from_config(alembic_config())
    return _scripts


def head() -> str:
    return scripts().get_current_head()


def declared_head() -> str | None:
    """The head revision, read from the revision files' `revision = ...` / `down_revision = ...`
    without importing Alembic (~9 MB per process): a serving process whose database is already
    at head never loads it. None unless the revisions form one line (Alembic decides then);
    a test holds it equal to Alembic's own answer."""
    revisions, parents = set(), set()
    for path in (HERE / "versions").glob("*.py"):
        if path.name == "__init__.py":
            continue
        found = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
                node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value:
                found[target.id] = ast.literal_eval(node.value)
        down = found.get("down_revision")
        if not isinstance(found.get("revision"), str) or not (down is None or isinstance(down, str)):
            return None
        revisions.add(found["revision"])
        parents.add(down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _at_declared_head(conn: Connection) -> str | None:
    """The revision on file when it is the head and nothing is left to adopt: the start-up of
    every process after the first, answered with two catalogue lookups and one SELECT."""
    tables = inspect(conn)
    if tables.has_table(LEGACY_VERSION_TABLE) or not tables.has_table(VERSION_TABLE):
        return None
    on_file = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    wanted = declared_head()
    return wanted if wanted is not None and on_file == [wanted] else None


def _adopt_legacy_version(conn: Connection) -> None:
    """Translate the old runner's schema_version into alembic_version (see the docstring)."""
    from alembic.runtime.migration import MigrationContext

    if not inspect(conn).has_table(LEGACY_VERSION_TABLE):
        return
    if current_revision(conn) is None:
        legacy = table(LEGACY_VERSION_TABLE, column("version"))
        version = conn.scalar(select(func.max(legacy.c.version))) or 0
        if version:
            revision = legacy_revision(version)
            if revision not in {s.revision for s in scripts().walk_revisions()}:
                raise RuntimeError(f"the database is at schema_version {version}, newer than this code: "
                                   f"there is no Alembic revision {revision!r}")
            MigrationContext.configure(conn).stamp(scripts(), revision)
    conn.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))


def migrate(engine: Engine) -> str:
    """Bring the schema to the head revision; returns the revision now in place."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        done = _at_declared_head(conn)
        if done is not None:
            return done
        from alembic import command

        _adopt_legacy_version(conn)
        if current_revision(conn) != head():
            command.upgrade(alembic_config(connection=conn), "head")
        return current_revision(conn)


def main(argv: list[str] | None = None) -> int:
    """`python -m server.store.migrations [--database-url URL] <alembic command> ...`"""
    from alembic.config import CommandLine

    from server import config

    argv = list(sys.argv[1:] if argv is None else argv)
    url = None
    if argv[:1] == ["--database-url"] and len(argv) > 1:
        url, argv = argv[1], argv[2:]
    url = url or config.from_environment().get("DATABASE_URL") or config.DEFAULTS["DATABASE_URL"]
    cli = CommandLine(prog="python -m server.store.migrations [--database-url URL]")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    cli.run_cmd(alembic_config(url=url), options)
    return 0
