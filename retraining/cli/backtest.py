"""``retrain backtest``: replay a labelled history before deploying thresholds.

It runs on this machine only (a temporary state directory, the embedded default): nothing of
a deployment is touched. See ``retraining.backtest``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shared.errors import Invalid


def register(commands: Any) -> None:
    backtest = commands.add_parser(
        "backtest",
        help="replay a labelled history through the checks, training and promotion",
        description="Replay a labelled history (a CSV or Parquet file or URL, oldest row "
        "first) window by window through the real checks, training and promotion on a "
        "simulated clock, beside never retraining, a fixed schedule and, given change "
        "points, an oracle. Prints a table and writes an HTML page.",
    )
    backtest.add_argument("history", help="CSV or Parquet file or URL with the target column")
    backtest.add_argument(
        "--config", default="{}", help="RetrainingConfig fields: JSON, or a JSON file's path"
    )
    backtest.add_argument("--window-rows", type=int, required=True)
    backtest.add_argument("--initial-rows", type=int, required=True, help="the first model's")
    backtest.add_argument("--training-rows", type=int, default=None, help="latest rows trained on")
    backtest.add_argument("--schedule-every", type=int, default=None, help="windows (baseline)")
    backtest.add_argument(
        "--change-points", type=_rows, default=[], help="row positions, comma-separated"
    )
    backtest.add_argument("--html", default="backtest.html", help="where to write the page")
    backtest.set_defaults(run=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    from retraining.backtest import backtest
    from shared.config import RetrainingConfig
    from shared.sources import load_source, validate_source

    source = validate_source("training", {"kind": "file", "path": args.history})
    result = backtest(
        load_source(source),
        RetrainingConfig.from_dict(_config(args.config)),
        window_rows=args.window_rows,
        initial_rows=args.initial_rows,
        training_rows=args.training_rows,
        schedule_every=args.schedule_every,
        change_points=args.change_points,
    )
    print(result.table())
    print(f"page: {result.write_html(args.html).resolve()}")
    return 0


def _config(text: str) -> dict[str, Any]:
    if Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"--config: neither JSON nor a JSON file ({exc})") from None
    if not isinstance(fields, dict):
        raise Invalid("--config: must be a JSON object of RetrainingConfig fields")
    return fields


def _rows(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]
