"""The drift options of a model's configuration reach its checks."""

import numpy as np
import pandas as pd

from shared.config import RetrainingConfig
from shared.drift import calibration_key, profile_key
from shared.monitoring import initialize_monitors, run_check


def frames(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"amount": rng.normal(50, 10, rows), "plan": rng.choice(["a", "b", "c", "d"], rows)}
    )


def checked(runtime, **options) -> dict[str, dict]:
    config = RetrainingConfig(model_name="m", enable_notifications=False, **options)
    runtime.models.save_config(config, {"name": "m"})
    initialize_monitors(runtime, "m", frames(300, 1), {"accuracy": 0.9})
    check = run_check(runtime, "m", frames(300, 2))
    return {column["column"]: column for column in check.drift["columns"]}


def test_evidentlys_tests_and_thresholds_by_default(runtime):
    columns = checked(runtime)
    assert (columns["amount"]["method"], columns["amount"]["threshold"]) == ("K-S p_value", 0.05)
    assert columns["plan"]["method"] == "chi-square p_value"


def test_the_configured_methods_and_an_override_are_used(runtime):
    columns = checked(
        runtime,
        drift_method="wasserstein",
        cat_drift_method="jensenshannon",
        drift_column_overrides={"amount": {"threshold": 0.3}},
    )
    assert columns["amount"]["method"] == "Wasserstein distance (normed)"
    assert columns["amount"]["threshold"] == 0.3
    assert columns["plan"]["method"] == "Jensen-Shannon distance"
    assert columns["plan"]["threshold"] == 0.1


def test_calibrated_thresholds_are_stored_beside_the_profile(runtime):
    columns = checked(runtime, drift_threshold_mode="calibrated", drift_false_alarm_rate=0.01)
    assert columns["amount"]["threshold"] == 0.01  # K-S p-values are calibrated already
    assert columns["plan"]["threshold"] < 0.05  # Evidently's chi-square over-flags at 300 rows
    record = runtime.models.get("m")
    assert runtime.blobs.exists(calibration_key(profile_key(record.reference_key, None)))
