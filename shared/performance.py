"""Performance degradation: a relative drop of any baseline metric above the threshold."""

from __future__ import annotations

from dataclasses import dataclass

from shared.evaluation import HIGHER_IS_BETTER, relative_drop

# Float noise: 0.8 -> 0.76 is a drop of 0.05000000000000004, yet exactly the 5% threshold.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class MetricDrop:
    metric: str
    baseline: float
    current: float
    drop: float  # relative; positive = worse

    def to_dict(self) -> dict[str, float | str]:
        return {k: getattr(self, k) for k in ("metric", "baseline", "current", "drop")}


@dataclass(frozen=True)
class PerformanceResult:
    drops: tuple[MetricDrop, ...]
    threshold: float
    judged_on: tuple[str, ...] | None = None  # the metrics the verdict reads; None: all

    @property
    def degraded(self) -> tuple[MetricDrop, ...]:
        return tuple(
            d
            for d in self.drops
            if d.drop > self.threshold + _TOLERANCE
            and (self.judged_on is None or d.metric in self.judged_on)
        )

    @property
    def is_degraded(self) -> bool:
        return bool(self.degraded)

    def summary(self) -> str:
        if not self.drops:
            return "no metric in common with the baseline"
        judged = [d for d in self.drops if self.judged_on is None or d.metric in self.judged_on]
        worst = max(judged or self.drops, key=lambda d: d.drop)
        parts = [
            f"{d.metric} {d.baseline:.4g} -> {d.current:.4g} ({-d.drop + 0.0:+.1%})"
            for d in (self.degraded or (worst,))
        ]
        verdict = "dropped more than" if self.is_degraded else "within"
        return f"{'; '.join(parts)}: {verdict} the {self.threshold:.1%} threshold"

    def to_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "judged_on": list(self.judged_on) if self.judged_on is not None else None,
            "degraded": [d.metric for d in self.degraded],
            "drops": [d.to_dict() for d in self.drops],
        }


def check_performance(
    baseline: dict[str, float],
    current: dict[str, float],
    threshold: float,
    higher_is_better: dict[str, bool] | None = None,
    judged_on: tuple[str, ...] | None = None,
) -> PerformanceResult:
    """Compare every metric present in both; unknown metric names are taken as higher-is-better.

    ``judged_on``: the metrics whose drop decides (the others are reported); None: all.
    """
    directions = {**HIGHER_IS_BETTER, **(higher_is_better or {})}
    drops = tuple(
        MetricDrop(
            metric=name,
            baseline=float(baseline[name]),
            current=float(current[name]),
            drop=relative_drop(
                float(baseline[name]), float(current[name]), directions.get(name, True)
            ),
        )
        for name in baseline
        if name in current and current[name] is not None
    )
    return PerformanceResult(drops=drops, threshold=threshold, judged_on=judged_on)
