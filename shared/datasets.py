"""Training data checks and shaping: validation, time windows, holdout splits, fingerprints."""

from __future__ import annotations

import hashlib
import logging
import math
from datetime import UTC, datetime
from numbers import Integral, Real

import pandas as pd
from pandas.api import types as ptypes

from shared.enums import Task
from shared.errors import Invalid

logger = logging.getLogger(__name__)


class DataValidationError(Invalid):
    """Training data cannot be used; the message is shown to users as the job's error."""


def feature_columns_of(frame: pd.DataFrame, target: str, timestamp_column: str | None) -> list[str]:
    """Every column but the target, the timestamp and other date-times, in frame order.

    Date-time columns are left out: the default pipeline cannot use them, and against a
    reference from the past they would always look drifted.
    """
    _require_frame(frame)
    return [
        c
        for c in frame.columns
        if c not in (target, timestamp_column)
        and not pd.api.types.is_datetime64_any_dtype(frame[c])
    ]


def validate_training_frame(
    frame: pd.DataFrame,
    target: str,
    feature_columns: list[str] | None,
    timestamp_column: str | None,
) -> None:
    """Raise DataValidationError if ``frame`` cannot be trained on; return None otherwise.

    A single-class classification target is not checked here (``fit_model`` does it).
    """
    _require_frame(frame)
    if frame.empty:
        raise DataValidationError(
            f"training data is empty ({len(frame)} rows, {frame.shape[1]} columns)"
        )
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise DataValidationError(f"duplicate column names in training data: {duplicated}")
    _require_columns(frame, [target], "target column")
    if frame[target].isna().all():
        raise DataValidationError(f"target column '{target}' has no values (all missing)")
    if timestamp_column is not None:
        _require_columns(frame, [timestamp_column], "timestamp column")
    if feature_columns is None:
        feature_columns = feature_columns_of(frame, target, timestamp_column)
    _validate_features(frame, target, list(feature_columns))


def filter_training_window(
    frame: pd.DataFrame, timestamp_column: str | None, window_days: int, now: datetime
) -> pd.DataFrame:
    """Keep rows with ``timestamp > now - window_days``; no timestamp column -> unchanged.

    Naive timestamps (and a naive ``now``) are taken as UTC. Rows whose timestamp is missing or
    unparsable are dropped, because they cannot be placed inside the window.
    """
    _require_frame(frame)
    if isinstance(window_days, bool) or not isinstance(window_days, Integral) or window_days <= 0:
        raise ValueError(
            f"window_days must be a positive whole number of days, got {window_days!r}"
        )
    if timestamp_column is None:
        return frame
    stamps = _parse_timestamps(frame, timestamp_column)
    cutoff = _as_utc(now) - pd.Timedelta(days=int(window_days))
    _log_unparsable(stamps, timestamp_column)
    return frame.loc[(stamps > cutoff).to_numpy()].copy()


def split_holdout(
    frame: pd.DataFrame,
    target: str,
    timestamp_column: str | None,
    task: Task | str,
    test_size: float,
    random_state: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, holdout).

    With a timestamp column the newest ``test_size`` share is the holdout (rows without a
    usable timestamp are dropped); otherwise a seeded random split, stratified for
    classification when every class has at least 2 rows.
    """
    _require_frame(frame)
    _require_columns(frame, [target], "target column")
    task = Task(task)
    if isinstance(test_size, bool) or not isinstance(test_size, Real) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction between 0 and 1, got {test_size!r}")
    if timestamp_column is not None:
        return _time_split(frame, timestamp_column, test_size)
    n_test = _holdout_size(len(frame), test_size)
    stratify = _stratify_labels(frame[target], task, n_test, len(frame) - n_test)
    from sklearn.model_selection import train_test_split

    train, holdout = train_test_split(
        frame, test_size=n_test, random_state=random_state, stratify=stratify
    )
    return train, holdout


def newest_holdout(ordered: pd.DataFrame, test_size: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout) of rows already in time order: the newest ``test_size`` share held out."""
    n_test = _holdout_size(len(ordered), test_size)
    return ordered.iloc[: len(ordered) - n_test], ordered.iloc[len(ordered) - n_test :]


