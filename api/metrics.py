"""``/metrics`` with prometheus_client.

The retraining work runs in other processes (Celery workers on other hosts, or this API's
threads), so its numbers are read from the database at each scrape by a custom collector:
counters count terminal rows and events (facts that only accumulate), histograms cover every
finished row, gauges say what is active now. Every API process answers the same numbers.

This process's own request metrics use prometheus_client's multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set (``retrain api`` sets it for its gunicorn workers), so a
scrape landing on any worker counts the requests of all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import sqlalchemy as sa
from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from shared.db.schema import checks, events, jobs, models, predictions
from shared.enums import ACTIVE_STATUSES, Status
from shared.runtime import Runtime

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
CHECK_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_ACTIVE = sorted(str(status) for status in ACTIVE_STATUSES)
_TERMINAL = [str(status) for status in Status if status.is_terminal]


def render_metrics(runtime: Runtime, requests: RequestMetrics | None = None) -> bytes:
    """One scrape: the database's numbers, then this API's requests (all its processes)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(runtime))
    if requests is not None:
        requests.register_on(registry)
    return _generate_latest(registry)


class RequestMetrics:
    """Requests served by this API, by method, route and status, and their durations."""

    def __init__(self) -> None:
        # registry=None: collected per scrape (from the multiprocess files when in that mode)
        self.total = Counter(
            "retraining_http_requests",
            "HTTP requests served by the API, by method, route and status.",
            ["method", "route", "status"],
            registry=None,
        )
        self.duration = Histogram(
            "retraining_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route.",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=None,
        )

    def install(self, app: Flask) -> None:
        app.before_request(self._start)
        app.after_request(self._observe)

    def register_on(self, registry: CollectorRegistry) -> None:
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(registry)
        else:
            registry.register(self.total)
            registry.register(self.duration)

    @staticmethod
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    def _observe(self, response: Response) -> Response:
        started = g.pop("metrics_started", None)
        # the route's pattern, not the path: one series per endpoint whatever the model name
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        self.total.labels(request.method, route, str(response.status_code)).inc()
        if started is not None:
            self.duration.labels(request.method, route).observe(time.perf_counter() - started)
        return response


