"""Publishing jobs to the workers through Redis, by task name (no task code imported)."""

from __future__ import annotations

from shared.settings import Settings
from workers.config import (
    CHECKS_QUEUE,
    PAGE_PRIORITY,
    RENDER_CHECK_PAGE,
    RETRAINING_QUEUE,
    RUN_CHECK,
    RUN_JOB,
    WorkerConfig,
)

# Fail fast when Redis is down: the job row is already committed and the reconciler re-sends.
_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2}


class CeleryPublisher:
    def __init__(self, settings: Settings) -> None:
        from workers.app import create_celery

        self.app = create_celery(settings, WorkerConfig.from_env())

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        self.app.send_task(
            RUN_JOB,
            args=[job_id],
            kwargs={"model_name": model_name},
            queue=RETRAINING_QUEUE,
            retry_policy=_RETRY_POLICY,
        )

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        """A check requested beforehand (its pending row), which the worker completes."""
        self.app.send_task(
            RUN_CHECK,
            args=[model_name],
            kwargs={"check_id": check_id, "retrain_if_needed": retrain_if_needed},
            queue=CHECKS_QUEUE,
            retry_policy=_RETRY_POLICY,
        )

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        """A stored check's Evidently page, rendered by a worker after any waiting check."""
        self.app.send_task(
            RENDER_CHECK_PAGE,
            args=[model_name, check_id],
            queue=CHECKS_QUEUE,
            priority=PAGE_PRIORITY,
            retry_policy=_RETRY_POLICY,
        )

    def close(self) -> None:
        self.app.close()
