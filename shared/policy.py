"""Whether a check's finding may start a retraining now, or is held back, and why.

A finding that fired is held ("suppressed: ...") when retraining is unlikely to pay:

- storm control (``max_consecutive_refusals``, ``shared.breaker``): automatic retraining is
  paused after too many automatic candidates in a row were refused;
- cooldown (``retrain_cooldown_hours``): a retraining of the model started that recently;
- persistence (``drift_persistence``, data drift): not enough checks in a row found drift;
- hysteresis (``drift_hysteresis_step``): the last retraining started by the same kind of
  drift, since the champion was promoted, found no better model (and was not merely too
  early: the change it found left too few rows to train on); data drift calls again once
  the drift share rose by the step, concept drift once the champion's primary metric fell by
  ``performance_threshold`` below their level then.

Performance degradation reported by the caller is never held by hysteresis: it is the
"performance degraded" that lifts it. Manual and scheduled retrainings are never checked here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.breaker import paused_because
from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.enums import RetrainingTrigger, Status
from shared.evaluation import relative_drop
from shared.jobs import RetrainingJob
from shared.model_store import ModelRecord
from shared.runtime import Runtime

_TOLERANCE = 1e-9
_JOBS_LOOKED_AT = 20  # recent jobs searched for the refused retraining hysteresis starts from


def held_because(
    runtime: Runtime,
    record: ModelRecord,
    trigger: RetrainingTrigger,
    drift_share: float,
    concept: dict[str, float],
) -> str | None:
    """Why the finding ``trigger`` of this check is held back, or None when it may retrain.

    ``concept``: the champion's metrics on the check's labelled rows (empty without labels).
    """
    return (
        paused_because(runtime, record)
        or _cooldown(runtime, record)
        or _persistence(runtime, record, trigger)
        or _hysteresis(runtime, record, trigger, drift_share, concept)
    )


def origin_of(check: CheckRecord) -> dict[str, Any]:
    """What a job started by ``check`` remembers of it (hysteresis reads it back)."""
    concept = (check.performance or {}).get("concept") or {}
    judged = concept.get("judged_on")
    return {
        "check_id": check.check_id,
        "trigger": str(check.trigger) if check.trigger else None,
        "drift_share": check.drift_share,
        "concept": {
            drop["metric"]: drop["current"]
            for drop in concept.get("drops") or []
            if not judged or drop["metric"] in judged
        },
    }


def _cooldown(runtime: Runtime, record: ModelRecord) -> str | None:
    hours = record.config.retrain_cooldown_hours
    if not hours:
        return None
    latest = runtime.jobs.list(record.name, limit=1)
    if not latest or latest[0].created_at <= utcnow() - timedelta(hours=hours):
        return None
    return (
        f"cooldown: a retraining started at {latest[0].created_at:%Y-%m-%d %H:%M} UTC and "
        f"retrain_cooldown_hours is {hours:g}"
    )


def _persistence(runtime: Runtime, record: ModelRecord, trigger: RetrainingTrigger) -> str | None:
    needed = record.config.drift_persistence
    if trigger is not RetrainingTrigger.DATA_DRIFT or needed <= 1:
        return None
    threshold = record.config.drift_threshold
    previous = runtime.checks.list(record.name, needed - 1, status=Status.COMPLETED)
    streak = 1  # this check
    for check in previous:
        if check.drift_share is None or check.drift_share < threshold - _TOLERANCE:
            break
        streak += 1
    if streak >= needed:
        return None
    return f"data drift in {streak} check(s) in a row, drift_persistence is {needed}"


def _hysteresis(
    runtime: Runtime,
    record: ModelRecord,
    trigger: RetrainingTrigger,
    drift_share: float,
    concept: dict[str, float],
) -> str | None:
    step = record.config.drift_hysteresis_step
    if step is None or trigger not in (
        RetrainingTrigger.DATA_DRIFT,
        RetrainingTrigger.CONCEPT_DRIFT,
    ):
        return None
    refused = _last_refused(runtime, record.name, trigger)
    if refused is None:
        return None
    origin = refused.details.get("origin") or {}
    what = f"the retraining for the last {trigger} (job {refused.job_id[:8]}) found no better model"
    if trigger is RetrainingTrigger.DATA_DRIFT:
        before = origin.get("drift_share")
        if before is None or drift_share >= before + step - _TOLERANCE:
            return None
        return (
            f"{what}; data drift calls again at a drift share of {before + step:.2f} "
            f"(now {drift_share:.2f}, drift_hysteresis_step {step:g}) or when performance "
            "degrades"
        )
    return _concept_hold(record, what, origin.get("concept") or {}, concept)


def _concept_hold(
    record: ModelRecord, what: str, before: dict[str, float], now: dict[str, float]
) -> str | None:
    """Held while no judged metric (the primary one, when the baseline has it) fell by
    ``performance_threshold`` below its level at the refusal."""
    from shared.evaluation import HIGHER_IS_BETTER

    common = [metric for metric in before if metric in now]
    if not common:
        return None
    threshold = record.config.performance_threshold
    for metric in common:
        higher = HIGHER_IS_BETTER.get(metric, True)
        if relative_drop(before[metric], now[metric], higher) > threshold + _TOLERANCE:
            return None
    return (
        f"{what}; concept drift calls again when the champion's performance falls another "
        f"{threshold:.1%} below its level then ({_levels(before, common)})"
    )


def _last_refused(
    runtime: Runtime, model_name: str, trigger: RetrainingTrigger
) -> RetrainingJob | None:
    """The latest completed retraining started by ``trigger`` that promoted nothing, unless
    a promotion came after it (a new champion starts afresh). One that found a change too
    recent to train on (``shared.windows``) is no evidence: retraining may pay once the new
    rows have arrived, so it holds nothing back."""
    for job in runtime.jobs.list(model_name, limit=_JOBS_LOOKED_AT, status=Status.COMPLETED):
        if job.promoted:
            return None
        if job.trigger == trigger:
            too_recent = (job.details.get("window") or {}).get("change_too_recent")
            return None if too_recent else job
    return None


def _levels(metrics: dict[str, float], names: list[str]) -> str:
    return ", ".join(f"{name} {metrics[name]:.4g}" for name in names)
