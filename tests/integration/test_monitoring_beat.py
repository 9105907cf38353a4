"""Monitoring in the distributed mode: Beat's dispatcher runs a due check on a worker, the
check loads the model's current data source, finds drift and queues a retraining, which runs.

The monitoring schedule is a row in the database (what ``POST .../start-monitoring`` writes),
armed while Beat and the worker are already running.
"""

from __future__ import annotations

import dist_loaders
import pytest
from dist_harness import event_rows, job_rows, model_config, wait_until

from retraining.scheduler import RetrainingScheduler
from shared.clock import utcnow
from training.pipeline import TrainingPipeline

pytestmark = pytest.mark.integration

MODEL = "monitored_model"
INTERVAL = 3600  # one check during the test


def test_due_check_finds_drift_and_retrains(make_stack, database_url, redis_url):
    stack = make_stack(database_url, redis_url, RETRAINING_DISPATCH_INTERVAL="1")
    worker = stack.start_worker("worker", wait=False)
    beat = stack.start_beat("beat", wait=False)
    scheduler = RetrainingScheduler(
        model_config(MODEL),
        dist_loaders.training_data,
        TrainingPipeline(MODEL),
        current_data_loader=dist_loaders.drifted_current_data,
        settings=stack.settings(),
    )
    runtime = scheduler.runtime
    try:
        worker.wait_ready()
        beat.wait_ready()
        first = scheduler.trigger_retraining("manual", "the first champion").wait(60)
        assert first.status == "completed", first.error
        scheduler.initialize_monitors(dist_loaders.training_data())

        armed_at = utcnow()
        runtime.models.set_monitoring(MODEL, INTERVAL, armed_at)
        retrained = wait_until(
            lambda: [j for j in runtime.jobs.list(MODEL) if j.trigger != "manual"],
            90,
            "the check to queue a retraining",
            diagnostics=worker.tail,
        )
        (job,) = retrained
        job.wait(60)
        assert job.status == "completed", job.error
        assert job.trigger in ("data_drift", "concept_drift")

        (check,) = runtime.checks.list(MODEL)
        assert check.needs_retraining and check.trigger == job.trigger
        assert check.drift_share is not None and check.drift_share > 0
        assert job.reason == check.reason
        next_check = runtime.models.get(MODEL).monitoring_next_run_at
        assert next_check is not None and next_check > armed_at  # claimed once, re-armed
        assert len(job_rows(runtime.engine, [MODEL])) == 2
        assert [e["to_status"] for e in event_rows(runtime.engine, MODEL, "job_status")][-1] == (
            "completed"
        )
    finally:
        scheduler.close()
