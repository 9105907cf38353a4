"""``/metrics`` in Prometheus' text format, computed from the database at each scrape.

Every number comes from the job, check, event and prediction tables, so all API processes
and workers are counted, whichever of them did the work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from shared.db.schema import checks, events, jobs, models, predictions
from shared.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
CHECK_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
_RECENT_ROWS = 10_000  # durations are taken from this many most recent jobs / checks


def render_metrics(runtime: Runtime) -> str:
    out: list[str] = []
    with runtime.engine.connect() as connection:
        _jobs(connection, out)
        _checks(connection, out)
        _drift(connection, out)
        _promotions(connection, out)
        _models(connection, out)
        _predictions(connection, out)
    return "\n".join(out) + "\n"


def _jobs(connection, out: list[str]) -> None:
    rows = connection.execute(
        sa.select(jobs.c.model_name, jobs.c.status, jobs.c.trigger, sa.func.count()).group_by(
            jobs.c.model_name, jobs.c.status, jobs.c.trigger
        )
    ).all()
    _header(out, "retraining_jobs", "gauge", "Retraining jobs by model, status and trigger.")
    for model, status, trigger, count in rows:
        out.append(_sample("retraining_jobs", count, model=model, status=status, trigger=trigger))
    durations = connection.execute(
        sa.select(jobs.c.model_name, jobs.c.status, jobs.c.start_time, jobs.c.end_time)
        .where(jobs.c.start_time.is_not(None), jobs.c.end_time.is_not(None))
        .order_by(jobs.c.created_at.desc())
        .limit(_RECENT_ROWS)
    ).all()
    _histogram(
        out,
        "retraining_job_duration_seconds",
        "Duration of finished retraining jobs (training, scoring, logging).",
        JOB_BUCKETS,
        ((dict(model=m, status=s), _seconds(a, b)) for m, s, a, b in durations),
    )


def _checks(connection, out: list[str]) -> None:
    rows = connection.execute(
        sa.select(
            checks.c.model_name, checks.c.status, checks.c.needs_retraining, sa.func.count()
        ).group_by(checks.c.model_name, checks.c.status, checks.c.needs_retraining)
    ).all()
    _header(out, "retraining_checks_total", "counter", "Checks by model, status and verdict.")
    for model, status, needs, count in rows:
        out.append(
            _sample(
                "retraining_checks_total",
                count,
                model=model,
                status=status,
                needs_retraining=str(bool(needs)).lower(),
            )
        )
    durations = connection.execute(
        sa.select(checks.c.model_name, checks.c.started_at, checks.c.completed_at)
        .where(checks.c.started_at.is_not(None), checks.c.completed_at.is_not(None))
        .order_by(checks.c.created_at.desc())
        .limit(_RECENT_ROWS)
    ).all()
    _histogram(
        out,
        "retraining_check_duration_seconds",
        "Duration of checks run by a worker (data loading, drift and performance tests).",
        CHECK_BUCKETS,
        ((dict(model=m), _seconds(a, b)) for m, a, b in durations),
    )


def _drift(connection, out: list[str]) -> None:
    latest = (
        sa.select(checks.c.model_name, sa.func.max(checks.c.created_at).label("at"))
        .where(checks.c.status == "completed", checks.c.drift_share.is_not(None))
        .group_by(checks.c.model_name)
        .subquery()
    )
    rows = connection.execute(
        sa.select(checks.c.model_name, checks.c.drift_share, checks.c.drift).join(
            latest,
            sa.and_(checks.c.model_name == latest.c.model_name, checks.c.created_at == latest.c.at),
        )
    ).all()
    _header(out, "retraining_drift_score", "gauge", "Share of drifted columns, latest check.")
    for model, share, _ in rows:
        out.append(_sample("retraining_drift_score", share, model=model))
    _header(
        out, "retraining_column_drift_score", "gauge", "Per-column drift test score, latest check."
    )
    for model, _, drift in rows:
        for column in (drift or {}).get("columns") or []:
            if isinstance(column.get("score"), int | float):
                out.append(
                    _sample(
                        "retraining_column_drift_score",
                        column["score"],
                        model=model,
                        column=column["column"],
                        drifted=str(bool(column.get("drifted"))).lower(),
                    )
                )


def _promotions(connection, out: list[str]) -> None:
    rows = connection.execute(
        sa.select(events.c.model_name, events.c.kind, sa.func.count())
        .where(events.c.kind.in_(["promotion", "promotion_refused"]))
        .group_by(events.c.model_name, events.c.kind)
    ).all()
    _header(out, "retraining_promotions_total", "counter", "Champion promotions by model.")
    for model, kind, count in rows:
        if kind == "promotion":
            out.append(_sample("retraining_promotions_total", count, model=model))
    _header(
        out,
        "retraining_promotions_refused_total",
        "counter",
        "Retrained models not promoted (not better by the margin, or auto_promote off).",
    )
    for model, kind, count in rows:
        if kind == "promotion_refused":
            out.append(_sample("retraining_promotions_refused_total", count, model=model))


def _models(connection, out: list[str]) -> None:
    rows = connection.execute(
        sa.select(models.c.name, models.c.champion_version, models.c.monitoring_interval_seconds)
    ).all()
    _header(out, "retraining_champion_info", "gauge", "The champion version of each model.")
    for name, version, _ in rows:
        if version is not None:
            out.append(_sample("retraining_champion_info", 1, model=name, version=version))
    _header(out, "retraining_monitoring_active", "gauge", "1 when continuous monitoring is on.")
    for name, _, interval in rows:
        out.append(_sample("retraining_monitoring_active", int(bool(interval)), model=name))


def _predictions(connection, out: list[str]) -> None:
    rows = connection.execute(
        sa.select(
            predictions.c.model_name, sa.func.count(), sa.func.count(predictions.c.outcome_at)
        ).group_by(predictions.c.model_name)
    ).all()
    _header(out, "retraining_predictions_total", "counter", "Predictions served, by model.")
    for model, total, _ in rows:
        out.append(_sample("retraining_predictions_total", total, model=model))
    _header(out, "retraining_predictions_labelled_total", "counter", "Predictions with an outcome.")
    for model, _, labelled in rows:
        out.append(_sample("retraining_predictions_labelled_total", labelled, model=model))


def _histogram(
    out: list[str],
    name: str,
    help_text: str,
    buckets: tuple[float, ...],
    observations: Iterable[tuple[dict[str, str], float]],
) -> None:
    series: dict[tuple, list[float]] = defaultdict(list)
    for labels, value in observations:
        series[tuple(sorted(labels.items()))].append(value)
    _header(out, name, "histogram", help_text)
    for key, values in sorted(series.items()):
        labels = dict(key)
        for bound in buckets:
            count = sum(v <= bound for v in values)
            out.append(_sample(f"{name}_bucket", count, **labels, le=_number(bound)))
        out.append(_sample(f"{name}_bucket", len(values), **labels, le="+Inf"))
        out.append(_sample(f"{name}_sum", sum(values), **labels))
        out.append(_sample(f"{name}_count", len(values), **labels))


def _header(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _sample(name: str, value: float, **labels: object) -> str:
    text = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
    return f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)
