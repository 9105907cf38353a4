"""Calibrated thresholds: unchanged data is flagged at the chosen rate, changed data still is."""

import shutil
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from shared.drift import (
    THRESHOLDS,
    Calibration,
    DriftOptions,
    ReferenceProfile,
    ReferenceStore,
    calibration_key,
    exceeds_threshold,
    profile_key,
    run_fast_drift,
)
from shared.drift.calibration import (
    COUNT_CELLS,
    COUNT_SCORES,
    CURRENT_SIZES,
    NULL_DRAWS,
    count_draws,
    multinomial_draws,
    null_threshold,
)
from shared.drift.stattests import CHI_SQUARE, JENSEN_SHANNON, KS, STATTESTS, WASSERSTEIN, Z_TEST
from shared.storage import BlobStore

CALIBRATED = DriftOptions(calibrated=True)
TARGET_LOW, TARGET_HIGH = 0.002, 0.025  # a 1% target, measured over thousands of checks

CITIES = np.array(["paris", "lyon", "nice", "lille"])
CITY_SHARES = [0.4, 0.3, 0.2, 0.1]

Draw = Callable[[np.random.Generator, int], pd.DataFrame]


def city(rng: np.random.Generator, rows: int, shares=CITY_SHARES) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.choice(CITIES, rows, p=shares)})


def normal(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(shift, 1, rows)})


def flag_rates(
    draw_reference: Draw,
    draw_current: Draw,
    sizes: tuple[int, int],
    trials: tuple[int, int],
    seed: int,
) -> dict[str, float]:
    """Share of checks flagging column "x", Evidently's defaults vs calibrated at 1%.

    ``trials``: references, each drawn afresh (its own profile and calibration), and currents
    per reference: both sides are redrawn, as the false-alarm rate is defined. The default
    verdict is the calibrated check's score against the test's own threshold (the same test
    scores alike in both modes; ``test_drift_options`` shows the defaults are Evidently's).
    """
    rng = np.random.default_rng(seed)
    flagged = {"default": 0, "calibrated": 0}
    methods = set()
    for _ in range(trials[0]):
        profile = ReferenceProfile.from_frame(draw_reference(rng, sizes[0]), ["x"], html_rows=0)
        calibration = Calibration.build(profile)
        for _ in range(trials[1]):
            current = draw_current(rng, sizes[1])
            run = run_fast_drift(profile, current, options=CALIBRATED, calibration=calibration)
            column = run.result.columns[0]
            assert column.issue is None
            flagged["calibrated"] += column.drifted
            flagged["default"] += exceeds_threshold(
                column.method, column.score, THRESHOLDS[column.method]
            )
            methods.add(column.method)
    assert len(methods) == 1
    checks = trials[0] * trials[1]
    return {label: count / checks for label, count in flagged.items()} | {"method": methods.pop()}


# --- the point: a known false-alarm rate ---------------------------------------------------------


def test_chi_square_at_300_rows_flags_unchanged_columns_at_the_target_rate():
    rates = flag_rates(city, city, (300, 300), (600, 4), seed=1)

    assert rates["method"] == CHI_SQUARE.method
    assert rates["default"] > 0.15  # Evidently's chi-square: about a quarter of the checks
    assert TARGET_LOW <= rates["calibrated"] <= TARGET_HIGH


def test_jensen_shannon_flags_unchanged_columns_at_the_target_rate():
    rates = flag_rates(city, city, (2_000, 500), (500, 4), seed=2)

    assert rates["method"] == JENSEN_SHANNON.method
    assert rates["default"] < 0.001  # Evidently's 0.1: blind to anything this small
    assert TARGET_LOW <= rates["calibrated"] <= TARGET_HIGH


def test_wasserstein_flags_unchanged_columns_at_the_target_rate():
    rates = flag_rates(normal, normal, (5_000, 200), (8, 250), seed=3)

    assert rates["method"] == WASSERSTEIN.method
    assert rates["default"] > 0.05  # Evidently's 0.1 at 200 current rows
    assert TARGET_LOW <= rates["calibrated"] <= TARGET_HIGH


