"""Redis stopped and started again (empty) while jobs are queued: every job still ends.

The broker is a channel that can lose messages; the database is the record. Jobs queued in
Redis when it goes away, and jobs triggered while it is away (their publication fails), stay
``pending`` in Postgres; once Redis answers again, Beat's reconciler publishes them again and
the worker, which reconnected by itself, runs them.

This test runs its own ``redis-server`` on a free port: the shared one on 6379 is in use by
other tests.
"""

from __future__ import annotations

import re
import time

import pytest
from dist_harness import RedisServer, configure_models, event_rows, free_port, job_rows, wait_until

from shared.enums import RetrainingTrigger
from shared.runtime import Runtime
from shared.usecases.retraining import submit_retraining
from workers.publisher import CeleryPublisher

pytestmark = pytest.mark.integration

QUEUED = [f"queued_{i}" for i in range(4)]  # triggered before the outage
DURING = [f"during_{i}" for i in range(2)]  # triggered while Redis is down


def test_jobs_survive_a_redis_restart(make_stack, database_url, processes):
    redis = RedisServer(processes, free_port())
    redis.start()
    stack = make_stack(
        database_url,
        redis.url(0),
        DIST_LOAD_SLEEP="1",  # so that jobs wait in the queue behind the running one
        RETRAINING_DISPATCH_INTERVAL="1",
        RETRAINING_PENDING_REPUBLISH_SECONDS="3",
        RETRAINING_JOB_LEASE_SECONDS="6",
    )
    worker = stack.start_worker("worker", wait=False)
    beat = stack.start_beat("beat", wait=False)
    settings = stack.settings()
    configure_models(settings, QUEUED + DURING)
    worker.wait_ready()
    beat.wait_ready()

    runtime = Runtime(settings)
    publisher = CeleryPublisher(settings)
    try:
        queued = [_trigger(runtime, publisher, name) for name in QUEUED]
        wait_until(
            lambda: _statuses(runtime, QUEUED).count("running") == 1,
            30,
            "the worker to start the first job",
        )
        waiting = [
            row["id"] for row in job_rows(runtime.engine, QUEUED) if row["status"] == "pending"
        ]
        assert len(waiting) >= 2, "the test needs jobs waiting in the queue when Redis stops"

        redis.stop()  # no persistence: the queued messages are gone

        started = time.monotonic()
        during = [_trigger(runtime, publisher, name) for name in DURING]
        assert time.monotonic() - started < 15, "a trigger must not hang while Redis is down"
        assert {job.status for job in during} == {"pending"}  # recorded, to be sent later

        redis.start()
        all_jobs = queued + during
        wait_until(
            lambda: {s for s in _statuses(runtime, QUEUED + DURING)} <= {"completed", "failed"},
            120,
            "every job to end after Redis came back",
            diagnostics=lambda: (
                f"{_statuses(runtime, QUEUED + DURING)}\n{worker.tail()}\n{beat.tail()}"
            ),
        )
        rows = {row["id"]: row for row in job_rows(runtime.engine, QUEUED + DURING)}
        assert set(rows) == {job.job_id for job in all_jobs}
        assert {row["status"] for row in rows.values()} == {"completed"}, rows

        # the lost and the unsent messages were published again from the database
        republished = {e["job_id"] for e in event_rows(runtime.engine, kind="job_republished")}
        assert {job.job_id for job in during} <= republished
        assert set(waiting) <= republished
        # the same worker process reconnected by itself
        assert worker.alive()
        assert len(re.findall(r"Connected to redis://", worker.log())) >= 2
    finally:
        publisher.close()
        runtime.dispose()


def _trigger(runtime, publisher, name):
    job, created = submit_retraining(
        runtime, publisher, name, RetrainingTrigger.MANUAL, "redis outage test"
    )
    assert created
    return job


def _statuses(runtime, names) -> list[str]:
    return [row["status"] for row in job_rows(runtime.engine, names)]
