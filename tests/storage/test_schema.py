"""The migrations build exactly the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage import db
from storage.models import Base


def _diff(connection: Connection) -> list[object]:
    return compare_metadata(MigrationContext.configure(connection), Base.metadata)


async def test_migrated_schema_matches_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        await db.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
    finally:
        await engine.dispose()
    # column types differ only by the UTCDateTime decorator, which is stored as a plain DATETIME
    assert [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")] == []
