"""A plain ``celery -A workers.app worker`` (no -Q, not ``retrain worker``) runs trainings.

Trainings go to the ``retraining`` queue, checks to ``checks`` (the default queue). A worker
started by Celery's own command, with no queue option, consumes the queues the app declares;
with only the default one it would leave every training pending for ever.
"""

from __future__ import annotations

import re
import sys

import dist_loaders
import pytest
from dist_harness import job_rows, model_config, wait_until

from retraining.scheduler import RetrainingScheduler
from training.pipeline import TrainingPipeline
from workers.config import CHECKS_QUEUE, RETRAINING_QUEUE, RUN_JOB

pytestmark = pytest.mark.integration

MODEL = "plain_worker_model"


def test_a_plain_celery_worker_consumes_both_queues_and_completes_a_training(
    make_stack, database_url, redis_url
):
    stack = make_stack(database_url, redis_url)
    argv = [sys.executable, "-m", "celery", "-A", "workers.app", "worker"]
    argv += ["--pool", "solo", "--loglevel", "INFO"]
    worker = stack.processes.start("plain-worker", argv, stack.env(), cwd=stack.home)
    worker.ready_pattern = r"celery@\S+ ready\."
    settings = stack.settings()
    assert settings.distributed
    # the Python API, as a user calls it; the loader is recorded by its import path
    scheduler = RetrainingScheduler(
        model_config(MODEL),
        dist_loaders.training_data,
        TrainingPipeline(MODEL),
        settings=settings,
    )
    try:
        worker.wait_ready(timeout=90)
        banner = worker.log()
        for queue in (RETRAINING_QUEUE, CHECKS_QUEUE):
            assert re.search(rf"\.> {queue}\s+exchange={queue}\(direct\) key={queue}", banner), (
                f"the worker does not consume {queue}:\n{banner}"
            )

        job = scheduler.trigger_retraining("manual", "trained by a plain celery worker")
        assert job.status == "pending"  # published: this process does not train it
        wait_until(
            lambda: job.refresh().status.is_terminal,
            180,
            f"job {job.job_id} to end on the plain worker",
            diagnostics=worker.tail,
        )
        assert job.status == "completed", job.error
        assert job.attempt == 1
        assert job.promoted is True and job.model_version  # the first model becomes champion
        # Celery logs the task's end just after the job's row says completed
        worker.wait_for_log(rf"Task {re.escape(RUN_JOB)}\[\S+\] succeeded", timeout=30)
        assert job.job_id in worker.log()

        (row,) = job_rows(scheduler.runtime.engine, [MODEL])
        assert row["id"] == job.job_id and row["status"] == "completed"
    finally:
        scheduler.close()
