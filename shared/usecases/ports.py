"""How queued work reaches whoever runs it: the ``Publisher`` port, and its in-process kind.

A use case commits its row (a pending job, a pending check) and then publishes; the
publisher decides where the work runs. ``InProcessPublisher`` runs it on this process's thread
pools (the embedded mode of ``retrain api``): trainings and checks on separate pools, so a
long training never holds a check up, as the distributed mode's two queues do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from shared.runtime import Runtime

logger = logging.getLogger("retraining.usecases")


class Publisher(Protocol):
    def publish_retraining(self, job_id: str, model_name: str) -> None: ...

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None: ...

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        """Render a stored check's Evidently page, after any waiting check (low priority)."""

    def close(self) -> None:
        """Release what the publisher holds (connections, threads)."""


class InProcessPublisher:
    """Runs published jobs and checks on local threads; queued work not started stays
    pending in the database when the process stops."""

    def __init__(self, runtime: Callable[[], Runtime], job_threads: int, check_threads: int):
        self._runtime = runtime
        self._jobs = ThreadPoolExecutor(job_threads, thread_name_prefix="retrain-job")
        self._checks = ThreadPoolExecutor(check_threads, thread_name_prefix="retrain-check")

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        self._jobs.submit(self._run_job, job_id, model_name)

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        self._checks.submit(self._run_check, model_name, check_id, retrain_if_needed)

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        from shared.check_pages import render_in_background

        render_in_background(self._runtime(), model_name, check_id)

    def _run_job(self, job_id: str, model_name: str) -> None:
        from shared.usecases.retraining import run_retraining_job

        try:
            # the job logs its own phases and outcome; only a duplicate delivery is news here
            if run_retraining_job(self._runtime(), job_id) is None:
                logger.info("job %s of %s was not pending: nothing to do", job_id, model_name)
        except Exception:
            logger.exception("job %s of %s could not be run", job_id, model_name)

    def _run_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        from shared.usecases.checks import perform_check

        try:
            perform_check(self._runtime(), self, check_id, retrain_if_needed=retrain_if_needed)
        except Exception:
            logger.exception("check %s of %s could not be run", check_id, model_name)

    def close(self, wait: bool = True) -> None:
        """Stop taking work; with ``wait``, let the work in progress finish."""
        self._checks.shutdown(wait=wait, cancel_futures=True)
        self._jobs.shutdown(wait=wait, cancel_futures=True)
