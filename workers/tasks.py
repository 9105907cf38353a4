"""The tasks: each one a thin call into ``shared``; every state change is recorded there."""

from __future__ import annotations

import functools
import logging

from shared.db.schema import utcnow
from shared.dispatch import WorkKind, claim_due_work
from shared.enums import RetrainingTrigger
from shared.reconcile import reconcile_jobs
from shared.runtime import Runtime
from shared.service import perform_check, run_retraining_job, submit_retraining
from workers.app import app
from workers.config import DISPATCH_DUE, RECONCILE, RUN_CHECK, RUN_JOB
from workers.publisher import CeleryPublisher

logger = logging.getLogger("retraining.workers")


@functools.cache
def runtime() -> Runtime:
    """One runtime per worker process, opened on first use (after the fork)."""
    return Runtime(app.retraining_settings)


@functools.cache
def publisher() -> CeleryPublisher:
    return CeleryPublisher(app.retraining_settings)


def reset_runtime() -> None:
    runtime.cache_clear()
    publisher.cache_clear()


@app.task(name=RUN_JOB)
def run_job(job_id: str, model_name: str = "") -> str:
    """Claim and run one retraining job; a duplicate delivery finds nothing to claim."""
    job = run_retraining_job(runtime(), job_id)
    if job is None:
        logger.info("job %s (%s) was not pending: nothing to do", job_id, model_name)
        return "skipped"
    return str(job.status)


@app.task(name=RUN_CHECK)
def run_check(model_name: str, check_id: str | None = None, retrain_if_needed: bool = True) -> str:
    """Check a model on its current data; queue a retraining when needed (and wanted).

    ``check_id`` is a check requested beforehand (by the API), completed here; without one
    the check is created here. A failed check is recorded on it, with its error.
    """
    check = perform_check(
        runtime(), publisher(), model_name, check_id, retrain_if_needed=retrain_if_needed
    )
    if check is None:
        logger.info("check %s (%s) was not pending: nothing to do", check_id, model_name)
        return "skipped"
    return check.check_id


@app.task(name=DISPATCH_DUE)
def dispatch_due() -> int:
    """Start what is due; each due run is claimed by exactly one dispatcher."""
    due = claim_due_work(runtime(), utcnow())
    for work in due:
        if work.kind is WorkKind.SCHEDULED_RETRAINING:
            reason = f"scheduled run due at {work.due_at.isoformat()}"
            submit_retraining(
                runtime(), publisher(), work.model_name, RetrainingTrigger.SCHEDULED, reason
            )
        else:
            publisher().publish_check(work.model_name)
    return len(due)


@app.task(name=RECONCILE)
def reconcile() -> dict[str, list[str]]:
    report = reconcile_jobs(runtime(), publisher())
    return {"republished": report.republished, "requeued": report.requeued, "failed": report.failed}
