"""Reference data and drift profiles: written once, found by any host, built once when missing."""

import shutil

import numpy as np
import pandas as pd
import pytest

from shared.drift.store import PROFILES_KEPT, ReferenceStore, profile_key
from shared.errors import Invalid
from shared.storage import BlobNotFound, BlobStore


def frame(rows: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50, 10, rows),
            "plan": rng.choice(["basic", "pro"], rows),
            "age": rng.integers(18, 80, rows),
            "target": rng.integers(0, 2, rows),
        }
    )


def test_a_stored_reference_and_its_profile_are_found_from_another_host(runtime, tmp_path):
    reference = frame()
    key = runtime.references.store("churn", reference, ["income", "plan"], features=None)

    other = ReferenceStore(BlobStore(runtime.engine, tmp_path / "elsewhere"))
    pd.testing.assert_frame_equal(other.frame(key), reference)
    assert other.profile(key, None).column_names == ["income", "plan"]
    assert key.startswith("models/churn/references/") and key.endswith(".parquet")


def test_a_champion_with_other_features_gets_a_profile_built_once(runtime, monkeypatch, tmp_path):
    key = runtime.references.store("churn", frame(), ["income"], features=None)
    features = ["income", "age", "not_in_reference"]

    built = runtime.references.profile(key, features)

    assert built.column_names == ["income", "age"]
    assert runtime.blobs.exists(profile_key(key, features))
    other = ReferenceStore(BlobStore(runtime.engine, tmp_path / "elsewhere"))
    assert other.profile(key, features).column_names == ["income", "age"]  # stored, not rebuilt
    shutil.rmtree(runtime.blobs.cache_dir)
    monkeypatch.setattr(runtime.blobs, "get", lambda key: pytest.fail("read the store again"))
    assert runtime.references.profile(key, features) is built  # parsed once per process


def test_the_profile_written_with_a_reference_is_the_one_checks_ask_for(runtime):
    key = runtime.references.store("churn", frame(), ["income", "plan"], features=["income"])
    assert runtime.blobs.exists(profile_key(key, ["income"]))
    assert not runtime.blobs.exists(profile_key(key, None))
    with pytest.raises(BlobNotFound):  # no champion-less profile was written: nothing to guess
        ReferenceStore(runtime.blobs).profile(key, None)


def test_profile_keys_differ_by_features_and_carry_the_format():
    key = "models/m/references/r.parquet"
    assert profile_key(key, ["a", "b"]) != profile_key(key, ["b", "a"]) != profile_key(key, None)
    assert profile_key(key, None) == "models/m/references/r.profile-all.v1.npz"


def test_a_frame_parquet_cannot_hold_is_refused_naming_the_field(runtime):
    bad = pd.DataFrame({"income": [1.0, 2.0], "mixed": [object(), object()]})
    with pytest.raises(Invalid, match="reference_data: cannot be stored as Parquet"):
        runtime.references.store("churn", bad, ["income"], features=None)


def test_the_store_keeps_the_profiles_it_used_last(runtime, monkeypatch):
    keys = [
        runtime.references.store("churn", frame(rows=50, seed=seed), ["income"], features=None)
        for seed in range(PROFILES_KEPT + 1)
    ]
    first = runtime.references.profile(keys[1], None)
    runtime.references.profile(keys[0], None)  # read again: evicts keys[2], the oldest use
    read = []
    original = runtime.blobs.get
    monkeypatch.setattr(runtime.blobs, "get", lambda key: read.append(key) or original(key))

    assert runtime.references.profile(keys[1], None) is first
    runtime.references.profile(keys[2], None)
    assert read == [profile_key(keys[2], None)]
