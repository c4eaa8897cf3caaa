"""triage workflow: departments, users, the hash-chained audit log, case columns on alerts

Revision ID: 0002
Revises: 0001

Written by hand, not batch: on SQLite a batch "move and copy" of ``alerts`` would DROP the table
that ``deliveries`` references, which fails with foreign keys on. Every change here is an
``ALTER TABLE … ADD COLUMN`` instead, which SQLite does in place (the foreign key inline).

The audit log is append-only in the database itself: triggers refuse UPDATE and DELETE (and
TRUNCATE on PostgreSQL), so no one "fixes" an entry by accident. Someone who drops the triggers
on purpose is caught by the hash chain (``yuqing audit verify``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = "审计日志只能追加，不能修改或删除 (audit_log is append-only)"
DUE_COLUMNS = ("report_due_at", "form_due_at", "dispatch_due_at", "dispatch_latest_due_at", "result_due_at",
               "result_latest_due_at", "reply_due_at")
ALERT_DEPARTMENT_FK = "fk_alerts_department_id_departments"


def _alert_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """Fresh objects on each call: a Column belongs to one table, and tests upgrade twice."""
    return [
        sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("emergency_at", sa.DateTime(), nullable=True),
        sa.Column("emergency_by", sa.String(length=64), nullable=True),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("closing_report", sa.Text(), nullable=True),
        *(sa.Column(name, sa.DateTime(), nullable=True) for name in DUE_COLUMNS),
    ]


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "users",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("department_id", Id, nullable=True),
        sa.Column("email", sa.String(length=256), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", Id, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("alert_id", Id, nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_log_alert_id", "audit_log", ["alert_id"])

    for column in _alert_columns():
        op.add_column("alerts", column)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(f"ALTER TABLE alerts ADD COLUMN department_id INTEGER "
                   f"CONSTRAINT {ALERT_DEPARTMENT_FK} REFERENCES departments (id)")
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
    else:
        op.add_column("alerts", sa.Column("department_id", Id, nullable=True))
        op.create_foreign_key(ALERT_DEPARTMENT_FK, "alerts", "departments", ["department_id"], ["id"])
        op.execute("CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
        op.drop_constraint(ALERT_DEPARTMENT_FK, "alerts", type_="foreignkey")
    op.drop_column("alerts", "department_id")
    for column in reversed(_alert_columns()):
        op.drop_column("alerts", column.name)
    op.drop_index("ix_audit_log_alert_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("users")
    op.drop_table("departments")
