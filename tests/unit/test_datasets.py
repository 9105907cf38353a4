"""Training data checks: validation, time windows, holdout splits, fingerprints."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from shared.datasets import (
    DataValidationError,
    data_fingerprint,
    feature_columns_of,
    filter_training_window,
    split_holdout,
    validate_training_frame,
)
from shared.enums import Task

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1.0, 2.0, np.nan],
            "ts": ["2024-06-01", "2024-06-02", "2024-06-03"],
            "b": ["x", "y", "x"],
            "target": [0, 1, 0],
        }
    )


def test_feature_columns_exclude_target_and_timestamp_in_frame_order(frame):
    assert feature_columns_of(frame, "target", "ts") == ["a", "b"]
    assert feature_columns_of(frame, "target", None) == ["a", "ts", "b"]


def test_validation_accepts_partial_gaps_and_ignores_columns_outside_the_feature_list(frame):
    frame["unused"] = np.nan  # entirely empty, but not one of the features asked for
    assert validate_training_frame(frame, "target", ["a", "b"], "ts") is None
    with pytest.raises(DataValidationError, match="unused"):
        validate_training_frame(frame, "target", None, "ts")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "must be a pandas DataFrame, got list"),
        (pd.DataFrame({"a": [], "target": []}), "empty"),
        (pd.DataFrame({"a": [1, 2]}), r"target column\(s\) missing.*'target'"),
        (pd.DataFrame({"a": [1, 2], "target": [np.nan, np.nan]}), "'target' has no values"),
        (pd.DataFrame({"target": [0, 1]}), "no feature columns"),
    ],
)
def test_validation_rejects_unusable_frames(data, message):
    with pytest.raises(DataValidationError, match=message):
        validate_training_frame(data, "target", None, None)


def test_validation_names_every_missing_and_every_empty_feature(frame):
    with pytest.raises(DataValidationError, match=r"\['c', 'd'\]"):
        validate_training_frame(frame, "target", ["a", "c", "d"], None)
    frame["e"] = np.nan
    frame["f"] = None
    with pytest.raises(DataValidationError, match=r"all missing\): \['e', 'f'\]"):
        validate_training_frame(frame, "target", ["a", "e", "f"], None)


def test_validation_rejects_missing_timestamp_leaking_target_and_duplicate_columns(frame):
    with pytest.raises(DataValidationError, match=r"timestamp column.*'when'"):
        validate_training_frame(frame, "target", None, "when")
    with pytest.raises(DataValidationError, match="'target' must not be a feature"):
        validate_training_frame(frame, "target", ["a", "target"], None)
    doubled = pd.concat([frame, frame[["a"]]], axis=1)
    with pytest.raises(DataValidationError, match=r"duplicate column names.*\['a'\]"):
        validate_training_frame(doubled, "target", None, None)


def test_window_keeps_rows_strictly_inside_and_drops_unparsable_ones():
    second = timedelta(seconds=1)
    frame = pd.DataFrame(
        {
            "ts": [
                (CUTOFF + second).isoformat(),  # just inside
                CUTOFF.isoformat(),  # exactly on the edge: not newer than the cutoff
                (CUTOFF - second).isoformat(),  # just outside
                "2024-06-29T23:00:00+02:00",  # tz-aware string, converted to UTC
                "2024-06-15 08:00",  # naive: taken as UTC
                "not a date",
                None,
            ],
            "x": range(7),
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )
    kept = filter_training_window(frame, "ts", 30, NOW)
    assert kept["x"].tolist() == [0, 3, 4]
    assert kept.index.tolist() == [10, 13, 14]  # original labels survive
    assert kept["ts"].tolist() == frame.loc[[10, 13, 14], "ts"].tolist()  # values untouched
    assert len(frame) == 7


def test_window_treats_naive_now_and_naive_datetimes_as_utc():
    stamps = pd.to_datetime(["2024-05-31 12:00:01", "2024-05-31 11:59:59"])
    frame = pd.DataFrame({"ts": stamps, "x": [1, 2]})
    naive_now = datetime(2024, 6, 30, 12, 0)
    assert filter_training_window(frame, "ts", 30, naive_now)["x"].tolist() == [1]
    eastern = frame.assign(ts=stamps.tz_localize("UTC").tz_convert("America/New_York"))
    assert filter_training_window(eastern, "ts", 30, NOW)["x"].tolist() == [1]


def test_window_without_timestamp_column_is_unchanged_and_inputs_are_checked(frame):
    assert filter_training_window(frame, None, 1, NOW) is frame
    with pytest.raises(ValueError, match="window_days"):
        filter_training_window(frame, "ts", 0, NOW)
    with pytest.raises(DataValidationError, match="'when'"):
        filter_training_window(frame, "when", 30, NOW)
    epoch = pd.DataFrame({"ts": [1_717_000_000, 1_718_000_000]})
    with pytest.raises(DataValidationError, match="'ts' has dtype int64, not dates"):
        filter_training_window(epoch, "ts", 30, NOW)


def test_time_split_holds_out_the_newest_rows():
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    order = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4]  # shuffled on purpose
    frame = pd.DataFrame({"ts": days[order].astype(str), "target": order})
    frame.loc[len(frame)] = ["garbage", 99]
    train, holdout = split_holdout(frame, "target", "ts", Task.REGRESSION, 0.2, 0)
    assert holdout["target"].tolist() == [8, 9]
    assert train["target"].tolist() == list(range(8))  # oldest first; unparsable row gone
    assert 99 not in pd.concat([train, holdout])["target"].tolist()


def test_random_split_is_stratified_seeded_and_disjoint():
    frame = pd.DataFrame({"x": range(200), "target": ["a"] * 60 + ["b"] * 140})
    train, holdout = split_holdout(frame, "target", None, "classification", 0.25, 7)
    assert len(holdout) == 50 and len(train) == 150
    assert holdout["target"].value_counts().to_dict() == {"b": 35, "a": 15}  # 30 % kept
    assert train["target"].value_counts().to_dict() == {"b": 105, "a": 45}
    assert sorted(train["x"].tolist() + holdout["x"].tolist()) == list(range(200))
    again, _ = split_holdout(frame, "target", None, Task.CLASSIFICATION, 0.25, 7)
    other, _ = split_holdout(frame, "target", None, Task.CLASSIFICATION, 0.25, 8)
    assert again.index.tolist() == train.index.tolist()
    assert other.index.tolist() != train.index.tolist()


def test_random_split_falls_back_to_unstratified_when_a_class_is_a_singleton():
    frame = pd.DataFrame({"x": range(20), "target": [0] * 10 + [1] * 9 + [2]})
    train, holdout = split_holdout(frame, "target", None, Task.CLASSIFICATION, 0.2, 0)
    assert (len(train), len(holdout)) == (16, 4)
    assert set(train.index) | set(holdout.index) == set(range(20))


def test_split_rejects_tiny_frames_and_bad_test_size():
    with pytest.raises(DataValidationError, match="at least 2 rows"):
        split_holdout(pd.DataFrame({"target": [1]}), "target", None, Task.REGRESSION, 0.2, 0)
    two = pd.DataFrame({"target": [1.0, 2.0]})
    train, holdout = split_holdout(two, "target", None, Task.REGRESSION, 0.5, 0)
    assert (len(train), len(holdout)) == (1, 1)
    with pytest.raises(ValueError, match="test_size"):
        split_holdout(two, "target", None, Task.REGRESSION, 1.0, 0)


def test_fingerprint_follows_values_columns_and_dtypes_not_the_index(frame):
    digest = data_fingerprint(frame)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert data_fingerprint(frame.copy()) == digest
    assert data_fingerprint(frame.set_axis([5, 6, 7])) == digest
    changed = frame.copy()
    changed.loc[0, "b"] = "z"
    assert data_fingerprint(changed) != digest
    assert data_fingerprint(frame.rename(columns={"a": "a2"})) != digest
    assert data_fingerprint(frame.astype({"target": "float64"})) != digest
    lists = pd.DataFrame({"tags": [["a"], ["b"]]})
    assert data_fingerprint(lists) != data_fingerprint(pd.DataFrame({"tags": [["a"], ["c"]]}))
