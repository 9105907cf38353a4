"""Metric directions, relative drops and model scoring."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from shared.enums import Task
from shared.evaluation import (
    HIGHER_IS_BETTER,
    compute_metrics,
    default_primary_metric,
    metric_higher_is_better,
    relative_drop,
)


class FixedModel:
    """Returns canned predictions, so expected metrics can be worked out by hand."""

    def __init__(self, predictions, classes=None, proba=None):
        self.predictions = np.asarray(predictions)
        if classes is not None:
            self.classes_ = np.asarray(classes)
        if proba is not None:
            self.proba = np.asarray(proba)

    def predict(self, X):
        return self.predictions[: len(X)]

    def __getattr__(self, name):
        if name == "predict_proba" and "proba" in self.__dict__:
            return lambda X: self.proba[: len(X)]
        raise AttributeError(name)


def frame_of(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n)})


def test_metric_directions():
    assert {k for k, v in HIGHER_IS_BETTER.items() if v} == {
        "accuracy",
        "f1_score",
        "precision",
        "recall",
        "roc_auc",
        "r2",
    }
    assert {k for k, v in HIGHER_IS_BETTER.items() if not v} == {"rmse", "mae", "mse", "log_loss"}
    assert metric_higher_is_better("roc_auc") is True
    assert metric_higher_is_better("mae") is False
    with pytest.raises(ValueError, match="unknown metric 'auc_pr'"):
        metric_higher_is_better("auc_pr")
    with pytest.raises(TypeError):
        HIGHER_IS_BETTER["auc_pr"] = True  # shared by every caller, so read-only


def test_default_primary_metric():
    assert default_primary_metric(Task.CLASSIFICATION) == "accuracy"
    assert default_primary_metric("regression") == "rmse"
    with pytest.raises(ValueError, match="clustering"):
        default_primary_metric("clustering")


@pytest.mark.parametrize(
    ("baseline", "current", "higher", "expected"),
    [
        (0.8, 0.72, True, 0.1),  # accuracy fell 10 %
        (0.8, 0.88, True, -0.1),  # accuracy rose: negative drop
        (2.0, 2.5, False, 0.25),  # rmse grew 25 %: worse
        (2.0, 1.5, False, -0.25),  # rmse shrank: better
        (-0.5, -1.0, True, 1.0),  # negative r2 baseline: divided by |baseline|
        (0.0, 0.0, True, 0.0),
        (0.0, -0.1, True, math.inf),
        (0.0, 0.1, True, -math.inf),
        (0.0, 0.1, False, math.inf),
        (0.0, -0.1, False, -math.inf),
    ],
)
def test_relative_drop(baseline, current, higher, expected):
    assert relative_drop(baseline, current, higher) == pytest.approx(expected)


def test_relative_drop_rejects_non_numbers():
    with pytest.raises(ValueError, match="current"):
        relative_drop(0.8, float("nan"), True)
    with pytest.raises(ValueError, match="baseline"):
        relative_drop(None, 0.5, True)


def test_binary_metrics_take_the_larger_label_as_positive():
    y = pd.Series(["yes", "yes", "no", "no"])
    model = FixedModel(
        ["yes", "no", "no", "no"],
        classes=["no", "yes"],
        proba=[[0.1, 0.9], [0.6, 0.4], [0.7, 0.3], [0.5, 0.5]],
    )
    metrics = compute_metrics(model, frame_of(4), y, Task.CLASSIFICATION)
    # positive = "yes": precision 1/1, recall 1/2 (with "no" it would be 2/3 and 1)
    assert metrics == {
        "accuracy": 0.75,
        "f1_score": 0.666667,
        "precision": 1.0,
        "recall": 0.5,
        "roc_auc": 0.75,  # yes-scores .9, .4 vs no-scores .3, .5: 3 of 4 pairs ordered
    }
    assert all(type(v) is float for v in metrics.values())


def test_multiclass_metrics_are_support_weighted():
    y = pd.Series([0, 0, 1, 1, 2, 2])
    model = FixedModel([0, 0, 1, 2, 2, 2], classes=[0, 1, 2])
    metrics = compute_metrics(model, frame_of(6), y, "classification")
    # per class precision 1, 1, 2/3; recall 1, 1/2, 1; f1 1, 2/3, 4/5; equal supports
    assert metrics == {
        "accuracy": 0.833333,
        "precision": 0.888889,
        "recall": 0.833333,
        "f1_score": 0.822222,
    }  # no predict_proba: roc_auc left out


def test_roc_auc_left_out_when_the_holdout_has_one_class():
    model = FixedModel([1, 1, 0], classes=[0, 1], proba=[[0.2, 0.8]] * 3)
    metrics = compute_metrics(model, frame_of(3), pd.Series([1, 1, 1]), Task.CLASSIFICATION)
    assert "roc_auc" not in metrics
    assert metrics["accuracy"] == 0.666667


def test_regression_metrics_by_hand_and_unlabelled_rows_ignored():
    y = pd.Series([1.0, 2.0, 3.0, 4.0, np.nan])
    model = FixedModel([1.0, 2.0, 3.0, 6.0, 100.0])
    metrics = compute_metrics(model, frame_of(5), y, Task.REGRESSION)
    # errors 0, 0, 0, 2 -> mae 0.5, rmse 1, r2 = 1 - 4 / 5
    assert metrics == {"rmse": 1.0, "mae": 0.5, "r2": 0.2}


def test_r2_left_out_for_a_single_labelled_row():
    y = pd.Series([2.0, np.nan])
    metrics = compute_metrics(FixedModel([3.0, 0.0]), frame_of(2), y, Task.REGRESSION)
    assert metrics == {"rmse": 1.0, "mae": 1.0}  # r2 is undefined for one sample


def test_compute_metrics_rejects_mismatched_or_unlabelled_input():
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        compute_metrics(FixedModel([1, 2, 3]), frame_of(3), pd.Series([1, 2]), Task.REGRESSION)
    with pytest.raises(ValueError, match="no rows with a known label"):
        compute_metrics(FixedModel([1]), frame_of(1), pd.Series([np.nan]), Task.REGRESSION)


def test_real_models_give_every_metric():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y_class = pd.Series((X["a"] + X["b"] > 0).astype(int))
    classifier = LogisticRegression().fit(X, y_class)
    scores = compute_metrics(classifier, X, y_class, Task.CLASSIFICATION)
    assert set(scores) == {"accuracy", "f1_score", "precision", "recall", "roc_auc"}
    assert scores["accuracy"] > 0.95 and scores["roc_auc"] > 0.99
    y_reg = 3 * X["a"] - X["b"]
    regression = compute_metrics(LinearRegression().fit(X, y_reg), X, y_reg, "regression")
    assert regression["r2"] == 1.0 and regression["rmse"] == 0.0
