"""The fast drift decision against Evidently's own report, on seeded frames."""

import numpy as np
import pandas as pd
import pytest

from shared.drift import (
    ALL_MISSING_IN_CURRENT,
    ALL_MISSING_IN_REFERENCE,
    MISSING_IN_CURRENT,
    NEW_IN_CURRENT,
    NOT_NUMERIC_IN_CURRENT,
    ColumnDrift,
    DriftResult,
    ReferenceProfile,
    detect_drift,
    detect_drift_fast,
)
from shared.drift.result import MISSING_RATE_ROSE, UNSEEN_CATEGORIES
from shared.drift.stattests import JENSEN_SHANNON, WASSERSTEIN

NEAR = 0.05  # scores within 5% of their threshold may differ in verdict


def by_column(result: DriftResult) -> dict[str, ColumnDrift]:
    return {item.column: item for item in result.columns}


def near_threshold(item: ColumnDrift) -> bool:
    return abs(item.score - item.threshold) <= NEAR * item.threshold


def assert_agrees(evidently: DriftResult, fast: DriftResult, exact_scores: bool = True) -> None:
    assert [item.column for item in fast.columns] == [item.column for item in evidently.columns]
    for expected, got in zip(evidently.columns, fast.columns, strict=True):
        assert got.method == expected.method, got.column
        assert got.threshold == expected.threshold, got.column
        if expected.score is None:
            assert got.score is None, got.column
            continue
        if exact_scores:
            assert got.score == pytest.approx(expected.score, rel=1e-9, abs=1e-12), got.column
        if not near_threshold(expected):
            assert got.drifted == expected.drifted, got.column


SCENARIOS = [
    # (reference rows, current rows, shift): p-value tests up to 1000 reference rows, then
    # distances; equal and unequal sizes; with and without shifts
    (300, 300, 0.0),
    (300, 300, 0.3),
    (800, 5_000, 0.0),
    (800, 5_000, 0.3),
    (1_500, 1_500, 0.0),
    (1_500, 1_500, 0.3),
    (5_000, 20_000, 0.0),
    (5_000, 20_000, 0.15),
]


@pytest.mark.parametrize(("ref_rows", "cur_rows", "shift"), SCENARIOS)
def test_verdicts_match_evidently_report(mixed_frame, ref_rows, cur_rows, shift):
    reference = mixed_frame(1, ref_rows)
    current = mixed_frame(2, cur_rows, shift)
    columns = list(reference.columns)

    evidently = detect_drift(reference, current, columns)
    fast = detect_drift_fast(ReferenceProfile.from_frame(reference, columns), current)

    assert_agrees(evidently, fast)
    assert fast.drift_share == pytest.approx(evidently.drift_share)
    assert (fast.n_reference, fast.n_current) == (ref_rows, cur_rows)
    if shift:
        assert {"normal", "city"} <= set(fast.drifted_columns)


# --- schema and data-quality changes --------------------------------------------------------------


def test_schema_changes_are_results_with_the_shared_issue_strings(mixed_frame, mixed_profile):
    current = mixed_frame(2, 1_000).drop(columns=["lognormal"]).assign(target=1, device="mobile")
    current["city"] = None
    current["normal"] = current["normal"].round(1).astype(str)
    current["empty"] = 0.5

    result = detect_drift_fast(mixed_profile, current)

    columns = by_column(result)
    assert columns["lognormal"] == ColumnDrift(
        "lognormal", None, None, None, True, MISSING_IN_CURRENT
    )
    assert columns["city"].issue == ALL_MISSING_IN_CURRENT and columns["city"].drifted
    assert columns["normal"].issue == NOT_NUMERIC_IN_CURRENT and columns["normal"].drifted
    assert columns["empty"].issue == ALL_MISSING_IN_REFERENCE and not columns["empty"].drifted
    assert columns["device"].issue == NEW_IN_CURRENT and not columns["device"].drifted
    assert "target" not in columns  # in both frames but not profiled: not reported
    counted = [item for item in result.columns if item.issue != NEW_IN_CURRENT]
    assert len(counted) == 10
    assert result.drift_share == pytest.approx(sum(item.drifted for item in counted) / 10)
    assert {"lognormal", "city", "normal"} <= set(result.drifted_columns)


