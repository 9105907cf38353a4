"""Compare-and-swap promotion: the champion moves only if it is still the version the
candidate was compared with, and only before the job's deadline; otherwise the candidate is
refused as stale, with the reason, and the model in service stays."""

from __future__ import annotations

import dataclasses

from jobtest import NAME, claim, configure

from retraining.synthetic import make_churn_frame
from shared.enums import Status, Task
from shared.events import list_events
from shared.modeling import TrainingPipeline
from shared.retrain import execute_job
from shared.runtime import Runtime


def run(runtime: Runtime, load):
    """A manual job trained on what ``load`` returns (loaders here move the champion meanwhile)."""
    return execute_job(runtime, claim(runtime), load, TrainingPipeline(NAME))


def replace_champion(runtime: Runtime, version: str) -> None:
    """Another writer (a rollback, an operator) moves the champion."""
    record = runtime.models.get(NAME)
    runtime.models.set_champion(
        NAME,
        version=version,
        run_id="elsewhere",
        metrics={"accuracy": 0.5},
        task=Task.CLASSIFICATION,
        feature_columns=record.feature_columns or [],
        details={"by": "test"},
    )


def test_a_candidate_whose_champion_was_replaced_while_it_was_evaluated_is_refused_as_stale(
    ml_runtime,
):
    configure(ml_runtime)
    first = run(ml_runtime, lambda: make_champion_data())
    assert first.promoted is True
    drifted = make_churn_frame(400, seed=2, drift=1.0)  # a clear winner, were it current

    def load_while_the_champion_moves():
        replace_champion(ml_runtime, first.model_version + "0")  # e.g. v1 -> v10
        return drifted

    job = run(ml_runtime, load_while_the_champion_moves)

    assert job.status is Status.COMPLETED and job.error is None
    assert job.promoted is False
    expected = (
        f"stale: champion changed from v{first.model_version} to v{first.model_version}0 "
        "while this candidate was evaluated"
    )
    assert job.promotion_reason == expected
    assert job.details["promotion"]["reason"] == expected
    assert ml_runtime.models.get(NAME).champion_version == first.model_version + "0"
    (refusal,) = list_events(ml_runtime.engine, model_name=NAME, kind="promotion_refused")
    assert refusal["job_id"] == job.job_id and refusal["details"]["reason"] == expected
    promotions = list_events(ml_runtime.engine, model_name=NAME, kind="promotion")
    assert [e["job_id"] for e in promotions] == [first.job_id, None]  # none by this job
    tags = ml_runtime.registry._client.get_model_version(NAME, job.model_version).tags
    assert tags["decision"] == "refused" and tags["decision_reason"] == expected


def test_a_first_model_that_finds_a_champion_already_there_is_stale_too(ml_runtime):
    configure(ml_runtime)

    def load_while_another_becomes_champion():
        ml_runtime.models.set_champion(
            NAME,
            version="7",
            run_id="elsewhere",
            metrics={"accuracy": 0.5},
            task=Task.CLASSIFICATION,
            feature_columns=["age"],
            details={},
        )
        return make_champion_data()

    job = run(ml_runtime, load_while_another_becomes_champion)
    assert job.promoted is False
    assert job.promotion_reason == (
        "stale: champion changed from none to v7 while this candidate was evaluated"
    )
    assert ml_runtime.models.get(NAME).champion_version == "7"


def test_a_candidate_recorded_after_the_jobs_deadline_is_refused_as_stale(tmp_path, make_home):
    settings = make_home(tmp_path / "home")
    runtime = Runtime(dataclasses.replace(settings, job_time_limit_seconds=0.001))
    try:
        configure(runtime)
        job = run(runtime, make_champion_data)
        assert job.status is Status.COMPLETED and job.promoted is False
        assert job.promotion_reason.startswith("stale: the job's deadline passed (0 s after it")
        assert "RETRAINING_JOB_TIME_LIMIT" in job.promotion_reason
        assert runtime.models.get(NAME).champion_version is None
        assert runtime.registry.champion_version(NAME) is None
    finally:
        runtime.dispose()


def test_compare_and_set_changes_nothing_when_the_champion_is_not_the_expected_one(ml_runtime):
    configure(ml_runtime)
    replace_champion(ml_runtime, "3")
    moved = ml_runtime.models.set_champion(
        NAME,
        version="4",
        run_id="r",
        metrics={},
        task=Task.CLASSIFICATION,
        feature_columns=["age"],
        details={},
        expected_version="2",
    )
    assert moved is False
    assert ml_runtime.models.get(NAME).champion_version == "3"
    assert ml_runtime.models.set_champion(
        NAME,
        version="4",
        run_id="r",
        metrics={},
        task=Task.CLASSIFICATION,
        feature_columns=["age"],
        details={},
        expected_version="3",
    )
    assert ml_runtime.models.get(NAME).champion_version == "4"


def make_champion_data():
    return make_churn_frame(300, seed=1)
