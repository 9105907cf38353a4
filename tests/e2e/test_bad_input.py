"""Bad data never crashes the scheduler nor touches the champion: the job fails with an error
a person understands, and the next job can run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from retraining.synthetic import make_churn_frame
from shared.enums import JobStatus
from shared.monitoring import MonitorsNotInitialized
from training.pipeline import TrainingPipeline

GOOD = make_churn_frame(1200, seed=1)


class Source:
    """The user's loader; each test swaps what it returns."""

    def __init__(self) -> None:
        self.load = lambda: GOOD

    def __call__(self):
        return self.load()


@pytest.fixture(scope="module")
def champion(tmp_path_factory, make_home):
    source = Source()
    scheduler = RetrainingScheduler(
        RetrainingConfig(
            model_name="churn",
            timestamp_column="timestamp",
            min_training_samples=500,
            min_samples_for_check=200,
            auto_promote=True,
        ),
        source,
        TrainingPipeline("churn", "sklearn"),
        settings=make_home(tmp_path_factory.mktemp("bad")),
    )
    first = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "initial")
    assert first.status == JobStatus.COMPLETED, first.error
    scheduler.initialize_monitors(GOOD, {"accuracy": 0.8})
    yield scheduler, source, first.model_version
    scheduler.close()


def without(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.drop(columns=[column])


def with_column(frame: pd.DataFrame, **values) -> pd.DataFrame:
    return frame.assign(**values)


def _raise():
    raise ConnectionError("warehouse unreachable")


OLD = make_churn_frame(1200, seed=2, end=datetime.now(UTC) - timedelta(days=60))

BAD_INPUTS = {
    # name: (loader, words the error must contain)
    "empty frame": (lambda: pd.DataFrame(), ["training data is empty"]),
    "empty rows": (lambda: GOOD.iloc[0:0], ["training data is empty", "0 rows"]),
    "missing target": (lambda: without(GOOD, "target"), ["target column", "missing", "target"]),
    "missing feature": (lambda: without(GOOD, "tenure"), ["feature column", "missing", "tenure"]),
    "missing timestamp": (lambda: without(GOOD, "timestamp"), ["timestamp column", "missing"]),
    "all-NaN feature": (
        lambda: with_column(GOOD, usage_hours=np.nan),
        ["no values (all missing)", "usage_hours"],
    ),
    "all-NaN target": (
        lambda: with_column(GOOD, target=np.nan),
        ["target column 'target' has no values"],
    ),
    "too few rows": (
        lambda: GOOD.tail(100),
        ["not enough training data", "100 labelled rows", "min_training_samples is 500"],
    ),
    "all rows outside the window": (
        lambda: OLD,
        ["not enough training data", "0 labelled rows within the last 30 days"],
    ),
    "single class": (
        lambda: with_column(GOOD, target=1),
        ["single class", "at least 2 classes"],
    ),
    "loader raises": (_raise, ["loader raised ConnectionError", "warehouse unreachable"]),
    "loader returns a list": (
        lambda: GOOD.to_dict("records"),
        ["loader returned list", "not a pandas DataFrame"],
    ),
    "loader returns None": (lambda: None, ["loader returned NoneType", "not a pandas DataFrame"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_training_data_fails_the_job_clearly_and_keeps_the_champion(champion, case):
    scheduler, source, champion_version = champion
    loader, words = BAD_INPUTS[case]
    source.load = loader
    try:
        job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, case)
    finally:
        source.load = lambda: GOOD
    assert job.status == JobStatus.FAILED
    for word in words:
        assert word in job.error, job.error
    assert job.end_time is not None and job.promoted is None and job.model_version is None
    status = scheduler.get_job_status(job.job_id)
    assert (status["status"], status["error"]) == ("failed", job.error)
    record = scheduler.runtime.models.get("churn")
    assert record.champion_version == champion_version
    assert scheduler.runtime.registry.champion_version("churn") == champion_version
    assert scheduler.runtime.jobs.active_for("churn") is None  # the next job can start


def test_after_bad_data_good_data_trains_again(champion):
    scheduler, source, champion_version = champion
    source.load = _raise
    try:
        failed = scheduler.trigger_retraining()
    finally:
        source.load = lambda: GOOD
    job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "data is back")
    assert failed.status == JobStatus.FAILED
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.job_id != failed.job_id
    assert scheduler.runtime.models.get("churn").champion_version == champion_version


def test_a_check_on_too_few_rows_is_a_refusal_not_a_crash(champion):
    scheduler, _, _ = champion
    few = make_churn_frame(199, seed=3)
    needs, trigger, reason = scheduler.check_retraining_needed(few)
    assert (needs, trigger) == (False, None)
    assert "not enough data to check: 199 rows" in reason
    assert "min_samples_for_check is 200" in reason
    assert scheduler.last_check.n_rows == 199 and scheduler.last_check.drift_share is None
    assert scheduler.check_retraining_needed(GOOD.iloc[0:0])[:2] == (False, None)


def test_a_check_on_something_else_than_a_frame_is_refused(champion):
    scheduler, _, _ = champion
    with pytest.raises(ValueError, match="current_data: must be a pandas DataFrame"):
        scheduler.check_retraining_needed(GOOD.to_dict("records"))
    with pytest.raises(ValueError, match="current_metrics: accuracy must be a number"):
        scheduler.check_retraining_needed(GOOD, current_metrics={"accuracy": "high"})


def test_a_check_missing_a_feature_counts_it_as_drifted(champion):
    scheduler, _, _ = champion
    needs, trigger, reason = scheduler.check_retraining_needed(
        without(make_churn_frame(400, seed=9), "tenure").drop(columns=["target"])
    )
    assert (needs, trigger) == (True, RetrainingTrigger.DATA_DRIFT)  # 1 of 7 >= 0.1
    columns = {c["column"]: c for c in scheduler.last_check.drift["columns"]}
    assert (
        columns["tenure"]["drifted"] and columns["tenure"]["issue"] == "missing from current data"
    )
    assert "tenure" in reason


def test_an_unknown_trigger_is_refused_by_name(champion):
    scheduler, _, _ = champion
    with pytest.raises(ValueError, match="trigger: 'whenever' is not one of"):
        scheduler.trigger_retraining("whenever")


def test_checks_before_initialize_monitors_say_what_to_do(settings):
    scheduler = RetrainingScheduler(
        RetrainingConfig(model_name="fresh"),
        lambda: GOOD,
        TrainingPipeline("fresh"),
        settings=settings,
    )
    try:
        with pytest.raises(MonitorsNotInitialized, match=r"initialize_monitors\(\) in Python"):
            scheduler.check_retraining_needed(GOOD)
        with pytest.raises(ValueError, match="reference_data: must be a non-empty"):
            scheduler.initialize_monitors(GOOD.iloc[0:0], {"accuracy": 0.9})
        with pytest.raises(ValueError, match="baseline_metrics: accuracy must be a number"):
            scheduler.initialize_monitors(GOOD, {"accuracy": None})
        with pytest.raises(RuntimeError, match="has no champion yet"):
            scheduler.predict(GOOD)
    finally:
        scheduler.close()
