"""A fast data-drift decision that gives Evidently 0.7.23's default per-column verdicts.

Why: ``Report([DataDriftPreset()])`` runs every column's stat test three times and renders
Plotly widgets even when only the numbers are wanted (at 1M rows x 25 columns, over two minutes
and 1.6 GB; ``docs/benchmarks.md``). This module computes the same decision once per column from
a reference profile that is built once, when monitors are initialized, and stored with the
model.

Decision (same as Evidently's default, ``evidently/legacy/calculations/stattests/registry.py``,
``_get_default_stattest``; every name, threshold and comparison below is Evidently's):

* Values are cleaned as Evidently does: NaN and +-inf dropped. ``n_ref`` is the number of
  reference values left, ``n_values`` the number of distinct values in reference and current
  together (both after cleaning).
* A column is numeric or categorical by the rule of ``shared.drift`` (numeric dtype, booleans
  excluded); categorical values are compared as strings, as ``shared.drift`` passes them.
* ``n_ref <= 1000``: numeric with ``n_values > 5``: ``K-S p_value`` (``scipy.stats.ks_2samp``,
  drift when ``p <= 0.05``); otherwise (categorical, or numeric with at most 5 values)
  ``chi-square p_value`` when ``n_values > 2`` (expected counts = reference counts scaled to the
  current size, drift when ``p < 0.05``), else ``Z-test p_value`` (two-proportion z-test on
  "equals the smallest value", drift when ``p < 0.05``; p = 1 for one identical constant).
* ``n_ref > 1000``: numeric with ``n_values > 5``: ``Wasserstein distance (normed)``
  (``W1(reference, current) / max(std(reference), 0.001)``, population std, drift when
  ``>= 0.1``); otherwise ``Jensen-Shannon distance`` over the shares of each value (no binning
  applies: Evidently bins numeric columns only above 20 reference values, which never reach this
  test by default), natural log, drift when ``>= 0.1``.
* A NaN score is no evidence of drift (as in ``shared.drift``); the share of drifted columns is
  drifted / checked, new columns not counted.

Reference profile (:class:`ReferenceProfile`, one ``.npz`` file, no pickle): per column its kind,
row and value counts, missing-value rate and number of distinct values; for numeric columns the
population std of all values and the sorted values, and the counts of each value when there are
at most 5; for categorical columns the count of each category. Above ``keep`` values (default
100,000) a numeric column keeps ``keep`` mid-quantiles (order statistics ``(2k+1)N/(2 keep)``)
instead of every value, and the profile stores the exact W1 distance between all values and the
kept ones (``compression_error``). By the triangle inequality the normalised Wasserstein score
then differs from the full-reference one by at most ``compression_error / std``: for smooth
columns about 1e-5, which is reported per column in the profile. The K-S test (up to 1000
reference values) always sees every reference value. A check never reads or sorts the reference
data again.

Sampling (numeric Wasserstein only; ``sample_above`` current values, default 500,000): the
current column is replaced by a seeded sample of ``sample_size`` values (default 250,000), drawn
with replacement (so the values are i.i.d. from the current column's empirical distribution).
For a sample of m values from a distribution F with ``J(F) = integral of sqrt(F(x)(1 - F(x))) dx``:
``E[W1(F_m, F)^2] <= J^2 / m`` (Fubini, then Cauchy-Schwarz on ``E|F_m(x) - F(x)|``), hence
``E|error| <= J / (std * sqrt(m))`` and, by Chebyshev, ``P(|error| >= e) <= delta`` for
``e = J / (std * sqrt(m * delta))``, in normalised units. ``J / std`` is 1.36 for uniform data,
1.61 for normal, 1.80 for log-normal(sigma=1), 2.49 for Student t(3); so m = 250,000 keeps the
normalised Wasserstein within 0.0032 of the full-data value on average for normal-shaped
columns, and within 0.032 with probability >= 99%. The sampled score is used only when it lies
farther than ``e`` (computed per column with J estimated from the sorted sample, delta = 0.01,
plus the reference compression error) from the threshold; otherwise the column is recomputed on
all current values. So the verdict differs from the full-data one with probability at most
delta (exactly so for the true J; J is estimated from the sample), and only for columns whose
score is within ``e`` of the threshold. A sampled score near zero reads high by about
``J / (std sqrt(m))`` (0.002 to 0.005 at the defaults), far below the 0.1 threshold. See
:func:`wasserstein_sampling_error`, :func:`wasserstein_sample_size`, :func:`sampled_wasserstein`.

Schema and data-quality changes are results, never exceptions (each in ``ColumnDrift.issue``):

* ``missing from current data``, ``all values missing in current data``, ``non-numeric values in
  current data`` (the strings of ``shared.drift``): the column counts as drifted;
* ``all values missing in reference data``: checked, not drifted (nothing to compare with);
* ``new column in current data``: reported, not counted in the share;
* ``missing-value rate rose from a% to b%`` when it rose by ``MISSING_RATE_JUMP`` (10 points) or
  more: drifted, whatever the stat test says (Evidently drops NaN, so 80% NaN is no drift there);
  the stat test's method and score are still reported;
* ``unseen categories in current data: ...`` whenever current has categories the reference never
  had: reported always; drifted when they hold ``UNSEEN_SHARE_DRIFT`` (5%) or more of the
  current values, otherwise the stat test decides (chi-square already fails on any unseen
  category; Jensen-Shannon from about 3%).

Several issues of one column are joined with "; ".

Storage: ``shared.references`` keeps each profile as a write-once blob beside the reference
data it was built from (:meth:`ReferenceProfile.to_bytes`), readable from every host.

Evidently's HTML report: :func:`render_html_report`, called by the monitor after the check's
verdict has been stored (so never on the decision's path), renders ``shared.drift.detect_drift``
on bounded seeded samples: the reference sample stored in the profile (at most
``HTML_MAX_ROWS`` rows, drawn when the profile is built) and a sample of the current data of the
same bound. The page opens with the verdict of record (this module's, on all rows), since
Evidently's own scores on the samples may differ near thresholds.
"""

