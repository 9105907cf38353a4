"""The promotion ledger (every champion change and refusal) and the storm-control breaker.

Revision ID: promotions
Revises: registry_sync
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from shared.db.schema import UTCDateTime

revision = "promotions"
down_revision = "registry_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retraining_promotions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_version", sa.String(32), nullable=True),
        sa.Column("to_version", sa.String(32), nullable=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256), nullable=True),
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("check_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=True),
        sa.Column("from_metrics", sa.JSON, nullable=True),
        sa.Column("data_fingerprint", sa.String(64), nullable=True),
        sa.Column("holdout_fingerprint", sa.String(64), nullable=True),
        sa.Column("from_state", sa.JSON, nullable=True),
        sa.Column("to_state", sa.JSON, nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
    )
    op.create_index(
        "ix_retraining_promotions_model_id", "retraining_promotions", ["model_name", "id"]
    )
    op.create_table(
        "retraining_breakers",
        sa.Column("model_name", sa.String(128), primary_key=True),
        sa.Column("consecutive_refusals", sa.Integer, nullable=False),
        sa.Column("paused_at", UTCDateTime, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("tripped_by_job", sa.String(36), nullable=True),
        sa.Column("resumed_at", UTCDateTime, nullable=True),
        sa.Column("resumed_by", sa.String(256), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("retraining_breakers")
    op.drop_index("ix_retraining_promotions_model_id", "retraining_promotions")
    op.drop_table("retraining_promotions")
