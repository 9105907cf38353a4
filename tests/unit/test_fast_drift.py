"""The fast drift decision against Evidently's own report and stat tests, on seeded frames."""

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shared.drift import (
    ALL_MISSING_IN_CURRENT,
    ALL_MISSING_IN_REFERENCE,
    MISSING_IN_CURRENT,
    NEW_IN_CURRENT,
    NOT_NUMERIC_IN_CURRENT,
    ColumnDrift,
    DriftResult,
    detect_drift,
)
from shared.fast_drift import (
    CATEGORICAL,
    JENSEN_SHANNON,
    MISSING_RATE_ROSE,
    NUMERIC,
    UNSEEN_CATEGORIES,
    WASSERSTEIN,
    ReferenceProfile,
    detect_drift_fast,
    j_functional,
    render_html_report,
    run_fast_drift,
    sampled_wasserstein,
    wasserstein_sample_size,
    wasserstein_sampling_error,
    wasserstein_sorted,
)

NEAR = 0.05  # scores within 5% of their threshold may differ in verdict


def make_frame(seed: int, rows: int, shift: float = 0.0) -> pd.DataFrame:
    """Numeric (continuous, integer, few values, binary), boolean and categorical columns."""
    rng = np.random.default_rng(seed)
    city_p = [0.4, 0.3, 0.2, 0.1] if not shift else [0.25, 0.25, 0.25, 0.25]
    few_p = [0.5, 0.3, 0.2] if not shift else [0.3, 0.3, 0.4]
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1, rows),
            "lognormal": rng.lognormal(0, 1, rows) * (1 + shift),
            "integer": rng.integers(0, 50, rows) + int(shift * 10),
            "few": rng.choice([0.0, 1.0, 2.0], rows, p=few_p),
            "binary": rng.choice([0, 1], rows),
            "flag": rng.random(rows) > 0.5 + shift / 5,
            "city": rng.choice(["paris", "lyon", "nice", "lille"], rows, p=city_p),
            "plan": rng.choice(["free", "paid"], rows),
            "sparse": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(shift, 1, rows)),
        }
    )


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
def test_verdicts_match_evidently_report(ref_rows, cur_rows, shift):
    reference = make_frame(1, ref_rows)
    current = make_frame(2, cur_rows, shift)
    columns = list(reference.columns)

    evidently = detect_drift(reference, current, columns)
    fast = detect_drift_fast(ReferenceProfile.from_frame(reference, columns), current)

    assert_agrees(evidently, fast)
    assert fast.drift_share == pytest.approx(evidently.drift_share)
    assert (fast.n_reference, fast.n_current) == (ref_rows, cur_rows)
    if shift:
        assert {"normal", "city"} <= set(fast.drifted_columns)


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


def test_large_reference_is_compressed_with_exact_error_bound():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.lognormal(0, 1, 60_000)})
    current = pd.DataFrame({"x": rng.lognormal(0.1, 1, 9_000)})

    profile = ReferenceProfile.from_frame(reference, ["x"], keep=2_000)
    column = profile.column("x")
    full = np.sort(reference["x"].to_numpy())
    exact = stats.wasserstein_distance(full, current["x"]) / np.std(full)
    got = detect_drift_fast(profile, current).columns[0]

    assert column.values.size == 2_000 and column.n_valid == 60_000
    assert column.std == pytest.approx(np.std(full))
    assert column.compression_error == pytest.approx(
        stats.wasserstein_distance(full, column.values), rel=1e-9
    )
    # triangle inequality: the score is within the stored error of the full-reference score
    assert abs(got.score - exact) <= column.compression_error / column.std + 1e-12
    assert column.compression_error / column.std < 0.01


# --- sampling: the stated error bound -------------------------------------------------------------

DISTRIBUTIONS = {
    "normal": lambda rng, n, shift: rng.normal(shift, 1, n),
    "lognormal": lambda rng, n, shift: rng.lognormal(shift, 1, n),
    "uniform": lambda rng, n, shift: rng.uniform(shift, 1 + shift, n),
    "student_t5": lambda rng, n, shift: rng.standard_t(5, n) + shift,
}


