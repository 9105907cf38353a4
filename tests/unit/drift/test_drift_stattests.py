"""Each drift test against Evidently's own stat test, and the registry against Evidently's."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shared.drift import ReferenceProfile, detect_drift_fast
from shared.drift.columns import CATEGORICAL, NUMERIC
from shared.drift.stattests import STATTESTS, THRESHOLDS, default_stattest, exceeds_threshold
from shared.drift.stattests.wasserstein import wasserstein_sorted


def evidently_stattest(reference: pd.Series, current: pd.Series, numeric: bool):
    """Evidently's default test on one column, cleaned as its ValueDrift cleans it."""
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.core import ColumnType

    column_type = ColumnType.Numerical if numeric else ColumnType.Categorical
    reference = reference.replace([-np.inf, np.inf], np.nan).dropna()
    current = current.replace([-np.inf, np.inf], np.nan).dropna()
    test = get_stattest(reference, current, column_type, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = test(reference, current, column_type, None)
    return test.display_name, result.drift_score, result.drifted, result.actual_threshold


def random_column(rng: np.random.Generator, rows: int, shift: float):
    kind = rng.integers(0, 6)
    if kind == 0:
        return True, rng.normal(shift, 1 + shift, rows)
    if kind == 1:
        values = rng.lognormal(shift, 1, rows)
        values[rng.random(rows) < 0.05] = np.inf  # Evidently drops infinities with NaN
        return True, values
    if kind == 2:
        return True, rng.integers(0, 3 + int(rng.integers(0, 6)), rows).astype(float) + shift
    if kind == 3:
        return True, (rng.random(rows) < 0.3 + shift / 3).astype(float)
    if kind == 4:
        levels = np.array(["a", "b", "c", "d", "e", "f"])[: 2 + int(rng.integers(0, 5))]
        return False, levels[np.minimum(rng.geometric(0.5 - shift / 4, rows) - 1, levels.size - 1)]
    return False, np.where(rng.random(rows) < 0.5 + shift / 4, "yes", "no")


def test_scores_equal_evidently_stattests_called_directly():
    rng = np.random.default_rng(7)
    checked = 0
    for case in range(60):
        ref_rows = int(rng.choice([50, 400, 1000, 1001, 3000]))
        cur_rows = int(rng.choice([60, 700, 2500]))
        shift = float(rng.choice([0.0, 0.05, 0.2, 0.5]))
        numeric, ref_values = random_column(np.random.default_rng(case), ref_rows, 0.0)
        _, cur_values = random_column(np.random.default_rng(case), cur_rows, shift)
        ref_values = ref_values.astype(object) if not numeric else ref_values
        reference = pd.DataFrame({"x": ref_values})
        current = pd.DataFrame({"x": cur_values})

        method, score, drifted, threshold = evidently_stattest(
            reference["x"], current["x"], numeric
        )
        profile = ReferenceProfile.from_frame(reference, ["x"])
        got = detect_drift_fast(profile, current).columns[0]

        assert profile.columns[0].kind == (NUMERIC if numeric else CATEGORICAL)
        assert (got.method, got.threshold) == (method, threshold), case
        if math.isnan(score):
            assert got.score is None and not got.drifted
        else:
            assert got.score == pytest.approx(score, rel=1e-9, abs=1e-12), case
            if got.issue is None:
                assert got.drifted == bool(drifted), case
        checked += 1
    assert checked == 60


def test_registry_names_thresholds_and_sides_are_evidentlys():
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    for name, test in STATTESTS.items():
        numeric = name in ("ks", "wasserstein")
        theirs = get_registered_stattest(
            name, ColumnType.Numerical if numeric else ColumnType.Categorical
        )
        assert (test.name, test.method, test.threshold) == (
            theirs.name,
            theirs.display_name,
            theirs.default_threshold,
        )
        assert THRESHOLDS[test.method] == test.threshold
    # p-values drift below the threshold (K-S at it too), distances at and above it
    assert exceeds_threshold("K-S p_value", 0.05, 0.05)
    assert not exceeds_threshold("chi-square p_value", 0.05, 0.05)
    assert not exceeds_threshold("Z-test p_value", 0.05, 0.05)
    assert exceeds_threshold("Wasserstein distance (normed)", 0.1, 0.1)
    assert exceeds_threshold("Jensen-Shannon distance", 0.1, 0.1)
    assert not exceeds_threshold("Jensen-Shannon distance", 0.09, 0.1)


@pytest.mark.parametrize(
    ("numeric", "n_reference", "n_values", "name"),
    [
        (True, 1000, 6, "ks"),
        (True, 1000, 5, "chisquare"),
        (True, 1000, 2, "z"),
        (False, 1000, 6, "chisquare"),
        (False, 10, 3, "chisquare"),
        (False, 1000, 2, "z"),
        (True, 1001, 6, "wasserstein"),
        (True, 1001, 5, "jensenshannon"),
        (False, 1001, 50, "jensenshannon"),
    ],
)
def test_default_choice_is_evidentlys_rule(numeric, n_reference, n_values, name):
    assert default_stattest(numeric, n_reference, n_values).name == name


def test_wasserstein_sorted_is_scipys_distance():
    rng = np.random.default_rng(0)
    for n, m in [(1, 1), (1, 7), (5, 3), (1000, 999), (20_000, 3_001)]:
        u = np.sort(rng.standard_t(3, n))
        v = np.sort(rng.normal(0.2, 2, m))
        assert wasserstein_sorted(u, v) == pytest.approx(
            stats.wasserstein_distance(u, v), rel=1e-12
        )
    ties = np.sort(rng.integers(0, 4, 500).astype(float))
    assert wasserstein_sorted(ties, ties) == 0.0