from __future__ import annotations

import html
import io
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.drift import (
    ALL_MISSING_IN_CURRENT,
    ALL_MISSING_IN_REFERENCE,
    MISSING_IN_CURRENT,
    NEW_IN_CURRENT,
    NOT_NUMERIC_IN_CURRENT,
    ColumnDrift,
    DriftResult,
    column_has_values,
    is_numeric,
)

log = logging.getLogger(__name__)

KS = "K-S p_value"
CHI_SQUARE = "chi-square p_value"
Z_TEST = "Z-test p_value"
WASSERSTEIN = "Wasserstein distance (normed)"
JENSEN_SHANNON = "Jensen-Shannon distance"
THRESHOLDS = {KS: 0.05, CHI_SQUARE: 0.05, Z_TEST: 0.05, WASSERSTEIN: 0.1, JENSEN_SHANNON: 0.1}

SMALL_REFERENCE_ROWS = 1000  # up to this many reference values: p-value tests
FEW_VALUES = 5  # numeric columns with at most this many distinct values are counted, not ranked
NUMERIC, CATEGORICAL = "numeric", "categorical"

MISSING_RATE_ROSE = "missing-value rate rose"
UNSEEN_CATEGORIES = "unseen categories in current data"
MISSING_RATE_JUMP = 0.10  # absolute rise of the missing-value rate that counts as drift
UNSEEN_SHARE_DRIFT = 0.05  # share of current values in unseen categories that counts as drift

REFERENCE_KEEP = 100_000  # numeric reference values kept per column (mid-quantiles above)
SAMPLE_ABOVE = 500_000  # current values above which Wasserstein is first tried on a sample
SAMPLE_SIZE = 250_000
SAMPLE_DELTA = 0.01  # allowed probability that a sampled verdict differs from the full one
HTML_MAX_ROWS = 5_000  # rows of each side given to Evidently for the HTML report
PARALLEL_ABOVE = 100_000  # current rows from which columns are tested in parallel threads

