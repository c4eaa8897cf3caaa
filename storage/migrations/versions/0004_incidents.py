"""incidents: reposts of one story fold into one incident

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("primary_alert_id", ID, nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("sketch", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    # alerts is referenced by deliveries and the audit log: add the column in place, no batch rebuild
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE alerts ADD COLUMN incident_id INTEGER "
                   "CONSTRAINT fk_alerts_incident REFERENCES incidents (id)")
    else:
        op.add_column("alerts", sa.Column("incident_id", ID, nullable=True))
        op.create_foreign_key("fk_alerts_incident", "alerts", "incidents", ["incident_id"], ["id"])
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_incident_id", table_name="alerts")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE alerts DROP COLUMN incident_id")  # SQLite ≥ 3.35; no rebuild of alerts
    else:
        op.drop_constraint("fk_alerts_incident", "alerts", type_="foreignkey")
        op.drop_column("alerts", "incident_id")
    op.drop_index("ix_incidents_created_at", table_name="incidents")
    op.drop_table("incidents")
