"""Operations every front door shares: submit a job, run one, check a model from its sources.

``api/``, ``workers/`` and ``retraining/`` call these; how a job reaches a worker is a
``JobPublisher`` (Celery in the distributed mode, the calling process on the embedded one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from shared.checks import CheckRecord, CheckStatus
from shared.enums import RetrainingTrigger
from shared.jobs import RetrainingJob
from shared.model_store import ModelRecord
from shared.monitoring import run_check
from shared.notifications import Notifier, default_notifier
from shared.pipeline_spec import pipeline_from_spec
from shared.predictions import PredictionRepository
from shared.retrain import execute_job, explain
from shared.runtime import Runtime
from shared.sources import SourceError, load_source, validate_source

logger = logging.getLogger("retraining.service")


class JobPublisher(Protocol):
    def publish_retraining(self, job_id: str, model_name: str) -> None: ...


def submit_retraining(
    runtime: Runtime,
    publisher: JobPublisher,
    model_name: str,
    trigger: RetrainingTrigger,
    reason: str,
) -> tuple[RetrainingJob, bool]:
    """The job row first, committed, then the message; ``created`` False means already active.

    A message that cannot be published leaves the job pending for the reconciler to re-send.
    """
    runtime.models.get(model_name)
    job, created = runtime.jobs.create(model_name, trigger, reason or f"{trigger} retraining")
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
    """Claim and run the job; None when it was not ours to run (a duplicate delivery)."""
    job = runtime.jobs.claim(job_id)
    if job is None:
        return None
    record = runtime.models.get(job.model_name)
    try:
        load = load_training_data or source_loader(record, "training")
        pipeline = pipeline or pipeline_from_spec(record.pipeline, record.name)
    except Exception as exc:
        return runtime.jobs.fail(job.job_id, job.attempt, explain(exc))
    notifier = notifier or default_notifier(record.config.notification_email)
    return execute_job(runtime, job, load, pipeline, notifier)


def source_loader(record: ModelRecord, role: str) -> Callable[[], pd.DataFrame]:
    source = record.data_sources.get(role)
    if source is None:
        raise SourceError(
            f"model {record.name!r} has no {role} data source: configure data_sources.{role}"
        )
    return lambda: load_source(source)


def set_data_sources(runtime: Runtime, model_name: str, sources: dict[str, Any]) -> None:
    checked = {role: validate_source(role, source) for role, source in sources.items()}
    runtime.models.set_data_sources(model_name, checked)


def reference_role(record: ModelRecord) -> str:
    """Where the reference data comes from: the reference source, else the training source."""
    role = "reference" if "reference" in record.data_sources else "training"
    if role not in record.data_sources:
        raise SourceError(
            f"model {record.name!r} has no reference data: configure data_sources.reference "
            "(or data_sources.training, the reference when there is no other)"
        )
    return role


def check_from_sources(
    runtime: Runtime,
    model_name: str,
    notifier: Notifier | None = None,
    check_id: str | None = None,
) -> CheckRecord:
    """Check the model on its current data; ``check_id`` completes a requested check."""
    record = runtime.models.get(model_name)
    current = current_data(runtime, record)
    notifier = notifier or default_notifier(record.config.notification_email)
    return run_check(runtime, model_name, current, None, notifier, check_id=check_id)


def current_data(runtime: Runtime, record: ModelRecord) -> pd.DataFrame:
    """The model's current data: its current source, else its recent served predictions."""
    if "current" in record.data_sources:
        return load_source(record.data_sources["current"])
    frame = PredictionRepository(runtime.engine).current_frame(
        record.name, record.config.target_column, record.feature_columns
    )
    if frame.empty:
        raise SourceError(
            f"model {record.name!r} has no current data: configure data_sources.current, "
            "or serve predictions (POST /models/{model}/predict) for monitoring to use"
        )
    return frame


def has_current_data(runtime: Runtime, record: ModelRecord) -> bool:
    if "current" in record.data_sources:
        return True
    return bool(PredictionRepository(runtime.engine).counts(record.name))


class CheckPublisher(Protocol):
    def publish_check(
        self, model_name: str, check_id: str | None = None, retrain_if_needed: bool = True
    ) -> None: ...


def run_requested_check(
    runtime: Runtime, check_id: str, notifier: Notifier | None = None
) -> CheckRecord | None:
    """Run a check requested earlier (``runtime.checks.request``) and store its result there.

    None when it was not ours to run (already picked up, or ended). A failure (no data, a
    broken source, monitors not initialized) is recorded on the check, not raised.
    """
    claimed = runtime.checks.start(check_id)
    if claimed is None:
        return None
    try:
        return check_from_sources(runtime, claimed.model_name, notifier, check_id)
    except Exception as exc:
        logger.warning("check %s of %s failed: %s", check_id, claimed.model_name, exc)
        return runtime.checks.fail(check_id, explain(exc)) or runtime.checks.get(check_id)


def perform_check(
    runtime: Runtime,
    publisher: JobPublisher,
    model_name: str,
    check_id: str | None = None,
    *,
    retrain_if_needed: bool = True,
    notifier: Notifier | None = None,
) -> CheckRecord | None:
    """Run a requested check (or a new one), then queue a retraining if it calls for one."""
    if check_id is None:
        check_id = runtime.checks.request(model_name).check_id
    check = run_requested_check(runtime, check_id, notifier)
    if (
        retrain_if_needed
        and check is not None
        and check.status is CheckStatus.COMPLETED
        and check.needs_retraining
    ):
        submit_retraining(runtime, publisher, model_name, check.trigger, check.reason)
    return check