def test_stated_sample_sizes():
    # the module docstring's numbers: normal columns (J / std = 1.61), default m = 250,000
    assert wasserstein_sampling_error(1.61, 250_000, 1.0) == pytest.approx(0.0032, abs=1e-4)
    assert wasserstein_sampling_error(1.61, 250_000, 0.01) == pytest.approx(0.032, abs=1e-3)
    assert wasserstein_sample_size(1.61, 0.032, 0.01) <= 254_000
    sample = np.sort(np.random.default_rng(0).normal(0, 3, 200_000))
    assert j_functional(sample) / np.std(sample) == pytest.approx(1.6147, rel=0.01)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_sampled_wasserstein_stays_within_the_stated_error(name):
    draw = DISTRIBUTIONS[name]
    rng = np.random.default_rng(11)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": draw(rng, 20_000, 0.0)}), ["x"])
    column = profile.column("x")
    size, delta = 10_000, 0.01
    for shift in (0.0, 0.1, 0.3):
        values = np.sort(draw(rng, 200_000, shift))
        full = wasserstein_sorted(column.values, values) / column.std
        j_over_std = j_functional(values) / column.std  # J of all current values
        errors, bounds = [], []
        for seed in range(20):
            estimate, bound = sampled_wasserstein(
                column, values, size, delta, np.random.default_rng(seed)
            )
            errors.append(abs(estimate - full))
            bounds.append(bound)
        # the stated bounds: E|error| <= J / (std sqrt(m)), and |error| < e(delta) but with
        # probability delta; the guard e is computed from the sample's own J
        assert np.mean(errors) <= wasserstein_sampling_error(j_over_std, size, 1.0)
        assert max(errors) < wasserstein_sampling_error(j_over_std, size, delta)
        assert all(error < bound for error, bound in zip(errors, bounds, strict=True))
        assert np.mean(bounds) == pytest.approx(
            wasserstein_sampling_error(j_over_std, size, delta), rel=0.1
        )


def test_sampled_score_is_used_only_away_from_the_threshold():
    rng = np.random.default_rng(5)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(0, 1, 20_000)}), ["x"])
    options = {"sample_above": 100_000, "sample_size": 120_000}  # guard about 0.046
    for shift, use_sample in ((0.0, True), (0.1, False), (0.5, True)):
        current = pd.DataFrame({"x": rng.normal(shift, 1, 300_000)})

        run = run_fast_drift(profile, current, **options)
        full = run_fast_drift(profile, current, sample_above=None).result.columns[0]

        note, got = run.notes["x"], run.result.columns[0]
        assert note.sampled == use_sample and note.recomputed == (not use_sample)
        assert note.error_bound == pytest.approx(0.046, abs=0.005)
        assert got.drifted == full.drifted
        if use_sample:
            assert abs(got.score - full.score) < note.error_bound
        else:
            assert got == full


# --- schema and data-quality changes --------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_frame(1, 1_500).assign(empty=np.nan, target=0)


@pytest.fixture(scope="module")
def profile(reference) -> ReferenceProfile:
    columns = [name for name in reference.columns if name != "target"]
    return ReferenceProfile.from_frame(reference, columns)


def test_schema_changes_are_results_with_shared_drift_issue_strings(reference, profile):
    current = make_frame(2, 1_000).drop(columns=["lognormal"]).assign(target=1, device="mobile")
    current["city"] = None
    current["normal"] = current["normal"].round(1).astype(str)
    current["empty"] = 0.5

    result = detect_drift_fast(profile, current)

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


def test_missing_value_jump_counts_as_drift(reference, profile):
    current = make_frame(2, 2_000)
    rng = np.random.default_rng(0)
    current.loc[rng.random(2_000) < 0.8, "normal"] = np.nan  # Evidently: dropped, no drift
    current.loc[rng.random(2_000) < 0.05, "integer"] = np.nan  # a small rise: not an issue
    current.loc[rng.random(2_000) < 0.5, "city"] = None

    columns = by_column(detect_drift_fast(profile, current))
    evidently = by_column(detect_drift(reference, current, ["normal"]))

    assert not evidently["normal"].drifted
    normal = columns["normal"]
    assert normal.drifted and normal.issue == f"{MISSING_RATE_ROSE} from 0.0% to 79.4%"
    assert normal.method == WASSERSTEIN and normal.score == pytest.approx(evidently["normal"].score)
    assert columns["city"].drifted and MISSING_RATE_ROSE in columns["city"].issue
    assert columns["integer"].issue is None
    assert columns["sparse"].issue is None  # 10% missing on both sides


def test_unseen_categories_are_reported_and_count_from_five_percent(profile):
    current = make_frame(2, 2_000)
    current.loc[:29, "city"] = "rome"  # 1.5% of values: reported, JS decides (no drift)
    current.loc[:199, "plan"] = "trial"  # 10%: drift

    columns = by_column(detect_drift_fast(profile, current))

    city, plan = columns["city"], columns["plan"]
    assert city.issue == f"{UNSEEN_CATEGORIES}: 1 (1.5% of values): 'rome'"
    assert city.method == JENSEN_SHANNON and not city.drifted and city.score < 0.1
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


