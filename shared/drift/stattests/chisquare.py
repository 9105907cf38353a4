"""Pearson's chi-square test on value counts (Evidently's ``chisquare``): drift when ``p < 0.05``.

Expected counts are the reference counts scaled to the current size, as Evidently computes
them; a category the reference never had gives p = 0. Evidently's default for at most 1000
reference values and more than 2 distinct values (categorical, or numeric with at most 5).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from shared.drift.stattests.base import COUNTS, StatTest


def chi_square_p_value(
    reference: Mapping[Any, int], current: Mapping[Any, int], n_reference: int, n_current: int
) -> float:
    from scipy.stats import chisquare

    keys = list(set(reference) | set(current))
    scale = n_current / n_reference
    expected = [reference.get(key, 0) * scale for key in keys]
    observed = [current.get(key, 0) for key in keys]
    with np.errstate(divide="ignore", invalid="ignore"):  # an unseen key: p = 0, as there
        return float(chisquare(observed, expected)[1])


CHI_SQUARE = StatTest(
    "chisquare", "chi-square p_value", 0.05, operator.lt, COUNTS, chi_square_p_value
)
