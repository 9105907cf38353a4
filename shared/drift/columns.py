"""How a column is read for drift: numeric or categorical, and cleaned as Evidently cleans it.

Why one module: the fast check (profile and verdict) and the Evidently reference path must
read a column the same way, or their verdicts part on the edge cases (booleans, infinities,
mixed-type categories, nullable dtypes).

* A column is numeric when its dtype is numeric and not boolean (Evidently's numeric tests
  crash on booleans); every other column is categorical.
* Missing values are NaN, and for numeric columns +-inf too: Evidently drops both.
* Categories are compared as strings: Evidently sorts category values, which raises on mixed
  types such as 1 and "a", so both paths hand it (and count) their string forms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NUMERIC, CATEGORICAL = "numeric", "categorical"


def is_numeric(series: pd.Series) -> bool:
    # Booleans are categories: Evidently's numeric tests crash on them (numpy bool subtract).
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def column_has_values(series: pd.Series) -> bool:
    present = series.dropna()
    if is_numeric(present):
        # Evidently drops infinities along with NaN, so an all-inf column is empty to it too.
        present = present[np.isfinite(present.astype(float))]
    return not present.empty


def finite_values(series: pd.Series) -> np.ndarray:
    """A numeric column's values as float64, NaN, pd.NA and +-inf dropped."""
    if isinstance(series.dtype, np.dtype):  # plain numpy dtype: no copy for float64
        values = series.to_numpy(dtype=np.float64, copy=False)
    else:  # nullable extension dtypes hold pd.NA
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[np.isfinite(values)]


def category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    """Counts of each category as a string (as they are given to Evidently), and their total."""
    counted = _hash_counts(series)
    if all(type(key) is str for key in counted):  # the usual case: strings already
        return counted, sum(counted.values())
    if pd.api.types.is_object_dtype(series.dtype):
        # 1, 1.0 and True are one key to a hash table but three strings: convert first
        present = series[series.notna()]
        return category_counts(present.astype(str))
    merged: dict[str, int] = {}
    for key, count in counted.items():
        merged[str(key)] = merged.get(str(key), 0) + count
    return merged, sum(merged.values())


_COUNT_ROWS = 1 << 17  # rows hashed at once: a few MB of labels at any length (48 MB whole at 1M)


def _hash_counts(series: pd.Series) -> dict[Any, int]:
    """Counts of each present value, by hashing (no sort), a slice of rows at a time."""
    counts: dict[Any, int] = {}
    for start in range(0, len(series), _COUNT_ROWS):
        codes, uniques = pd.factorize(series.iloc[start : start + _COUNT_ROWS])
        found = np.bincount(codes[codes >= 0], minlength=len(uniques)).tolist()
        for key, count in zip(uniques, found, strict=True):
            counts[key] = counts.get(key, 0) + count
    return counts


def as_strings(series: pd.Series) -> pd.Series:
    """A categorical column with every present value as its string, missing values kept."""
    values = series.astype(object)
    return values.where(values.isna(), values.astype(str))
