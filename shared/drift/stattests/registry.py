"""The drift tests by name, and the test Evidently 0.7.23 chooses for a column by default.

Default choice (``_get_default_stattest`` in Evidently's
``evidently/legacy/calculations/stattests/registry.py``; every name, threshold and comparison
is Evidently's). ``n_reference`` is the number of reference values left after cleaning (NaN,
and +-inf for numeric columns, dropped), ``n_values`` the number of distinct values in
reference and current together:

* ``n_reference <= 1000``: numeric with ``n_values > 5``: K-S; otherwise (categorical, or
  numeric with at most 5 values) chi-square when ``n_values > 2``, else Z-test;
* ``n_reference > 1000``: numeric with ``n_values > 5``: normalised Wasserstein; otherwise
  Jensen-Shannon.

Tests are looked up by Evidently's stat test name (``"ks"``, ``"chisquare"``, ``"z"``,
``"wasserstein"``, ``"jensenshannon"``), which is how a column's test would be chosen, or by
the method a result reports (``"K-S p_value"``...), which is how a stored verdict is read.
"""

from __future__ import annotations

from shared.drift.stattests.base import StatTest
from shared.drift.stattests.chisquare import CHI_SQUARE
from shared.drift.stattests.jensenshannon import JENSEN_SHANNON
from shared.drift.stattests.ks import KS
from shared.drift.stattests.wasserstein import WASSERSTEIN
from shared.drift.stattests.z_test import Z_TEST

SMALL_REFERENCE_ROWS = 1000  # up to this many reference values: p-value tests
FEW_VALUES = 5  # numeric columns with at most this many distinct values are counted, not ranked

STATTESTS: dict[str, StatTest] = {
    test.name: test for test in (KS, CHI_SQUARE, Z_TEST, WASSERSTEIN, JENSEN_SHANNON)
}
_BY_METHOD = {test.method: test for test in STATTESTS.values()}
THRESHOLDS = {test.method: test.threshold for test in STATTESTS.values()}  # by reported method


def default_stattest(numeric: bool, n_reference: int, n_values: int) -> StatTest:
    """Evidently's default test for a column (module docstring)."""
    if n_reference <= SMALL_REFERENCE_ROWS:
        if numeric and n_values > FEW_VALUES:
            return KS
        return CHI_SQUARE if n_values > 2 else Z_TEST
    if numeric and n_values > FEW_VALUES:
        return WASSERSTEIN
    return JENSEN_SHANNON


def exceeds_threshold(method: str, score: float, threshold: float) -> bool:
    """Evidently's comparison of the test that reports `method`: which side of it is drift."""
    return _BY_METHOD[method].drifted(score, threshold)
