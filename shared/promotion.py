"""The promotion rule: when a newly trained model may replace the champion.

Three conditions, all here: better by the relative margin; with ``promotion_confidence``, the
lower bound of the paired confidence interval of the improvement above that margin too
(``shared.significance``); and not stale, i.e. the champion is still the one the candidate was
compared with and the job's deadline has not passed (checked when the decision is recorded).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.evaluation import relative_drop

if TYPE_CHECKING:
    from shared.significance import Evidence

# Float noise: 0.8 -> 0.816 is an improvement of 0.01999999999999988, yet exactly 2%.
_TOLERANCE = 1e-9
MARGIN_ONLY = "relative margin"


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    improvement: float | None  # relative, positive = better; None when there is no champion
    metric: str | None = None
    candidate_value: float | None = None  # both point estimates, on the same holdout
    champion_value: float | None = None
    interval: tuple[float, float] | None = None  # of the relative improvement, when gated
    confidence: float | None = None
    method: str = MARGIN_ONLY

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval) if self.interval is not None else None
        return out


def decide_promotion(
    new_metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    *,
    metric: str,
    higher_is_better: bool,
    min_improvement: float,
    auto_promote: bool,
    evidence: Evidence | None = None,
) -> PromotionDecision:
    """Both metric sets (and ``evidence``) must come from the same holdout; a worse model is
    never promoted. With ``evidence`` the interval's lower bound must clear the margin too."""
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
    facts: dict[str, Any] = {"metric": metric, "candidate_value": new, "champion_value": old}
    if evidence is not None:
        facts.update(
            interval=evidence.interval, confidence=evidence.confidence, method=evidence.method
        )
    if improvement < 0 or improvement < min_improvement - _TOLERANCE:
        reason = f"not better by the margin: {comparison}"
        return PromotionDecision(False, reason, improvement, **facts)
    if evidence is not None:
        low, high = evidence.interval
        bounds = (
            f"{evidence.confidence:.0%} interval of the improvement "
            f"[{_percent(low)}, {_percent(high)}] ({evidence.method})"
        )
        if not low > min_improvement:
            reason = (
                f"not significant: {comparison}, but the lower bound of the {bounds} is not "
                f"above {_percent(min_improvement)}"
            )
            return PromotionDecision(False, reason, improvement, **facts)
        comparison = f"{comparison}; {bounds} clears the margin"
    if not auto_promote:
        reason = f"better, but auto_promote is off: {comparison}"
        return PromotionDecision(False, reason, improvement, **facts)
    return PromotionDecision(True, f"better by the margin: {comparison}", improvement, **facts)


def stale(decision: PromotionDecision, why: str) -> PromotionDecision:
    """The same comparison, refused: the world it was made in has moved on."""
    return replace(decision, promote=False, reason=f"stale: {why}")


def champion_changed(compared_with: str | None, now: str | None) -> str | None:
    """Why a candidate compared with ``compared_with`` is stale, or None while it is current."""
    if compared_with == now:
        return None
    return (
        f"champion changed from {_version(compared_with)} to {_version(now)} while this "
        "candidate was evaluated"
    )


def deadline_passed(started: datetime | None, limit_seconds: float, now: datetime) -> str | None:
    """Why a job that started at ``started`` is past its deadline, or None."""
    if started is None:
        return None
    deadline = started + timedelta(seconds=limit_seconds)
    if now <= deadline:
        return None
    return (
        f"the job's deadline passed ({limit_seconds:.0f} s after it started at "
        f"{started.isoformat()}, RETRAINING_JOB_TIME_LIMIT) before its candidate was recorded"
    )


def _version(version: str | None) -> str:
    return "none" if version is None else f"v{version}"


def _percent(value: float) -> str:
    return f"{value + 0.0:+.2%}" if math.isfinite(value) else ("+inf" if value > 0 else "-inf")
