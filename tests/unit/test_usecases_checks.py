"""Checks run elsewhere: request one (a pending row, then a message), run a requested one on
the model's current data, retrain if it says so, and fail one nobody finished in time.

A model without a champion, monitored against four numeric columns; its current data is a
Parquet file source, or its served predictions.
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.db.schema import checks as checks_table
from shared.enums import RetrainingTrigger, Status
from shared.errors import Unavailable
from shared.model_store import UnknownModel
from shared.monitoring import MonitorsNotInitialized, initialize_monitors
from shared.predictions import PredictionRepository
from shared.usecases.checks import (
    NoCurrentData,
    current_data,
    expire_if_stale,
    perform_check,
    request_check,
    run_requested_check,
)
from shared.usecases.ports import InProcessPublisher

NAME = "edge"


class RecordingPublisher:
    def __init__(self, broken: bool = False) -> None:
        self.pages: list[tuple[str, str]] = []
        self.broken = broken
        self.retrainings: list[tuple[str, str]] = []
        self.checks: list[tuple[str, str, bool]] = []

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        self.retrainings.append((job_id, model_name))

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.checks.append((model_name, check_id, retrain_if_needed))

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        self.pages.append((model_name, check_id))

    def close(self) -> None:
        pass


def four_columns(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({name: rng.normal(size=rows) for name in "abcd"})


def drifted() -> pd.DataFrame:
    return four_columns().assign(a=lambda f: f["a"] + 10, b=lambda f: f["b"] + 10)


def model(runtime, tmp_path, current: pd.DataFrame | None = None, monitors: bool = True):
    """The model, with ``current`` as its current source (none when None)."""
    runtime.models.save_config(
        RetrainingConfig(model_name=NAME, min_samples_for_check=50, drift_threshold=0.25),
        {"name": NAME},
    )
    if current is not None:
        path = tmp_path / "current.parquet"
        current.to_parquet(path)
        runtime.models.set_data_sources(NAME, {"current": {"kind": "file", "path": str(path)}})
    if monitors:
        initialize_monitors(runtime, NAME, four_columns().assign(target=0), {"accuracy": 0.9})


def requested(runtime, publisher=None, retrain_if_needed=True):
    return request_check(
        runtime, publisher or RecordingPublisher(), NAME, retrain_if_needed=retrain_if_needed
    )


def age(runtime, check_id: str, seconds: float) -> None:
    """As if the check had been requested ``seconds`` ago."""
    then = utcnow() - timedelta(seconds=seconds)
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.update(checks_table)
            .where(checks_table.c.id == check_id)
            .values(requested_at=then, created_at=then)
        )


def test_a_requested_check_is_stored_pending_then_published(runtime, tmp_path):
    model(runtime, tmp_path, four_columns())
    publisher = RecordingPublisher()
    check = requested(runtime, publisher, retrain_if_needed=False)
    assert check.status is Status.PENDING
    assert publisher.checks == [(NAME, check.check_id, False)]
    assert runtime.checks.get(check.check_id).status is Status.PENDING


def test_a_check_is_refused_before_the_monitors_or_without_current_data(runtime, tmp_path):
    with pytest.raises(UnknownModel):
        requested(runtime)
    model(runtime, tmp_path, four_columns(), monitors=False)
    with pytest.raises(MonitorsNotInitialized):
        requested(runtime)
    runtime.models.save_config(RetrainingConfig(model_name="blind"), {"name": "blind"})
    initialize_monitors(runtime, "blind", four_columns().assign(target=0), None)
    with pytest.raises(NoCurrentData, match=r"configure data_sources\.current, or serve"):
        request_check(runtime, RecordingPublisher(), "blind", retrain_if_needed=True)
    assert runtime.checks.list(NAME, status=None) == []
    assert runtime.checks.list("blind", status=None) == []


def test_served_predictions_are_current_data_with_their_known_outcomes(runtime, tmp_path):
    model(runtime, tmp_path)
    record = runtime.models.get(NAME)
    with pytest.raises(NoCurrentData, match="'edge' has no current data"):
        current_data(runtime, record)
    served = PredictionRepository(runtime.engine)
    ids = served.record(NAME, None, [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}], [0, 1])
    served.record_outcomes(NAME, {ids[1]: 1})

    frame = current_data(runtime, record).sort_values("a", ignore_index=True)
    assert frame[["a", "b"]].to_dict("list") == {"a": [1.0, 3.0], "b": [2.0, 4.0]}
    assert frame["target"].isna().tolist() == [True, False] and frame["target"].iloc[1] == 1
    check = request_check(runtime, RecordingPublisher(), NAME, retrain_if_needed=True)
    assert check.status is Status.PENDING


def test_the_current_source_comes_before_served_predictions(runtime, tmp_path):
    model(runtime, tmp_path, four_columns(60))
    PredictionRepository(runtime.engine).record(NAME, None, [{"a": 1.0}], [0])
    assert len(current_data(runtime, runtime.models.get(NAME))) == 60


def test_a_recent_active_check_is_reused_instead_of_another(runtime, tmp_path):
    model(runtime, tmp_path, four_columns())
    publisher = RecordingPublisher()
    first = request_check(runtime, publisher, NAME, retrain_if_needed=True, reuse_within=60)
    again = request_check(runtime, publisher, NAME, retrain_if_needed=True, reuse_within=60)
    assert again.check_id == first.check_id
    runtime.checks.start(first.check_id)  # running is still active
    running = request_check(runtime, publisher, NAME, retrain_if_needed=True, reuse_within=60)
    assert running.check_id == first.check_id
    assert len(publisher.checks) == 1

    age(runtime, first.check_id, 61)  # requested longer ago than the window
    newer = request_check(runtime, publisher, NAME, retrain_if_needed=True, reuse_within=60)
    assert newer.check_id != first.check_id
    unasked = request_check(runtime, publisher, NAME, retrain_if_needed=True)
    assert unasked.check_id not in (first.check_id, newer.check_id)
    assert [c[1] for c in publisher.checks] == [first.check_id, newer.check_id, unasked.check_id]


def test_a_check_that_cannot_be_queued_is_failed_and_unavailable(runtime, tmp_path):
    model(runtime, tmp_path, four_columns())
    with pytest.raises(Unavailable, match="could not be queued"):
        requested(runtime, RecordingPublisher(broken=True))
    (check,) = runtime.checks.list(NAME, status=None)
    assert (check.status, check.error) == (Status.FAILED, "could not be queued: broker down")


def test_a_requested_check_that_finds_drift_submits_one_retraining(runtime, tmp_path):
    model(runtime, tmp_path, drifted())
    publisher = RecordingPublisher()
    check = requested(runtime, publisher)

    done = perform_check(runtime, publisher, check.check_id, retrain_if_needed=True)
    assert (done.check_id, done.status) == (check.check_id, Status.COMPLETED)
    assert (done.needs_retraining, done.trigger, done.drift_share) == (
        True,
        RetrainingTrigger.DATA_DRIFT,
        0.5,
    )
    (job,) = runtime.jobs.list(NAME)
    assert (job.status, job.trigger, job.reason) == (Status.PENDING, "data_drift", done.reason)
    assert publisher.retrainings == [(job.job_id, NAME)]

    # a second delivery of the same message runs nothing and submits nothing
    assert perform_check(runtime, publisher, check.check_id, retrain_if_needed=True) is None
    assert len(runtime.jobs.list(NAME)) == 1 and len(publisher.retrainings) == 1


def test_a_check_that_finds_drift_submits_nothing_unless_asked_or_needed(runtime, tmp_path):
    model(runtime, tmp_path, drifted())
    publisher = RecordingPublisher()
    check = requested(runtime, publisher, retrain_if_needed=False)
    done = perform_check(runtime, publisher, check.check_id, retrain_if_needed=False)
    assert done.needs_retraining and runtime.jobs.list(NAME) == []

    clean = requested(runtime, publisher)
    done = perform_check(
        runtime, publisher, clean.check_id, retrain_if_needed=True, current=four_columns
    )
    assert (done.status, done.needs_retraining, done.drift_share) == (
        Status.COMPLETED,
        False,
        0.0,
    )
    assert runtime.jobs.list(NAME) == [] and publisher.retrainings == []


def test_a_check_that_expired_while_it_ran_stays_failed_and_retrains_nothing(runtime, tmp_path):
    model(runtime, tmp_path)
    publisher = RecordingPublisher()
    check = runtime.checks.request(NAME)

    def data_after_the_deadline() -> pd.DataFrame:
        runtime.checks.fail(check.check_id, "no worker finished this check within 60 s")
        return drifted()

    done = perform_check(
        runtime, publisher, check.check_id, retrain_if_needed=True, current=data_after_the_deadline
    )
    assert runtime.checks.get(check.check_id).status is Status.FAILED  # the store kept it so
    # PRODUCT BUG: run_check returns the record it built instead of what checks.save()
    # stored, so perform_check sees "completed, needs retraining" for a check stored failed,
    # and submits a retraining for it.
    assert done.status is Status.FAILED
    assert runtime.jobs.list(NAME) == [] and publisher.retrainings == []


def test_a_failure_while_running_a_check_is_recorded_on_it(runtime, tmp_path):
    model(runtime, tmp_path)
    check = runtime.checks.request(NAME)

    def unreachable() -> pd.DataFrame:
        raise ConnectionError("warehouse down")

    failed = run_requested_check(runtime, check.check_id, current=unreachable)
    assert (failed.status, failed.error) == (Status.FAILED, "ConnectionError: warehouse down")
    assert runtime.checks.get(check.check_id) == failed
    assert run_requested_check(runtime, check.check_id, current=four_columns) is None


def test_a_requested_check_of_a_model_without_monitors_fails_with_why(runtime, tmp_path):
    model(runtime, tmp_path, four_columns(), monitors=False)
    check = runtime.checks.request(NAME)  # requested by a schedule, not through request_check
    failed = run_requested_check(runtime, check.check_id)
    assert failed.status is Status.FAILED
    assert failed.error.startswith(f"monitors of '{NAME}' are not initialized")


def test_a_check_nobody_finished_in_time_is_expired(runtime, tmp_path):
    model(runtime, tmp_path)
    check = runtime.checks.request(NAME)
    assert expire_if_stale(runtime, check, timeout=60) == check  # requested just now
    age(runtime, check.check_id, 61)
    expired = expire_if_stale(runtime, runtime.checks.get(check.check_id), timeout=60)
    assert (expired.status, expired.error) == (
        Status.FAILED,
        "no worker finished this check within 60 s",
    )


def test_a_finished_check_never_expires(runtime, tmp_path):
    model(runtime, tmp_path)
    check = runtime.checks.request(NAME)
    age(runtime, check.check_id, 3600)
    done = run_requested_check(runtime, check.check_id, current=four_columns)
    assert done.status is Status.COMPLETED
    stored = runtime.checks.get(check.check_id)
    assert expire_if_stale(runtime, stored, timeout=60) is stored
    assert runtime.checks.get(check.check_id).status is Status.COMPLETED


def eventually(read, timeout: float = 30):
    """``read()`` once it returns something true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := read()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


def test_the_in_process_publisher_runs_a_check_and_the_retraining_it_calls_for(runtime, tmp_path):
    model(runtime, tmp_path, drifted())  # no training source: the job fails before training
    publisher = InProcessPublisher(lambda: runtime, job_threads=1, check_threads=1)
    try:
        check = request_check(runtime, publisher, NAME, retrain_if_needed=True)
        done = eventually(lambda: runtime.checks.list(NAME))[0]
        (job,) = eventually(lambda: runtime.jobs.list(NAME))
        job.wait(timeout=30, poll_interval=0.02)
    finally:
        publisher.close(wait=True)
    assert (done.check_id, done.trigger) == (check.check_id, RetrainingTrigger.DATA_DRIFT)
    assert (job.trigger, job.status, job.attempt) == ("data_drift", Status.FAILED, 1)
    assert (
        job.error == f"model '{NAME}' has no training data source: configure data_sources.training"
    )
