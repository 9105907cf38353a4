"""The job repository: one active job per model, exclusive claims, fencing, the audit trail,
and state that outlives the process (a new Runtime on the same data directory)."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.db.schema import jobs as jobs_table
from shared.enums import JobStatus, RetrainingTrigger
from shared.lifecycle import (
    CHECK_TRANSITIONS,
    JOB_TRANSITIONS,
    InvalidTransition,
    check_transition,
)
from shared.runtime import Runtime
from shared.usecases.reconcile import fail_abandoned_jobs

MANUAL = RetrainingTrigger.MANUAL


def transitions(runtime, job_id):
    return [
        (event["from_status"], event["to_status"], event["details"].get("attempt"))
        for event in runtime.jobs.events(job_id)
        if event["kind"] == "job_status"
    ]


def test_a_new_job_is_pending_with_its_trigger_and_reason(runtime):
    job, created = runtime.jobs.create("churn", RetrainingTrigger.DATA_DRIFT, "3 columns drifted")
    assert created
    assert job.status == JobStatus.PENDING == "pending"
    assert (job.trigger, job.reason, job.attempt) == ("data_drift", "3 columns drifted", 0)
    assert job.start_time is None and job.end_time is None
    assert job.created_at.utcoffset() == timedelta(0)
    assert transitions(runtime, job.job_id) == [(None, "pending", None)]


def test_a_second_create_while_one_is_active_returns_the_active_job(runtime):
    first, created_first = runtime.jobs.create("churn", MANUAL, "one")
    second, created_second = runtime.jobs.create("churn", RetrainingTrigger.SCHEDULED, "two")
    assert (created_first, created_second) == (True, False)
    assert second.job_id == first.job_id
    assert second.reason == "one"
    runtime.jobs.claim(first.job_id)
    third, created_third = runtime.jobs.create("churn", MANUAL, "three")  # running is active too
    assert (third.job_id, created_third) == (first.job_id, False)
    assert len(runtime.jobs.list("churn")) == 1


def test_other_models_have_their_own_active_job(runtime):
    a, created_a = runtime.jobs.create("a", MANUAL, "")
    b, created_b = runtime.jobs.create("b", MANUAL, "")
    assert created_a and created_b and a.job_id != b.job_id


def test_a_finished_job_no_longer_blocks_a_new_one(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    claimed = runtime.jobs.claim(job.job_id)
    runtime.jobs.complete(job.job_id, claimed.attempt, metrics={"accuracy": 0.9})
    again, created = runtime.jobs.create("churn", MANUAL, "")
    assert created and again.job_id != job.job_id
    runtime.jobs.fail(again.job_id, None, "gave up")
    third, created = runtime.jobs.create("churn", MANUAL, "")
    assert created and third.job_id not in (job.job_id, again.job_id)


def test_concurrent_creates_make_exactly_one_job(runtime):
    barrier = threading.Barrier(6)
    results = []

    def create():
        barrier.wait()
        results.append(runtime.jobs.create("churn", MANUAL, "race"))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({job.job_id for job, _ in results}) == 1


def test_a_claim_is_exclusive(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    claimed = runtime.jobs.claim(job.job_id)
    assert claimed.status == JobStatus.RUNNING
    assert claimed.attempt == 1
    assert claimed.start_time is not None and claimed.heartbeat_at is not None
    assert runtime.jobs.claim(job.job_id) is None
    assert runtime.jobs.get(job.job_id).attempt == 1


def test_complete_stores_the_results_and_the_end_time(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    claimed = runtime.jobs.claim(job.job_id)
    done = runtime.jobs.complete(
        job.job_id,
        claimed.attempt,
        metrics={"accuracy": 0.91},
        champion_metrics={"accuracy": 0.88},
        promoted=True,
        promotion_reason="better by the margin",
        model_version="2",
        mlflow_run_id="abc",
        details={"n_train": 800},
    )
    assert done.status == JobStatus.COMPLETED
    stored = runtime.jobs.get(job.job_id)
    assert stored.metrics == {"accuracy": 0.91}
    assert stored.champion_metrics == {"accuracy": 0.88}
    assert (stored.promoted, stored.model_version, stored.mlflow_run_id) == (True, "2", "abc")
    assert stored.details == {"n_train": 800}
    assert isinstance(stored.end_time - stored.start_time, timedelta)
    assert stored.duration == stored.end_time - stored.start_time
    assert stored.error is None


def test_a_stale_attempt_cannot_complete_or_fail_the_job(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    first = runtime.jobs.claim(job.job_id)
    runtime.jobs.requeue(job.job_id, first.attempt, "worker lost")
    second = runtime.jobs.claim(job.job_id)
    assert second.attempt == first.attempt + 1
    assert runtime.jobs.complete(job.job_id, first.attempt, metrics={"accuracy": 0.1}) is None
    assert runtime.jobs.fail(job.job_id, first.attempt, "late failure") is None
    assert not runtime.jobs.heartbeat(job.job_id, first.attempt)
    assert runtime.jobs.heartbeat(job.job_id, second.attempt)
    current = runtime.jobs.get(job.job_id)
    assert (current.status, current.attempt, current.metrics) == (JobStatus.RUNNING, 2, {})
    done = runtime.jobs.complete(job.job_id, second.attempt, metrics={"accuracy": 0.9})
    assert done.metrics == {"accuracy": 0.9}


def test_a_finished_job_stays_finished(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    claimed = runtime.jobs.claim(job.job_id)
    runtime.jobs.fail(job.job_id, claimed.attempt, "boom")
    assert runtime.jobs.claim(job.job_id) is None
    assert runtime.jobs.complete(job.job_id, claimed.attempt) is None
    assert runtime.jobs.requeue(job.job_id, claimed.attempt, "again") is None
    assert not runtime.jobs.heartbeat(job.job_id, claimed.attempt)
    stored = runtime.jobs.get(job.job_id)
    assert (stored.status, stored.error) == (JobStatus.FAILED, "boom")


def test_fail_without_an_attempt_only_fails_a_pending_job(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    failed = runtime.jobs.fail(job.job_id, None, "could not start")
    assert (failed.status, failed.error) == (JobStatus.FAILED, "could not start")
    assert failed.end_time is not None
    other, _ = runtime.jobs.create("churn", MANUAL, "")
    runtime.jobs.claim(other.job_id)
    assert runtime.jobs.fail(other.job_id, None, "wrong") is None
    assert runtime.jobs.get(other.job_id).status == JobStatus.RUNNING


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (JobStatus.PENDING, JobStatus.COMPLETED),
        (JobStatus.PENDING, JobStatus.PENDING),
        (JobStatus.RUNNING, JobStatus.RUNNING),
        *[(JobStatus.COMPLETED, status) for status in JobStatus],
        *[(JobStatus.FAILED, status) for status in JobStatus],
    ],
)
def test_invalid_transitions_raise(current, new):
    with pytest.raises(InvalidTransition, match=f"a job cannot go from {current} to {new}"):
        check_transition(JOB_TRANSITIONS, "job", current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (JobStatus.PENDING, JobStatus.RUNNING),
        (JobStatus.PENDING, JobStatus.FAILED),
        (JobStatus.RUNNING, JobStatus.COMPLETED),
        (JobStatus.RUNNING, JobStatus.FAILED),
        (JobStatus.RUNNING, JobStatus.PENDING),
    ],
)
def test_valid_transitions_pass(current, new):
    check_transition(JOB_TRANSITIONS, "job", current, new)


def test_a_check_is_never_requeued_and_ends_once():
    with pytest.raises(InvalidTransition, match="a check cannot go from running to pending"):
        check_transition(CHECK_TRANSITIONS, "check", JobStatus.RUNNING, JobStatus.PENDING)
    for ended in (JobStatus.COMPLETED, JobStatus.FAILED):
        assert not CHECK_TRANSITIONS[ended] and not JOB_TRANSITIONS[ended]


def test_unknown_result_fields_are_refused(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    claimed = runtime.jobs.claim(job.job_id)
    with pytest.raises(TypeError, match="status"):
        runtime.jobs.complete(job.job_id, claimed.attempt, status="completed")


def test_every_transition_is_an_event(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    first = runtime.jobs.claim(job.job_id)
    runtime.jobs.requeue(job.job_id, first.attempt, "worker lost")
    second = runtime.jobs.claim(job.job_id)
    runtime.jobs.fail(job.job_id, second.attempt, "out of memory")
    assert transitions(runtime, job.job_id) == [
        (None, "pending", None),
        ("pending", "running", 1),
        ("running", "pending", 1),
        ("pending", "running", 2),
        ("running", "failed", 2),
    ]
    events = runtime.jobs.events(job.job_id)
    assert events[2]["details"]["reason"] == "worker lost"
    assert events[-1]["details"]["error"] == "out of memory"
    assert all(event["model_name"] == "churn" for event in events)


def test_a_refused_transition_writes_no_event(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    runtime.jobs.claim(job.job_id)
    runtime.jobs.claim(job.job_id)
    runtime.jobs.complete(job.job_id, attempt=7)
    assert len(runtime.jobs.events(job.job_id)) == 2


def test_history_is_newest_first_and_filterable(runtime):
    ids = []
    for trigger in (MANUAL, RetrainingTrigger.DATA_DRIFT, RetrainingTrigger.SCHEDULED):
        job, _ = runtime.jobs.create("churn", trigger, "")
        claimed = runtime.jobs.claim(job.job_id)
        runtime.jobs.complete(job.job_id, claimed.attempt)
        ids.append(job.job_id)
    pending, _ = runtime.jobs.create("churn", MANUAL, "")
    listed = [job.job_id for job in runtime.jobs.list("churn")]
    assert listed == [pending.job_id, *reversed(ids)]
    assert [job.job_id for job in runtime.jobs.list("churn", limit=2, offset=1)] == ids[::-1][:2]
    assert [j.job_id for j in runtime.jobs.list("churn", status="pending")] == [pending.job_id]
    assert [j.job_id for j in runtime.jobs.list("churn", trigger="data_drift")] == [ids[1]]
    assert runtime.jobs.list("other") == []
    assert runtime.jobs.count_by_status("churn") == {
        "pending": 1,
        "running": 0,
        "completed": 3,
        "failed": 0,
    }


def test_an_unknown_job_is_a_key_error(runtime):
    with pytest.raises(KeyError, match="there is no job 'nope'"):
        runtime.jobs.get("nope")


def test_a_job_as_a_dict_is_json_ready(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "why")
    claimed = runtime.jobs.claim(job.job_id)
    done = runtime.jobs.complete(job.job_id, claimed.attempt, metrics={"accuracy": 0.9})
    data = done.to_dict()
    assert (data["status"], data["trigger"], data["error"]) == ("completed", "manual", None)
    assert data["metrics"] == {"accuracy": 0.9}
    assert isinstance(data["start_time"], str) and isinstance(data["end_time"], str)
    assert data["duration_seconds"] == pytest.approx(done.duration.total_seconds())


def test_wait_follows_the_job_until_it_ends(runtime):
    job, _ = runtime.jobs.create("churn", MANUAL, "")
    with pytest.raises(TimeoutError, match="still pending"):
        job.wait(timeout=0.05, poll_interval=0.01)
    claimed = runtime.jobs.claim(job.job_id)
    timer = threading.Timer(0.1, runtime.jobs.complete, (job.job_id, claimed.attempt))
    timer.start()
    try:
        assert job.wait(timeout=10, poll_interval=0.02).status == JobStatus.COMPLETED
    finally:
        timer.join()


def test_jobs_and_checks_survive_a_restart(settings):
    first = Runtime(settings)
    done, _ = first.jobs.create("churn", MANUAL, "before the restart")
    claimed = first.jobs.claim(done.job_id)
    first.jobs.complete(done.job_id, claimed.attempt, metrics={"accuracy": 0.9})
    active, _ = first.jobs.create("churn", MANUAL, "still pending")
    check = first.checks.save(
        CheckRecord(
            check_id=first.checks.new_id(),
            model_name="churn",
            created_at=utcnow(),
            n_rows=500,
            needs_retraining=True,
            trigger=RetrainingTrigger.DATA_DRIFT,
            reason="2 of 5 columns drifted",
            drift_share=0.4,
            drift={"drifted_columns": ["a", "b"]},
            performance=None,
            report_key=None,
        )
    )
    first.dispose()

    second = Runtime(settings)  # a new process on the same data directory
    try:
        assert second.jobs.get(done.job_id).metrics == {"accuracy": 0.9}
        assert [j.job_id for j in second.jobs.list("churn")] == [active.job_id, done.job_id]
        again, created = second.jobs.create("churn", MANUAL, "after")
        assert (again.job_id, created) == (active.job_id, False)
        stored = second.checks.get(check.check_id)
        assert stored.trigger == RetrainingTrigger.DATA_DRIFT
        assert (stored.drift_share, stored.drift) == (0.4, {"drifted_columns": ["a", "b"]})
        assert [c.check_id for c in second.checks.list("churn")] == [check.check_id]
        assert len(second.jobs.events(done.job_id)) == 3
    finally:
        second.dispose()


def test_abandoned_jobs_are_failed_and_live_ones_kept(runtime):
    silent, _ = runtime.jobs.create("silent", MANUAL, "")
    claimed = runtime.jobs.claim(silent.job_id)
    alive, _ = runtime.jobs.create("alive", MANUAL, "")
    runtime.jobs.claim(alive.job_id)
    long_ago = utcnow() - timedelta(seconds=runtime.settings.job_lease_seconds + 60)
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.update(jobs_table)
            .where(jobs_table.c.id == silent.job_id)
            .values(heartbeat_at=long_ago, created_at=long_ago)
        )
    assert fail_abandoned_jobs(runtime) == [silent.job_id]
    failed = runtime.jobs.get(silent.job_id)
    assert (failed.status, failed.attempt) == (JobStatus.FAILED, claimed.attempt)
    assert "abandoned" in failed.error
    assert runtime.jobs.get(alive.job_id).status == JobStatus.RUNNING
