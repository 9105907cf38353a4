"""Jensen-Shannon distance over value shares (Evidently's ``jensenshannon``): drift at ``>= 0.1``.

Natural log, over the share of each value on each side. No binning applies: Evidently bins
numeric columns only above 20 reference values, which never reach this test by default.
Evidently's default above 1000 reference values for categorical columns and numeric columns
with at most 5 distinct values.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from shared.drift.stattests.base import COUNTS, StatTest


def jensen_shannon_distance(
    reference: Mapping[Any, int], current: Mapping[Any, int], n_reference: int, n_current: int
) -> float:
    from scipy.spatial import distance

    keys = list(set(reference) | set(current))
    p = np.array([reference.get(key, 0) / n_reference for key in keys])
    q = np.array([current.get(key, 0) / n_current for key in keys])
    return float(distance.jensenshannon(p, q))


JENSEN_SHANNON = StatTest(
    "jensenshannon", "Jensen-Shannon distance", 0.1, operator.ge, COUNTS, jensen_shannon_distance
)
