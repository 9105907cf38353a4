"""Stored checks: a requested check's life (pending -> running -> completed, or failed), each
change allowed by ``CHECK_TRANSITIONS`` only, and a check saved in one go."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from shared.checks import CheckNotFound, CheckRecord
from shared.clock import utcnow
from shared.enums import RetrainingTrigger, Status
from shared.errors import NotFound
from shared.events import list_events
from shared.lifecycle import CHECK_TRANSITIONS, statuses_leading_to


def result(check_id: str, model_name: str = "churn", **fields) -> CheckRecord:
    """A finished check as monitoring builds it (not yet stored)."""
    values = dict(
        check_id=check_id,
        model_name=model_name,
        created_at=utcnow(),
        n_rows=500,
        needs_retraining=True,
        trigger=RetrainingTrigger.DATA_DRIFT,
        reason="2 of 5 columns drifted",
        drift_share=0.4,
        drift={"drifted_columns": ["a", "b"]},
        performance={"current": None, "concept": None},
        report_key=f"models/{model_name}/checks/{check_id}.html",
    )
    return CheckRecord(**{**values, **fields})


def check_events(runtime, model_name: str = "churn") -> list[tuple[str, str]]:
    return [
        (event["kind"], event["details"]["check_id"])
        for event in list_events(runtime.engine, model_name=model_name)
    ]


def test_each_update_starts_from_the_statuses_the_table_allows():
    assert statuses_leading_to(CHECK_TRANSITIONS, Status.RUNNING) == {Status.PENDING}
    assert statuses_leading_to(CHECK_TRANSITIONS, Status.COMPLETED) == {Status.RUNNING}
    assert statuses_leading_to(CHECK_TRANSITIONS, Status.FAILED) == {
        Status.PENDING,
        Status.RUNNING,
    }


def test_a_requested_check_is_pending_and_listed_only_when_asked(runtime):
    check = runtime.checks.request("churn")
    assert check.status is Status.PENDING
    assert check.requested_at == check.created_at and check.started_at is None
    assert (check.n_rows, check.needs_retraining, check.trigger) == (0, False, None)
    assert check.reason == "requested: waiting for a worker"
    assert runtime.checks.get(check.check_id) == check
    assert runtime.checks.list("churn") == []  # finished checks only, by default
    assert [c.check_id for c in runtime.checks.list("churn", status=None)] == [check.check_id]
    assert [c.check_id for c in runtime.checks.list("churn", status="pending")] == [check.check_id]
    assert check_events(runtime) == [("check_requested", check.check_id)]


def test_a_requested_check_is_started_by_one_worker_only(runtime):
    check = runtime.checks.request("churn")
    barrier = threading.Barrier(4)
    started: list[CheckRecord | None] = []

    def start() -> None:
        barrier.wait()
        started.append(runtime.checks.start(check.check_id))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (running,) = [s for s in started if s is not None]
    assert started.count(None) == 3
    assert (running.status, running.reason) == (Status.RUNNING, "running")
    assert running.started_at >= running.requested_at
    assert runtime.checks.start(check.check_id) is None


def test_saving_a_started_check_completes_that_row(runtime):
    requested = runtime.checks.request("churn")
    running = runtime.checks.start(requested.check_id)
    saved = runtime.checks.save(result(requested.check_id))

    assert saved.status is Status.COMPLETED
    assert (saved.n_rows, saved.drift_share, saved.trigger) == (500, 0.4, "data_drift")
    # the requested row keeps when it was asked for and started
    assert saved.created_at == requested.created_at
    assert (saved.requested_at, saved.started_at) == (requested.requested_at, running.started_at)
    assert saved.completed_at >= saved.started_at
    assert saved.duration_seconds == (saved.completed_at - saved.started_at).total_seconds()
    assert [c.check_id for c in runtime.checks.list("churn", status=None)] == [saved.check_id]
    assert check_events(runtime) == [
        ("check_requested", saved.check_id),
        ("check", saved.check_id),
    ]


def test_a_check_saved_in_one_go_is_completed_at_once(runtime):
    built = result(runtime.checks.new_id(), needs_retraining=False, trigger=None)
    saved = runtime.checks.save(built)
    assert saved.status is Status.COMPLETED
    assert (saved.requested_at, saved.started_at) == (None, None)
    assert saved.completed_at is not None and saved.duration_seconds is None
    assert saved.created_at == built.created_at
    assert (saved.trigger, saved.drift, saved.report_key) == (
        None,
        {"drifted_columns": ["a", "b"]},
        built.report_key,
    )
    data = saved.to_dict()
    assert (data["status"], data["trigger"], data["requested_at"]) == ("completed", None, None)
    assert data["completed_at"] == saved.completed_at.isoformat()


def test_a_pending_check_cannot_be_saved_before_it_is_started(runtime):
    requested = runtime.checks.request("churn")
    stored = runtime.checks.save(result(requested.check_id))
    assert stored == requested  # pending -> completed is not in the table
    assert check_events(runtime) == [("check_requested", requested.check_id)]


@pytest.mark.parametrize("started", [False, True])
def test_a_pending_or_running_check_can_fail(runtime, started):
    check = runtime.checks.request("churn")
    if started:
        runtime.checks.start(check.check_id)
    failed = runtime.checks.fail(check.check_id, "no current data")
    assert (failed.status, failed.error) == (Status.FAILED, "no current data")
    assert failed.reason == "check failed: no current data"
    assert failed.completed_at is not None
    assert check_events(runtime)[-1] == ("check_failed", check.check_id)


def test_a_failed_check_stays_failed_when_its_late_worker_saves_it(runtime):
    check = runtime.checks.request("churn")
    runtime.checks.start(check.check_id)
    failed = runtime.checks.fail(check.check_id, "no worker finished this check within 60 s")

    assert runtime.checks.save(result(check.check_id)) == failed
    assert runtime.checks.start(check.check_id) is None
    assert runtime.checks.fail(check.check_id, "again") is None
    assert runtime.checks.get(check.check_id) == failed
    assert [kind for kind, _ in check_events(runtime)] == ["check_requested", "check_failed"]


def test_a_completed_check_cannot_fail(runtime):
    saved = runtime.checks.save(result(runtime.checks.new_id()))
    assert runtime.checks.fail(saved.check_id, "too late") is None
    assert runtime.checks.get(saved.check_id) == saved


def test_fail_requested_before_fails_only_checks_requested_earlier(runtime):
    check = runtime.checks.request("churn")
    assert runtime.checks.fail(check.check_id, "stale", requested_before=check.requested_at) is None
    assert runtime.checks.get(check.check_id).status is Status.PENDING
    later = check.requested_at + timedelta(microseconds=1)
    assert runtime.checks.fail(check.check_id, "stale", requested_before=later).status == "failed"


def test_another_models_check_is_not_found_through_this_model(runtime):
    theirs = runtime.checks.save(result(runtime.checks.new_id(), model_name="other"))
    assert runtime.checks.get_of("other", theirs.check_id) == theirs
    with pytest.raises(CheckNotFound, match=f"model 'churn' has no check '{theirs.check_id}'"):
        runtime.checks.get_of("churn", theirs.check_id)
    with pytest.raises(CheckNotFound, match="model 'churn' has no check 'nope'") as missing:
        runtime.checks.get_of("churn", "nope")
    assert isinstance(missing.value, NotFound) and isinstance(missing.value, KeyError)
    with pytest.raises(CheckNotFound, match="there is no check 'nope'"):
        runtime.checks.get("nope")


def test_checks_are_listed_newest_first_per_model_and_status(runtime):
    saved = []
    for minutes in (30, 20, 10):
        check_id = runtime.checks.new_id()
        created = utcnow() - timedelta(minutes=minutes)
        saved.append(runtime.checks.save(result(check_id, created_at=created)).check_id)
    runtime.checks.save(result(runtime.checks.new_id(), model_name="other"))
    requested = runtime.checks.request("churn").check_id
    failed = runtime.checks.request("churn").check_id
    runtime.checks.fail(failed, "broker down")

    newest_first = saved[::-1]
    assert [c.check_id for c in runtime.checks.list("churn")] == newest_first
    assert [c.check_id for c in runtime.checks.list("churn", 2, offset=1)] == newest_first[1:]
    assert [c.check_id for c in runtime.checks.list("churn", status="failed")] == [failed]
    assert [c.check_id for c in runtime.checks.list("churn", status=Status.PENDING)] == [requested]
    assert len(runtime.checks.list("churn", status=None)) == 5
    with pytest.raises(ValueError, match="done"):
        runtime.checks.list("churn", status="done")
