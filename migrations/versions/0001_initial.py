"""Initial schema: models, jobs, checks, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from shared.db.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('pending', 'running')")


def upgrade() -> None:
    op.create_table(
        "retraining_models",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("pipeline", sa.JSON),
        sa.Column("task", sa.String(32)),
        sa.Column("feature_columns", sa.JSON),
        sa.Column("baseline_metrics", sa.JSON),
        sa.Column("reference_path", sa.String(1024)),
        sa.Column("champion_version", sa.String(32)),
        sa.Column("champion_run_id", sa.String(64)),
        sa.Column("champion_metrics", sa.JSON),
        sa.Column("data_sources", sa.JSON),
        sa.Column("schedule_next_run_at", UTCDateTime),
        sa.Column("monitoring_interval_seconds", sa.Integer),
        sa.Column("monitoring_next_run_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "retraining_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("start_time", UTCDateTime),
        sa.Column("end_time", UTCDateTime),
        sa.Column("heartbeat_at", UTCDateTime),
        sa.Column("metrics", sa.JSON),
        sa.Column("champion_metrics", sa.JSON),
        sa.Column("promoted", sa.Boolean),
        sa.Column("promotion_reason", sa.Text),
        sa.Column("model_version", sa.String(32)),
        sa.Column("mlflow_run_id", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("details", sa.JSON),
    )
    op.create_index("ix_retraining_jobs_model_name", "retraining_jobs", ["model_name"])
    op.create_index(
        "ix_retraining_jobs_model_created", "retraining_jobs", ["model_name", "created_at"]
    )
    op.create_index(
        "uq_retraining_jobs_one_active_per_model",
        "retraining_jobs",
        ["model_name"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_table(
        "retraining_checks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("needs_retraining", sa.Boolean, nullable=False),
        sa.Column("trigger", sa.String(32)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("drift_share", sa.Float),
        sa.Column("drift", sa.JSON),
        sa.Column("performance", sa.JSON),
        sa.Column("report_path", sa.String(1024)),
    )
    op.create_index(
        "ix_retraining_checks_model_created", "retraining_checks", ["model_name", "created_at"]
    )
    op.create_table(
        "retraining_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("job_id", sa.String(36)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("details", sa.JSON),
    )
    op.create_index("ix_retraining_events_job_id", "retraining_events", ["job_id"])
    op.create_index("ix_retraining_events_model_at", "retraining_events", ["model_name", "at"])


def downgrade() -> None:
    for table in ("retraining_events", "retraining_checks", "retraining_jobs", "retraining_models"):
        op.drop_table(table)
