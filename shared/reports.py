"""A model's retraining report: one self-contained HTML page (no scripts, no network)."""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from shared.check_pages import wait_for_page
from shared.clock import utcnow
from shared.enums import Task
from shared.evaluation import primary_metric
from shared.runtime import Runtime

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:72rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.failed{color:#b00020}.completed{color:#1b5e20}
.drifted{background:#fdecea}svg{background:#fafafa;border:1px solid #ddd}
"""


def report_data(runtime: Runtime, model_name: str, limit: int = 200) -> dict[str, Any]:
    """Everything the report shows, as JSON-safe data."""
    record = runtime.models.get(model_name)
    jobs = runtime.jobs.list(model_name, limit=limit)
    latest_check = next(iter(runtime.checks.list(model_name, limit=1)), None)
    metric, _ = primary_metric(record.config, record.task or Task.CLASSIFICATION)
    return {
        "model_name": model_name,
        "generated_at": utcnow().isoformat(),
        "champion_version": record.champion_version,
        "champion_metrics": record.champion_metrics,
        "primary_metric": metric,
        "job_counts": runtime.jobs.count_by_status(model_name),
        "trigger_counts": dict(Counter(str(job.trigger) for job in jobs)),
        "jobs": [job.to_dict() for job in jobs],
        "latest_check": latest_check.to_dict() if latest_check else None,
    }


def write_model_report(runtime: Runtime, model_name: str) -> Path:
    """Store the report (readable from every host) and return this host's copy of it."""
    data = report_data(runtime, model_name)
    latest = data["latest_check"]
    if latest and latest.get("report_key") and latest.get("status") == "completed":
        # the check's page may still be rendering: waited for, or rendered here
        wait_for_page(runtime, runtime.checks.get(latest["check_id"]))
        latest["report_href"] = runtime.blobs.local_path(latest["report_key"]).as_uri()
    key = f"models/{model_name}/reports/report-{utcnow().strftime('%Y%m%dT%H%M%S%f')}.html"
    page = render_html(data).encode("utf-8")
    runtime.blobs.put(key, page, media_type="text/html", compress=True)
    return runtime.blobs.local_path(key)


def render_html(data: dict[str, Any]) -> str:
    name = escape(data["model_name"])
    sections = [
        f"<h1>Retraining report: {name}</h1>",
        f"<p>Generated {escape(data['generated_at'])}. Champion: version "
        f"{escape(str(data['champion_version']))} {_metrics_text(data['champion_metrics'])}</p>",
        "<h2>Jobs by status</h2>" + _key_value_table(data["job_counts"]),
        "<h2>Retrainings by trigger</h2>" + _key_value_table(data["trigger_counts"]),
        f"<h2>{escape(data['primary_metric'])} over retrainings</h2>"
        + _metric_plot(data["jobs"], data["primary_metric"]),
        "<h2>Latest drift check</h2>" + _check_section(data["latest_check"]),
        "<h2>Job history (newest first)</h2>" + _jobs_table(data["jobs"]),
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name} retraining</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )


def _metrics_text(metrics: dict[str, float] | None) -> str:
    if not metrics:
        return ""
    return escape("(" + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()) + ")")


def _key_value_table(values: dict[str, Any]) -> str:
    if not values:
        return "<p>None yet.</p>"
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _metric_plot(
    jobs: list[dict[str, Any]], metric: str, width: int = 640, height: int = 220
) -> str:
    points = [
        (job["created_at"], job["metrics"][metric], bool(job["promoted"]))
        for job in reversed(jobs)
        if job["status"] == "completed" and metric in (job["metrics"] or {})
    ]
    if not points:
        return "<p>No completed retraining yet.</p>"
    values = [value for _, value, _ in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 30

    def xy(index: int, value: float) -> tuple[float, float]:
        x = pad + index * (width - 2 * pad) / max(len(points) - 1, 1)
        y = height - pad - (value - low) * (height - 2 * pad) / span
        return round(x, 1), round(y, 1)

    coords = [xy(i, v) for i, (_, v, _) in enumerate(points)]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(
        f"<circle cx='{x}' cy='{y}' r='4' fill='{'#1b5e20' if promoted else '#888'}'>"
        f"<title>{escape(at)}: {value:.4g}{' (promoted)' if promoted else ''}</title></circle>"
        for (x, y), (at, value, promoted) in zip(coords, points, strict=True)
    )
    labels = (
        f"<text x='4' y='{pad - 8}' font-size='11'>{high:.4g}</text>"
        f"<text x='4' y='{height - 8}' font-size='11'>{low:.4g}</text>"
    )
    return (
        f"<svg width='{width}' height='{height}' role='img' aria-label='{escape(metric)}'>"
        f"<polyline points='{line}' fill='none' stroke='#1565c0' stroke-width='2'/>{dots}{labels}"
        "</svg><p>Green points: promoted models.</p>"
    )


def _check_section(check: dict[str, Any] | None) -> str:
    if check is None:
        return "<p>No check yet.</p>"
    link = ""
    if check.get("report_href"):
        link = f" <a href='{escape(check['report_href'])}'>Evidently report</a>"
    head = f"<p>{escape(check['created_at'])}: {escape(check['reason'])}.{link}</p>"
    columns = (check.get("drift") or {}).get("columns") or []
    rows = "".join(
        f"<tr class='{'drifted' if c['drifted'] else ''}'><td>{escape(c['column'])}</td>"
        f"<td>{escape(str(c.get('method')))}</td><td>{_number(c.get('score'))}</td>"
        f"<td>{_number(c.get('threshold'))}</td><td>{'yes' if c['drifted'] else 'no'}</td>"
        f"<td>{escape(c.get('issue') or '')}</td></tr>"
        for c in columns
    )
    header = _header_row("column", "method", "score", "threshold", "drifted", "note")
    return head + (f"<table>{header}{rows}</table>" if rows else "")


def _jobs_table(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "<p>No job yet.</p>"
    header = _header_row(
        "job",
        "created",
        "trigger",
        "status",
        "reason",
        "version",
        "metrics",
        "champion on same holdout",
        "promoted",
        "why / error",
    )
    rows = "".join(
        f"<tr><td>{escape(job['job_id'])}</td>"
        f"<td>{escape(job['created_at'])}</td><td>{escape(job['trigger'])}</td>"
        f"<td class='{escape(job['status'])}'>{escape(job['status'])}</td>"
        f"<td>{escape(job['reason'])}</td><td>{escape(str(job['model_version'] or ''))}</td>"
        f"<td>{_metrics_text(job['metrics'])}</td><td>{_metrics_text(job['champion_metrics'])}</td>"
        f"<td>{'' if job['promoted'] is None else ('yes' if job['promoted'] else 'no')}</td>"
        f"<td>{escape(job['error'] or job['promotion_reason'] or '')}</td></tr>"
        for job in jobs
    )
    return f"<table>{header}{rows}</table>"


def _header_row(*names: str) -> str:
    return "<tr>" + "".join(f"<th>{escape(name)}</th>" for name in names) + "</tr>"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else ""
