"""What a drift test is: its name, the method it reports, its threshold, its side, its score.

Why a record per test: the verdict asks "which test, what score, is it drift?" by the test's
name, so a later option can choose a test per column by name and override its threshold
without touching the verdict (Evidently's ``StatTest`` and ``register_stattest`` in
``evidently/legacy/calculations/stattests/registry.py`` serve the same purpose).

A test reads one of two inputs, as the reference profile stores them:

* ``VALUES`` (numeric columns): ``compute(reference, current)`` with the column's
  :class:`~shared.drift.profile.ColumnProfile` (sorted reference values, their std) and the
  current column's finite values;
* ``COUNTS`` (categories, or numeric columns with few values): ``compute(reference, current,
  n_reference, n_current)`` with the count of each value on each side and the totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

VALUES, COUNTS = "values", "counts"


@dataclass(frozen=True)
class StatTest:
    name: str  # Evidently's stat test name, e.g. "ks": how a test is chosen
    method: str  # the method reported per column (Evidently's display name), e.g. "K-S p_value"
    threshold: float  # Evidently's default threshold
    drift_if: Callable[[float, float], bool]  # (score, threshold) -> is drift: which side
    inputs: str  # VALUES or COUNTS
    compute: Callable[..., float]

    def drifted(self, score: float, threshold: float | None = None) -> bool:
        """Whether `score` is drift against `threshold` (default: the test's own)."""
        return self.drift_if(score, self.threshold if threshold is None else threshold)
