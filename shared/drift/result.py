"""A drift check's result, and the one list of data-quality issues and which count as drift.

Why one module: the fast verdict and the Evidently reference path report the same issues with
the same words, and must agree on which of them make a column drift; both build their results
here. Schema and data-quality changes are results, never exceptions (``ColumnDrift.issue``):

* ``missing from current data``, ``all values missing in current data``, ``non-numeric values
  in current data``: the column could not be tested and counts as drifted (a feature that
  vanished or changed type has drifted);
* ``all values missing in reference data``: checked, not drifted (nothing to compare with);
* ``new column in current data``: reported, not counted in the share;

and, for a column that was tested (fast check only; Evidently has no such rule):

* ``missing-value rate rose from a% to b%`` when it rose by ``MISSING_RATE_JUMP`` (10 points) or
  more: drifted, whatever the stat test says (Evidently drops NaN, so 80% NaN is no drift
  there); the stat test's method and score are still reported;
* ``unseen categories in current data: ...`` whenever current has categories the reference
  never had: reported always; drifted when they hold ``UNSEEN_SHARE_DRIFT`` (5%) or more of the
  current values, otherwise the stat test decides (chi-square already fails on any unseen
  category; Jensen-Shannon from about 3%).

and, when options chose a test (``shared.drift.options``):

* ``configured drift method cannot test this column: ...`` when the configured method needs
  what the column lacks (numeric values, or value counts): Evidently's default test is used
  instead, and the column is tested as usual (the issue alone is no drift).

Several issues of one column are joined with "; ". A NaN score is no evidence of drift. The
drift share is drifted / checked columns, new columns not counted (0.0 when none).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

MISSING_IN_CURRENT = "missing from current data"
ALL_MISSING_IN_CURRENT = "all values missing in current data"
NOT_NUMERIC_IN_CURRENT = "non-numeric values in current data"
ALL_MISSING_IN_REFERENCE = "all values missing in reference data"
NEW_IN_CURRENT = "new column in current data"

# A feature that vanished or changed type has drifted; one with no reference values cannot drift.
DRIFTING_ISSUES = frozenset({MISSING_IN_CURRENT, ALL_MISSING_IN_CURRENT, NOT_NUMERIC_IN_CURRENT})

MISSING_RATE_ROSE = "missing-value rate rose"
MISSING_RATE_JUMP = 0.10  # absolute rise of the missing-value rate that counts as drift
UNSEEN_CATEGORIES = "unseen categories in current data"
UNSEEN_SHARE_DRIFT = 0.05  # share of current values in unseen categories that counts as drift
METHOD_CANNOT_TEST = "configured drift method cannot test this column"


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: Evidently's drift test, or a schema/data-quality issue."""

    column: str
    method: str | None  # Evidently's stat test name, e.g. "K-S p_value"
    score: float | None  # the stat test's value (p-value or distance)
    threshold: float | None
    drifted: bool
    issue: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftResult:
    """Per-column drift verdicts and the share of checked columns that drifted."""

    columns: tuple[ColumnDrift, ...]
    drift_share: float  # drifted columns / checked columns (0.0 when no columns)
    n_reference: int
    n_current: int

    @classmethod
    def of(cls, columns: Iterable[ColumnDrift], n_reference: int, n_current: int) -> DriftResult:
        """The result of these column verdicts, with its drift share."""
        columns = tuple(columns)
        checked = _checked(columns)
        share = sum(item.drifted for item in checked) / len(checked) if checked else 0.0
        return cls(columns, share, n_reference, n_current)

    @property
    def drifted_columns(self) -> list[str]:
        return [result.column for result in self.columns if result.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [result.to_dict() for result in self.columns],
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
        }

    def summary(self) -> str:
        """E.g. "3 of 10 columns drifted (30%): a, b, c"."""
        drifted = self.drifted_columns
        text = f"{len(drifted)} of {len(_checked(self.columns))} columns drifted "
        text += f"({self.drift_share:.0%})"
        return f"{text}: {', '.join(map(str, drifted))}" if drifted else text


def issue_result(name: Hashable, issue: str) -> ColumnDrift:
    """The verdict of a column that could not be tested, or is new: see the module docstring."""
    return ColumnDrift(name, None, None, None, drifted=issue in DRIFTING_ISSUES, issue=issue)


def missing_rate_issue(reference_rate: float, current_rate: float) -> str | None:
    """The issue when the missing-value rate rose by ``MISSING_RATE_JUMP`` or more (drift)."""
    if current_rate - reference_rate >= MISSING_RATE_JUMP - 1e-12:
        return f"{MISSING_RATE_ROSE} from {reference_rate:.1%} to {current_rate:.1%}"
    return None


def unseen_categories_issue(unseen: dict[str, int], n_current: int) -> tuple[str, bool]:
    """The issue of categories the reference never had, and whether their share is drift."""
    share = sum(unseen.values()) / n_current
    shown = sorted(unseen, key=lambda key: (-unseen[key], key))[:5]
    more = ", ..." if len(unseen) > len(shown) else ""
    listed = ", ".join(repr(key) for key in shown)
    text = f"{UNSEEN_CATEGORIES}: {len(unseen)} ({share:.1%} of values): {listed}{more}"
    return text, share >= UNSEEN_SHARE_DRIFT


def method_fallback_issue(method: str, needs: str, used: str) -> str:
    """The issue of a configured test the column cannot take, and the default used instead."""
    return f"{METHOD_CANNOT_TEST}: {method!r} needs {needs}; Evidently's default {used!r} used"


def _checked(results: Iterable[ColumnDrift]) -> list[ColumnDrift]:
    return [result for result in results if result.issue != NEW_IN_CURRENT]
