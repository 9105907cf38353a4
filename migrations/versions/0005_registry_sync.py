"""The registry follows the database: registry changes still owed to MLflow (an outbox).

A promotion (or refusal) writes a row here in the transaction that records it; the row is
deleted once MLflow has the alias, stage and the version's tags. Rows left behind (MLflow
was unavailable, the process died) are what the reconciler repairs.

Revision ID: registry_sync
Revises: decisions
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from shared.db.schema import UTCDateTime

revision = "registry_sync"
down_revision = "decisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retraining_registry_pending",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("promote", sa.Boolean, nullable=False),
        sa.Column("tags", sa.JSON, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("retraining_registry_pending")
