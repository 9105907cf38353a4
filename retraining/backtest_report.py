"""A backtest as one self-contained HTML page: a Plotly chart (plotly.js inlined: no network)
of each strategy's score per window, the product's retrainings and promotions marked, the
known change points drawn, and the summary table."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retraining.backtest import BacktestResult

_COLOURS = {"product": "#1565c0", "never": "#888888", "schedule": "#ef6c00", "oracle": "#2e7d32"}


def render_backtest(result: BacktestResult) -> str:
    import plotly.graph_objects as go

    figure = go.Figure()
    x = [window.at for window in result.windows]
    for run in result.runs.values():
        figure.add_trace(
            go.Scatter(
                x=x,
                y=run.scores,
                mode="lines",
                name=run.name,
                line={
                    "color": _COLOURS.get(run.name),
                    "width": 3 if run.name == "product" else 1.5,
                },
            )
        )
    product = result.runs["product"]
    for label, indexes, symbol in (
        ("retrained, promoted", product.promoted, "triangle-up"),
        (
            "retrained, kept the champion",
            sorted(set(product.retrained) - set(product.promoted)),
            "x",
        ),
    ):
        figure.add_trace(
            go.Scatter(
                x=[x[i] for i in indexes],
                y=[product.scores[i] for i in indexes],
                mode="markers",
                name=label,
                marker={"symbol": symbol, "size": 11, "color": _COLOURS["product"]},
                text=[product.reasons.get(i, "") for i in indexes],
                hovertemplate="%{x}<br>%{text}<extra></extra>",
            )
        )
    for change in result.change_points:
        window = next((w for w in result.windows if w.start <= change < w.end), None)
        if window is not None:
            figure.add_vline(x=window.at, line_dash="dash", line_color="#b00020")
    figure.update_layout(
        title=f"{result.metric} of the model in service, window by window",
        xaxis_title="window (simulated time)",
        yaxis_title=result.metric,
        template="plotly_white",
        height=480,
    )
    chart = figure.to_html(full_html=False, include_plotlyjs=True, div_id="backtest-chart")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Backtest</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}"
        "</style></head><body><h1>Backtest</h1>"
        f"<p>Dashed lines: known changes. Markers: the product's retrainings.</p>{chart}"
        f"<h2>Summary</h2>{_table(result)}</body></html>"
    )


def _table(result: BacktestResult) -> str:
    rows = result.summary()
    head = "".join(f"<th>{escape(str(name))}</th>" for name in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_text(value))}</td>" for value in row.values()) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
