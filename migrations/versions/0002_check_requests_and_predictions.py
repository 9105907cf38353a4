"""Check requests (status, error, timing) and the serving prediction log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from shared.db.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "retraining_checks",
        sa.Column("status", sa.String(16), nullable=False, server_default="completed"),
    )
    op.add_column("retraining_checks", sa.Column("error", sa.Text))
    op.add_column("retraining_checks", sa.Column("requested_at", UTCDateTime))
    op.add_column("retraining_checks", sa.Column("started_at", UTCDateTime))
    op.add_column("retraining_checks", sa.Column("completed_at", UTCDateTime))
    op.create_table(
        "retraining_predictions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("prediction", sa.JSON(none_as_null=True)),
        sa.Column("outcome", sa.JSON(none_as_null=True)),
        sa.Column("outcome_at", UTCDateTime),
    )
    op.create_index(
        "ix_retraining_predictions_model_created",
        "retraining_predictions",
        ["model_name", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_retraining_predictions_model_created", "retraining_predictions")
    op.drop_table("retraining_predictions")
    with op.batch_alter_table("retraining_checks") as batch:
        for column in ("completed_at", "started_at", "requested_at", "error", "status"):
            batch.drop_column(column)
