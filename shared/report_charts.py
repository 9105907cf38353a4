"""The model report's charts as Plotly figure specifications (plain JSON-safe dicts).

Plotly.js draws them in the browser; building the dicts here keeps the Python plotly package
(slow to import) out of the API process and lets tests read exactly what will be drawn.
"""

from __future__ import annotations

from typing import Any

PROMOTED = "#2e7d32"
REFUSED = "#c62828"
LINE = "#1565c0"
_LAYOUT = {
    "template": "plotly_white",
    "height": 360,
    "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
    "legend": {"orientation": "h", "y": -0.25},
}

Figure = dict[str, Any]


def build_charts(data: dict[str, Any]) -> dict[str, Figure]:
    """Chart id -> figure, for the charts the data has something to show in."""
    charts = {
        "metric-over-time": metric_over_time(data["jobs"], data["primary_metric"]),
        "drift-over-time": drift_over_time(data["checks"], data["drift_threshold"]),
        "drift-heatmap": drift_heatmap(data["checks"]),
        "champion-vs-challenger": champion_vs_challenger(data["jobs"], data["primary_metric"]),
    }
    return {key: figure for key, figure in charts.items() if figure is not None}


def plot_time(iso: str | None) -> str | None:
    """An ISO timestamp as Plotly reads dates (UTC, no offset suffix, which it would refuse)."""
    return iso[:19].replace("T", " ") if iso else None


def metric_over_time(jobs: list[dict[str, Any]], metric: str) -> Figure | None:
    """The retrained models' primary metric by finishing date; promotions and refusals marked."""
    done = [
        job
        for job in reversed(jobs)  # oldest first
        if job["status"] == "completed" and metric in (job.get("metrics") or {})
    ]
    if not done:
        return None

    def when(job: dict[str, Any]) -> str | None:
        return plot_time(job.get("end_time") or job["created_at"])

    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"retrained model's {metric}",
            "x": [when(job) for job in done],
            "y": [job["metrics"][metric] for job in done],
            "line": {"color": LINE, "width": 2},
            "hoverinfo": "skip",
        }
    ]
    for name, promoted, symbol, colour in (
        ("promoted", True, "triangle-up", PROMOTED),
        ("refused (champion kept)", False, "x", REFUSED),
    ):
        chosen = [job for job in done if bool(job.get("promoted")) is promoted]
        if not chosen:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": [when(job) for job in chosen],
                "y": [job["metrics"][metric] for job in chosen],
                "text": [_job_note(job) for job in chosen],
                "hovertemplate": "%{x}<br>" + metric + " %{y:.4g}<br>%{text}<extra></extra>",
                "marker": {"symbol": symbol, "size": 12, "color": colour},
            }
        )
    layout = {
        **_LAYOUT,
        "title": {"text": f"{metric} of each retrained model (holdout), by date"},
        "xaxis": {"type": "date", "title": {"text": "finished (UTC)"}},
        "yaxis": {"title": {"text": metric}},
    }
    return {"data": traces, "layout": layout}


def _job_note(job: dict[str, Any]) -> str:
    return f"job {job['job_id'][:8]} ({job['trigger']}): {job.get('promotion_reason') or ''}"


def drift_over_time(checks: list[dict[str, Any]], threshold: float | None) -> Figure | None:
    """Share of drifted columns at each check, with the model's drift threshold drawn."""
    points = [c for c in reversed(checks) if c.get("drift_share") is not None]
    if not points:
        return None
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "drift share",
            "x": [plot_time(c["created_at"]) for c in points],
            "y": [c["drift_share"] for c in points],
            "text": [c.get("reason") or "" for c in points],
            "hovertemplate": "%{x}<br>drift share %{y:.2f}<br>%{text}<extra></extra>",
            "line": {"color": LINE},
            "marker": {
                "size": 9,
                "color": [REFUSED if c.get("needs_retraining") else LINE for c in points],
            },
        }
    ]
    layout: dict[str, Any] = {
        **_LAYOUT,
        "title": {"text": "Share of drifted columns at each check"},
        "xaxis": {"type": "date", "title": {"text": "check (UTC)"}},
        "yaxis": {"title": {"text": "drift share"}, "range": [0, 1.05]},
    }
    if threshold is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": threshold,
                "y1": threshold,
                "line": {"color": REFUSED, "dash": "dash"},
            }
        ]
        layout["annotations"] = [
            {
                "xref": "paper",
                "x": 1,
                "y": threshold,
                "xanchor": "right",
                "yanchor": "bottom",
                "text": f"drift_threshold {threshold:g}",
                "showarrow": False,
            }
        ]
    return {"data": traces, "layout": layout}


