"""Data drift between a model's reference data and current data, one concern per module.

Evidently 0.7.23's default per-column tests decide, computed once per column from a reference
profile built when the monitors are set; Evidently itself renders the report page. Options may
choose other tests and thresholds per column, or calibrate thresholds to a false-alarm rate.

* ``columns``: how a column is read (numeric or categorical, cleaned as Evidently cleans it);
* ``result``: ``ColumnDrift``, ``DriftResult`` and the one list of data-quality issues;
* ``profile``: the reference profile (build, bytes); ``store``: where profiles are kept;
* ``stattests``: one module per test, the registry by name and Evidently's default choice;
* ``options``: which test and threshold a column gets (``DriftOptions``, from the config);
* ``calibration``: thresholds with a known false-alarm rate (``Calibration``, per profile);
* ``sampling``: the Wasserstein score on a sample of a large column and its error bound;
* ``verdict``: the fast decision (``detect_drift_fast``, ``run_fast_drift``);
* ``evidently``: Evidently's own check (``detect_drift``) and the HTML report.

Importing this package loads neither Evidently nor scipy; they are imported when used.
"""

from shared.drift.calibration import Calibration
from shared.drift.evidently import detect_drift, render_html_report
from shared.drift.options import ColumnOverride, DriftOptions
from shared.drift.profile import HTML_MAX_ROWS, ColumnProfile, ReferenceProfile
from shared.drift.result import (
    ALL_MISSING_IN_CURRENT,
    ALL_MISSING_IN_REFERENCE,
    MISSING_IN_CURRENT,
    NEW_IN_CURRENT,
    NOT_NUMERIC_IN_CURRENT,
    ColumnDrift,
    DriftResult,
)
from shared.drift.sampling import SAMPLE_ABOVE
from shared.drift.stattests import THRESHOLDS, exceeds_threshold
from shared.drift.store import ReferenceStore, calibration_key, profile_key
from shared.drift.verdict import FastDriftRun, detect_drift_fast, run_fast_drift

__all__ = [
    "ALL_MISSING_IN_CURRENT",
    "ALL_MISSING_IN_REFERENCE",
    "HTML_MAX_ROWS",
    "MISSING_IN_CURRENT",
    "NEW_IN_CURRENT",
    "NOT_NUMERIC_IN_CURRENT",
    "SAMPLE_ABOVE",
    "THRESHOLDS",
    "Calibration",
    "ColumnDrift",
    "ColumnOverride",
    "ColumnProfile",
    "DriftOptions",
    "DriftResult",
    "FastDriftRun",
    "ReferenceProfile",
    "ReferenceStore",
    "calibration_key",
    "detect_drift",
    "detect_drift_fast",
    "exceeds_threshold",
    "profile_key",
    "render_html_report",
    "run_fast_drift",
]
