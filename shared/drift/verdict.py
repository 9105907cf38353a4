"""The fast drift decision: Evidently 0.7.23's default per-column verdicts, from the profile.

Why: ``Report([DataDriftPreset()])`` runs every column's stat test three times and renders
Plotly widgets even when only the numbers are wanted (at 1M rows x 25 columns, over two minutes
and 1.6 GB; ``docs/benchmarks.md``). This computes the same decision once per column from the
reference profile (``shared.drift.profile``), never reading the reference data again.

Per column: values are read and cleaned as ``shared.drift.columns`` says (as Evidently does);
a column that cannot be tested gets its issue (``shared.drift.result``); otherwise the test is
Evidently's default for it (``shared.drift.stattests.registry``) unless the options choose
another test or threshold (``shared.drift.options``, calibrated thresholds in
``shared.drift.calibration``), the data-quality rules (missing-value jump, unseen categories)
are applied on top, and a NaN score is no evidence of drift. Large numeric columns may be
scored on a sample first (``shared.drift.sampling``), against the threshold in force.
From ``PARALLEL_ABOVE`` current rows, columns are checked in parallel threads (numpy's sorts
and merges release the GIL).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.drift.calibration import Calibration
from shared.drift.columns import (
    CATEGORICAL,
    NUMERIC,
    category_counts,
    column_has_values,
    finite_values,
    is_numeric,
)
from shared.drift.options import DriftOptions
from shared.drift.profile import ColumnProfile, ReferenceProfile
from shared.drift.result import (
    ALL_MISSING_IN_CURRENT,
    ALL_MISSING_IN_REFERENCE,
    MISSING_IN_CURRENT,
    NEW_IN_CURRENT,
    NOT_NUMERIC_IN_CURRENT,
    ColumnDrift,
    DriftResult,
    issue_result,
    missing_rate_issue,
    unseen_categories_issue,
)
from shared.drift.sampling import SAMPLE_ABOVE, SAMPLE_DELTA, SAMPLE_SIZE, sampled_wasserstein
from shared.drift.stattests import COUNTS, FEW_VALUES, WASSERSTEIN, StatTest, default_stattest

PARALLEL_ABOVE = 100_000  # current rows from which columns are tested in parallel threads


@dataclass(frozen=True)
class ColumnNote:
    """How one column's score was obtained (for benchmarks and diagnostics)."""

    column: Hashable
    sampled: bool = False  # the score comes from a seeded sample of the current values
    sample_size: int | None = None
    error_bound: float | None = None  # the guard e of shared.drift.sampling (normalised)
    recomputed: bool = False  # the sample's score was too close to the threshold: full data used
    seconds: float = 0.0


@dataclass(frozen=True)
class FastDriftRun:
    result: DriftResult
    notes: dict[Hashable, ColumnNote]


def detect_drift_fast(
    profile: ReferenceProfile | Path | str, current: pd.DataFrame, **settings: Any
) -> DriftResult:
    """Drift of `current` from the profiled reference, as Evidently's default tests decide.

    Settings (``columns``, ``options``, ``calibration``...) as :func:`run_fast_drift`.
    """
    return run_fast_drift(profile, current, **settings).result