def drift_heatmap(checks: list[dict[str, Any]]) -> Figure | None:
    """Which column drifted at which check: one row per column, one cell per check."""
    shown = [c for c in reversed(checks) if (c.get("drift") or {}).get("columns")]
    if not shown:
        return None
    columns: list[str] = []
    for check in shown:
        for column in check["drift"]["columns"]:
            if column["column"] not in columns:
                columns.append(column["column"])
    z: list[list[int | None]] = []
    text: list[list[str]] = []
    for name in columns:
        row: list[int | None] = []
        notes: list[str] = []
        for check in shown:
            found = next((c for c in check["drift"]["columns"] if c["column"] == name), None)
            row.append(None if found is None else int(bool(found.get("drifted"))))
            notes.append(_cell_note(found))
        z.append(row)
        text.append(notes)
    labels = [plot_time(c["created_at"]) for c in shown]
    trace = {
        "type": "heatmap",
        "x": list(range(len(shown))),
        "y": columns,
        "z": z,
        "text": text,
        "zmin": 0,
        "zmax": 1,
        "colorscale": [[0, "#e8f5e9"], [0.5, "#e8f5e9"], [0.5, "#e53935"], [1, "#e53935"]],
        "showscale": False,
        "xgap": 2,
        "ygap": 2,
        "hovertemplate": "%{y}<br>%{text}<extra></extra>",
    }
    layout = {
        **_LAYOUT,
        "height": max(240, 120 + 24 * len(columns)),
        "title": {"text": "Drifted columns (red) at each check"},
        "xaxis": {
            "tickmode": "array",
            "tickvals": list(range(len(shown))),
            "ticktext": labels,
            "title": {"text": "check (UTC)"},
        },
        "yaxis": {"automargin": True},
    }
    return {"data": [trace], "layout": layout}


def _cell_note(column: dict[str, Any] | None) -> str:
    if column is None:
        return "not tested"
    score = column.get("score")
    value = f"{score:.4g}" if isinstance(score, int | float) else "-"
    verdict = "drifted" if column.get("drifted") else "stable"
    return f"{verdict}: {column.get('method') or ''} {value}".strip()


def champion_vs_challenger(jobs: list[dict[str, Any]], metric: str) -> Figure | None:
    """For each retraining: the new model and the champion, scored on the same holdout."""
    compared = [
        job
        for job in reversed(jobs)
        if job["status"] == "completed"
        and metric in (job.get("metrics") or {})
        and metric in (job.get("champion_metrics") or {})
    ]
    if not compared:
        return None
    x = list(range(len(compared)))
    labels = [f"{plot_time(job['created_at'])}<br>{job['job_id'][:8]}" for job in compared]
    traces = [
        {
            "type": "bar",
            "name": "challenger (retrained)",
            "x": x,
            "y": [job["metrics"][metric] for job in compared],
            "marker": {"color": [PROMOTED if job.get("promoted") else REFUSED for job in compared]},
            "hovertemplate": "challenger %{y:.4g}<extra></extra>",
        },
        {
            "type": "bar",
            "name": "champion (same holdout)",
            "x": x,
            "y": [job["champion_metrics"][metric] for job in compared],
            "marker": {"color": "#9e9e9e"},
            "hovertemplate": "champion %{y:.4g}<extra></extra>",
        },
    ]
    layout = {
        **_LAYOUT,
        "barmode": "group",
        "bargap": 0.4 if len(compared) > 2 else 0.6,  # a lone pair stays bar-shaped
        "title": {"text": f"Challenger against champion ({metric}); green: promoted"},
        "xaxis": {"tickmode": "array", "tickvals": x, "ticktext": labels},
        "yaxis": {"title": {"text": metric}},
    }
    return {"data": traces, "layout": layout}
