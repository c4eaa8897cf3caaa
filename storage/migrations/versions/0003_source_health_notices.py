"""source health notices: a notices table, and deliveries that carry either an alert or a notice

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_notices_source_id", "notices", ["source_id"])
    # deliveries is referenced by nothing, so SQLite's batch rebuild of it is safe
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("notice_id", ID, nullable=True))
        batch.alter_column("alert_id", existing_type=ID, nullable=True)
        batch.create_unique_constraint("uq_deliveries_notice_channel", ["notice_id", "channel"])
        batch.create_foreign_key("fk_deliveries_notice", "notices", ["notice_id"], ["id"])


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE notice_id IS NOT NULL")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_notice", type_="foreignkey")
        batch.drop_constraint("uq_deliveries_notice_channel", type_="unique")
        batch.alter_column("alert_id", existing_type=ID, nullable=False)
        batch.drop_column("notice_id")
    op.drop_index("ix_notices_source_id", table_name="notices")
    op.drop_table("notices")
