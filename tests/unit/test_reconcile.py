"""The reconciler: no job lost, none running forever.

A pending job nobody claimed is published again; a running job whose heartbeat is older than
the lease is re-queued for a new attempt, or failed once it used its attempts. Silence is
made by moving a job's timestamps into the past (defaults: lease 120 s, republish after
60 s, 3 attempts).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db.schema import jobs as jobs_table
from shared.enums import RetrainingTrigger, Status
from shared.runtime import Runtime
from shared.usecases.reconcile import ReconcileReport, fail_abandoned_jobs, reconcile_jobs

MANUAL = RetrainingTrigger.MANUAL


class RecordingPublisher:
    def __init__(self) -> None:
        self.pages: list[tuple[str, str]] = []
        self.retrainings: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        with self._lock:
            self.retrainings.append((job_id, model_name))

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        raise AssertionError("the reconciler publishes no check")

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        self.pages.append((model_name, check_id))

    def close(self) -> None:
        pass


def silent_for(runtime: Runtime, job_id: str, seconds: float) -> None:
    """The job's last sign of life (its heartbeat, or its creation) ``seconds`` ago."""
    then = utcnow() - timedelta(seconds=seconds)
    job = runtime.jobs.get(job_id)
    values = {"created_at": then}
    if job.heartbeat_at is not None:
        values["heartbeat_at"] = then
    with runtime.engine.begin() as connection:
        connection.execute(sa.update(jobs_table).where(jobs_table.c.id == job_id).values(**values))


def pending(runtime: Runtime, model_name: str = "churn") -> str:
    job, created = runtime.jobs.create(model_name, MANUAL, "test")
    assert created
    return job.job_id


def running(runtime: Runtime, model_name: str = "churn", attempts: int = 1) -> str:
    """A running job on its ``attempts``-th attempt (the earlier ones lost their worker)."""
    job_id = pending(runtime, model_name)
    for _ in range(attempts - 1):
        claimed = runtime.jobs.claim(job_id)
        runtime.jobs.requeue(job_id, claimed.attempt, "worker lost")
    assert runtime.jobs.claim(job_id).attempt == attempts
    return job_id


def kinds(runtime: Runtime, job_id: str) -> list[str]:
    return [event["kind"] for event in runtime.jobs.events(job_id)]


def test_nothing_to_do_is_an_empty_report(runtime):
    fresh_pending, fresh_running = pending(runtime, "a"), running(runtime, "b")
    publisher = RecordingPublisher()
    assert reconcile_jobs(runtime, publisher) == ReconcileReport()
    assert publisher.retrainings == []
    assert runtime.jobs.get(fresh_pending).status is Status.PENDING
    assert runtime.jobs.get(fresh_running).status is Status.RUNNING


def test_a_pending_job_nobody_claimed_is_published_again_once(runtime):
    lost, waiting = pending(runtime, "lost"), pending(runtime, "waiting")
    silent_for(runtime, lost, 62)  # republished after 60 s
    silent_for(runtime, waiting, 58)
    publisher = RecordingPublisher()

    report = reconcile_jobs(runtime, publisher)
    assert report == ReconcileReport(republished=[lost])
    assert publisher.retrainings == [(lost, "lost")]
    job = runtime.jobs.get(lost)
    assert (job.status, job.attempt) == (Status.PENDING, 0)  # still for a worker to claim
    assert "job_republished" in kinds(runtime, lost)

    # the publication counts as a sign of life: not again on the next pass
    assert reconcile_jobs(runtime, publisher) == ReconcileReport()
    assert publisher.retrainings == [(lost, "lost")]
    silent_for(runtime, lost, 62)  # ... until it is silent again
    assert reconcile_jobs(runtime, publisher).republished == [lost]


def test_a_running_job_silent_for_the_lease_is_requeued_for_a_new_attempt(runtime):
    lost, alive = running(runtime, "lost"), running(runtime, "alive")
    silent_for(runtime, lost, 122)  # lease: 120 s
    silent_for(runtime, alive, 118)
    publisher = RecordingPublisher()

    report = reconcile_jobs(runtime, publisher)
    assert report == ReconcileReport(requeued=[lost])
    assert publisher.retrainings == [(lost, "lost")]
    job = runtime.jobs.get(lost)
    assert (job.status, job.attempt, job.error) == (Status.PENDING, 1, None)
    assert job.heartbeat_at is not None  # marked published: no immediate republish
    assert reconcile_jobs(runtime, publisher) == ReconcileReport()
    assert runtime.jobs.claim(lost).attempt == 2
    assert runtime.jobs.get(alive).status is Status.RUNNING


