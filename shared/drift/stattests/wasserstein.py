"""Normalised Wasserstein distance (Evidently's ``wasserstein``): drift at ``>= 0.1``.

``W1(reference, current) / max(std(reference), 0.001)``, with the population std of all
reference values. Evidently's default for numeric columns with more than 5 distinct values
above 1000 reference values.

W1 is computed exactly on sorted arrays (:func:`wasserstein_sorted`), in O(n + m) once
sorted: the reference side is sorted once, when the profile is built. The profile keeps at
most ``keep`` reference values (mid-quantiles) and the exact W1 between all reference values
and the kept ones, so by the triangle inequality the score differs from the full-reference one
by at most ``compression_error / std`` (``shared.drift.profile``).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import numpy as np

from shared.drift.stattests.base import VALUES, StatTest

if TYPE_CHECKING:
    from shared.drift.profile import ColumnProfile

MIN_STD = 0.001  # Evidently's floor of the reference std it divides by


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
    # multiply and sum, not np.dot: BLAS threads contend with OpenMP threads other libraries
    # leave spinning (10-40x slower in a long-lived server), and vectors this size gain nothing
    gaps = np.abs(u[starts // m] - v[starts // n])
    return float(np.multiply(lengths, gaps).sum()) / (n * m)


def norm(reference: ColumnProfile) -> float:
    """What W1 is divided by: the reference std, at least ``MIN_STD``."""
    assert reference.std is not None
    return max(reference.std, MIN_STD)


def wasserstein_normed(reference: ColumnProfile, current: np.ndarray) -> float:
    """The score on every current value (the profile's kept reference values, sorted)."""
    assert reference.values is not None
    return wasserstein_sorted(reference.values, np.sort(current)) / norm(reference)


WASSERSTEIN = StatTest(
    "wasserstein",
    "Wasserstein distance (normed)",
    0.1,
    operator.ge,
    VALUES,
    wasserstein_normed,
)
