"""The report tests' data: a generated month (tests/report_world.py) on SQLite and PostgreSQL.

The month is built once per backend and copied for each test (the SQLite file; a PostgreSQL
``CREATE DATABASE … TEMPLATE``), so every test starts from the same data without rebuilding it.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator

import pytest
from pg_cluster import PgCluster, quote
from report_world import World, build_world
from sqlalchemy.engine import make_url

from storage import db

TEMPLATE_DB = "reports_world_template"


@pytest.fixture(scope="session")
def built_worlds() -> dict[str, tuple[object, World]]:
    """backend → (the template: a file or a database name, the World's ids)."""
    return {}


async def _template(request: pytest.FixtureRequest, backend: str, cache: dict[str, tuple[object, World]],
                    tmp_path_factory: pytest.TempPathFactory) -> tuple[object, World]:
    if backend not in cache:
        if backend == "sqlite":
            folder = tmp_path_factory.mktemp("reports-world")
            template: object = folder / "yuqing.db"
            url = f"sqlite+aiosqlite:///{template}"
        else:
            cluster: PgCluster = request.getfixturevalue("pg_cluster")
            cluster.drop_database(TEMPLATE_DB)
            cluster.create_database(TEMPLATE_DB)
            template, url = TEMPLATE_DB, cluster.url(TEMPLATE_DB)
            folder = tmp_path_factory.mktemp("reports-world")
        engine = db.make_engine(url)
        try:
            await db.upgrade(engine)
            cache[backend] = (template, await build_world(db.sessionmaker(engine), url, folder))
        finally:
            await engine.dispose()
    return cache[backend]


@pytest.fixture
async def world(request: pytest.FixtureRequest, db_url: str, built_worlds: dict[str, tuple[object, World]],
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    template, built = await _template(request, backend, built_worlds, tmp_path_factory)
    target = make_url(db_url).database or ""
    if backend == "sqlite":
        shutil.copyfile(str(template), target)
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        cluster.drop_database(target)
        cluster.sql(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(str(template))}")
    engine = db.make_engine(db_url)
    try:
        yield dataclasses.replace(built, sessions=db.sessionmaker(engine), url=db_url,
                                  alerts=dict(built.alerts), runs=dict(built.runs))
    finally:
        await engine.dispose()
