"""Postgres restarted while a worker is idle: the worker's next job still completes.

A restart ends every session, so the connections the worker keeps in its pool are dead; the
pool must notice (pre-ping) and reconnect, and the same worker process runs the next job.

The test runs its own throwaway cluster (initdb) on a free port: the shared server on 5432 is
in use by other tests and must not be restarted.
"""

from __future__ import annotations

import psycopg2
import pytest
from dist_harness import PostgresCluster, configure_models, free_port, wait_until

from shared.enums import JobStatus, RetrainingTrigger
from shared.runtime import Runtime
from shared.usecases.retraining import submit_retraining
from workers.publisher import CeleryPublisher

pytestmark = pytest.mark.integration

MODEL = "pg_restart_model"
DATABASE = "retraining"


@pytest.fixture
def cluster():
    cluster = PostgresCluster(free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def test_idle_worker_reconnects_after_postgres_restart(cluster, make_stack, redis_url):
    stack = make_stack(cluster.create_database(DATABASE), redis_url)
    worker = stack.start_worker("worker", wait=False)
    settings = stack.settings()
    configure_models(settings, [MODEL])
    worker.wait_ready()

    runtime = Runtime(settings)
    publisher = CeleryPublisher(settings)
    try:
        first = _run_job(runtime, publisher, "before the restart")
        assert first.status is JobStatus.COMPLETED, first.error

        runtime.dispose()  # what is left connected now is the worker's pool
        assert _sessions(cluster) >= 1, "the worker should keep pooled connections while idle"
        cluster.restart()
        assert _sessions(cluster) == 0  # every connection the worker had is gone

        second = _run_job(runtime, publisher, "after the restart")
        assert second.status is JobStatus.COMPLETED, f"{second.error}\n{worker.tail()}"
        assert second.attempt == 1
        assert worker.alive()  # the same worker process, reconnected
        assert _sessions(cluster) >= 1
    finally:
        publisher.close()
        runtime.dispose()


def _run_job(runtime, publisher, reason):
    job, created = submit_retraining(runtime, publisher, MODEL, RetrainingTrigger.MANUAL, reason)
    assert created
    return wait_until(
        lambda: job if job.refresh().status.is_terminal else None, 60, f"the job {reason}"
    )


def _sessions(cluster) -> int:
    """Client sessions on the product's database, other than this query's own."""
    connection = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (DATABASE,),
            )
            return cursor.fetchone()[0]
    finally:
        connection.close()
