"""Per-column drift tests and thresholds chosen by the config; Evidently's stay the default."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shared.config import RetrainingConfig
from shared.drift import (
    THRESHOLDS,
    ColumnDrift,
    ColumnOverride,
    DriftOptions,
    DriftResult,
    ReferenceProfile,
    run_fast_drift,
)
from shared.drift.result import METHOD_CANNOT_TEST, UNSEEN_CATEGORIES
from shared.drift.stattests import CHI_SQUARE, JENSEN_SHANNON, KS, WASSERSTEIN

NUMERIC_COLUMNS = ["normal", "lognormal", "integer", "few", "binary", "sparse"]
CATEGORICAL_COLUMNS = ["flag", "city", "plan"]


def by_column(result: DriftResult) -> dict[str, ColumnDrift]:
    return {item.column: item for item in result.columns}


def check(profile, current, **config) -> dict[str, ColumnDrift]:
    """The verdicts with the options a config of these ``drift_*`` fields sets."""
    options = DriftOptions.from_config(RetrainingConfig(model_name="m", **config))
    return by_column(run_fast_drift(profile, current, options=options).result)


@pytest.mark.parametrize(
    ("ref_rows", "cur_rows", "shift"),
    [(300, 300, 0.0), (800, 5_000, 0.3), (1_500, 1_500, 0.3), (5_000, 20_000, 0.15)],
)
def test_default_options_change_no_verdict(mixed_frame, ref_rows, cur_rows, shift):
    reference = mixed_frame(1, ref_rows)
    current = mixed_frame(2, cur_rows, shift)
    profile = ReferenceProfile.from_frame(reference, list(reference.columns))
    from_config = DriftOptions.from_config(RetrainingConfig(model_name="m"))

    plain = run_fast_drift(profile, current).result

    assert from_config == DriftOptions() and from_config.is_default
    assert run_fast_drift(profile, current, options=DriftOptions()).result == plain
    assert run_fast_drift(profile, current, options=from_config).result == plain
    assert all(item.threshold == THRESHOLDS[item.method] for item in plain.columns)
    assert all(item.issue is None for item in plain.columns)


def test_the_config_fields_become_the_options():
    config = RetrainingConfig(
        model_name="m",
        drift_method="ks",
        cat_drift_method="chisquare",
        drift_column_overrides={"city": {"threshold": 0.2}, "age": {"method": "wasserstein"}},
        drift_threshold_mode="calibrated",
        drift_false_alarm_rate=0.05,
    )

    options = DriftOptions.from_config(config)

    assert options == DriftOptions(
        numeric_method="ks",
        categorical_method="chisquare",
        overrides={"city": ColumnOverride(threshold=0.2), "age": ColumnOverride("wasserstein")},
        calibrated=True,
        false_alarm_rate=0.05,
    )
    assert not options.is_default


def test_drift_method_tests_every_numeric_column_and_no_other(mixed_frame, mixed_profile):
    current = mixed_frame(2, 1_200, 0.1)

    columns = check(mixed_profile, current, drift_method="ks")

    assert {name: columns[name].method for name in NUMERIC_COLUMNS} == dict.fromkeys(
        NUMERIC_COLUMNS, KS.method
    )
    assert {columns[name].method for name in CATEGORICAL_COLUMNS} == {JENSEN_SHANNON.method}
    normal = columns["normal"]
    reference_values = mixed_profile.column("normal").values
    assert normal.score == pytest.approx(stats.ks_2samp(reference_values, current["normal"])[1])
    assert normal.threshold == KS.threshold and normal.issue is None


def test_cat_drift_method_tests_every_categorical_column_and_no_other(mixed_frame, mixed_profile):
    columns = check(mixed_profile, mixed_frame(2, 1_200), cat_drift_method="chisquare")

    assert {columns[name].method for name in CATEGORICAL_COLUMNS} == {CHI_SQUARE.method}
    assert columns["normal"].method == WASSERSTEIN.method
    assert columns["few"].method == JENSEN_SHANNON.method  # numeric with few values: not a category
    assert columns["city"].threshold == CHI_SQUARE.threshold


def test_an_override_wins_over_the_kind_method_and_the_calibration(mixed_frame, mixed_profile):
    current = mixed_frame(2, 1_500, 0.3)  # normal shifted by 0.3 std: W about 0.3
    overrides = {
        "normal": {"method": "wasserstein", "threshold": 0.5},
        "lognormal": {"threshold": 0.2},
        "city": {"threshold": 0.3},
    }

    columns = check(mixed_profile, current, drift_method="ks", drift_column_overrides=overrides)
    calibrated = check(
        mixed_profile, current, drift_threshold_mode="calibrated", drift_column_overrides=overrides
    )

    normal = columns["normal"]
    assert (normal.method, normal.threshold) == (WASSERSTEIN.method, 0.5)
    assert 0.1 < normal.score < 0.5 and not normal.drifted  # drift at Evidently's 0.1
    assert (columns["lognormal"].method, columns["lognormal"].threshold) == (KS.method, 0.2)
    assert (columns["integer"].method, columns["integer"].threshold) == (KS.method, 0.05)
    assert calibrated["city"].threshold == 0.3
    assert calibrated["plan"].threshold != JENSEN_SHANNON.threshold  # calibrated, not overridden


def test_a_method_that_cannot_test_a_column_falls_back_and_says_so(mixed_frame, mixed_profile):
    current = mixed_frame(2, 1_500)
    current.loc[:149, "flag"] = "maybe"  # 10% unseen: drift, whatever the test

    columns = check(
        mixed_profile,
        current,
        drift_method="chisquare",
        cat_drift_method="ks",
        drift_column_overrides={"plan": {"method": "wasserstein", "threshold": 0.5}},
    )

    city, normal, plan = columns["city"], columns["normal"], columns["plan"]
    assert city.issue == (
        f"{METHOD_CANNOT_TEST}: 'ks' needs numeric values; Evidently's default 'jensenshannon' used"
    )
    assert (city.method, city.threshold, city.drifted) == (JENSEN_SHANNON.method, 0.1, False)
    assert normal.issue == (
        f"{METHOD_CANNOT_TEST}: 'chisquare' needs value counts (categories, or at most 5 "
        "distinct numeric values); Evidently's default 'wasserstein' used"
    )
    assert normal.method == WASSERSTEIN.method and not normal.drifted
    assert (plan.method, plan.threshold) == (JENSEN_SHANNON.method, 0.1)  # 0.5 was wasserstein's
    assert columns["few"].method == CHI_SQUARE.method and columns["few"].issue is None
    flag = columns["flag"]
    assert flag.drifted and flag.issue.startswith(f"{METHOD_CANNOT_TEST}: 'ks'")
    assert f"used; {UNSEEN_CATEGORIES}: 1 (10.0% of values)" in flag.issue


def test_an_integer_column_name_matches_its_string_override():
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({0: rng.normal(0, 1, 2_000)})
    profile = ReferenceProfile.from_frame(reference, [0])
    options = DriftOptions(overrides={"0": {"method": "ks"}})

    result = run_fast_drift(profile, pd.DataFrame({0: rng.normal(0, 1, 500)}), options=options)

    assert result.result.columns[0].method == KS.method


def test_options_with_impossible_values_name_the_field():
    with pytest.raises(ValueError, match="drift_method: 'nope' is not a drift test"):
        DriftOptions(numeric_method="nope")
    with pytest.raises(ValueError, match="cat_drift_method: 'KS' is not a drift test"):
        DriftOptions(categorical_method="KS")
    with pytest.raises(ValueError, match="drift_false_alarm_rate: must be between 0 and 1"):
        DriftOptions(false_alarm_rate=0.0)
    with pytest.raises(ValueError, match=r"drift_column_overrides\['a'\]: 'z-test' is not"):
        DriftOptions(overrides={"a": {"method": "z-test"}})
    with pytest.raises(ValueError, match=r"drift_column_overrides\['a'\]: threshold must be"):
        DriftOptions(overrides={"a": {"threshold": -1}})
    with pytest.raises(ValueError, match=r"drift_column_overrides\['a'\]: unknown key\(s\) 'p'"):
        DriftOptions(overrides={"a": {"p": 0.1}})


def test_the_sampled_wasserstein_guard_uses_the_threshold_in_force():
    rng = np.random.default_rng(6)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(0, 1, 20_000)}), ["x"])
    current = pd.DataFrame({"x": rng.normal(0.3, 1, 100_000)})
    sampling = {"sample_above": 20_000, "sample_size": 50_000}
    exact = run_fast_drift(profile, current, sample_above=None).result.columns[0]
    near = DriftOptions(overrides={"x": {"threshold": exact.score * 1.01}})

    default = run_fast_drift(profile, current, **sampling)
    overridden = run_fast_drift(profile, current, options=near, **sampling)

    assert default.notes["x"].sampled  # far from 0.1: the sample decides
    assert overridden.notes["x"].recomputed and not overridden.notes["x"].sampled
    assert overridden.result.columns[0].score == exact.score
    assert not overridden.result.columns[0].drifted
