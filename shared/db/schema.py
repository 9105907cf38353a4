"""The tables. Alembic migrations in ``migrations/`` create them; keep the two in step."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from shared.enums import ACTIVE_STATUSES


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

_ACTIVE_JOB = sa.text(
    "status IN (" + ", ".join(f"'{status}'" for status in sorted(ACTIVE_STATUSES)) + ")"
)

models = sa.Table(
    "retraining_models",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("pipeline", sa.JSON, nullable=True),
    sa.Column("task", sa.String(32), nullable=True),
    sa.Column("feature_columns", sa.JSON, nullable=True),
    sa.Column("baseline_metrics", sa.JSON, nullable=True),
    sa.Column("reference_key", sa.String(512), nullable=True),
    sa.Column("champion_version", sa.String(32), nullable=True),
    sa.Column("champion_run_id", sa.String(64), nullable=True),
    sa.Column("champion_metrics", sa.JSON, nullable=True),
    # measured on the champion's holdout: importances, confidence calibration (diagnostics)
    sa.Column("champion_diagnostics", sa.JSON, nullable=True),
    sa.Column("data_sources", sa.JSON, nullable=True),
    sa.Column("schedule_next_run_at", UTCDateTime, nullable=True),
    sa.Column("monitoring_interval_seconds", sa.Integer, nullable=True),
    sa.Column("monitoring_next_run_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

jobs = sa.Table(
    "retraining_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("model_name", sa.String(128), nullable=False, index=True),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("start_time", UTCDateTime, nullable=True),
    sa.Column("end_time", UTCDateTime, nullable=True),
    sa.Column("heartbeat_at", UTCDateTime, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=True),
    sa.Column("champion_metrics", sa.JSON, nullable=True),
    sa.Column("promoted", sa.Boolean, nullable=True),
    sa.Column("promotion_reason", sa.Text, nullable=True),
    sa.Column("model_version", sa.String(32), nullable=True),
    sa.Column("mlflow_run_id", sa.String(64), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    # The database, not a process-local lock, keeps one active job per model.
    sa.Index(
        "uq_retraining_jobs_one_active_per_model",
        "model_name",
        unique=True,
        postgresql_where=_ACTIVE_JOB,
        sqlite_where=_ACTIVE_JOB,
    ),
    sa.Index("ix_retraining_jobs_model_created", "model_name", "created_at"),
)

checks = sa.Table(
    "retraining_checks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("needs_retraining", sa.Boolean, nullable=False),
    sa.Column("trigger", sa.String(32), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("drift_share", sa.Float, nullable=True),
    sa.Column("drift", sa.JSON, nullable=True),
    sa.Column("performance", sa.JSON, nullable=True),
    sa.Column("report_key", sa.String(512), nullable=True),
    # A check can be requested (pending), picked up (running) and finished by a worker.
    sa.Column("status", sa.String(16), nullable=False, server_default="completed"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("requested_at", UTCDateTime, nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Index("ix_retraining_checks_model_created", "model_name", "created_at"),
)

# What the served champion answered, and the true outcome once it is known (feedback).
predictions = sa.Table(
    "retraining_predictions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("prediction", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("outcome", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("outcome_at", UTCDateTime, nullable=True),
    sa.Index("ix_retraining_predictions_model_created", "model_name", "created_at"),
)

events = sa.Table(
    "retraining_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("job_id", sa.String(36), nullable=True, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(16), nullable=True),
    sa.Column("to_status", sa.String(16), nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Index("ix_retraining_events_model_at", "model_name", "at"),
)

# Registry changes owed to MLflow, written with the promotion or refusal they follow (an outbox):
# ``shared.registry_sync`` applies them after the commit and the reconciler retries them.
registry_pending = sa.Table(
    "retraining_registry_pending",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(128), nullable=False, index=True),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("job_id", sa.String(36), nullable=True),
    sa.Column("promote", sa.Boolean, nullable=False),  # the champion alias (and stage) moves
    sa.Column("tags", sa.JSON, nullable=True),  # the version's decision tags
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
)

# Write-once blobs (reference data, drift profiles, reports), kept out of the hot tables:
# ``shared.storage``.
blobs = sa.Table(
    "retraining_blobs",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("media_type", sa.String(128), nullable=False),
    sa.Column("encoding", sa.String(16), nullable=False),
    sa.Column("n_chunks", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

blob_chunks = sa.Table(
    "retraining_blob_chunks",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# The promotion ledger (``shared.ledger``): every champion change and every refusal, with
# what each side was (version, metrics, monitors), so a rollback can restore an earlier one.
promotions = sa.Table(
    "retraining_promotions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # promoted, refused, rollback, auto-rollback
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
    # each side's champion state: run id, features, task, diagnostics, reference, baseline
    sa.Column("from_state", sa.JSON, nullable=True),
    sa.Column("to_state", sa.JSON, nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Index("ix_retraining_promotions_model_id", "model_name", "id"),
)

# Storm control (``shared.breaker``): automatic candidates refused in a row, and the pause.
breakers = sa.Table(
    "retraining_breakers",
    metadata,
    sa.Column("model_name", sa.String(128), primary_key=True),
    sa.Column("consecutive_refusals", sa.Integer, nullable=False, default=0),
    sa.Column("paused_at", UTCDateTime, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("tripped_by_job", sa.String(36), nullable=True),
    sa.Column("resumed_at", UTCDateTime, nullable=True),
    sa.Column("resumed_by", sa.String(256), nullable=True),
)