_FORMAT = "shared.fast_drift.ReferenceProfile"
PROFILE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ColumnProfile:
    """What the drift decision needs to know about one reference column."""

    name: Hashable
    kind: str  # NUMERIC or CATEGORICAL
    n_rows: int
    n_valid: int  # values left after dropping NaN (and +-inf for numeric columns)
    n_unique: int  # distinct valid values
    values: np.ndarray | None = None  # numeric: sorted values, or `keep` mid-quantiles
    compression_error: float = 0.0  # numeric: exact W1(all values, `values`), data units
    std: float | None = None  # numeric: population std of all valid values
    keys: np.ndarray | None = None  # value -> count: categories, or numeric with few values
    counts: np.ndarray | None = None

    @property
    def missing_rate(self) -> float:
        return (self.n_rows - self.n_valid) / self.n_rows if self.n_rows else 0.0

    def key_counts(self) -> dict[Any, int]:
        if self.keys is None or self.counts is None:
            return {}
        return dict(zip(self.keys.tolist(), self.counts.tolist(), strict=True))


@dataclass(frozen=True)
class ReferenceProfile:
    """Reference statistics computed once per monitored model; see the module docstring."""

    columns: tuple[ColumnProfile, ...]
    reference_columns: tuple[Hashable, ...]  # every column of the reference frame
    n_rows: int
    seed: int = 0
    html_sample: bytes | None = field(default=None, repr=False)  # Parquet rows for the HTML

    @classmethod
    def from_frame(
        cls,
        reference: pd.DataFrame,
        columns: Iterable[Hashable],
        *,
        keep: int = REFERENCE_KEEP,
        html_rows: int = HTML_MAX_ROWS,
        seed: int = 0,
    ) -> ReferenceProfile:
        """Profile `columns` of `reference`; ValueError on the inputs ``detect_drift`` refuses."""
        if not isinstance(reference, pd.DataFrame):
            raise ValueError(
                f"reference data must be a pandas DataFrame, not {type(reference).__name__}"
            )
        if len(reference) == 0:
            raise ValueError("reference data has no rows")
        if isinstance(columns, str):
            raise ValueError(f"columns must be a list of column names, not the string {columns!r}")
        names = list(dict.fromkeys(columns))
        absent = [str(name) for name in names if name not in reference.columns]
        if absent:
            raise ValueError(
                f"column(s) to check are missing from reference data: {', '.join(absent)}"
            )
        if keep < SMALL_REFERENCE_ROWS:
            raise ValueError(f"keep must be at least {SMALL_REFERENCE_ROWS}, got {keep}")
        _require_json_names(list(reference.columns))
        profiles = tuple(_profile_column(reference[name], name, keep) for name in names)
        return cls(
            columns=profiles,
            reference_columns=tuple(reference.columns),
            n_rows=len(reference),
            seed=seed,
            html_sample=_html_sample(reference, profiles, html_rows, seed),
        )

    @property
    def column_names(self) -> list[Hashable]:
        return [column.name for column in self.columns]

    def column(self, name: Hashable) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def reference_sample(self) -> pd.DataFrame | None:
        """The seeded reference rows kept for Evidently's HTML report (None if none kept)."""
        if self.html_sample is None:
            return None
        frame = pd.read_parquet(io.BytesIO(self.html_sample))
        frame.columns = [self.columns[int(name[1:])].name for name in frame.columns]
        return frame

    def to_bytes(self) -> bytes:
        """The profile as one ``.npz`` file's bytes (JSON metadata and arrays; no pickle)."""
        arrays: dict[str, np.ndarray] = {}
        columns = []
        for index, column in enumerate(self.columns):
            entry = {
                "name": column.name,
                "kind": column.kind,
                "n_rows": column.n_rows,
                "n_valid": column.n_valid,
                "n_unique": column.n_unique,
                "compression_error": column.compression_error,
                "std": column.std,
            }
            for key in ("values", "keys", "counts"):
                array = getattr(column, key)
                if array is not None:
                    arrays[f"{key}_{index}"] = array
            columns.append(entry)
        meta = {
            "format": _FORMAT,
            "version": PROFILE_FORMAT_VERSION,
            "n_rows": self.n_rows,
            "seed": self.seed,
            "reference_columns": list(self.reference_columns),
            "columns": columns,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        if self.html_sample is not None:
            arrays["html_sample"] = np.frombuffer(self.html_sample, dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
            if meta.get("format") != _FORMAT or meta.get("version") != PROFILE_FORMAT_VERSION:
                raise ValueError(f"not a version {PROFILE_FORMAT_VERSION} reference profile")
            columns = []
            for index, entry in enumerate(meta["columns"]):
                found = {
                    key: arrays[f"{key}_{index}"]
                    for key in ("values", "keys", "counts")
                    if f"{key}_{index}" in arrays
                }
                columns.append(ColumnProfile(**entry, **found))
            html_sample = arrays["html_sample"].tobytes() if "html_sample" in arrays else None
        return cls(
            columns=tuple(columns),
            reference_columns=tuple(meta["reference_columns"]),
            n_rows=meta["n_rows"],
            seed=meta["seed"],
            html_sample=html_sample,
        )


@dataclass(frozen=True)
class ColumnNote:
    """How one column's score was obtained (for benchmarks and diagnostics)."""

    column: Hashable
    sampled: bool = False  # the score comes from a seeded sample of the current values
    sample_size: int | None = None
    error_bound: float | None = None  # the guard e of the module docstring (normalised)
    recomputed: bool = False  # the sample's score was too close to the threshold: full data used
    seconds: float = 0.0


@dataclass(frozen=True)
class FastDriftRun:
    result: DriftResult
    notes: dict[Hashable, ColumnNote]


def detect_drift_fast(
    profile: ReferenceProfile | Path | str, current: pd.DataFrame, **options: Any
) -> DriftResult:
    """Drift of `current` from the profiled reference, as Evidently's default tests decide.

    Options as :func:`run_fast_drift`.
    """
    return run_fast_drift(profile, current, **options).result


def run_fast_drift(
    profile: ReferenceProfile | Path | str,
    current: pd.DataFrame,
    *,
    columns: Iterable[Hashable] | None = None,
    sample_above: int | None = SAMPLE_ABOVE,
    sample_size: int = SAMPLE_SIZE,
    sample_delta: float = SAMPLE_DELTA,
    workers: int | None = None,
) -> FastDriftRun:
    """The drift result, with per-column notes on how each score was computed.

    `columns` restricts the check to some of the profiled columns (default: all of them).
    `sample_above=None` turns sampling off.
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
    positions = {name: index for index, name in enumerate(profile.column_names)}

    def check(column: ColumnProfile) -> tuple[ColumnDrift, ColumnNote]:
        started = time.perf_counter()
        rng_key = (profile.seed, positions[column.name])
        drift, note = _check_column(column, current, sampling, rng_key)
        return drift, replace(note, seconds=time.perf_counter() - started)

    n_workers = workers or min(4, os.cpu_count() or 1)
    if n_workers > 1 and len(selected) > 1 and len(current) >= PARALLEL_ABOVE:
        # numpy sorts and merges release the GIL: columns overlap on several cores
        with ThreadPoolExecutor(n_workers, thread_name_prefix="fast-drift") as pool:
            checked = list(pool.map(check, selected))
    else:
        checked = [check(column) for column in selected]

    results = [drift for drift, _ in checked]
    known = set(profile.reference_columns) | {column.name for column in selected}
    results += [
        ColumnDrift(name, None, None, None, drifted=False, issue=NEW_IN_CURRENT)
        for name in current.columns
        if name not in known
    ]
    counted = [item for item in results if item.issue != NEW_IN_CURRENT]
    share = sum(item.drifted for item in counted) / len(counted) if counted else 0.0
    result = DriftResult(tuple(results), share, profile.n_rows, len(current))
    notes = {note.column: note for _, note in checked}
    return FastDriftRun(result, notes)


# --- the sampling bound -------------------------------------------------------------------------


def wasserstein_sampling_error(j_over_std: float, sample_size: int, delta: float) -> float:
    """Normalised W1 error e with P(|sampled - full| >= e) <= delta (Chebyshev on E[W1^2])."""
    return j_over_std / math.sqrt(sample_size * delta)


def wasserstein_sample_size(j_over_std: float, error: float, delta: float) -> int:
    """Smallest sample size for which :func:`wasserstein_sampling_error` is at most `error`."""
    return math.ceil((j_over_std / error) ** 2 / delta)


def j_functional(sorted_values: np.ndarray) -> float:
    """J(F) = integral of sqrt(F (1 - F)) dx for the empirical distribution of sorted values."""
    n = sorted_values.size
    if n < 2:
        return 0.0
    cdf = np.arange(1, n, dtype=np.float64) / n
    return float(np.dot(np.diff(sorted_values), np.sqrt(cdf * (1.0 - cdf))))


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """Exact W1 distance between the empirical distributions of two sorted, non-empty arrays.

    Equal to ``scipy.stats.wasserstein_distance`` (to rounding), in O(n + m) once sorted: the
    integral of |Q_u(t) - Q_v(t)| over t in [0, 1], over the merged steps of the two quantile
    functions, with the step boundaries i/n and j/m scaled by n*m to exact integers.
    """
    n, m = u.size, v.size
    steps_u = np.arange(n, dtype=np.int64) * m
    steps_v = np.arange(m + 1, dtype=np.int64) * n
    bounds = np.concatenate((steps_u, steps_v))
    bounds.sort(kind="stable")  # two sorted runs: one merge
    lengths = np.diff(bounds)
    starts = bounds[:-1]
    nonempty = lengths > 0
    starts, lengths = starts[nonempty], lengths[nonempty]
    return float(np.dot(lengths, np.abs(u[starts // m] - v[starts // n]))) / (n * m)


# --- Evidently's tests, from the profile ----------------------------------------------------------


def _check_column(
    profile: ColumnProfile,
    current: pd.DataFrame,
    sampling: tuple[int, int, float] | None,
    rng_key: tuple[int, int],
) -> tuple[ColumnDrift, ColumnNote]:
    name = profile.name
    note = ColumnNote(name)
    if name not in current.columns:
        return _issue(name, MISSING_IN_CURRENT), note
    series = current[name]
    values = counts = None
    if profile.kind == NUMERIC and is_numeric(series):
        values = _finite(series)
        has_values = values.size > 0
    elif profile.kind == CATEGORICAL:
        counts, n_valid = _category_counts(series)
        # as shared.drift: a numeric column holding only infinities has no values either
        has_values = n_valid > 0 and (not is_numeric(series) or column_has_values(series))
    else:
        has_values = column_has_values(series)
    if not has_values:
        return _issue(name, ALL_MISSING_IN_CURRENT), note
    if profile.n_valid == 0:
        return _issue(name, ALL_MISSING_IN_REFERENCE), note
    if profile.kind == NUMERIC and values is None:
        return _issue(name, NOT_NUMERIC_IN_CURRENT), note

    issues: list[str] = []
    forced = False
    if profile.kind == NUMERIC:
        assert values is not None
        n_valid = values.size
        method, score, note = _numeric_test(profile, values, sampling, rng_key, note)
    else:
        assert counts is not None
        method, score = _counted_test(profile, counts, n_valid)
        known = profile.key_counts()
        unseen = {key: count for key, count in counts.items() if key not in known}
        if unseen:
            share = sum(unseen.values()) / n_valid
            issues.append(_unseen_text(unseen, share))
            forced = share >= UNSEEN_SHARE_DRIFT
    current_missing = 1.0 - n_valid / len(series)
    if current_missing - profile.missing_rate >= MISSING_RATE_JUMP - 1e-12:
        issues.append(
            f"{MISSING_RATE_ROSE} from {profile.missing_rate:.1%} to {current_missing:.1%}"
        )
        forced = True
    threshold = THRESHOLDS[method]
    finite = score is not None and math.isfinite(score)
    drifted = forced or (finite and exceeds_threshold(method, score, threshold))
    return (
        ColumnDrift(
            column=name,
            method=method,
            score=float(score) if finite else None,
            threshold=threshold,
            drifted=bool(drifted),
            issue="; ".join(issues) or None,
        ),
        note,
    )


def exceeds_threshold(method: str, score: float, threshold: float) -> bool:
    """Evidently's comparison of each test: which side of the threshold is drift."""
    if method == KS:
        return score <= threshold
    if method in (CHI_SQUARE, Z_TEST):
        return score < threshold
    return score >= threshold  # the distances


def _numeric_test(
    profile: ColumnProfile,
    values: np.ndarray,
    sampling: tuple[int, int, float] | None,
    rng_key: tuple[int, int],
    note: ColumnNote,
) -> tuple[str, float, ColumnNote]:
    counts: dict[Any, int] | None = None
    if profile.n_unique <= FEW_VALUES:
        counts = pd.Series(values).value_counts(sort=False).to_dict()
        if len(set(counts) | set(profile.key_counts())) > FEW_VALUES:
            counts = None
    if counts is not None:  # n_values <= 5
        method, score = _counted_test(profile, counts, values.size)
        return method, score, note
    if profile.n_valid <= SMALL_REFERENCE_ROWS:
        from scipy.stats import ks_2samp

        return KS, float(ks_2samp(profile.values, values)[1]), note
    return _wasserstein(profile, values, sampling, rng_key, note)


def _wasserstein(
    profile: ColumnProfile,
    values: np.ndarray,
    sampling: tuple[int, int, float] | None,
    rng_key: tuple[int, int],
    note: ColumnNote,
) -> tuple[str, float, ColumnNote]:
    assert profile.values is not None and profile.std is not None
    if sampling is not None and values.size > max(sampling[0], sampling[1]):
        _, size, delta = sampling
        rng = np.random.default_rng(list(rng_key))
        estimate, bound = sampled_wasserstein(profile, values, size, delta, rng)
        if abs(estimate - THRESHOLDS[WASSERSTEIN]) > bound:
            return (
                WASSERSTEIN,
                estimate,
                replace(note, sampled=True, sample_size=size, error_bound=bound),
            )
        note = replace(note, sample_size=size, error_bound=bound, recomputed=True)
    norm = max(profile.std, 0.001)
    return WASSERSTEIN, wasserstein_sorted(profile.values, np.sort(values)) / norm, note


def sampled_wasserstein(
    profile: ColumnProfile,
    values: np.ndarray,
    size: int,
    delta: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Normalised Wasserstein on `size` values drawn with replacement, and its error bound.

    The bound is :func:`wasserstein_sampling_error` for J estimated on the sorted sample, plus
    the profile's compression error: the sampled score is within it of the score on all
    `values` with probability at least ``1 - delta`` (module docstring).
    """
    assert profile.values is not None and profile.std is not None
    norm = max(profile.std, 0.001)
    sample = np.sort(values[rng.integers(0, values.size, size)])
    estimate = wasserstein_sorted(profile.values, sample) / norm
    bound = wasserstein_sampling_error(j_functional(sample) / norm, size, delta)
    return estimate, bound + profile.compression_error / norm


def _counted_test(
    profile: ColumnProfile, current: dict[Any, int], n_current: int
) -> tuple[str, float]:
    """Chi-square, Z-test or Jensen-Shannon on value counts, chosen as Evidently chooses."""
    reference = profile.key_counts()
    keys = list(set(reference) | set(current))
    n_reference = profile.n_valid
    if n_reference > SMALL_REFERENCE_ROWS:
        from scipy.spatial import distance

        p = np.array([reference.get(key, 0) / n_reference for key in keys])
        q = np.array([current.get(key, 0) / n_current for key in keys])
        return JENSEN_SHANNON, float(distance.jensenshannon(p, q))
    if len(keys) > 2:
        from scipy.stats import chisquare

        scale = n_current / n_reference
        expected = [reference.get(key, 0) * scale for key in keys]
        observed = [current.get(key, 0) for key in keys]
        with np.errstate(divide="ignore", invalid="ignore"):  # an unseen key: p = 0, as there
            return CHI_SQUARE, float(chisquare(observed, expected)[1])
    return Z_TEST, _z_test(reference, current, n_reference, n_current)


def _z_test(
    reference: dict[Any, int], current: dict[Any, int], n_reference: int, n_current: int
) -> float:
    from scipy.stats import norm

    if len(reference) == 1 and len(current) == 1 and set(reference) == set(current):
        return 1.0
    first = sorted(set(reference) | set(current))[0]
    p1 = (n_reference - reference.get(first, 0)) / n_reference
    p2 = (n_current - current.get(first, 0)) / n_current
    pooled = (p1 * n_reference + p2 * n_current) / (n_reference + n_current)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n_reference + 1.0 / n_current))
    return float(2 * (1 - norm.cdf(np.abs(z))))


# --- column statistics ----------------------------------------------------------------------------


def _profile_column(series: pd.Series, name: Hashable, keep: int) -> ColumnProfile:
    if is_numeric(series):
        values = np.sort(_finite(series))
        n = values.size
        if n == 0:
            return ColumnProfile(name, NUMERIC, len(series), 0, 0, values=values, std=0.0)
        starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
        keys = counts = None
        if starts.size <= FEW_VALUES:
            keys = values[starts]
            counts = np.diff(np.append(starts, n)).astype(np.int64)
        kept, error = values, 0.0
        if n > keep:
            kept = values[(2 * np.arange(keep, dtype=np.int64) + 1) * n // (2 * keep)]
            error = wasserstein_sorted(values, kept)
        return ColumnProfile(
            name,
            NUMERIC,
            len(series),
            n,
            int(starts.size),
            values=kept,
            compression_error=error,
            std=float(np.std(values)),
            keys=keys,
            counts=counts,
        )
    counts, n = _category_counts(series)
    keys = np.array(list(counts), dtype=str) if counts else np.array([], dtype="<U1")
    return ColumnProfile(
        name,
        CATEGORICAL,
        len(series),
        n,
        len(counts),
        keys=keys,
        counts=np.array(list(counts.values()), dtype=np.int64),
    )


def _finite(series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, np.dtype):  # plain numpy dtype: no copy for float64
        values = series.to_numpy(dtype=np.float64, copy=False)
    else:  # nullable extension dtypes hold pd.NA
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[np.isfinite(values)]


def _category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    """Counts of each category as a string (as ``shared.drift`` gives them to Evidently)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)  # hashing, no sort: fastest
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    keys = list(uniques)
    if all(type(key) is str for key in keys):  # the usual case: strings already
        return dict(zip(keys, counts.tolist(), strict=True)), int(counts.sum())
    if pd.api.types.is_object_dtype(series.dtype):
        # 1, 1.0 and True are one key to a hash table but three strings: convert first
        present = series[series.notna()]
        return _category_counts(present.astype(str))
    merged: dict[str, int] = {}
    for key, count in zip(keys, counts.tolist(), strict=True):
        merged[str(key)] = merged.get(str(key), 0) + count
    return merged, int(counts.sum())


def _unseen_text(unseen: dict[str, int], share: float) -> str:
    shown = sorted(unseen, key=lambda key: (-unseen[key], key))[:5]
    more = ", ..." if len(unseen) > len(shown) else ""
    listed = ", ".join(repr(key) for key in shown)
    return f"{UNSEEN_CATEGORIES}: {len(unseen)} ({share:.1%} of values): {listed}{more}"


def _issue(name: Hashable, issue: str) -> ColumnDrift:
    drifted = issue in (MISSING_IN_CURRENT, ALL_MISSING_IN_CURRENT, NOT_NUMERIC_IN_CURRENT)
    return ColumnDrift(name, None, None, None, drifted=drifted, issue=issue)


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


def _require_json_names(names: list[Hashable]) -> None:
    for name in names:
        if not isinstance(name, str | int) or isinstance(name, bool):
            raise ValueError(f"column names must be strings or integers to be stored: {name!r}")


def _html_sample(
    reference: pd.DataFrame, profiles: tuple[ColumnProfile, ...], rows: int, seed: int
) -> bytes | None:
    if rows <= 0 or not profiles:
        return None
    sample = reference[[column.name for column in profiles]]
    if len(sample) > rows:
        sample = sample.sample(n=rows, random_state=seed)
    sample = sample.reset_index(drop=True)
    sample.columns = [f"c{index}" for index in range(len(profiles))]
    for index, column in enumerate(profiles):
        if column.kind == CATEGORICAL:
            values = sample[f"c{index}"].astype(object)
            sample[f"c{index}"] = values.where(values.isna(), values.astype(str))
    buffer = io.BytesIO()
    try:
        sample.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ImportError) as exc:  # unusual dtypes: no charts, no crash
        log.warning("no reference sample kept for drift HTML reports: %s", exc)
        return None
    return buffer.getvalue()


# --- the HTML report, off the decision's path -----------------------------------------------------


def render_html_report(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    result: DriftResult,
    *,
    max_rows: int = HTML_MAX_ROWS,
) -> str:
    """Evidently's report as one HTML page, on bounded seeded samples, headed by the verdict."""
    from shared.drift import detect_drift

    current = _bounded_sample(current, max_rows, profile.seed)
    reference = profile.reference_sample()
    try:
        if reference is None:
            raise ValueError("the profile keeps no reference rows")
        columns = [name for name in profile.column_names if name in reference.columns]
        with tempfile.TemporaryDirectory() as directory, np.errstate(all="ignore"):
            path = Path(directory, "report.html")
            detect_drift(reference, current, columns, html_path=path)
            page = path.read_text(encoding="utf-8")
        note = (
            f"Evidently's report below was computed on seeded samples of {len(reference):,} "
            f"reference and {len(current):,} current rows; near thresholds its scores and "
            "verdicts can differ from the verdict of record."
        )
    except Exception as exc:  # the verdict is recorded already: say why there are no charts
        log.exception("Evidently's drift report could not be rendered")
        page = "<!DOCTYPE html>\n<html><body></body></html>\n"
        note = f"Evidently's report could not be rendered: {html.escape(repr(exc))}"
    match = re.search(r"<body[^>]*>", page)
    at = match.end() if match else 0
    return page[:at] + _verdict_html(result, note) + page[at:]


def _bounded_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame.copy()
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _verdict_html(result: DriftResult, note: str) -> str:
    rows = "".join(
        "<tr{cls}><td>{column}</td><td>{method}</td><td>{score}</td><td>{threshold}</td>"
        "<td>{drifted}</td><td>{issue}</td></tr>".format(
            cls=' style="background:#fdecea"' if item.drifted else "",
            column=html.escape(str(item.column)),
            method=html.escape(item.method or ""),
            score="" if item.score is None else f"{item.score:.4g}",
            threshold="" if item.threshold is None else f"{item.threshold:g}",
            drifted="yes" if item.drifted else "no",
            issue=html.escape(item.issue or ""),
        )
        for item in result.columns
    )
    return (
        '<section id="drift-verdict" style="font-family:sans-serif;margin:1rem 2rem">'
        "<h2>Drift verdict of record</h2>"
        f"<p>{html.escape(result.summary())}, on all {result.n_reference:,} reference and "
        f"{result.n_current:,} current rows (Evidently 0.7.23's default tests, computed by "
        f"shared.fast_drift).</p><p>{note}</p>"
        '<table border="1" cellpadding="4" style="border-collapse:collapse">'
        "<tr><th>column</th><th>method</th><th>score</th><th>threshold</th><th>drifted</th>"
        f"<th>issue</th></tr>{rows}</table></section>"
    )
