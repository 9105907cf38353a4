"""What a registered MLflow version says about itself: where it came from and why it is (not)
champion, so the registry UI alone explains the choice."""

from __future__ import annotations

from typing import Any

from shared.jobs import RetrainingJob
from shared.promotion import PromotionDecision


def check_id_of(job: RetrainingJob) -> str | None:
    """The drift check that started the job, if one did (``details["origin"]``)."""
    return ((job.details or {}).get("origin") or {}).get("check_id")


def origin_tags(job: RetrainingJob, details: dict[str, Any]) -> dict[str, Any]:
    """Set when the version is registered: job, trigger, check, data and holdout fingerprints."""
    return {
        "job_id": job.job_id,
        "trigger": str(job.trigger),
        "check_id": check_id_of(job) or "",
        "data_fingerprint": details["data_fingerprint"],
        "holdout_fingerprint": details["holdout_fingerprint"],
        "window_kept": details["window"]["kept"],
    }


def decision_tags(
    job: RetrainingJob, decision: PromotionDecision, compared_with: str | None
) -> tuple[dict[str, Any], str]:
    """Tags and description set once the decision is recorded (through the registry outbox)."""
    tags: dict[str, Any] = {
        "decision": "promoted" if decision.promote else "refused",
        "decision_reason": decision.reason[:5000],
        "compared_with_version": compared_with or "",
        "decision_method": decision.method,
    }
    if decision.improvement is not None:
        tags["improvement"] = f"{decision.improvement:.6g}"
    if decision.interval is not None:
        low, high = decision.interval
        tags["improvement_interval"] = f"[{low:.6g}, {high:.6g}] at {decision.confidence:g}"
    check = check_id_of(job)
    started = f"job {job.job_id} (trigger {job.trigger}" + (f", check {check})" if check else ")")
    verdict = "Promoted to champion" if decision.promote else "Not promoted"
    return tags, f"{verdict} by {started}: {decision.reason}"
