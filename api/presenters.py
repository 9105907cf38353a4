"""Core records as response models, with the links a client follows next."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from api.schemas import (
    CheckOut,
    ColumnDriftOut,
    JobOut,
    ModelOut,
    MonitoringOut,
    RetrainingConfigOut,
    ScheduleOut,
)
from shared.checks import CheckRecord
from shared.jobs import RetrainingJob
from shared.model_store import ModelRecord


def model_url(name: str) -> str:
    return f"/retraining/{name}"


def job_url(name: str, job_id: str) -> str:
    return f"/retraining/{name}/jobs/{job_id}"


def check_url(name: str, check_id: str) -> str:
    return f"/retraining/{name}/checks/{check_id}"


def job_out(job: RetrainingJob, model: type[JobOut] = JobOut, **extra: Any) -> JobOut:
    data = job.to_dict()
    data["links"] = {
        "self": job_url(job.model_name, job.job_id),
        "jobs": f"{model_url(job.model_name)}/jobs",
        "model": f"{model_url(job.model_name)}/config",
    }
    return model.model_validate({**data, **extra})


def check_out(check: CheckRecord) -> CheckOut:
    drift = check.drift or {}
    pending = not check.status.is_terminal
    links = {"self": check_url(check.model_name, check.check_id)}
    if check.report_key:
        links["report"] = f"{links['self']}/report"
    if check.needs_retraining and check.trigger:
        links["trigger"] = f"{model_url(check.model_name)}/trigger"
    return CheckOut(
        check_id=check.check_id,
        model_name=check.model_name,
        status=check.status,
        needs_retraining=None if pending else check.needs_retraining,
        trigger=check.trigger,
        reason=check.reason,
        drift_score=check.drift_share,
        n_rows=None if pending else check.n_rows,
        columns=[ColumnDriftOut.model_validate(c) for c in drift.get("columns") or []],
        drifted_columns=list(drift.get("drifted_columns") or []),
        performance=check.performance,
        error=check.error,
        created_at=check.created_at,
        requested_at=check.requested_at,
        started_at=check.started_at,
        completed_at=check.completed_at,
        duration_seconds=check.duration_seconds,
        links=links,
    )


def monitoring_out(record: ModelRecord) -> MonitoringOut:
    return MonitoringOut(
        active=bool(record.monitoring_interval_seconds),
        check_interval_seconds=record.monitoring_interval_seconds,
        next_run_at=record.monitoring_next_run_at,
    )


def schedule_out(record: ModelRecord) -> ScheduleOut:
    return ScheduleOut(
        enabled=record.config.schedule_enabled, next_run_at=record.schedule_next_run_at
    )


def model_out(record: ModelRecord, model: type[ModelOut] = ModelOut, **extra: Any) -> ModelOut:
    base = model_url(record.name)
    return model(
        model_name=record.name,
        config=RetrainingConfigOut.model_validate(record.config.to_dict()),
        pipeline={k: v for k, v in record.pipeline.items() if k != "estimator_pickle"},
        data_sources={role: mask_source(s) for role, s in record.data_sources.items()},
        task=record.task,
        feature_columns=record.feature_columns,
        monitors_initialized=record.monitors_initialized,
        baseline_metrics=record.baseline_metrics,
        champion_version=record.champion_version,
        champion_metrics=record.champion_metrics,
        schedule=schedule_out(record),
        monitoring=monitoring_out(record),
        links={
            "self": f"{base}/config",
            "initialize": f"{base}/initialize",
            "trigger": f"{base}/trigger",
            "check": f"{base}/check",
            "jobs": f"{base}/jobs",
            "report": f"{base}/report",
            "predict": f"/models/{record.name}/predict",
        },
        **extra,
    )


def mask_source(source: dict[str, Any]) -> dict[str, Any]:
    if source.get("kind") != "sql":
        return dict(source)
    try:
        url = make_url(source["url"]).render_as_string(hide_password=True)
    except Exception:
        url = "(unparsable URL)"
    return {**source, "url": url}