def test_missing_value_jump_counts_as_drift(mixed_frame, mixed_reference, mixed_profile):
    current = mixed_frame(2, 2_000)
    rng = np.random.default_rng(0)
    current.loc[rng.random(2_000) < 0.8, "normal"] = np.nan  # Evidently: dropped, no drift
    current.loc[rng.random(2_000) < 0.05, "integer"] = np.nan  # a small rise: not an issue
    current.loc[rng.random(2_000) < 0.5, "city"] = None

    columns = by_column(detect_drift_fast(mixed_profile, current))
    evidently = by_column(detect_drift(mixed_reference, current, ["normal"]))

    assert not evidently["normal"].drifted
    normal = columns["normal"]
    assert normal.drifted and normal.issue == f"{MISSING_RATE_ROSE} from 0.0% to 79.4%"
    assert normal.method == WASSERSTEIN.method
    assert normal.score == pytest.approx(evidently["normal"].score)
    assert columns["city"].drifted and MISSING_RATE_ROSE in columns["city"].issue
    assert columns["integer"].issue is None
    assert columns["sparse"].issue is None  # 10% missing on both sides


def test_unseen_categories_are_reported_and_count_from_five_percent(mixed_frame, mixed_profile):
    current = mixed_frame(2, 2_000)
    current.loc[:29, "city"] = "rome"  # 1.5% of values: reported, JS decides (no drift)
    current.loc[:199, "plan"] = "trial"  # 10%: drift

    columns = by_column(detect_drift_fast(mixed_profile, current))

    city, plan = columns["city"], columns["plan"]
    assert city.issue == f"{UNSEEN_CATEGORIES}: 1 (1.5% of values): 'rome'"
    assert city.method == JENSEN_SHANNON.method and not city.drifted and city.score < 0.1
    assert plan.issue.startswith(f"{UNSEEN_CATEGORIES}: 1 (10.0% of values)") and plan.drifted


def test_constant_boolean_and_mixed_type_columns_match_evidently():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {
            "constant": 1.0,
            "flag": rng.random(200) > 0.5,
            "code": rng.choice(np.array([1, "A", 2.5, True], dtype=object), 200),
            "version": 1.0,
        }
    )
    current = reference.sample(frac=1, random_state=0).reset_index(drop=True)
    current["version"] = 2.0
    columns = list(reference.columns)

    fast = detect_drift_fast(ReferenceProfile.from_frame(reference, columns), current)

    assert_agrees(detect_drift(reference, current, columns), fast)
    assert fast.drifted_columns == ["version"]
    assert by_column(fast)["constant"].score == 1.0


def test_nullable_and_categorical_dtypes_are_read_like_plain_ones(mixed_frame):
    rng = np.random.default_rng(4)
    plain = pd.DataFrame(
        {"n": rng.integers(0, 40, 1_200).astype(float), "c": rng.choice(["a", "b", "c"], 1_200)}
    )
    typed = plain.astype({"n": "Int64", "c": "category"})
    typed.loc[:9, "n"] = pd.NA
    plain.loc[:9, "n"] = np.nan
    current = mixed_frame(9, 800)[["integer", "city"]].set_axis(["n", "c"], axis=1)

    a = detect_drift_fast(ReferenceProfile.from_frame(plain, ["n", "c"]), current)
    b = detect_drift_fast(ReferenceProfile.from_frame(typed, ["n", "c"]), current)

    assert a == b


def test_invalid_current_data_raises_value_error(mixed_frame, mixed_profile):
    with pytest.raises(ValueError, match="current data has no rows"):
        detect_drift_fast(mixed_profile, mixed_frame(2, 10).iloc[:0])
    with pytest.raises(ValueError, match="current data must be a pandas DataFrame"):
        detect_drift_fast(mixed_profile, [1, 2])
    with pytest.raises(ValueError, match="missing from the reference profile: height"):
        detect_drift_fast(mixed_profile, mixed_frame(2, 10), columns=["normal", "height"])


def test_parallel_columns_give_the_sequential_result(mixed_frame):
    reference = mixed_frame(1, 20_000)
    current = mixed_frame(2, 120_000, 0.1)
    profile = ReferenceProfile.from_frame(reference, list(reference.columns))

    assert detect_drift_fast(profile, current, workers=2) == detect_drift_fast(
        profile, current, workers=1
    )
