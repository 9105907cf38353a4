"""Importance-weighted drift and accuracy estimated without labels (confidence-based)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from shared.diagnostics import (
    confidence_calibration,
    estimated_accuracy,
    permutation_weights,
    weighted_drift_share,
)
from shared.enums import Task
from training.pipeline import TrainingPipeline


def frame(rows: int, seed: int, shift_noise: float = 0.0, spread: float = 1.0) -> pd.DataFrame:
    """The label depends on ``signal`` only; ``noise`` is a feature the model cannot use."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, spread, rows)
    out = pd.DataFrame({"signal": signal, "noise": rng.normal(shift_noise, 1, rows)})
    flip = rng.uniform(size=rows) < 1 / (1 + np.exp(4 * np.abs(signal)))  # near 0: a coin
    out["target"] = ((signal > 0) ^ flip).astype(int)
    return out


@pytest.fixture(scope="module")
def fitted():
    train = frame(4000, 0)
    model = LogisticRegression().fit(train[["signal", "noise"]], train["target"])
    return model, frame(2000, 1)


def test_importance_goes_to_the_feature_the_model_uses(fitted):
    model, holdout = fitted
    weights = permutation_weights(model, holdout, ["signal", "noise"], "target")
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["signal"] > 0.95 and weights["noise"] < 0.05


def test_a_drifted_unimportant_column_weighs_little():
    columns = [
        {"column": "signal", "drifted": False, "issue": None},
        {"column": "noise", "drifted": True, "issue": None},
        {"column": "extra", "drifted": True, "issue": "new column in current data"},
    ]
    assert weighted_drift_share(columns, {"signal": 0.98, "noise": 0.02}) == pytest.approx(0.02)
    assert weighted_drift_share(columns, {"other": 1.0}) is None


def test_estimated_accuracy_follows_the_realised_one(fitted):
    model, holdout = fitted
    calibration = confidence_calibration(
        model, holdout, ["signal", "noise"], "target", Task.CLASSIFICATION
    )
    for spread in (1.0, 0.3):  # spread 0.3: rows near the boundary, where the model errs
        current = frame(5000, 7, spread=spread)
        realised = (model.predict(current[["signal", "noise"]]) == current["target"]).mean()
        estimate = estimated_accuracy(model, current, ["signal", "noise"], calibration)
        assert estimate == pytest.approx(realised, abs=0.03), spread
    assert confidence_calibration(model, holdout, ["signal"], "target", Task.REGRESSION) is None


def scheduler_for(settings, name, **options) -> RetrainingScheduler:
    config = RetrainingConfig(
        model_name=name,
        min_training_samples=500,
        drift_threshold=0.5,
        enable_notifications=False,
        **options,
    )
    history = frame(3000, 2)
    scheduler = RetrainingScheduler(
        config, lambda: history, TrainingPipeline(name, estimator=LogisticRegression()),
        settings=settings,
    )  # fmt: skip
    scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "first")
    scheduler.initialize_monitors(history)
    return scheduler


def test_weighting_keeps_a_shift_the_model_ignores_from_retraining(settings):
    plain = scheduler_for(settings, "plain")
    weighted = scheduler_for(settings, "weighted", drift_weighting="importance")
    try:
        shifted = frame(1000, 3, shift_noise=2.0).drop(columns="target")
        assert plain.check_retraining_needed(shifted).trigger is RetrainingTrigger.DATA_DRIFT
        check = weighted.check_retraining_needed(shifted)
        assert not check.needs_retraining, check.reason
        assert "drift share (weighted by importance) 0.0" in check.reason
        assert weighted.last_check.drift["unweighted_share"] == 0.5
    finally:
        plain.close()
        weighted.close()


def test_an_estimated_drop_calls_for_retraining_until_labels_arrive(settings):
    scheduler = scheduler_for(settings, "cbpe", estimate_performance=True)
    try:
        hard = frame(2000, 4, spread=0.2)  # the same rule, but rows near the boundary
        check = scheduler.check_retraining_needed(hard.drop(columns="target"))
        assert check.trigger is RetrainingTrigger.PERFORMANCE_DEGRADATION
        assert "estimated accuracy" in check.reason
        assert scheduler.last_check.performance["estimated"]["degraded"] == ["accuracy"]
        labelled = scheduler.check_retraining_needed(hard)  # realised metrics replace it
        assert labelled.trigger is RetrainingTrigger.CONCEPT_DRIFT
        assert scheduler.last_check.performance["estimated"] is None
    finally:
        scheduler.close()