def test_nullable_and_categorical_dtypes_are_read_like_plain_ones():
    rng = np.random.default_rng(4)
    plain = pd.DataFrame(
        {"n": rng.integers(0, 40, 1_200).astype(float), "c": rng.choice(["a", "b", "c"], 1_200)}
    )
    typed = plain.astype({"n": "Int64", "c": "category"})
    typed.loc[:9, "n"] = pd.NA
    plain.loc[:9, "n"] = np.nan
    current = make_frame(9, 800)[["integer", "city"]].set_axis(["n", "c"], axis=1)

    a = detect_drift_fast(ReferenceProfile.from_frame(plain, ["n", "c"]), current)
    b = detect_drift_fast(ReferenceProfile.from_frame(typed, ["n", "c"]), current)

    assert a == b


def test_invalid_inputs_raise_value_error(profile):
    with pytest.raises(ValueError, match="missing from reference data: height"):
        ReferenceProfile.from_frame(make_frame(1, 10), ["normal", "height"])
    with pytest.raises(ValueError, match="reference data has no rows"):
        ReferenceProfile.from_frame(make_frame(1, 10).iloc[:0], ["normal"])
    with pytest.raises(ValueError, match="must be a list of column names"):
        ReferenceProfile.from_frame(make_frame(1, 10), "normal")
    with pytest.raises(ValueError, match="current data has no rows"):
        detect_drift_fast(profile, make_frame(2, 10).iloc[:0])
    with pytest.raises(ValueError, match="current data must be a pandas DataFrame"):
        detect_drift_fast(profile, [1, 2])
    with pytest.raises(ValueError, match="missing from the reference profile: height"):
        detect_drift_fast(profile, make_frame(2, 10), columns=["normal", "height"])


# --- the profile's bytes, parallel columns, the HTML ---------------------------------------------


def test_profile_round_trips_through_its_bytes(profile, tmp_path):
    loaded = ReferenceProfile.from_bytes(profile.to_bytes())
    current = make_frame(2, 3_000, 0.2)

    assert loaded.column_names == profile.column_names
    assert loaded.reference_columns == profile.reference_columns
    for before, after in zip(profile.columns, loaded.columns, strict=True):
        assert (before.name, before.kind, before.n_valid, before.n_unique, before.std) == (
            after.name,
            after.kind,
            after.n_valid,
            after.n_unique,
            after.std,
        )
        assert before.key_counts() == after.key_counts()
        if before.values is not None:
            assert np.array_equal(before.values, after.values)
    path = tmp_path / "profile.npz"
    path.write_bytes(profile.to_bytes())
    assert detect_drift_fast(path, current) == detect_drift_fast(profile, current)
    pd.testing.assert_frame_equal(loaded.reference_sample(), profile.reference_sample())


def test_profile_of_another_format_is_refused():
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(b'{"format": "x", "version": 1}', dtype=np.uint8))
    with pytest.raises(ValueError, match="not a version 1 reference profile"):
        ReferenceProfile.from_bytes(buffer.getvalue())


def test_parallel_columns_give_the_sequential_result():
    reference = make_frame(1, 20_000)
    current = make_frame(2, 120_000, 0.1)
    profile = ReferenceProfile.from_frame(reference, list(reference.columns))

    assert detect_drift_fast(profile, current, workers=2) == detect_drift_fast(
        profile, current, workers=1
    )


def test_html_report_is_evidentlys_headed_by_the_verdict():
    reference = make_frame(1, 400)[["normal", "city"]]
    current = make_frame(2, 400, 0.3)[["normal", "city"]]
    profile = ReferenceProfile.from_frame(reference, ["normal", "city"])

    result = detect_drift_fast(profile, current)
    text = render_html_report(profile, current, result)

    assert text.index('id="drift-verdict"') < text.index('id="root_metric_')  # Evidently's
    assert result.summary().replace(",", "") in text.replace(",", "")
    assert "seeded samples of 400 reference and 400 current rows" in text


def test_html_report_without_reference_rows_still_shows_the_verdict():
    reference = make_frame(1, 300)
    profile = ReferenceProfile.from_frame(reference, ["normal"], html_rows=0)
    result = detect_drift_fast(profile, make_frame(2, 300))

    text = render_html_report(profile, make_frame(2, 300), result)

    assert "Drift verdict of record" in text and "could not be rendered" in text