def test_a_running_job_is_failed_once_it_used_its_attempts(runtime):
    second, third = running(runtime, "second", attempts=2), running(runtime, "third", attempts=3)
    for job_id in (second, third):
        silent_for(runtime, job_id, 122)
    publisher = RecordingPublisher()

    report = reconcile_jobs(runtime, publisher)
    assert report == ReconcileReport(requeued=[second], failed=[third])
    assert publisher.retrainings == [(second, "second")]  # a failed job is not published
    failed = runtime.jobs.get(third)
    assert (failed.status, failed.attempt) == (Status.FAILED, 3)
    assert failed.error == "worker lost 3 times (no heartbeat for 120 s)"
    assert runtime.jobs.get(second).status is Status.PENDING


def test_a_finished_job_is_never_touched(runtime):
    done = running(runtime, "done")
    runtime.jobs.complete(done, 1, metrics={"accuracy": 0.9})
    gave_up = pending(runtime, "gave_up")
    runtime.jobs.fail(gave_up, None, "refused")
    for job_id in (done, gave_up):
        silent_for(runtime, job_id, 3600)
    assert reconcile_jobs(runtime, RecordingPublisher()) == ReconcileReport()
    assert runtime.jobs.get(done).status is Status.COMPLETED
    assert runtime.jobs.get(gave_up).error == "refused"


def test_racing_reconcilers_recover_each_job_once(settings):
    runtimes = [Runtime(settings) for _ in range(3)]
    try:
        lost_pending, lost_running = pending(runtimes[0], "p"), running(runtimes[0], "r")
        silent_for(runtimes[0], lost_pending, 62)
        silent_for(runtimes[0], lost_running, 122)
        publisher = RecordingPublisher()
        barrier = threading.Barrier(len(runtimes))
        reports: list[ReconcileReport] = []

        def reconcile(runtime: Runtime) -> None:
            barrier.wait()
            reports.append(reconcile_jobs(runtime, publisher))

        threads = [threading.Thread(target=reconcile, args=(r,)) for r in runtimes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(job for report in reports for job in report.republished) == [lost_pending]
        assert sorted(job for report in reports for job in report.requeued) == [lost_running]
        assert sorted(publisher.retrainings) == sorted([(lost_pending, "p"), (lost_running, "r")])
        assert runtimes[0].jobs.get(lost_running).attempt == 1
    finally:
        for runtime in runtimes:
            runtime.dispose()


def test_abandoned_pending_and_requeued_jobs_are_failed_after_a_lease(runtime):
    never_claimed = pending(runtime, "never_claimed")
    requeued = running(runtime, "requeued")
    runtime.jobs.requeue(requeued, 1, "worker lost")
    recent = pending(runtime, "recent")
    for job_id in (never_claimed, requeued):
        silent_for(runtime, job_id, 122)
    silent_for(runtime, recent, 100)  # past the republish delay, not the lease

    assert sorted(fail_abandoned_jobs(runtime)) == sorted([never_claimed, requeued])
    for job_id in (never_claimed, requeued):
        job = runtime.jobs.get(job_id)
        assert job.status is Status.FAILED
        assert job.error.startswith("abandoned: no heartbeat for 120 s")
    assert runtime.jobs.get(recent).status is Status.PENDING


def test_fail_abandoned_jobs_of_one_model_leaves_the_others(runtime):
    mine, theirs = running(runtime, "mine"), running(runtime, "theirs")
    for job_id in (mine, theirs):
        silent_for(runtime, job_id, 600)
    assert fail_abandoned_jobs(runtime, "mine") == [mine]
    assert runtime.jobs.get(theirs).status is Status.RUNNING
    assert fail_abandoned_jobs(runtime, "mine") == []  # failed once
    assert fail_abandoned_jobs(runtime) == [theirs]
