"""Evidently's per-column drift tests, one module each, chosen by name (see ``registry``)."""

from shared.drift.stattests.base import COUNTS, VALUES, StatTest
from shared.drift.stattests.chisquare import CHI_SQUARE
from shared.drift.stattests.jensenshannon import JENSEN_SHANNON
from shared.drift.stattests.ks import KS
from shared.drift.stattests.registry import (
    FEW_VALUES,
    SMALL_REFERENCE_ROWS,
    STATTESTS,
    THRESHOLDS,
    default_stattest,
    exceeds_threshold,
)
from shared.drift.stattests.wasserstein import WASSERSTEIN
from shared.drift.stattests.z_test import Z_TEST

__all__ = [
    "CHI_SQUARE",
    "COUNTS",
    "FEW_VALUES",
    "JENSEN_SHANNON",
    "KS",
    "SMALL_REFERENCE_ROWS",
    "STATTESTS",
    "THRESHOLDS",
    "VALUES",
    "WASSERSTEIN",
    "Z_TEST",
    "StatTest",
    "default_stattest",
    "exceeds_threshold",
]