@pytest.mark.parametrize(
    ("draw_reference", "draw_current", "sizes"),
    [
        (city, lambda rng, rows: city(rng, rows, [0.25] * 4), (300, 300)),
        (city, lambda rng, rows: city(rng, rows, [0.35, 0.3, 0.2, 0.15]), (2_000, 2_000)),
        (normal, lambda rng, rows: normal(rng, rows, 0.5), (5_000, 200)),
    ],
)
def test_a_clearly_changed_column_is_still_flagged(draw_reference, draw_current, sizes):
    rates = flag_rates(draw_reference, draw_current, sizes, (3, 10), seed=4)

    assert rates["calibrated"] >= 0.9


def test_at_large_sizes_a_small_change_is_flagged_that_the_fixed_threshold_misses():
    def shifted(rng: np.random.Generator, rows: int) -> pd.DataFrame:
        return normal(rng, rows, 0.05)  # W about 0.05: Evidently's 0.1 is blind to it

    rates = flag_rates(normal, shifted, (50_000, 50_000), (2, 5), seed=5)

    assert rates["default"] == 0.0 and rates["calibrated"] == 1.0


# --- how the thresholds are made -----------------------------------------------------------------


def test_simulated_scores_are_the_tests_own_scores():
    rng = np.random.default_rng(5)
    for _ in range(100):
        n_keys = int(rng.integers(1, 6))
        shares = rng.integers(1, 30, n_keys)
        n_ref, n_cur = (int(n) for n in rng.integers(5, 60, 2))
        ref = multinomial_draws(shares, n_ref, 4, rng)
        cur = multinomial_draws(shares, n_cur, 4, rng)
        for name, scores in COUNT_SCORES.items():
            got = scores(ref, cur, n_ref, n_cur)
            for row in range(4):
                as_counts = [
                    {f"k{key}": int(count) for key, count in enumerate(side[row]) if count}
                    for side in (ref, cur)
                ]
                with np.errstate(all="ignore"):
                    want = STATTESTS[name].compute(*as_counts, n_ref, n_cur)
                assert got[row] == pytest.approx(want, rel=1e-9, abs=1e-12, nan_ok=True), name


def test_multinomial_draws_keep_totals_and_shares():
    rng = np.random.default_rng(6)
    counts = np.array([5, 0, 15, 30])

    sample = multinomial_draws(counts, 1_000, 2_000, rng)

    assert (sample.sum(axis=1) == 1_000).all() and (sample[:, 1] == 0).all()
    assert sample.mean(axis=0) / 1_000 == pytest.approx(counts / counts.sum(), abs=0.003)


@pytest.mark.parametrize("test", [KS, CHI_SQUARE, Z_TEST, WASSERSTEIN, JENSEN_SHANNON])
def test_the_threshold_is_the_rank_th_null_score_with_only_those_beyond_it_drifting(test):
    scores = np.arange(1, 201) / 201.0  # a further null score falls beyond: rank / 201

    for rank in (1, 2, 20):
        threshold = null_threshold(scores, rank, test)
        assert sum(test.drifted(score, threshold) for score in scores) == rank - 1
        edge = scores[-rank] if test.drift_if(1.0, 0.0) else scores[rank - 1]
        assert threshold == pytest.approx(edge, rel=1e-12)
    tied = np.sort(np.repeat(scores[:50], 4))  # ties: never more alarms than without
    assert sum(test.drifted(score, null_threshold(tied, 6, test)) for score in tied) <= 5


def test_draws_keep_the_rate_and_the_cost_bounded():
    for rate in (0.0001, 0.01, 0.05, 0.3):
        for n_keys in (2, 4, 40, 5_000):
            draws, rank = count_draws(rate, n_keys)
            assert rank >= 1 and rank / (draws + 1) <= rate
            assert draws * n_keys <= COUNT_CELLS or rank == 1
    assert count_draws(0.01, 4) == (1_999, 20)


