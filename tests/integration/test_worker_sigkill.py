"""A worker SIGKILLed in the middle of a training: the job is re-run elsewhere and completes.

The job's heartbeat stops with the worker; once it is older than the lease, the reconciler
(Beat's reconcile task, run by a surviving worker) puts the job back to pending and publishes
it again; a new worker claims it as attempt 2. The first attempt never reached its result, so
the model is promoted exactly once.
"""

from __future__ import annotations

import re

import pytest
from dist_harness import configure_models, event_rows, job_rows, wait_until

from shared.clock import utcnow
from shared.enums import JobStatus, RetrainingTrigger
from shared.runtime import Runtime
from shared.usecases.retraining import submit_retraining
from workers.publisher import CeleryPublisher

pytestmark = pytest.mark.integration

MODEL = "sigkill_model"
LEASE = 4.0


def test_job_of_a_killed_worker_is_rerun_and_promoted_once(make_stack, database_url, redis_url):
    stack = make_stack(
        database_url,
        redis_url,
        RETRAINING_JOB_LEASE_SECONDS=str(LEASE),
        RETRAINING_DISPATCH_INTERVAL="1",
    )
    # the first worker's loads take far longer than the test: it dies in the middle of one
    doomed = stack.start_worker(
        "doomed", pool="prefork", concurrency=2, env={"DIST_LOAD_SLEEP": "120"}, wait=False
    )
    beat = stack.start_beat("beat", wait=False)
    settings = stack.settings()
    configure_models(settings, [MODEL])
    doomed.wait_ready()
    beat.wait_ready()

    runtime = Runtime(settings)
    publisher = CeleryPublisher(settings)
    try:
        job, created = submit_retraining(
            runtime, publisher, MODEL, RetrainingTrigger.MANUAL, "crash test"
        )
        assert created
        wait_until(
            lambda: job.refresh().status is JobStatus.RUNNING, 30, "the job to start running"
        )
        # Beat's reconciler runs meanwhile (on the worker's second process): a job whose
        # worker is alive keeps its heartbeat fresh and is left alone past its lease.
        reconciled_before = _reconciles(doomed)
        wait_until(
            lambda: (
                _reconciles(doomed) >= reconciled_before + 3
                and (utcnow() - job.start_time).total_seconds() > 2 * LEASE
            ),
            30,
            "the reconciler to look at the running job for two leases",
            diagnostics=doomed.tail,
        )
        assert job.refresh().status is JobStatus.RUNNING and job.attempt == 1

        doomed.kill()  # SIGKILL, worker and pool children at once
        assert job.refresh().status is JobStatus.RUNNING  # nobody told the database

        survivor = stack.start_worker("survivor")
        wait_until(
            lambda: job.refresh().status.is_terminal,
            60,
            "the job to be re-run by the new worker",
            diagnostics=lambda: f"{job}\n{survivor.tail()}",
        )
        assert job.status is JobStatus.COMPLETED, job.error
        assert job.attempt == 2
        assert job.promoted is True

        transitions = [
            (e["from_status"], e["to_status"], (e["details"] or {}).get("attempt"))
            for e in event_rows(runtime.engine, MODEL, "job_status")
        ]
        assert transitions == [
            (None, "pending", None),
            ("pending", "running", 1),
            ("running", "pending", 1),  # the reconciler: heartbeat older than the lease
            ("pending", "running", 2),
            ("running", "completed", 2),
        ]
        requeue = event_rows(runtime.engine, MODEL, "job_status")[2]
        assert "worker lost" in requeue["details"]["reason"]

        promotions = event_rows(runtime.engine, MODEL, "promotion")
        assert len(promotions) == 1 and promotions[0]["job_id"] == job.job_id
        record = runtime.models.get(MODEL)
        assert record.champion_version == job.model_version
        assert runtime.registry.champion_version(MODEL) == job.model_version
        assert len(job_rows(runtime.engine, [MODEL])) == 1
    finally:
        publisher.close()
        runtime.dispose()


def _reconciles(worker) -> int:
    """How many reconcile tasks the worker has finished."""
    return len(re.findall(r"retraining\.reconcile\[[^\]]+\] succeeded", worker.log()))
