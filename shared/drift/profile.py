"""The reference profile: what a drift check needs to know about the reference, built once.

Why: a check must never read or sort the reference data again. The profile is built when the
monitors are set (``shared.drift.store`` keeps it as a write-once blob beside the reference)
and holds, per column: its kind (``shared.drift.columns``), row and value counts, missing-value
rate and number of distinct values; for numeric columns the population std of all values and
the sorted values, and the counts of each value when there are at most 5; for categorical
columns the count of each category.

Above ``keep`` values (default 100,000) a numeric column keeps ``keep`` mid-quantiles (order
statistics ``(2k+1)N/(2 keep)``) instead of every value, and the profile stores the exact W1
distance between all values and the kept ones (``compression_error``). By the triangle
inequality the normalised Wasserstein score then differs from the full-reference one by at
most ``compression_error / std``: for smooth columns about 1e-5, reported per column. The K-S
test (up to 1000 reference values) always sees every reference value.

The profile is one ``.npz`` file (JSON metadata and arrays; no pickle), with a seeded sample of
at most ``HTML_MAX_ROWS`` reference rows (Parquet) for Evidently's HTML report.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shared.drift.columns import (
    CATEGORICAL,
    NUMERIC,
    as_strings,
    category_counts,
    finite_values,
    is_numeric,
)
from shared.drift.stattests.registry import FEW_VALUES, SMALL_REFERENCE_ROWS
from shared.drift.stattests.wasserstein import wasserstein_sorted

log = logging.getLogger(__name__)

REFERENCE_KEEP = 100_000  # numeric reference values kept per column (mid-quantiles above)
HTML_MAX_ROWS = 5_000  # rows of each side given to Evidently for the HTML report

# The format tag written into every stored profile since version 1. It names the module that
# first wrote profiles; profiles already stored carry it, so it must not change.
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
        """The profile :meth:`to_bytes` wrote; ValueError for another format or version."""
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


def _profile_column(series: pd.Series, name: Hashable, keep: int) -> ColumnProfile:
    if is_numeric(series):
        values = np.sort(finite_values(series))
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
    category, n = category_counts(series)
    keys = np.array(list(category), dtype=str) if category else np.array([], dtype="<U1")
    return ColumnProfile(
        name,
        CATEGORICAL,
        len(series),
        n,
        len(category),
        keys=keys,
        counts=np.array(list(category.values()), dtype=np.int64),
    )


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
            sample[f"c{index}"] = as_strings(sample[f"c{index}"])
    buffer = io.BytesIO()
    try:
        sample.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ImportError) as exc:  # unusual dtypes: no charts, no crash
        log.warning("no reference sample kept for drift HTML reports: %s", exc)
        return None
    return buffer.getvalue()