def data_fingerprint(frame: pd.DataFrame) -> str:
    """Sha256 hex digest of the frame's values, column names and dtypes (index ignored)."""
    _require_frame(frame)
    try:
        row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:
        # Unhashable cells (lists, dicts) still deserve a stable fingerprint.
        row_hashes = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update(repr([str(c) for c in frame.columns]).encode())
    digest.update(repr([str(t) for t in frame.dtypes]).encode())
    return digest.hexdigest()


def _parse_timestamps(frame: pd.DataFrame, column: str) -> pd.Series:
    """The column as UTC datetimes (NaT where missing/unparsable); naive values are UTC."""
    _require_columns(frame, [column], "timestamp column")
    values = frame[column]
    if ptypes.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    if ptypes.is_numeric_dtype(values):
        # Epoch numbers are ambiguous (s, ms, ns); guessing would silently misplace every row.
        raise DataValidationError(
            f"timestamp column '{column}' has dtype {values.dtype}, not dates; convert it with "
            "pd.to_datetime (e.g. unit='s' for epoch seconds) before training"
        )
    return pd.to_datetime(values, errors="coerce", utc=True, format="mixed")


def _time_split(
    frame: pd.DataFrame, timestamp_column: str, test_size: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    stamps = _parse_timestamps(frame, timestamp_column)
    _log_unparsable(stamps, timestamp_column)
    usable = stamps.notna().to_numpy()
    ordered = frame.loc[usable].iloc[stamps[usable].argsort(kind="stable").to_numpy()]
    n_test = _holdout_size(len(ordered), test_size)
    return ordered.iloc[: len(ordered) - n_test].copy(), ordered.iloc[-n_test:].copy()


def _holdout_size(n_rows: int, test_size: float) -> int:
    if n_rows < 2:
        raise DataValidationError(f"need at least 2 rows to split off a holdout set, got {n_rows}")
    # Round up like scikit-learn, but always leave at least one training row.
    return min(max(1, math.ceil(n_rows * test_size)), n_rows - 1)


def _stratify_labels(y: pd.Series, task: Task, n_test: int, n_train: int) -> pd.Series | None:
    if task is not Task.CLASSIFICATION or y.isna().any():
        return None
    counts = y.value_counts()
    # scikit-learn needs >= 2 rows per class and room for every class on both sides.
    if counts.min() < 2 or len(counts) > min(n_test, n_train):
        return None
    return y


def _validate_features(frame: pd.DataFrame, target: str, feature_columns: list[str]) -> None:
    if not feature_columns:
        raise DataValidationError("training data has no feature columns besides the target")
    if target in feature_columns:
        raise DataValidationError(f"target column '{target}' must not be a feature column")
    _require_columns(frame, feature_columns, "feature column")
    empty = [c for c in feature_columns if frame[c].isna().all()]
    if empty:
        raise DataValidationError(f"feature columns with no values (all missing): {empty}")


def _require_frame(frame: object) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(
            f"training data must be a pandas DataFrame, got {type(frame).__name__}"
        )


def _require_columns(frame: pd.DataFrame, columns: list[str], kind: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        available = ", ".join(map(str, frame.columns[:20]))
        raise DataValidationError(f"{kind}(s) missing from the data: {missing}; have: {available}")


def _as_utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize(UTC) if stamp.tz is None else stamp.tz_convert(UTC)


def _log_unparsable(stamps: pd.Series, column: str) -> None:
    dropped = int(stamps.isna().sum())
    if dropped:
        logger.warning("dropped %d rows with a missing/unparsable '%s' timestamp", dropped, column)
