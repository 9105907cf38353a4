"""Which drift test and which threshold a column gets: Evidently's unless the config says.

Why one place: the verdict (``shared.drift.verdict``) asks one question per column, "which
test, against which threshold?", and the answer combines four settings of the model's config
(``drift_method``, ``cat_drift_method``, ``drift_column_overrides``, ``drift_threshold_mode``
with ``drift_false_alarm_rate``). With none of them set the answer is Evidently's default
test and its own threshold, so today's verdicts do not change unless asked.

The test: a column override's method, else the method configured for the column's kind
(numeric or categorical), else Evidently's default choice (``default_stattest``). A test must
fit the column: a ``VALUES`` test (``ks``, ``wasserstein``) needs numeric values; a ``COUNTS``
test (``chisquare``, ``z``, ``jensenshannon``) needs value counts, which categorical columns
have and numeric columns have when the reference has at most ``FEW_VALUES`` distinct values
(the profile keeps their counts). A configured method that cannot test a column is a result,
not an error: Evidently's default is used and the column's ``issue`` says so.

The threshold: the override's, else the calibrated one in calibrated mode
(``shared.drift.calibration``), else the test's own. An override's threshold set together with
its method belongs to that method: when the method cannot test the column, the threshold is
dropped with it. An override with a threshold alone applies to whichever test is in force.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from shared.drift.calibration import Calibration
from shared.drift.columns import NUMERIC
from shared.drift.profile import ColumnProfile
from shared.drift.result import method_fallback_issue
from shared.drift.stattests import COUNTS, FEW_VALUES, STATTESTS, VALUES, StatTest

if TYPE_CHECKING:
    from shared.config import RetrainingConfig

DEFAULT_FALSE_ALARM_RATE = 0.01


@dataclass(frozen=True)
class ColumnOverride:
    """One column's chosen test (by Evidently's name) and/or threshold."""

    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class ColumnTest:
    """The test and threshold in force for one column, and why not the configured test."""

    test: StatTest
    threshold: float
    issue: str | None = None


@dataclass(frozen=True)
class DriftOptions:
    """How columns are tested; the defaults are Evidently's (module docstring)."""

    numeric_method: str | None = None
    categorical_method: str | None = None
    overrides: Mapping[Hashable, ColumnOverride] = field(default_factory=dict)
    calibrated: bool = False
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE

    def __post_init__(self) -> None:
        _known_method("drift_method", self.numeric_method)
        _known_method("cat_drift_method", self.categorical_method)
        if not 0 < self.false_alarm_rate < 1:
            raise ValueError(
                f"drift_false_alarm_rate: must be between 0 and 1, got {self.false_alarm_rate!r}"
            )
        overrides = {name: _override(name, value) for name, value in self.overrides.items()}
        object.__setattr__(self, "overrides", MappingProxyType(overrides))

    @classmethod
    def from_config(cls, config: RetrainingConfig) -> DriftOptions:
        """The options a model's config sets (``drift_*`` fields of ``RetrainingConfig``)."""
        return cls(
            numeric_method=config.drift_method,
            categorical_method=config.cat_drift_method,
            overrides=config.drift_column_overrides or {},
            calibrated=config.drift_threshold_mode == "calibrated",
            false_alarm_rate=config.drift_false_alarm_rate,
        )

    @property
    def is_default(self) -> bool:
        """Evidently's tests and thresholds everywhere: no calibration is needed."""
        return self == DriftOptions()

    def column_test(
        self,
        column: ColumnProfile,
        default: StatTest,
        has_counts: bool,
        n_current: int,
        calibration: Calibration | None,
        seed: Sequence[int],
    ) -> ColumnTest:
        """The test and threshold for ``column`` (module docstring).

        ``default``: Evidently's choice for it; ``has_counts``: whether its value counts are
        known on both sides; ``n_current``: its valid current values; ``calibration``: the
        profile's, needed in calibrated mode; ``seed``: the profile's seed and the column's
        position.
        """
        override = self._override_of(column.name)
        test, threshold, issue = default, override.threshold, None
        wanted = override.method or (
            self.numeric_method if column.kind == NUMERIC else self.categorical_method
        )
        if wanted is not None:
            needs = missing_input(STATTESTS[wanted], column, has_counts)
            if needs is None:
                test = STATTESTS[wanted]
            else:
                issue = method_fallback_issue(wanted, needs, default.name)
                if override.method is not None:  # its threshold was meant for that method
                    threshold = None
        if threshold is None:
            threshold = self._threshold(test, column, n_current, calibration, seed)
        return ColumnTest(test, float(threshold), issue)

    def _threshold(
        self,
        test: StatTest,
        column: ColumnProfile,
        n_current: int,
        calibration: Calibration | None,
        seed: Sequence[int],
    ) -> float:
        if not self.calibrated:
            return test.threshold
        if calibration is None:
            raise ValueError("calibrated drift thresholds need the profile's calibration")
        return calibration.threshold(test, column, n_current, self.false_alarm_rate, seed)

    def _override_of(self, name: Hashable) -> ColumnOverride:
        """Config keys are strings (JSON): an integer column name matches its string too."""
        found = self.overrides.get(name)
        if found is None and not isinstance(name, str):
            found = self.overrides.get(str(name))
        return found or ColumnOverride()


def missing_input(test: StatTest, column: ColumnProfile, has_counts: bool) -> str | None:
    """What ``column`` lacks for ``test``, or None when the test can take it."""
    if test.inputs == VALUES and column.kind != NUMERIC:
        return "numeric values"
    if test.inputs == COUNTS and not has_counts:
        return f"value counts (categories, or at most {FEW_VALUES} distinct numeric values)"
    return None


def _known_method(field_name: str, method: str | None) -> None:
    if method is not None and method not in STATTESTS:
        raise ValueError(f"{field_name}: {method!r} is not a drift test ({', '.join(STATTESTS)})")


def _override(name: Hashable, value: ColumnOverride | Mapping[str, Any]) -> ColumnOverride:
    field_name = f"drift_column_overrides[{name!r}]"
    if isinstance(value, Mapping):
        unknown = set(value) - {"method", "threshold"}
        if unknown:
            raise ValueError(
                f"{field_name}: unknown key(s) {', '.join(map(repr, sorted(unknown)))}"
            )
        value = ColumnOverride(value.get("method"), value.get("threshold"))
    if not isinstance(value, ColumnOverride):
        raise ValueError(f"{field_name}: must be an object with 'method' and/or 'threshold'")
    _known_method(field_name, value.method)
    threshold = value.threshold
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0
    ):
        raise ValueError(f"{field_name}: threshold must be a positive number, got {threshold!r}")
    return value
