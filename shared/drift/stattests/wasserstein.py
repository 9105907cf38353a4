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
    functions, with the step boundaries i/n and j/m scaled by n*m to exact integers. Taken in
    pieces of the t axis, so its temporaries stay a few MB however long the arrays are.
    """
    n, m = u.size, v.size
    total = n * m
    pieces = max(1, (n + m) // _PIECE)
    area = 0.0
    for piece in range(pieces):
        low, high = total * piece // pieces, total * (piece + 1) // pieces
        area += _area_between(u, v, low, high)
    return area / total


_PIECE = 1 << 16  # step boundaries handled at once


def _area_between(u: np.ndarray, v: np.ndarray, low: int, high: int) -> float:
    """The integral over scaled t in [low, high): the steps of both functions that start in
    it, and ``low`` itself (the step it falls in has the indices of ``low``)."""
    n, m = u.size, v.size
    bounds = np.concatenate(
        (
            np.array([low], dtype=np.int64),
            np.arange(-(-low // m), -(-high // m), dtype=np.int64) * m,  # u's steps: i*m
            np.arange(-(-low // n), -(-high // n), dtype=np.int64) * n,  # v's steps: j*n
            np.array([high], dtype=np.int64),
        )
    )
    bounds.sort()
    lengths = np.diff(bounds)  # a boundary both share (or low itself) adds a length of 0
    starts = bounds[:-1]
    gaps = np.abs(u[starts // m] - v[starts // n])
    # multiply and sum, not np.dot: BLAS threads contend with OpenMP threads other libraries
    # leave spinning (10-40x slower in a long-lived server), and vectors this size gain nothing
    gaps *= lengths
    return float(gaps.sum())


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
