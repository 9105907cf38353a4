"""Change-aware training windows: the change point, the plan, and a job that uses them."""

import numpy as np
import pandas as pd
import pytest

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from shared.windows import (
    AFTER_CHANGE,
    CONFIGURED,
    in_time_order,
    most_recent_change,
    plan_training,
)
from training.pipeline import TrainingPipeline


def test_the_most_recent_change_of_the_error_rate_is_found_near_where_it_happened():
    rng = np.random.default_rng(0)
    errors = np.concatenate([rng.uniform(size=6000) < 0.1, rng.uniform(size=3000) < 0.4])
    change = most_recent_change(errors.astype(float))
    assert change is not None
    assert 5950 <= change.row <= 6050  # confirmed by ADWIN, located by ruptures
    assert change.rows_after == 9000 - change.row
    assert change.error_before == pytest.approx(0.1, abs=0.02)
    assert change.error_after == pytest.approx(0.4, abs=0.03)


def test_a_clean_change_is_located_to_the_row_however_long_the_stream():
    # a model right before the change and wrong 2 times in 3 after it (STAGGER's switch):
    # a row too late would leave min_training_samples - 1 rows after it
    for before in (4_000, 200_000):
        errors = np.concatenate([np.zeros(before), np.tile([1.0, 1.0, 0.0], 400)[:1_000]])
        change = most_recent_change(errors)
        assert change is not None and change.row == before


def test_a_stationary_error_stream_has_no_change():
    rng = np.random.default_rng(1)
    assert most_recent_change((rng.uniform(size=20_000) < 0.15).astype(float)) is None


def test_the_rows_after_a_change_become_a_candidate_judged_on_their_newest_rows():
    rows = pd.DataFrame({"x": range(5000)})
    change = most_recent_change(np.r_[np.zeros(3000), np.ones(2000)])
    plan = plan_training(rows, test_size=0.2, min_training_samples=1000, change=change)
    after = rows.iloc[change.row :]
    assert set(plan.candidates) == {CONFIGURED, AFTER_CHANGE}
    assert len(plan.holdout) == int(np.ceil(len(after) * 0.2))
    assert plan.holdout.index[-1] == 4999 and plan.holdout.index[0] > change.row
    assert plan.candidates[AFTER_CHANGE].index[0] == change.row
    assert plan.candidates[CONFIGURED].index[0] == 0
    assert plan.candidates[CONFIGURED].index[-1] == plan.holdout.index[0] - 1


def test_too_few_rows_after_a_change_keep_the_configured_window_and_say_why():
    rows = pd.DataFrame({"x": range(5000)})
    change = most_recent_change(np.r_[np.zeros(4500), np.ones(500)])
    plan = plan_training(rows, test_size=0.2, min_training_samples=1000, change=change)
    assert list(plan.candidates) == [CONFIGURED]
    assert plan.change_point == change
    assert (
        f"leaves {change.rows_after} rows after it, fewer than min_training_samples (1000)"
        in plan.notes[0]
    )
    assert 490 <= change.rows_after <= 510
    assert len(plan.holdout) == 1000 and plan.holdout.index[-1] == 4999


def test_rows_are_in_time_order_by_their_timestamp_else_as_loaded():
    frame = pd.DataFrame({"t": ["2026-01-03", "2026-01-01", "2026-01-02"], "x": [3, 1, 2]})
    assert list(in_time_order(frame, "t")["x"]) == [1, 2, 3]
    assert list(in_time_order(frame, None)["x"]) == [3, 1, 2]


def concept(rows: int, seed: int, flipped: bool) -> pd.DataFrame:
    """Two features; the label rule flips sign after an abrupt change of concept."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    score = frame["a"] + 0.5 * frame["b"]
    frame["target"] = ((-score if flipped else score) > 0).astype(int)
    return frame


class History:
    """A loader returning the most recent rows, oldest first (no timestamp column)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __call__(self) -> pd.DataFrame:
        return self.frame.tail(6000).reset_index(drop=True)


@pytest.mark.parametrize("change_aware", [True, False])
def test_after_an_abrupt_change_the_job_trains_on_the_new_concept(settings, change_aware):
    history = History(concept(6000, 0, flipped=False))
    config = RetrainingConfig(
        model_name="abrupt",
        min_training_samples=800,
        auto_promote=True,
        change_aware_window=change_aware,
        enable_notifications=False,
    )
    scheduler = RetrainingScheduler(config, history, TrainingPipeline("abrupt"), settings=settings)
    try:
        first = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "old concept")
        assert first.details["window"]["change_point"] is None  # no champion to judge yet
        history.frame = pd.concat([history.frame, concept(2500, 1, flipped=True)])
        job = scheduler.trigger_retraining(RetrainingTrigger.CONCEPT_DRIFT, "labels flipped")
    finally:
        scheduler.close()

    window = job.details["window"]
    if not change_aware:
        assert list(window["candidates"]) == [CONFIGURED]
        return
    change = window["change_point"]
    assert 3450 <= change["row"] <= 3550  # the flip is at row 3500 of the 6,000 loaded
    assert window["kept"] == AFTER_CHANGE
    configured = window["candidates"][CONFIGURED]["metrics"]["accuracy"]
    after = window["candidates"][AFTER_CHANGE]["metrics"]["accuracy"]
    assert after > 0.9 > configured  # trained on a mix of both concepts, the other is poor
    assert job.metrics["accuracy"] == after and job.promoted
    assert job.details["n_train"] == window["candidates"][AFTER_CHANGE]["rows"]
    run = scheduler.runtime.registry._client.get_run(job.mlflow_run_id)
    assert run.data.params["window_kept"] == AFTER_CHANGE
    assert run.data.params["window_change_point_row"] == str(change["row"])
    assert run.data.metrics["candidate_after_change_accuracy"] == after