def run_fast_drift(
    profile: ReferenceProfile | Path | str,
    current: pd.DataFrame,
    *,
    columns: Iterable[Hashable] | None = None,
    sample_above: int | None = SAMPLE_ABOVE,
    sample_size: int = SAMPLE_SIZE,
    sample_delta: float = SAMPLE_DELTA,
    workers: int | None = None,
    options: DriftOptions | None = None,
    calibration: Calibration | None = None,
) -> FastDriftRun:
    """The drift result, with per-column notes on how each score was computed.

    `profile` is a profile or the path of a file holding its bytes. `columns` restricts the
    check to some of the profiled columns (default: all of them). `sample_above=None` turns
    sampling off. `options`: tests and thresholds (default: Evidently's). `calibration`: the
    profile's (``ReferenceStore.calibration``), used in calibrated mode; built here when not
    given, which costs about 0.2 s of a core per numeric column: pass the stored one.
    """
    if not isinstance(profile, ReferenceProfile):
        profile = ReferenceProfile.from_bytes(Path(profile).read_bytes())
    if not isinstance(current, pd.DataFrame):
        raise ValueError(f"current data must be a pandas DataFrame, not {type(current).__name__}")
    if len(current) == 0:
        raise ValueError("current data has no rows")
    if sample_above is not None and not 0 < sample_delta < 1:
        raise ValueError(f"sample_delta must be between 0 and 1, got {sample_delta}")
    selected = _selected_columns(profile, columns)
    sampling = None if sample_above is None else (sample_above, sample_size, sample_delta)
    options = options or DriftOptions()
    if options.calibrated and calibration is None:
        calibration = Calibration.build(profile)
    positions = {name: index for index, name in enumerate(profile.column_names)}

    def check(column: ColumnProfile) -> tuple[ColumnDrift, ColumnNote]:
        started = time.perf_counter()
        rng_key = (profile.seed, positions[column.name])
        drift, note = _check_column(column, current, sampling, rng_key, options, calibration)
        return drift, replace(note, seconds=time.perf_counter() - started)

    n_workers = workers or min(4, os.cpu_count() or 1)
    if n_workers > 1 and len(selected) > 1 and len(current) >= PARALLEL_ABOVE:
        with ThreadPoolExecutor(n_workers, thread_name_prefix="fast-drift") as pool:
            checked = list(pool.map(check, selected))
    else:
        checked = [check(column) for column in selected]

    results = [drift for drift, _ in checked]
    known = set(profile.reference_columns) | {column.name for column in selected}
    results += [issue_result(name, NEW_IN_CURRENT) for name in current.columns if name not in known]
    result = DriftResult.of(results, profile.n_rows, len(current))
    return FastDriftRun(result, {note.column: note for _, note in checked})


def _check_column(
    profile: ColumnProfile,
    current: pd.DataFrame,
    sampling: tuple[int, int, float] | None,
    rng_key: tuple[int, int],
    options: DriftOptions,
    calibration: Calibration | None,
) -> tuple[ColumnDrift, ColumnNote]:
    name = profile.name
    note = ColumnNote(name)
    read = _read_column(profile, current)
    if isinstance(read, str):
        return issue_result(name, read), note
    values, counts, n_valid, n_rows = read
    default, counts = _default_test(profile, values, counts)
    chosen = options.column_test(
        profile, default, counts is not None, n_valid, calibration, rng_key
    )
    test, threshold = chosen.test, chosen.threshold
    issues = [chosen.issue] if chosen.issue else []
    forced = False
    if profile.kind == CATEGORICAL:
        assert counts is not None
        known = profile.key_counts()
        unseen = {key: count for key, count in counts.items() if key not in known}
        if unseen:
            text, forced = unseen_categories_issue(unseen, n_valid)
            issues.append(text)
    if test.inputs == COUNTS:
        assert counts is not None
        score = test.compute(profile.key_counts(), counts, profile.n_valid, n_valid)
    else:
        assert values is not None
        score, note = _values_score(test, threshold, profile, values, sampling, rng_key, note)
    rose = missing_rate_issue(profile.missing_rate, 1.0 - n_valid / n_rows)
    if rose is not None:
        issues.append(rose)
        forced = True
    finite = score is not None and math.isfinite(score)
    drifted = forced or (finite and test.drifted(score, threshold))
    return (
        ColumnDrift(
            column=name,
            method=test.method,
            score=float(score) if finite else None,
            threshold=threshold,
            drifted=bool(drifted),
            issue="; ".join(issues) or None,
        ),
        note,
    )


