"""Model scoring and metric comparison: which way is better, and by how much it dropped."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.enums import Task

if TYPE_CHECKING:
    from shared.config import RetrainingConfig

# Read-only so no caller can change the meaning of a metric for everyone else.
HIGHER_IS_BETTER: Mapping[str, bool] = MappingProxyType(
    {
        "accuracy": True,
        "f1_score": True,
        "precision": True,
        "recall": True,
        "roc_auc": True,
        "r2": True,
        "rmse": False,
        "mae": False,
        "mse": False,
        "log_loss": False,
    }
)


# What training computes on the holdout, so what promotion can compare.
COMPUTED_METRICS: Mapping[Task, tuple[str, ...]] = MappingProxyType(
    {
        Task.CLASSIFICATION: ("accuracy", "f1_score", "precision", "recall", "roc_auc"),
        Task.REGRESSION: ("rmse", "mae", "r2"),
    }
)


def metric_higher_is_better(name: str) -> bool:
    """True when a larger value of metric ``name`` is better; unknown names raise ValueError."""
    try:
        return HIGHER_IS_BETTER[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(HIGHER_IS_BETTER))
        raise ValueError(f"unknown metric {name!r}; known metrics: {known}") from None


def default_primary_metric(task: Task | str) -> str:
    """The metric promotion compares when none is configured."""
    return "accuracy" if Task(task) is Task.CLASSIFICATION else "rmse"


def primary_metric(config: RetrainingConfig, task: Task | str) -> tuple[str, bool]:
    """The metric promotion and concept drift are judged on, and whether higher is better."""
    metric = config.primary_metric or default_primary_metric(task)
    higher = config.primary_metric_higher_is_better
    return metric, metric_higher_is_better(metric) if higher is None else higher


def compute_metrics(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    task: Task | str,
    *,
    predicted: np.ndarray | None = None,
) -> dict[str, float]:
    """Score a fitted model on (X, y); rows with a missing label are ignored.

    ``predicted``: the model's predictions for X when the caller has them already.
    Classification: accuracy, f1_score, precision, recall (binary: positive class = the larger
    label; multiclass: weighted), and roc_auc when computable. Regression: rmse, mae, r2.
    Values are Python floats rounded to 6 decimals; undefined (non-finite) ones are left out.
    """
    task = Task(task)
    if predicted is not None and len(predicted) != len(X):
        raise ValueError(f"X has {len(X)} rows but {len(predicted)} predictions were given")
    known = pd.Series(y).notna().to_numpy()
    X, y = _labelled_rows(X, y)
    y_pred = np.asarray(model.predict(X) if predicted is None else np.asarray(predicted)[known])
    if task is Task.CLASSIFICATION:
        metrics = _classification_metrics(model, X, y, y_pred)
    else:
        metrics = _regression_metrics(y.to_numpy(dtype=float), y_pred)
    return {k: round(float(v), 6) for k, v in metrics.items() if math.isfinite(v)}


def relative_drop(baseline: float, current: float, higher_is_better: bool) -> float:
    """How much worse ``current`` is than ``baseline``, relative to |baseline|.

    Positive means worse, negative means better. A zero baseline gives 0.0 when unchanged,
    otherwise +inf (worse) or -inf (better).
    """
    for label, value in (("baseline", baseline), ("current", current)):
        if not isinstance(value, int | float | np.number) or math.isnan(value):
            raise ValueError(f"{label} metric value must be a number, got {value!r}")
    worsening = (baseline - current) if higher_is_better else (current - baseline)
    if baseline == 0:
        if worsening == 0:
            return 0.0
        return math.inf if worsening > 0 else -math.inf
    return float(worsening / abs(baseline))


def _labelled_rows(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    y = pd.Series(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    known = y.notna().to_numpy()
    if not known.any():
        raise ValueError("cannot compute metrics: no rows with a known label")
    return X[known], y[known]


def _classification_metrics(
    model, X: pd.DataFrame, y: pd.Series, y_pred: np.ndarray
) -> dict[str, float]:
    # scikit-learn is imported lazily so light callers (config checks) stay light.
    from sklearn import metrics as skm

    y_true = y.to_numpy()
    classes = getattr(model, "classes_", None)
    known = [y_true, y_pred] if classes is None else [y_true, y_pred, np.asarray(classes)]
    labels = np.unique(np.concatenate(known))
    if len(labels) == 2:
        average = {"average": "binary", "pos_label": labels[-1]}
    else:
        average = {"average": "weighted"}
    scores = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "f1_score": skm.f1_score(y_true, y_pred, zero_division=0, **average),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **average),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **average),
    }
    auc = _roc_auc(model, X, y_true, classes)
    if auc is not None:
        scores["roc_auc"] = auc
    return scores


def _roc_auc(model, X: pd.DataFrame, y_true: np.ndarray, classes) -> float | None:
    """ROC AUC, or None when it is not defined for this model and these labels."""
    from sklearn.metrics import roc_auc_score

    present = np.unique(y_true)
    if classes is None or not hasattr(model, "predict_proba") or len(present) < 2:
        return None
    if not np.isin(present, classes).all():
        return None  # labels the model never saw have no probability column
    proba = np.asarray(model.predict_proba(X))
    try:
        if len(classes) == 2:
            # predict_proba columns follow the sorted classes_, so column 1 is the larger label.
            return roc_auc_score(y_true == classes[1], proba[:, 1])
        return roc_auc_score(y_true, proba, multi_class="ovr", average="weighted", labels=classes)
    except ValueError:
        return None


def _regression_metrics(y_true: np.ndarray, y_pred) -> dict[str, float]:
    from sklearn import metrics as skm

    scores = {
        "rmse": skm.root_mean_squared_error(y_true, y_pred),
        "mae": skm.mean_absolute_error(y_true, y_pred),
    }
    if len(y_true) >= 2:  # r2 is undefined (and warns) for a single sample
        scores["r2"] = skm.r2_score(y_true, y_pred)
    return scores
