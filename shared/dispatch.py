"""What is due now: periodic retrainings and monitoring checks, each claimed exactly once.

A due time is claimed by compare-and-set on its column, so two dispatchers (two Beat
processes, or a Beat and an embedded monitoring thread) never start the same run twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.engine import Connection

from shared.model_store import ModelRecord
from shared.runtime import Runtime
from shared.schedule import next_run_after_due


class WorkKind(StrEnum):
    SCHEDULED_RETRAINING = "scheduled_retraining"
    MONITORING_CHECK = "monitoring_check"


@dataclass(frozen=True)
class DueWork:
    model_name: str
    kind: WorkKind
    due_at: datetime


def claim_due_work(
    runtime: Runtime, now: datetime, model_names: list[str] | None = None
) -> list[DueWork]:
    """Claim every due run; each one is returned to exactly one caller."""
    claimed: list[DueWork] = []
    records = runtime.models.due(now, model_names)  # ordered by name: locks taken in one order
    # One commit per tick, not per claim: on Postgres each commit waits for a WAL flush.
    with runtime.engine.begin() as connection:
        for record in records:
            claimed.extend(_claim_schedule(runtime, record, now, connection))
            claimed.extend(_claim_monitoring(runtime, record, now, connection))
    return claimed


def _claim_schedule(
    runtime: Runtime, record: ModelRecord, now: datetime, connection: Connection
) -> list[DueWork]:
    due = record.schedule_next_run_at
    if due is None or due > now:
        return []
    following = (
        next_run_after_due(record.config, due, now) if record.config.schedule_enabled else None
    )
    if not runtime.models.advance(record.name, "schedule_next_run_at", due, following, connection):
        return []
    if not record.config.schedule_enabled:
        return []
    return [DueWork(record.name, WorkKind.SCHEDULED_RETRAINING, due)]


def _claim_monitoring(
    runtime: Runtime, record: ModelRecord, now: datetime, connection: Connection
) -> list[DueWork]:
    due, interval = record.monitoring_next_run_at, record.monitoring_interval_seconds
    if due is None or due > now or not interval:
        return []
    following = now + timedelta(seconds=interval)
    if not runtime.models.advance(
        record.name, "monitoring_next_run_at", due, following, connection
    ):
        return []
    return [DueWork(record.name, WorkKind.MONITORING_CHECK, due)]
