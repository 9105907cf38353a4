"""Embedded mode: retrainings and checks run on threads of the API process itself.

With no ``REDIS_URL`` there are no Celery workers, so ``InProcessPublisher`` hands jobs and
checks to two small thread pools (trainings never hold up checks), and ``Dispatcher`` plays
Celery Beat: it starts due schedules and monitoring checks, and re-sends jobs nobody runs.
Both call the same ``shared.service`` functions the Celery tasks call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shared.db.schema import utcnow
from shared.dispatch import WorkKind, claim_due_work
from shared.enums import RetrainingTrigger
from shared.reconcile import reconcile_jobs
from shared.runtime import Runtime
from shared.service import perform_check, run_retraining_job, submit_retraining

logger = logging.getLogger("retraining.api.execution")


class InProcessPublisher:
    """A ``JobPublisher`` (and check publisher) running the work on local threads."""

    def __init__(self, runtime: Callable[[], Runtime], job_threads: int, check_threads: int):
        self._runtime = runtime
        self._jobs = ThreadPoolExecutor(job_threads, thread_name_prefix="retrain-job")
        self._checks = ThreadPoolExecutor(check_threads, thread_name_prefix="retrain-check")

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        self._jobs.submit(self._run_job, job_id, model_name)

    def publish_check(
        self, model_name: str, check_id: str | None = None, retrain_if_needed: bool = True
    ) -> None:
        self._checks.submit(self._run_check, model_name, check_id, retrain_if_needed)

    def _run_job(self, job_id: str, model_name: str) -> None:
        try:
            job = run_retraining_job(self._runtime(), job_id)
            logger.info("job %s of %s: %s", job_id, model_name, job.status if job else "skipped")
        except Exception:
            logger.exception("job %s of %s could not be run", job_id, model_name)

    def _run_check(self, model_name: str, check_id: str | None, retrain_if_needed: bool) -> None:
        try:
            perform_check(
                self._runtime(), self, model_name, check_id, retrain_if_needed=retrain_if_needed
            )
        except Exception:
            logger.exception("check %s of %s could not be run", check_id, model_name)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; queued work not started stays pending in the database."""
        self._checks.shutdown(wait=wait, cancel_futures=True)
        self._jobs.shutdown(wait=wait, cancel_futures=True)


class Dispatcher:
    """Every ``interval`` seconds: start what is due and recover jobs nobody is running."""

    def __init__(
        self, runtime: Callable[[], Runtime], publisher: InProcessPublisher, interval: float
    ) -> None:
        self._runtime = runtime
        self._publisher = publisher
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retrain-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def tick(self) -> int:
        runtime = self._runtime()
        due = claim_due_work(runtime, utcnow())
        for work in due:
            if work.kind is WorkKind.SCHEDULED_RETRAINING:
                reason = f"scheduled run due at {work.due_at.isoformat()}"
                submit_retraining(
                    runtime, self._publisher, work.model_name, RetrainingTrigger.SCHEDULED, reason
                )
            else:
                self._publisher.publish_check(work.model_name)
        reconcile_jobs(runtime, self._publisher)
        return len(due)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop must outlive a database hiccup or a bad model
                logger.exception("the embedded dispatcher's tick failed")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