def _read_column(
    profile: ColumnProfile, current: pd.DataFrame
) -> str | tuple[np.ndarray | None, dict[Any, int] | None, int, int]:
    """(finite values, category counts, valid values, rows) of the current column, or its issue.

    Numeric columns give their values, categorical ones their counts; the issue when the
    column cannot be tested (``shared.drift.result``).
    """
    if profile.name not in current.columns:
        return MISSING_IN_CURRENT
    series = current[profile.name]
    values = counts = None
    n_valid = 0
    if profile.kind == NUMERIC and is_numeric(series):
        values = finite_values(series)
        n_valid = values.size
        has_values = n_valid > 0
    elif profile.kind == CATEGORICAL:
        counts, n_valid = category_counts(series)
        # a numeric column holding only infinities has no values either (as for Evidently)
        has_values = n_valid > 0 and (not is_numeric(series) or column_has_values(series))
    else:
        has_values = column_has_values(series)
    if not has_values:
        return ALL_MISSING_IN_CURRENT
    if profile.n_valid == 0:
        return ALL_MISSING_IN_REFERENCE
    if profile.kind == NUMERIC and values is None:
        return NOT_NUMERIC_IN_CURRENT
    return values, counts, n_valid, len(series)


def _default_test(
    profile: ColumnProfile, values: np.ndarray | None, counts: dict[Any, int] | None
) -> tuple[StatTest, dict[Any, int] | None]:
    """Evidently's test for the column, and the current value counts (numeric: few values)."""
    if profile.kind == NUMERIC:
        assert values is not None
        counts = _few_value_counts(profile, values)
        # without counts the reference alone has more than FEW_VALUES: all the rule asks
        n_values = profile.n_unique if counts is None else _n_values(profile, counts)
    else:
        assert counts is not None
        n_values = _n_values(profile, counts)
    return default_stattest(profile.kind == NUMERIC, profile.n_valid, n_values), counts


def _few_value_counts(profile: ColumnProfile, values: np.ndarray) -> dict[Any, int] | None:
    """Counts of each current value when the column may have at most ``FEW_VALUES`` values.

    None when the reference alone has more (then reference and current together have too).
    """
    if profile.n_unique > FEW_VALUES:
        return None
    return pd.Series(values).value_counts(sort=False).to_dict()


def _n_values(profile: ColumnProfile, counts: dict[Any, int]) -> int:
    """Distinct values in reference and current together."""
    return len(set(counts) | set(profile.key_counts()))


def _values_score(
    test: StatTest,
    threshold: float,
    profile: ColumnProfile,
    values: np.ndarray,
    sampling: tuple[int, int, float] | None,
    rng_key: tuple[int, int],
    note: ColumnNote,
) -> tuple[float, ColumnNote]:
    """The score on all current values, or on a sample when it is far enough from `threshold`.

    Only the Wasserstein test is sampled (``shared.drift.sampling``); `threshold` is the one in
    force (a calibrated threshold is often smaller than Evidently's 0.1).
    """
    if test.name == WASSERSTEIN.name and sampling is not None:
        above, size, delta = sampling
        if values.size > max(above, size):
            rng = np.random.default_rng(list(rng_key))
            estimate, bound = sampled_wasserstein(profile, values, size, delta, rng)
            if abs(estimate - threshold) > bound:
                return estimate, replace(note, sampled=True, sample_size=size, error_bound=bound)
            note = replace(note, sample_size=size, error_bound=bound, recomputed=True)
    return test.compute(profile, values), note


def _selected_columns(
    profile: ReferenceProfile, columns: Iterable[Hashable] | None
) -> list[ColumnProfile]:
    if columns is None:
        return list(profile.columns)
    if isinstance(columns, str):
        raise ValueError(f"columns must be a list of column names, not the string {columns!r}")
    names = list(dict.fromkeys(columns))
    known = set(profile.column_names)
    absent = [str(name) for name in names if name not in known]
    if absent:
        raise ValueError(
            f"column(s) to check are missing from the reference profile: {', '.join(absent)}"
        )
    return [profile.column(name) for name in names]
