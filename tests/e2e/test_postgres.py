"""The same core on the Postgres server of this machine (the distributed mode's job store).

The ``postgres_url`` fixture gives this session its own database, so the rows here are only
this run's; model names are unique per test as well.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from retraining.synthetic import make_churn_frame
from shared.dispatch import WorkKind, claim_due_work
from shared.enums import JobStatus
from shared.runtime import Runtime
from shared.settings import Settings
from training.pipeline import TrainingPipeline


@pytest.fixture
def pg_settings(tmp_path, make_home, postgres_url) -> Settings:
    return make_home(tmp_path / "home", DATABASE_URL=postgres_url)


@pytest.fixture
def pg_runtimes(pg_settings):
    """Two runtimes on the same Postgres database, as two processes would have."""
    runtimes = [Runtime(pg_settings), Runtime(pg_settings)]
    yield runtimes
    for runtime in runtimes:
        runtime.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_the_job_store_is_postgres(pg_runtimes):
    first, _ = pg_runtimes
    assert first.engine.dialect.name == "postgresql"


def test_job_lifecycle_with_fencing_and_events(pg_runtimes):
    first, second = pg_runtimes
    name = unique("life")
    job, created = first.jobs.create(name, RetrainingTrigger.DATA_DRIFT, "drift")
    assert created and job.status == JobStatus.PENDING
    assert second.jobs.create(name, RetrainingTrigger.MANUAL, "again") == (
        second.jobs.get(job.job_id),
        False,
    )
    claimed = first.jobs.claim(job.job_id)
    assert claimed.attempt == 1 and second.jobs.claim(job.job_id) is None
    first.jobs.requeue(job.job_id, claimed.attempt, "worker lost")
    reclaimed = second.jobs.claim(job.job_id)
    assert reclaimed.attempt == 2
    assert first.jobs.complete(job.job_id, claimed.attempt, metrics={"accuracy": 0.1}) is None
    done = second.jobs.complete(job.job_id, reclaimed.attempt, metrics={"accuracy": 0.9})
    assert done.status == JobStatus.COMPLETED and done.metrics == {"accuracy": 0.9}
    assert done.start_time.utcoffset() == timedelta(0)
    assert isinstance(done.end_time - done.start_time, timedelta)
    with pytest.raises(KeyError):
        first.jobs.get(str(uuid.uuid4()))
    statuses = [
        (e["from_status"], e["to_status"])
        for e in first.jobs.events(job.job_id)
        if e["kind"] == "job_status"
    ]
    assert statuses == [
        (None, "pending"),
        ("pending", "running"),
        ("running", "pending"),
        ("pending", "running"),
        ("running", "completed"),
    ]
    assert first.jobs.claim(job.job_id) is None  # completed stays completed


def race_to_create(runtimes, name: str, threads_per_runtime: int) -> list:
    """Every thread creates a job for ``name`` at the same moment; returns what each got."""
    barrier = threading.Barrier(threads_per_runtime * len(runtimes))
    results: list = []
    errors: list = []

    def create(runtime):
        barrier.wait()
        try:
            results.append(runtime.jobs.create(name, RetrainingTrigger.MANUAL, "race"))
        except Exception as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=create, args=(runtime,))
        for runtime in runtimes
        for _ in range(threads_per_runtime)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_concurrent_creates_make_exactly_one_active_job(pg_runtimes):
    name = unique("race")
    for _ in range(3):  # several rounds: each one after the previous job ended
        results = race_to_create(pg_runtimes, name, threads_per_runtime=4)
        assert len(results) == 8
        assert sum(created for _, created in results) == 1
        (job_id,) = {job.job_id for job, _ in results}
        pg_runtimes[0].jobs.fail(job_id, None, "round over")
    assert len(pg_runtimes[0].jobs.list(name)) == 3


def test_a_due_schedule_is_claimed_once_across_runtimes(pg_runtimes):
    first, second = pg_runtimes
    name = unique("due")
    config = RetrainingConfig(model_name=name, schedule_enabled=True, schedule_interval_days=7)
    first.models.save_config(config, {"name": "p"})
    now = datetime.now(UTC)
    due = now - timedelta(days=15)
    first.models.set_schedule(name, due)
    barrier = threading.Barrier(2)
    claimed: list = []

    def dispatch(runtime):
        barrier.wait()
        claimed.extend(claim_due_work(runtime, now, [name]))

    threads = [threading.Thread(target=dispatch, args=(r,)) for r in pg_runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(w.kind, w.due_at) for w in claimed] == [(WorkKind.SCHEDULED_RETRAINING, due)]
    following = second.models.get(name).schedule_next_run_at
    assert following == due + timedelta(days=21)


def test_a_full_retraining_with_database_url_on_postgres(pg_settings, postgres_url):
    name = unique("churn")
    data = make_churn_frame(1200, seed=1)
    config = RetrainingConfig(
        model_name=name,
        timestamp_column="timestamp",
        min_training_samples=500,
        min_samples_for_check=200,
        auto_promote=True,
    )
    pipeline = TrainingPipeline(name, "sklearn")
    scheduler = RetrainingScheduler(config, lambda: data, pipeline, settings=pg_settings)
    try:
        job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "on postgres")
        assert job.status == JobStatus.COMPLETED, job.error
        assert job.promoted and job.model_version == "1"
        scheduler.initialize_monitors(data, None)
        needs, trigger, _ = scheduler.check_retraining_needed(
            make_churn_frame(400, seed=20, drift=1.0).drop(columns=["target"])
        )
        assert (needs, trigger) == (True, RetrainingTrigger.DATA_DRIFT)
    finally:
        scheduler.close()

    # the rows are in Postgres, where any other process sees them
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT status, model_version FROM retraining_jobs WHERE id = :id"),
                {"id": job.job_id},
            ).one()
            champion = connection.execute(
                sa.text("SELECT champion_version FROM retraining_models WHERE name = :n"),
                {"n": name},
            ).scalar_one()
            checks = connection.execute(
                sa.text("SELECT count(*) FROM retraining_checks WHERE model_name = :n"),
                {"n": name},
            ).scalar_one()
    finally:
        engine.dispose()
    assert tuple(row) == ("completed", "1")
    assert (champion, checks) == ("1", 1)

    restarted = RetrainingScheduler(config, lambda: data, pipeline, settings=pg_settings)
    try:
        assert [j["job_id"] for j in restarted.get_job_history()] == [job.job_id]
        assert len(restarted.predict(data.head(10))) == 10
    finally:
        restarted.close()
