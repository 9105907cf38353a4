"""The reference profile: what it keeps, its error bound, its bytes, the inputs it refuses."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shared.drift import ReferenceProfile, detect_drift_fast


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


def test_invalid_reference_raises_value_error(mixed_frame):
    with pytest.raises(ValueError, match="missing from reference data: height"):
        ReferenceProfile.from_frame(mixed_frame(1, 10), ["normal", "height"])
    with pytest.raises(ValueError, match="reference data has no rows"):
        ReferenceProfile.from_frame(mixed_frame(1, 10).iloc[:0], ["normal"])
    with pytest.raises(ValueError, match="must be a list of column names"):
        ReferenceProfile.from_frame(mixed_frame(1, 10), "normal")


def test_profile_round_trips_through_its_bytes(mixed_frame, mixed_profile, tmp_path):
    profile = mixed_profile
    loaded = ReferenceProfile.from_bytes(profile.to_bytes())
    current = mixed_frame(2, 3_000, 0.2)

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


def test_the_stored_format_tag_is_unchanged(mixed_profile):
    with np.load(io.BytesIO(mixed_profile.to_bytes()), allow_pickle=False) as arrays:
        meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
    # profiles already in blob stores carry this tag: another would make them unreadable
    assert (meta["format"], meta["version"]) == ("shared.fast_drift.ReferenceProfile", 1)