class DatabaseCollector(Collector):
    """The retraining metrics, read from the job, check, event and prediction tables."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        with self.runtime.engine.connect() as connection:
            names = [row[0] for row in connection.execute(sa.select(models.c.name))]
            yield from _jobs(connection, names)
            yield from _checks(connection, names)
            yield from _promotions(connection)
            yield from _drift(connection)
            yield from _models(connection)
            yield from _predictions(connection)


def _seconds(connection, start: sa.ColumnElement, end: sa.ColumnElement) -> sa.ColumnElement:
    """``end - start`` in seconds, in SQL (so a scrape reads aggregates, not every row)."""
    if connection.dialect.name == "sqlite":
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
    return sa.extract("epoch", end - start)


def _histogram(
    connection,
    name: str,
    help_text: str,
    table: sa.Table,
    labels: list[sa.Column],
    start: sa.Column,
    end: sa.Column,
    buckets: tuple[float, ...],
) -> HistogramMetricFamily:
    seconds = _seconds(connection, start, end)
    seconds = sa.case((seconds < 0, 0.0), else_=seconds)  # clocks of two hosts
    query = (
        sa.select(
            *labels,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(seconds), 0.0),
            *(sa.func.sum(sa.case((seconds <= bound, 1), else_=0)) for bound in buckets),
        )
        .where(start.is_not(None), end.is_not(None))
        .group_by(*labels)
    )
    family = HistogramMetricFamily(name, help_text, labels=["model", *[c.name for c in labels[1:]]])
    for row in connection.execute(query):
        values = [str(v) for v in row[: len(labels)]]
        count, total, cumulative = row[len(labels)], row[len(labels) + 1], row[len(labels) + 2 :]
        counts = [(repr(float(b)), int(n or 0)) for b, n in zip(buckets, cumulative, strict=True)]
        family.add_metric(values, buckets=[*counts, ("+Inf", int(count))], sum_value=float(total))
    return family


def _jobs(connection, names: list[str]) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "retraining_jobs",
        "Retraining jobs finished, by model, final status and trigger.",
        labels=["model", "status", "trigger"],
    )
    rows = connection.execute(
        sa.select(jobs.c.model_name, jobs.c.status, jobs.c.trigger, sa.func.count())
        .where(jobs.c.status.in_(_TERMINAL))
        .group_by(jobs.c.model_name, jobs.c.status, jobs.c.trigger)
    )
    for model, status, trigger, count in rows:
        finished.add_metric([model, status, trigger], count)
    yield finished
    yield _active(connection, jobs, "retraining_jobs_active", "Retraining jobs", names)
    yield _histogram(
        connection,
        "retraining_job_duration_seconds",
        "Duration of finished retraining jobs (loading, training, scoring, logging).",
        jobs,
        [jobs.c.model_name, jobs.c.status],
        jobs.c.start_time,
        jobs.c.end_time,
        JOB_BUCKETS,
    )


def _checks(connection, names: list[str]) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "retraining_checks",
        "Checks finished, by model and outcome: retrain (retraining needed), no_retrain, failed.",
        labels=["model", "outcome"],
    )
    outcome = sa.case(
        (checks.c.status == str(Status.FAILED), "failed"),
        (checks.c.needs_retraining.is_(True), "retrain"),
        else_="no_retrain",
    )
    rows = connection.execute(
        sa.select(checks.c.model_name, outcome, sa.func.count())
        .where(checks.c.status.in_(_TERMINAL))
        .group_by(checks.c.model_name, outcome)
    )
    for model, label, count in rows:
        finished.add_metric([model, label], count)
    yield finished
    yield _active(connection, checks, "retraining_checks_active", "Checks", names)
    yield _histogram(
        connection,
        "retraining_check_duration_seconds",
        "Duration of checks run by a worker (data loading, drift and performance tests).",
        checks,
        [checks.c.model_name],
        checks.c.started_at,
        checks.c.completed_at,
        CHECK_BUCKETS,
    )


def _active(connection, table: sa.Table, name: str, what: str, names: list[str]) -> Metric:
    """Pending and running rows now, 0 included (so the series does not vanish)."""
    gauge = GaugeMetricFamily(
        name, f"{what} pending or running now, by model and status.", labels=["model", "status"]
    )
    counts = {(model, status): 0 for model in names for status in _ACTIVE}
    rows = connection.execute(
        sa.select(table.c.model_name, table.c.status, sa.func.count())
        .where(table.c.status.in_(_ACTIVE))
        .group_by(table.c.model_name, table.c.status)
    )
    for model, status, count in rows:
        counts[(model, status)] = count
    for (model, status), count in sorted(counts.items()):
        gauge.add_metric([model, status], count)
    return gauge


def _promotions(connection) -> Iterator[Metric]:
    promoted = CounterMetricFamily(
        "retraining_promotions", "Champion promotions, by model.", labels=["model"]
    )
    refused = CounterMetricFamily(
        "retraining_promotions_refused",
        "Retrained models not promoted (not better by the margin, or auto_promote off).",
        labels=["model"],
    )
    rows = connection.execute(
        sa.select(events.c.model_name, events.c.kind, sa.func.count())
        .where(events.c.kind.in_(["promotion", "promotion_refused"]))
        .group_by(events.c.model_name, events.c.kind)
    )
    for model, kind, count in rows:
        (promoted if kind == "promotion" else refused).add_metric([model], count)
    yield promoted
    yield refused


def _drift(connection) -> Iterator[Metric]:
    latest = (
        sa.select(checks.c.model_name, sa.func.max(checks.c.created_at).label("at"))
        .where(checks.c.status == str(Status.COMPLETED), checks.c.drift_share.is_not(None))
        .group_by(checks.c.model_name)
        .subquery()
    )
    rows = connection.execute(
        sa.select(checks.c.model_name, checks.c.drift_share, checks.c.drift).join(
            latest,
            sa.and_(checks.c.model_name == latest.c.model_name, checks.c.created_at == latest.c.at),
        )
    ).all()
    share = GaugeMetricFamily(
        "retraining_drift_score", "Share of drifted columns, latest check.", labels=["model"]
    )
    column_score = GaugeMetricFamily(
        "retraining_column_drift_score",
        "Per-column drift test score, latest check.",
        labels=["model", "column", "drifted"],
    )
    for model, value, drift in rows:
        share.add_metric([model], value)
        for column in (drift or {}).get("columns") or []:
            if isinstance(column.get("score"), int | float):
                drifted = str(bool(column.get("drifted"))).lower()
                column_score.add_metric([model, column["column"], drifted], column["score"])
    yield share
    yield column_score


def _models(connection) -> Iterator[Metric]:
    rows = connection.execute(
        sa.select(models.c.name, models.c.champion_version, models.c.monitoring_interval_seconds)
    ).all()
    champion = GaugeMetricFamily(
        "retraining_champion_info",
        "The champion version of each model.",
        labels=["model", "version"],
    )
    monitoring = GaugeMetricFamily(
        "retraining_monitoring_active", "1 when continuous monitoring is on.", labels=["model"]
    )
    for name, version, interval in rows:
        if version is not None:
            champion.add_metric([name, version], 1)
        monitoring.add_metric([name], int(bool(interval)))
    yield champion
    yield monitoring


def _predictions(connection) -> Iterator[Metric]:
    served = CounterMetricFamily(
        "retraining_predictions", "Predictions served, by model.", labels=["model"]
    )
    labelled = CounterMetricFamily(
        "retraining_predictions_labelled", "Predictions with an outcome.", labels=["model"]
    )
    rows = connection.execute(
        sa.select(
            predictions.c.model_name, sa.func.count(), sa.func.count(predictions.c.outcome_at)
        ).group_by(predictions.c.model_name)
    )
    for model, total, with_outcome in rows:
        served.add_metric([model], total)
        labelled.add_metric([model], with_outcome)
    yield served
    yield labelled
