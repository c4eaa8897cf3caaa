"""The database harness itself: both ``db_url`` backends are real, fresh per test, and keep Chinese intact."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

TITLE = "化隆县第二幼儿园：家长反映多名幼儿午餐后呕吐（附图）😷"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(db_url)
    yield engine
    await engine.dispose()


async def test_select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1


async def test_chinese_text_round_trip(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, title VARCHAR(200) NOT NULL)"))
        await conn.execute(text("INSERT INTO notes (id, title) VALUES (1, :title)"), {"title": TITLE})
    async with engine.connect() as conn:
        found = await conn.scalar(text("SELECT title FROM notes WHERE title LIKE :p"), {"p": "%第二幼儿园%"})
    assert found == TITLE


async def test_each_test_gets_an_empty_database(engine: AsyncEngine) -> None:
    """Runs after the round trip above: its table must not leak into this test's database."""
    async with engine.connect() as conn:
        assert await conn.run_sync(lambda sync_conn: inspect(sync_conn).get_table_names()) == []


async def test_postgresql_server_is_real_and_utf8(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.scalar(text("SELECT version()"))).startswith("PostgreSQL ")
            assert await conn.scalar(text("SELECT current_database()")) == "yuqing_test"
            assert await conn.scalar(text("SHOW server_encoding")) == "UTF8"
    finally:
        await engine.dispose()
