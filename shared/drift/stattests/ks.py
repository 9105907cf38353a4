"""Two-sample Kolmogorov-Smirnov test (Evidently's ``ks``): drift when ``p <= 0.05``.

Evidently's default for numeric columns with more than 5 distinct values and at most 1000
reference values, which the profile always keeps in full.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import numpy as np

from shared.drift.stattests.base import VALUES, StatTest

if TYPE_CHECKING:
    from shared.drift.profile import ColumnProfile


def ks_p_value(reference: ColumnProfile, current: np.ndarray) -> float:
    """``scipy.stats.ks_2samp``'s p-value between the reference values and `current`."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference.values, current)[1])


KS = StatTest("ks", "K-S p_value", 0.05, operator.le, VALUES, ks_p_value)
