"""The sampled Wasserstein score: the error bound its module docstring states, and its use."""

import numpy as np
import pandas as pd
import pytest

from shared.drift import ReferenceProfile, run_fast_drift
from shared.drift.sampling import j_functional, sampled_wasserstein, wasserstein_sampling_error
from shared.drift.stattests.wasserstein import wasserstein_sorted

DISTRIBUTIONS = {
    "normal": lambda rng, n, shift: rng.normal(shift, 1, n),
    "lognormal": lambda rng, n, shift: rng.lognormal(shift, 1, n),
    "uniform": lambda rng, n, shift: rng.uniform(shift, 1 + shift, n),
    "student_t5": lambda rng, n, shift: rng.standard_t(5, n) + shift,
}


def test_stated_error_bounds():
    # the module docstring's numbers: normal columns (J / std = 1.61), default m = 250,000
    assert wasserstein_sampling_error(1.61, 250_000, 1.0) == pytest.approx(0.0032, abs=1e-4)
    assert wasserstein_sampling_error(1.61, 250_000, 0.01) == pytest.approx(0.032, abs=1e-3)
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
