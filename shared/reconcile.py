"""Jobs whose process went away: no job stays running (or pending) forever."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from shared.db.schema import jobs, utcnow
from shared.enums import JobStatus
from shared.runtime import Runtime


def fail_abandoned_jobs(
    runtime: Runtime, lease_seconds: float, model_name: str | None = None
) -> list[str]:
    """Fail active jobs with no sign of life for ``lease_seconds``; returns their ids.

    For the embedded mode, where the process that created a job is the only one that runs it.
    """
    cutoff = utcnow() - timedelta(seconds=lease_seconds)
    last_sign_of_life = sa.func.coalesce(jobs.c.heartbeat_at, jobs.c.created_at)
    query = sa.select(jobs.c.id, jobs.c.status, jobs.c.attempt).where(
        jobs.c.status.in_([str(JobStatus.PENDING), str(JobStatus.RUNNING)]),
        last_sign_of_life < cutoff,
    )
    if model_name is not None:
        query = query.where(jobs.c.model_name == model_name)
    with runtime.engine.connect() as connection:
        stale = connection.execute(query).all()
    failed = []
    for job_id, status, attempt in stale:
        error = (
            f"abandoned: no heartbeat for {lease_seconds:.0f} s "
            "(the process running it stopped before it finished)"
        )
        running = status == str(JobStatus.RUNNING)
        if runtime.jobs.fail(job_id, attempt if running else None, error) is not None:
            failed.append(job_id)
    return failed
