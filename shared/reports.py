"""A model's retraining report: one HTML page from a Jinja2 template, with Plotly charts.

The charts are drawn by plotly.js from the plotly package (no CDN): a written report file
carries it inline so it opens anywhere offline; the API serves it beside the page instead.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from shared.check_pages import wait_for_page
from shared.clock import utcnow
from shared.enums import Task
from shared.evaluation import primary_metric
from shared.report_charts import build_charts, plot_time
from shared.runtime import Runtime

_ASSETS = Path(__file__).with_name("assets")
_CHECKS_SHOWN = 100


def report_data(runtime: Runtime, model_name: str, limit: int = 200) -> dict[str, Any]:
    """Everything the report shows, as JSON-safe data."""
    record = runtime.models.get(model_name)
    jobs = runtime.jobs.list(model_name, limit=limit)
    checks = [check.to_dict() for check in runtime.checks.list(model_name, limit=_CHECKS_SHOWN)]
    metric, higher = primary_metric(record.config, record.task or Task.CLASSIFICATION)
    return {
        "model_name": model_name,
        "generated_at": utcnow().isoformat(),
        "champion_version": record.champion_version,
        "champion_metrics": record.champion_metrics,
        "primary_metric": metric,
        "higher_is_better": higher,
        "drift_threshold": record.config.drift_threshold,
        "job_counts": runtime.jobs.count_by_status(model_name),
        "trigger_counts": dict(Counter(str(job.trigger) for job in jobs)),
        "jobs": [job.to_dict() for job in jobs],
        "checks": checks,
        "latest_check": checks[0] if checks else None,
    }


def write_model_report(runtime: Runtime, model_name: str) -> Path:
    """Store the report (readable from every host) and return this host's copy of it."""
    data = report_data(runtime, model_name)
    latest = data["latest_check"]
    if latest and latest.get("report_key") and latest.get("status") == "completed":
        # the latest check's page may still be rendering: waited for, or rendered here
        wait_for_page(runtime, runtime.checks.get(latest["check_id"]))
    links = {
        check["check_id"]: runtime.blobs.local_path(check["report_key"]).as_uri()
        for check in data["checks"]
        if check.get("report_key") and runtime.blobs.exists(check["report_key"])
    }
    key = f"models/{model_name}/reports/report-{utcnow().strftime('%Y%m%dT%H%M%S%f')}.html"
    page = render_html(data, check_links=links).encode("utf-8")
    runtime.blobs.put(key, page, media_type="text/html", compress=True)
    return runtime.blobs.local_path(key)


def render_html(
    data: dict[str, Any],
    *,
    check_links: Mapping[str, str] | None = None,
    asset_base: str | None = None,
) -> str:
    """The page. ``check_links``: check id -> its Evidently page. ``asset_base``: where
    ``plotly.min.js`` and ``report.js`` are served; None puts them inline (offline file)."""
    charts = build_charts(data)
    scripts = None
    if asset_base is None and charts:
        scripts = {"plotly": asset_text("plotly.min.js"), "report": asset_text("report.js")}
    return _template().render(
        **data,
        charts=charts,
        check_links=dict(check_links or {}),
        asset_base=asset_base,
        inline_scripts=scripts,
    )


def asset_path(name: str) -> Path:
    """A script the report loads: plotly.js as the plotly package ships it, or ours."""
    if name == "plotly.min.js":
        spec = importlib.util.find_spec("plotly")  # its file only: importing plotly is slow
        if spec is None or spec.origin is None:
            raise FileNotFoundError("the plotly package is not installed")
        return Path(spec.origin).parent / "package_data" / "plotly.min.js"
    if name == "report.js":
        return _ASSETS / name
    raise FileNotFoundError(name)


@cache
def asset_text(name: str) -> str:
    return asset_path(name).read_text(encoding="utf-8")


@cache
def _template():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("shared", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["metrics"] = _metrics_text
    environment.filters["number"] = _number
    environment.filters["when"] = plot_time
    return environment.get_template("model_report.html")


def _metrics_text(metrics: dict[str, float] | None) -> str:
    if not metrics:
        return ""
    return "(" + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()) + ")"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and not isinstance(value, bool) else ""
