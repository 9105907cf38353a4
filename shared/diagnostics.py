"""What a champion tells about itself, measured on its holdout when it is trained.

- Permutation importances (``drift_weighting="importance"``): how much the primary metric
  falls when a feature's values are shuffled (scikit-learn's ``permutation_importance``),
  clipped at zero and normalised to sum to one. A check then weighs each column's drift by
  it: a shifted feature the model barely uses counts for little.
- A confidence calibration (``estimate_performance``, classifiers with ``predict_proba``):
  how often the model is right at each level of its top-class probability (isotonic, so it
  only rises), fitted on the holdout. On unlabelled data the mean calibrated confidence
  estimates accuracy, as NannyML's CBPE does; realised accuracy replaces it once labels
  arrive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shared.drift.result import NEW_IN_CURRENT
from shared.enums import Task

IMPORTANCE_ROWS = 2_000  # holdout rows the importances are measured on (their cost)
IMPORTANCE_REPEATS = 3
ESTIMATE_ROWS = 20_000  # current rows an accuracy estimate reads, at most


def permutation_weights(
    model: Any, holdout: pd.DataFrame, features: list[str], target: str, seed: int = 0
) -> dict[str, float]:
    """Each feature's share of the model's permutation importance (sums to 1)."""
    from sklearn.inspection import permutation_importance

    rows = holdout.sample(min(len(holdout), IMPORTANCE_ROWS), random_state=seed)
    measured = permutation_importance(
        model,
        rows[features],
        rows[target],
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    gains = np.clip(measured.importances_mean, 0.0, None)
    total = gains.sum()
    if total <= 0:  # nothing the model relies on measurably: every feature alike
        gains, total = np.ones(len(features)), float(len(features))
    return {name: round(float(gain / total), 6) for name, gain in zip(features, gains, strict=True)}


def confidence_calibration(
    model: Any, holdout: pd.DataFrame, features: list[str], target: str, task: Task
) -> dict[str, list[float]] | None:
    """P(right | top-class probability), isotonic, as points to interpolate; None when the
    model gives no probabilities (a regressor, or a classifier without ``predict_proba``)."""
    if task is not Task.CLASSIFICATION or not hasattr(model, "predict_proba"):
        return None
    from sklearn.isotonic import IsotonicRegression

    labelled = holdout[holdout[target].notna()]
    probabilities = np.asarray(model.predict_proba(labelled[features]))
    classes = np.asarray(model.classes_)
    predicted = classes[probabilities.argmax(axis=1)]
    right = (predicted == labelled[target].to_numpy()).astype(float)
    confidence = probabilities.max(axis=1)
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    fitted.fit(confidence, right)
    return {
        "confidence": [float(value) for value in fitted.X_thresholds_],
        "accuracy": [float(value) for value in fitted.y_thresholds_],
    }


def estimated_accuracy(
    model: Any, frame: pd.DataFrame, features: list[str], calibration: dict[str, list[float]]
) -> float:
    """The accuracy the calibration expects of ``model`` on the rows of ``frame``."""
    rows = frame if len(frame) <= ESTIMATE_ROWS else frame.sample(ESTIMATE_ROWS, random_state=0)
    confidence = np.asarray(model.predict_proba(rows[features])).max(axis=1)
    expected = np.interp(confidence, calibration["confidence"], calibration["accuracy"])
    return float(np.mean(expected))


def weighted_drift_share(columns: list[dict[str, Any]], weights: dict[str, float]) -> float | None:
    """The share of drift with each checked column weighed by its importance; None when no
    checked column has a weight (the champion's features and the reference's differ)."""
    checked = [c for c in columns if c.get("issue") != NEW_IN_CURRENT]
    total = sum(weights.get(str(c["column"]), 0.0) for c in checked)
    if total <= 0:
        return None
    drifted = sum(weights.get(str(c["column"]), 0.0) for c in checked if c["drifted"])
    return drifted / total
