"""The tasks: each one a thin call into ``shared.usecases``; every state change is recorded there.

Importing this module loads Celery and the core's light parts only: a task that trains
imports scikit-learn and MLflow when it first runs.
"""

from __future__ import annotations

import functools
import logging

from celery.signals import worker_process_init

from shared.check_pages import render_stored_check
from shared.registry_sync import reconcile_registry
from shared.runtime import Runtime
from shared.usecases.checks import perform_check
from shared.usecases.due_work import start_due_work
from shared.usecases.reconcile import reconcile_jobs
from shared.usecases.retraining import run_retraining_job
from workers.app import app
from workers.config import DISPATCH_DUE, RECONCILE, RENDER_CHECK_PAGE, RUN_CHECK, RUN_JOB
from workers.publisher import CeleryPublisher

logger = logging.getLogger("retraining.workers")


@functools.cache
def runtime() -> Runtime:
    """One runtime per worker process, opened on first use (after the fork)."""
    return Runtime(app.retraining_settings)


@functools.cache
def publisher() -> CeleryPublisher:
    return CeleryPublisher(app.retraining_settings)


@worker_process_init.connect
def reset_runtime(**_kwargs) -> None:
    """Database connections and broker channels are never shared across a fork."""
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
    """Run a requested check on the model's current data; a failure is recorded on it.

    Without ``check_id`` (a message from a release that did not request checks first), the
    check is requested here.
    """
    if check_id is None:
        check_id = runtime().checks.request(model_name).check_id
    check = perform_check(runtime(), publisher(), check_id, retrain_if_needed=retrain_if_needed)
    if check is None:
        logger.info("check %s (%s) was not pending: nothing to do", check_id, model_name)
        return "skipped"
    return check.check_id


@app.task(name=RENDER_CHECK_PAGE)
def render_check_page(model_name: str, check_id: str) -> str:
    """Render and store a check's Evidently page, unless stored or rendering elsewhere."""
    if render_stored_check(runtime(), check_id):
        return "stored"
    logger.info("page of check %s (%s) is stored or rendering elsewhere", check_id, model_name)
    return "skipped"


@app.task(name=DISPATCH_DUE)
def dispatch_due() -> int:
    """Start what is due; each due run is claimed by exactly one dispatcher."""
    return len(start_due_work(runtime(), publisher()))


@app.task(name=RECONCILE)
def reconcile() -> dict[str, list[str]]:
    report = reconcile_jobs(runtime(), publisher())
    registry = reconcile_registry(runtime())  # the MLflow alias follows the database
    return {
        "republished": report.republished,
        "requeued": report.requeued,
        "failed": report.failed,
        "registry_repaired": registry.repaired,
        "registry_pending": registry.failed,
    }
