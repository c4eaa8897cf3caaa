"""Migration 0002 on a database that already holds alerts: they become 待研判 cases; it also goes back down."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage import db


def _migrate(connection: Connection, revision: str, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(cfg, revision)


ROWS = (
    "INSERT INTO items (url, source_id, title, text, fetched_at, content_hash) "
    "VALUES ('http://a.example.cn/1', 's', 't', 'x', '2026-01-01 00:00:00', 'h')",
    "INSERT INTO hits (item_id, rule_id, category, grade, terms, snippet, found_at) "
    "VALUES (1, 'r', 'c', '重大', '[]', 's', '2026-01-01 00:00:00')",
    "INSERT INTO alerts (hit_id, idempotency_key, grade, state, created_at) VALUES (1, 'k', '重大', 'new', '2026-01-01 00:00:00')",
    "INSERT INTO deliveries (alert_id, channel, status, attempts, next_attempt_at) "
    "VALUES (1, 'mail', 'sent', 1, '2026-01-01 00:00:00')",
)


async def test_upgrade_keeps_existing_alerts_and_downgrade_undoes_it(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_migrate, "0001")
            for sql in ROWS:
                await conn.execute(text(sql))
        await db.upgrade(engine)
        async with engine.begin() as conn:
            row = (await conn.execute(text("SELECT state, emergency, department_id, form_due_at FROM alerts"))).one()
            assert tuple(row) == ("new", False, None, None)
            await conn.run_sync(_migrate, "0001", True)
        async with engine.begin() as conn:
            columns = (await conn.execute(text("SELECT * FROM alerts"))).keys()
            assert "emergency" not in columns and "department_id" not in columns
        await db.upgrade(engine)  # and up again, with the deliveries still pointing at the alert
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM deliveries"))).scalar() == 1
            assert (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar() == 0
    finally:
        await engine.dispose()