def test_ks_is_calibrated_by_its_own_p_value(mixed_frame):
    reference = mixed_frame(1, 800)
    profile = ReferenceProfile.from_frame(reference, ["normal"], html_rows=0)
    options = DriftOptions(calibrated=True, false_alarm_rate=0.02)

    column = run_fast_drift(profile, mixed_frame(2, 500), options=options).result.columns[0]

    assert (column.method, column.threshold) == (KS.method, 0.02)


def test_wasserstein_thresholds_follow_the_sizes_and_the_rate():
    rng = np.random.default_rng(7)
    profile = ReferenceProfile.from_frame(normal(rng, 5_000), ["x"], html_rows=0)
    calibration = Calibration.build(profile)
    column = profile.column("x")

    def threshold(n_current: int, rate: float = 0.01) -> float:
        return calibration.threshold(WASSERSTEIN, column, n_current, rate, (0, 0))

    assert threshold(100) > threshold(1_000) > threshold(100_000)
    assert threshold(1_000, 0.05) < threshold(1_000, 0.01)
    # about 2.6 / sqrt(effective size) for a normal column (the Brownian-bridge limit)
    assert threshold(100_000) * np.sqrt(1 / (1 / 5_000 + 1 / 100_000)) == pytest.approx(
        2.6, rel=0.1
    )


def test_calibrated_checks_are_reproducible_and_survive_storage(mixed_frame, mixed_profile):
    current = mixed_frame(2, 1_000)
    built = Calibration.build(mixed_profile)
    stored = Calibration.from_bytes(built.to_bytes())

    first = run_fast_drift(mixed_profile, current, options=CALIBRATED, calibration=built)
    again = run_fast_drift(mixed_profile, current, options=CALIBRATED, calibration=stored)
    unpassed = run_fast_drift(mixed_profile, current, options=CALIBRATED)  # built in the call

    assert first.result == again.result == unpassed.result
    thresholds = {item.column: item.threshold for item in first.result.columns}
    assert thresholds["normal"] != WASSERSTEIN.threshold
    assert thresholds["city"] != JENSEN_SHANNON.threshold
    assert stored == built
    assert set(built.nulls) == {"normal", "lognormal", "integer", "few", "binary", "sparse"}
    shape = (len(CURRENT_SIZES), NULL_DRAWS)
    assert all(null.scores.shape == shape for null in built.nulls.values())


def test_a_calibration_of_another_profile_is_refused(mixed_frame, mixed_profile):
    other = ReferenceProfile.from_frame(mixed_frame(3, 2_000), ["normal"], html_rows=0)

    with pytest.raises(ValueError, match="not built from this profile: 'normal'"):
        run_fast_drift(
            mixed_profile,
            mixed_frame(2, 500),
            options=CALIBRATED,
            calibration=Calibration.build(other),
        )


def test_the_calibration_is_stored_once_beside_the_profile(runtime, monkeypatch, tmp_path):
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        {"income": rng.normal(50, 10, 3_000), "plan": rng.choice(["a", "b"], 3_000)}
    )
    key = runtime.references.store("churn", frame, ["income", "plan"], features=["income"])

    built = runtime.references.calibration(key, ["income"])

    stored_at = calibration_key(profile_key(key, ["income"]))
    assert stored_at == profile_key(key, ["income"]).removesuffix(".npz") + ".calibration.v1.npz"
    assert runtime.blobs.exists(stored_at) and list(built.nulls) == ["income"]
    monkeypatch.setattr(Calibration, "build", lambda profile: pytest.fail("built again"))
    other = ReferenceStore(BlobStore(runtime.engine, tmp_path / "elsewhere"))
    assert other.calibration(key, ["income"]) == built  # read, not built
    shutil.rmtree(runtime.blobs.cache_dir)
    monkeypatch.setattr(runtime.blobs, "get", lambda key: pytest.fail("read the store again"))
    assert runtime.references.calibration(key, ["income"]) is built  # kept in memory
