"""The promotion rule: when a newly trained model may replace the champion."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.evaluation import relative_drop

# Float noise: 0.8 -> 0.816 is an improvement of 0.01999999999999988, yet exactly 2%.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    improvement: float | None  # relative, positive = better; None when there is no champion


def decide_promotion(
    new_metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    *,
    metric: str,
    higher_is_better: bool,
    min_improvement: float,
    auto_promote: bool,
) -> PromotionDecision:
    """Both metric sets must come from the same holdout; a worse model is never promoted."""
    if not champion_metrics:
        return PromotionDecision(True, "first model of this name: it becomes the champion", None)
    if metric not in new_metrics:
        return PromotionDecision(False, f"the new model has no {metric} to compare", None)
    if metric not in champion_metrics:
        return PromotionDecision(False, f"the champion has no {metric} to compare", None)
    new, old = new_metrics[metric], champion_metrics[metric]
    if math.isnan(new) or math.isnan(old):
        return PromotionDecision(False, f"{metric} is not a number for one of the models", None)
    improvement = -relative_drop(old, new, higher_is_better)
    comparison = (
        f"{metric} {new:.4g} vs champion {old:.4g} "
        f"({_percent(improvement)} relative, {_percent(min_improvement)} required)"
    )
    if improvement < 0 or improvement < min_improvement - _TOLERANCE:
        return PromotionDecision(False, f"not better by the margin: {comparison}", improvement)
    if not auto_promote:
        return PromotionDecision(
            False, f"better, but auto_promote is off: {comparison}", improvement
        )
    return PromotionDecision(True, f"better by the margin: {comparison}", improvement)


def _percent(value: float) -> str:
    return f"{value + 0.0:+.2%}" if math.isfinite(value) else ("+inf" if value > 0 else "-inf")
