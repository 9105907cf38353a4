"""Change-aware training windows: train on the rows after the last change when they suffice.

The rows a job loads have a time order: the timestamp column when there is one, else the
order the loader returned them in (oldest first). When a champion exists, its errors on those
rows, in that order, form a stream. ADWIN (river's adaptive windowing detector, ``delta``
below) decides whether that stream's mean changed, and roughly where: it confirms a change a
little after it happens. ruptures' binary segmentation (one breakpoint, least squares) then
places the change to the row, searching 2,000 rows on each side of ADWIN's cut (a search
that grew with the table would cost its square). Two candidates are trained and scored on
the same, newest holdout:

- the configured window (every labelled row in ``training_data_window_days``), and
- the rows after the change, when there are at least ``min_training_samples`` of them (the
  rule of the configured window too: labelled rows before the holdout is split off); the
  holdout is then the newest ``test_size`` share of those rows, so both are judged on the
  concept in force now.

The candidate trained after the change is kept only when it beats the configured window by the
promotion margin (``promotion_min_improvement``, relative): on a stream with no real change a
smaller window would otherwise win half the time by noise, with less data behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.config import RetrainingConfig
from shared.datasets import newest_holdout, split_holdout
from shared.enums import Task
from shared.evaluation import relative_drop

if TYPE_CHECKING:  # scikit-learn only where a model is trained
    from shared.modeling import TrainingPipeline

ADWIN_DELTA = 0.002  # river's default: a false detection on a stationary stream is rare
_MIN_SEGMENT = 50  # rows on each side of a located change
# Rows searched on each side of ADWIN's cut: its lag is far shorter, and the search costs the
# square of the stretch, so it must not grow with the table.
_LOCATE_REACH = 2_000
_TOLERANCE = 1e-9  # float noise in a relative gain
CONFIGURED = "configured_window"
AFTER_CHANGE = "after_change"


@dataclass(frozen=True)
class ChangePoint:
    """Where the champion's error rate last changed, in the rows' time order."""

    row: int  # position in the ordered rows: the first row of the new regime
    rows_after: int
    error_before: float
    error_after: float
    at: str | None = None  # the timestamp of that row, when rows have one

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "rows_after": self.rows_after,
            "error_before": round(self.error_before, 6),
            "error_after": round(self.error_after, 6),
            "at": self.at,
            "method": f"ADWIN(delta={ADWIN_DELTA}) on the champion's errors, located by "
            "ruptures' binary segmentation (l2)",
        }


@dataclass
class TrainingPlan:
    """The candidates' training rows and the one holdout they are all scored on."""

    holdout: pd.DataFrame
    candidates: dict[str, pd.DataFrame]  # name -> training rows
    change_point: ChangePoint | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def change_too_recent(self) -> bool:
        """A change was found, but too few rows after it to train on: a retraining now could
        not learn the new regime, so its outcome says nothing about whether one would pay."""
        return self.change_point is not None and AFTER_CHANGE not in self.candidates


def in_time_order(frame: pd.DataFrame, timestamp_column: str | None) -> pd.DataFrame:
    """The rows oldest first: by their timestamp, or as the loader returned them."""
    if timestamp_column is None:
        return frame
    stamps = pd.to_datetime(frame[timestamp_column], errors="coerce", utc=True, format="mixed")
    usable = stamps.notna().to_numpy()
    return frame.loc[usable].iloc[stamps[usable].argsort(kind="stable").to_numpy()]


def error_stream(model: Any, frame: pd.DataFrame, features: list[str], target: str, task: Task):
    """The model's error on each row, in order: 0/1 misclassified, or absolute error."""
    predicted = np.asarray(model.predict(frame[features]))
    actual = frame[target].to_numpy()
    if task is Task.CLASSIFICATION:
        return (predicted != actual).astype(float)
    return np.abs(predicted.astype(float) - actual.astype(float))


