"""Two-proportion Z-test (Evidently's ``z``): drift when ``p < 0.05``.

The proportion compared is that of "equals the smallest value" on each side; one identical
constant on both sides gives p = 1. Evidently's default for at most 1000 reference values and
at most 2 distinct values.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from shared.drift.stattests.base import COUNTS, StatTest


def z_test_p_value(
    reference: Mapping[Any, int], current: Mapping[Any, int], n_reference: int, n_current: int
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


Z_TEST = StatTest("z", "Z-test p_value", 0.05, operator.lt, COUNTS, z_test_p_value)
