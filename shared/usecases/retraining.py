"""Submit a retraining (the job row first, then the message) and run a submitted one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.breaker import notify_if_tripped
from shared.checks import CheckRecord
from shared.enums import RetrainingTrigger
from shared.errors import explain
from shared.jobs import RetrainingJob
from shared.notifications import Notifier, notifier_for
from shared.policy import origin_of
from shared.runtime import Runtime
from shared.sources import source_loader
from shared.usecases.ports import Publisher

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("retraining.usecases")


def submit_retraining(
    runtime: Runtime,
    publisher: Publisher,
    model_name: str,
    trigger: RetrainingTrigger,
    reason: str,
    origin: CheckRecord | None = None,
) -> tuple[RetrainingJob, bool]:
    """The job row first, committed, then the message; ``created`` False means already active.

    ``origin``: the check that called for it (the job remembers it). A message that cannot
    be published leaves the job pending for the reconciler to re-send.
    """
    runtime.models.get(model_name)
    details = {"origin": origin_of(origin)} if origin is not None else None
    job, created = runtime.jobs.create(
        model_name, trigger, reason or f"{trigger} retraining", details
    )
    if created:
        try:
            publisher.publish_retraining(job.job_id, model_name)
        except Exception:
            logger.exception("could not publish job %s; the reconciler will retry", job.job_id)
    return job, created


def run_retraining_job(
    runtime: Runtime,
    job_id: str,
    *,
    load_training_data: Callable[[], pd.DataFrame] | None = None,
    pipeline: Any = None,
    notifier: Notifier | None = None,
) -> RetrainingJob | None:
    """Claim and run the job; None when it was not ours to run (a duplicate delivery).

    The model's sources and stored pipeline are used unless the caller has its own.
    """
    # Training imports scikit-learn: only a process that runs a job pays for it.
    from shared.pipeline_spec import pipeline_from_spec
    from shared.retrain import execute_job

    job = runtime.jobs.claim(job_id)
    if job is None:
        return None
    record = runtime.models.get(job.model_name)
    try:
        load = load_training_data or source_loader(record, "training")
        pipeline = pipeline or pipeline_from_spec(record.pipeline, record.name)
    except Exception as exc:
        return runtime.jobs.fail(job.job_id, job.attempt, explain(exc))
    notifier = notifier or notifier_for(record.config)
    finished = execute_job(runtime, job, load, pipeline, notifier)
    notify_if_tripped(runtime, finished, notifier)
    return finished
