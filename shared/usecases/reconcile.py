"""No job lost, none running forever: recover jobs whose message or worker went away.

The database is the source of truth and the broker a channel that can lose messages, so a
reconciler (a Beat task in the distributed mode) looks for jobs nobody is working on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db.schema import jobs
from shared.enums import ACTIVE_STATUSES, Status
from shared.runtime import Runtime
from shared.usecases.ports import Publisher


@dataclass
class ReconcileReport:
    republished: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def reconcile_jobs(runtime: Runtime, publisher: Publisher) -> ReconcileReport:
    """Re-publish pending jobs nobody claimed; re-queue (or fail) running jobs that went silent."""
    report = ReconcileReport()
    settings = runtime.settings
    for job_id, model_name, _, _, last_seen in _silent(
        runtime, Status.PENDING, settings.pending_republish_seconds
    ):
        if runtime.jobs.mark_published(job_id, last_seen):
            publisher.publish_retraining(job_id, model_name)
            report.republished.append(job_id)
    for job_id, model_name, attempt, _, _ in _silent(
        runtime, Status.RUNNING, settings.job_lease_seconds
    ):
        if attempt >= settings.job_max_attempts:
            error = (
                f"worker lost {attempt} times (no heartbeat for {settings.job_lease_seconds:.0f} s)"
            )
            if runtime.jobs.fail(job_id, attempt, error) is not None:
                report.failed.append(job_id)
        elif runtime.jobs.requeue(job_id, attempt, "worker lost: heartbeat older than the lease"):
            runtime.jobs.mark_published(job_id, None)
            publisher.publish_retraining(job_id, model_name)
            report.requeued.append(job_id)
    return report


def fail_abandoned_jobs(runtime: Runtime, model_name: str | None = None) -> list[str]:
    """Fail active jobs silent for a lease; for the embedded mode, where no one else runs them."""
    failed = []
    lease = runtime.settings.job_lease_seconds
    for status in ACTIVE_STATUSES:
        for job_id, name, attempt, _, _ in _silent(runtime, status, lease):
            if model_name is not None and name != model_name:
                continue
            error = (
                f"abandoned: no heartbeat for {lease:.0f} s "
                "(the process running it stopped before it finished)"
            )
            running = status is Status.RUNNING
            if runtime.jobs.fail(job_id, attempt if running else None, error) is not None:
                failed.append(job_id)
    return failed


def _silent(runtime: Runtime, status: Status, seconds: float) -> list[tuple]:
    cutoff = utcnow() - timedelta(seconds=seconds)
    last_sign_of_life = sa.func.coalesce(jobs.c.heartbeat_at, jobs.c.created_at)
    query = sa.select(
        jobs.c.id, jobs.c.model_name, jobs.c.attempt, jobs.c.created_at, jobs.c.heartbeat_at
    ).where(jobs.c.status == str(status), last_sign_of_life < cutoff)
    with runtime.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query).all()]