def most_recent_change(
    errors: np.ndarray, timestamps: pd.Series | None = None
) -> ChangePoint | None:
    """ADWIN over the stream; its window after the last detection starts at the change."""
    from river.drift import ADWIN

    detector = ADWIN(delta=ADWIN_DELTA)
    detected = False
    for error in errors:
        detector.update(float(error))
        detected = detected or detector.drift_detected
    if not detected:
        return None
    row = _locate(errors, len(errors) - int(detector.width))
    if row <= 0 or row >= len(errors):
        return None
    at = None if timestamps is None else pd.Timestamp(timestamps.iloc[row]).isoformat()
    return ChangePoint(
        row=row,
        rows_after=len(errors) - row,
        error_before=float(np.mean(errors[:row])),
        error_after=float(np.mean(errors[row:])),
        at=at,
    )


def _locate(errors: np.ndarray, cut: int) -> int:
    """Where the change ADWIN confirmed at ``cut`` happened: one least-squares breakpoint in
    the stretch around the cut (its detection lag before it, as much after it), row-exact."""
    import ruptures

    start = max(0, cut - _LOCATE_REACH)
    segment = errors[start : min(len(errors), cut + _LOCATE_REACH)].reshape(-1, 1)
    if len(segment) < 2 * _MIN_SEGMENT:
        return cut
    found = ruptures.Binseg(model="l2", min_size=_MIN_SEGMENT, jump=1).fit(segment)
    return start + found.predict(n_bkps=1)[0]


def plan_training(
    ordered: pd.DataFrame,
    *,
    test_size: float,
    min_training_samples: int,
    change: ChangePoint | None,
) -> TrainingPlan:
    """The holdout and the candidates' rows, given the most recent change (None: none)."""
    if change is not None:
        after = ordered.iloc[change.row :]
        n_holdout = math.ceil(len(after) * test_size)
        if len(after) >= min_training_samples and len(after) - n_holdout >= 1:
            return TrainingPlan(
                holdout=after.iloc[len(after) - n_holdout :],
                candidates={
                    CONFIGURED: ordered.iloc[: len(ordered) - n_holdout],
                    AFTER_CHANGE: after.iloc[: len(after) - n_holdout],
                },
                change_point=change,
            )
        note = (
            f"the change at row {change.row} leaves {len(after)} rows after it, fewer than "
            f"min_training_samples ({min_training_samples}): trained on the configured window "
            "only"
        )
    else:
        note = "no change in the champion's errors: trained on the configured window"
    train, holdout = newest_holdout(ordered, test_size)
    return TrainingPlan(
        holdout=holdout, candidates={CONFIGURED: train}, change_point=change, notes=[note]
    )


def plan_for(
    config: RetrainingConfig,
    window: pd.DataFrame,
    champion: Any,
    champion_features: list[str] | None,
    task: Task,
    pipeline: TrainingPipeline,
) -> TrainingPlan:
    """Which rows each candidate of a job trains on, and the one holdout."""
    target, timestamp = config.target_column, config.timestamp_column
    if not config.change_aware_window:  # the configured window, as ever
        train, holdout = split_holdout(
            window, target, timestamp, task, pipeline.test_size, pipeline.random_state
        )
        return TrainingPlan(holdout, {CONFIGURED: train}, notes=["change_aware_window is off"])
    ordered = in_time_order(window, timestamp)
    change = None
    features = champion_features or []
    if champion is not None and all(column in ordered.columns for column in features):
        errors = error_stream(champion, ordered, features, target, task)
        change = most_recent_change(errors, ordered[timestamp] if timestamp else None)
    return plan_training(
        ordered,
        test_size=pipeline.test_size,
        min_training_samples=config.min_training_samples,
        change=change,
    )


def candidate_to_keep(
    scores: dict[str, dict[str, float]], metric: str, higher: bool, margin: float
) -> str:
    """The rows after a change win only when better by the promotion margin: less data, so
    a tie or a difference within noise goes to the configured window."""
    configured = scores[CONFIGURED].get(metric)
    after = scores.get(AFTER_CHANGE, {}).get(metric)
    if configured is None or after is None:
        return CONFIGURED
    gain = -relative_drop(configured, after, higher)
    return AFTER_CHANGE if gain > 0 and gain >= margin - _TOLERANCE else CONFIGURED
