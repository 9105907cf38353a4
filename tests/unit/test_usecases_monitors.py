"""Initialize a model's monitors from its own sources (the HTTP API's and the CLI's way).

The reference comes from the reference source, else the training source; what goes wrong is
said in terms of that data: it could not be loaded, or it cannot serve as a reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shared.config import RetrainingConfig
from shared.errors import Conflict, Invalid
from shared.model_store import UnknownModel
from shared.sources import MissingSource
from shared.usecases.monitors import ReferenceUnusable, initialize_from_sources

NAME = "churn"


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(rows)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows), "target": 0})


def model(runtime, tmp_path, **sources: pd.DataFrame | str) -> None:
    """The model with a Parquet file source per role (a str: a path that may not exist)."""
    runtime.models.save_config(RetrainingConfig(model_name=NAME), {"name": NAME})
    if not sources:
        return
    paths = {}
    for role, data in sources.items():
        if isinstance(data, str):
            paths[role] = data
        else:
            paths[role] = str(tmp_path / f"{role}.parquet")
            data.to_parquet(paths[role])
    runtime.models.set_data_sources(
        NAME, {role: {"kind": "file", "path": path} for role, path in paths.items()}
    )


def test_the_reference_source_comes_before_the_training_source(runtime, tmp_path):
    model(runtime, tmp_path, reference=frame(120), training=frame(300))
    role, baseline = initialize_from_sources(runtime, NAME, {"accuracy": 0.9})
    assert (role, baseline) == ("reference", {"accuracy": 0.9})
    record = runtime.models.get(NAME)
    assert record.baseline_metrics == {"accuracy": 0.9}
    assert len(runtime.references.frame(record.reference_key)) == 120


def test_without_a_reference_source_the_training_data_is_the_reference(runtime, tmp_path):
    model(runtime, tmp_path, training=frame(300))
    role, baseline = initialize_from_sources(runtime, NAME)
    assert (role, baseline) == ("training", {})  # no baseline given, no champion yet
    record = runtime.models.get(NAME)
    assert len(runtime.references.frame(record.reference_key)) == 300


def test_without_either_source_it_says_what_to_configure(runtime, tmp_path):
    model(runtime, tmp_path)
    with pytest.raises(MissingSource, match=r"configure data_sources\.reference") as missing:
        initialize_from_sources(runtime, NAME)
    assert isinstance(missing.value, Conflict)
    assert not runtime.models.get(NAME).monitors_initialized


def test_a_reference_that_cannot_be_loaded_is_unusable(runtime, tmp_path):
    gone = str(tmp_path / "gone.parquet")
    model(runtime, tmp_path, reference=gone, training=frame(300))
    with pytest.raises(ReferenceUnusable) as unusable:
        initialize_from_sources(runtime, NAME)
    assert str(unusable.value) == (
        f"the reference data could not be loaded: data file {gone!r} does not exist"
    )
    assert not runtime.models.get(NAME).monitors_initialized  # no fallback to the training data


def test_an_empty_reference_cannot_be_used(runtime, tmp_path):
    model(runtime, tmp_path, training=frame(300).head(0))
    with pytest.raises(ReferenceUnusable) as unusable:
        initialize_from_sources(runtime, NAME)
    assert str(unusable.value) == (
        "the training data cannot be used: reference_data: must be a non-empty pandas DataFrame"
    )
    assert isinstance(unusable.value, Conflict)


def test_a_bad_baseline_is_the_callers_mistake_not_the_datas(runtime, tmp_path):
    model(runtime, tmp_path, training=frame(300))
    with pytest.raises(Invalid, match="baseline_metrics: accuracy must be a number") as bad:
        initialize_from_sources(runtime, NAME, {"accuracy": "high"})
    assert not isinstance(bad.value, ReferenceUnusable)
    assert not runtime.models.get(NAME).monitors_initialized


def test_an_unknown_model_is_not_found(runtime):
    with pytest.raises(UnknownModel, match="no model named 'ghost'"):
        initialize_from_sources(runtime, "ghost")
