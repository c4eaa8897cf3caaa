"""Start-up migration: Alembic runs only when the schema is behind (it costs the daemon 11 MB for life)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage import db

ROOT = Path(__file__).parents[2]
UPGRADE = ("import asyncio, sys\n"
           "from storage import db\n"
           "async def main():\n"
           "    engine = db.make_engine(sys.argv[1])\n"
           "    await db.upgrade(engine)\n"
           "    await engine.dispose()\n"
           "asyncio.run(main())\n"
           "print('alembic' in sys.modules)")


def _migrate(connection: Connection, revision: str, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(cfg, revision)


def upgrade_in_child(url: str) -> bool:
    """``db.upgrade`` in a fresh process; whether it imported Alembic."""
    out = subprocess.run([sys.executable, "-c", UPGRADE, url], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip() == "True"


def test_head_read_from_the_files_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    assert [db.head_revision()] == ScriptDirectory.from_config(config).get_heads()


def test_an_unusual_migration_file_leaves_the_decision_to_alembic(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (tmp_path / "versions" / "0002_b.py").write_text('revision = "0002"\ndown_revision = "0001"\n')
    monkeypatch.setattr(db, "MIGRATIONS", tmp_path)
    assert db.head_revision() == "0002"
    (tmp_path / "versions" / "0003_merge.py").write_text('revision = "0003"\ndown_revision = ("0001", "0002")\n')
    assert db.head_revision() is None  # a merge: not parsed here
    (tmp_path / "versions" / "0003_merge.py").write_text('revision = "0003"\ndown_revision = "0001"\n')
    assert db.head_revision() is None  # two heads


async def test_alembic_only_when_the_schema_is_behind(db_url: str) -> None:
    assert await asyncio.to_thread(upgrade_in_child, db_url)  # a new database: migrated by Alembic
    engine = db.make_engine(db_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar_one()
        assert {"items", "alerts", "runs"} <= tables and version == db.head_revision()
        assert not await asyncio.to_thread(upgrade_in_child, db_url)  # up to date: not imported
        async with engine.begin() as conn:  # one migration behind again
            await conn.run_sync(lambda c: _migrate(c, "-1", down=True))
        assert await asyncio.to_thread(upgrade_in_child, db_url)
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar_one() == version
    finally:
        await engine.dispose()
