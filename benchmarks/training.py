"""The product's overhead around a retraining job, against the bare fit and score.

    python -m benchmarks.training                      # 5,000 and 50,000 rows, both stores
    python -m benchmarks.training --sizes 5000 --jobs 3 --stores embedded --no-doc

Two MLflow stores, side by side in one run: the embedded default (MLflow tracking + registry
on SQLite and artifacts under a temporary ``RETRAINING_HOME``), and an MLflow tracking server
(``mlflow server --serve-artifacts`` on a fresh Postgres database: what several hosts share;
every log and load goes through it over HTTP). Job state is on SQLite in both, jobs run in the
calling process, through the Python API:
``RetrainingScheduler.trigger_retraining`` on ``retraining.synthetic.make_churn_frame`` data
with the default pipeline (median/mode imputation, one-hot, HistGradientBoosting), monitors
initialized so that a promotion also moves the monitors' reference. Every job is promoted
(``promotion_min_improvement=0``: the same data gives the same metrics), so each one pays
MLflow logging, registration, the champion's scoring on the holdout and the promotion.

The first job of a model also creates its MLflow experiment and registered model (and the
first in the process imports MLflow): it is reported apart from the steady jobs after it.
Bare: the same estimator (``TrainingPipeline.build``) fitted and scored on the same time-based
split of the same frame with scikit-learn alone: ``fit``, ``predict``, ``predict_proba`` and
the same five metrics, measured alternately with the product's jobs so both see the same load.
Overhead = a job's wall time minus its own fit and scoring of the new model (timed inside the
job, so it does not depend on run-to-run noise of the fit), and, as a cross-check, job wall time
minus the bare fit and score (medians). Phases come from timers wrapped around the product's
functions in this process (the product's code is unchanged).
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import (
    command,
    load_average,
    machine,
    machine_markdown,
    markdown_table,
    mlflow_server,
    now_text,
    text_table,
    update_doc,
)

MODULE = "benchmarks.training"
SIZES = (5_000, 50_000)
STORES = ("embedded", "server")
TARGET_OVERHEAD = 1.5

PHASES = {  # phase -> the product's functions timed for it: (module, class or None, name)
    "data checks, window plan, split, fingerprints": [
        ("shared.retrain", None, "validate_training_frame"),
        ("shared.retrain", None, "filter_training_window"),
        ("shared.retrain", None, "plan_for"),
        ("shared.retrain", None, "data_fingerprint"),
    ],
    "fit + score new model": [("shared.retrain", None, "_fit_and_score")],
    "load + score champion": [
        ("shared.retrain", None, "_load_champion"),
        ("shared.retrain", None, "_score_champion"),
    ],
    "significance gate (paired bootstrap)": [("shared.retrain", None, "paired_bootstrap")],
    "diagnostics": [("shared.retrain", None, "_diagnostics")],
    "MLflow log + register": [("shared.registry", "ModelRegistry", "log_candidate")],
    "MLflow alias, stage, version tags": [
        ("shared.registry", "ModelRegistry", "promote"),
        ("shared.registry", "ModelRegistry", "describe_version"),
    ],
    "monitors follow (reference blobs)": [("shared.retrain", None, "_monitors_following")],
}
GATE_PHASE = "significance gate (paired bootstrap)"
GATE_ROWS = 100_000  # a 20,000-row holdout (test_size 0.2)
GATE_CONFIDENCE = 0.95


OWN_WORK = ("fit + score new model",)  # what the bare baseline also does


class Timers:
    """Wall time spent in each phase's functions (outermost calls only: the champion's
    scoring inside ``_score_champion`` counts there, not as "score new model")."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._depth = 0

    def install(self) -> None:
        import importlib

        for phase, targets in PHASES.items():
            for module, owner, attribute in targets:
                holder = importlib.import_module(module)
                if owner is not None:
                    holder = getattr(holder, owner)
                setattr(holder, attribute, self._wrap(phase, getattr(holder, attribute)))

    def _wrap(self, phase: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            self._depth += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.totals[phase] += time.perf_counter() - started

        return timed

    def take(self) -> dict[str, float]:
        totals, self.totals = dict(self.totals), defaultdict(float)
        return totals


def open_scheduler(frame, home: Path, name: str, tracking_uri: str | None, **overrides: Any):
    from retraining.scheduler import RetrainingConfig, RetrainingScheduler
    from shared.settings import Settings
    from training.pipeline import TrainingPipeline

    config = RetrainingConfig(
        **{
            "model_name": name,
            "min_training_samples": 1000,
            "training_data_window_days": 30,
            "timestamp_column": "timestamp",
            "auto_promote": True,
            "promotion_min_improvement": 0.0,
            "enable_notifications": False,
            **overrides,
        }
    )
    env = {"RETRAINING_HOME": str(home)}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    settings = Settings.from_env(env)
    scheduler = RetrainingScheduler(
        config, lambda: frame, TrainingPipeline(name, "sklearn"), settings=settings
    )
    scheduler.initialize_monitors(frame.tail(2000), {"accuracy": 0.8})
    return scheduler


def product_job(scheduler, timers: Timers, index: int) -> dict[str, Any]:
    from retraining.scheduler import RetrainingTrigger

    timers.take()
    started = time.perf_counter()
    job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, f"benchmark job {index}")
    elapsed = time.perf_counter() - started
    if job.status != "completed":
        raise RuntimeError(f"job {job.job_id} {job.status}: {job.error}")
    return {"seconds": elapsed, "phases": timers.take(), "promoted": job.promoted}


def cold_champion_load(scheduler) -> float:
    """Load the champion as a worker that did not train it does: a registry with no cache."""
    from shared.registry import ModelRegistry

    runtime = scheduler.runtime
    version = runtime.models.get(scheduler.model_name).champion_version
    registry = ModelRegistry(
        runtime.settings.mlflow_tracking_uri, runtime.settings.model_artifact_root
    )
    started = time.perf_counter()
    registry.load(scheduler.model_name, version)
    return time.perf_counter() - started


def bare_fit_and_score(frame) -> float:
    import numpy as np
    from sklearn import metrics

    from shared.enums import Task
    from training.pipeline import TrainingPipeline

    pipeline = TrainingPipeline("bare", "sklearn")
    ordered = frame.sort_values("timestamp")
    n_test = math.ceil(len(ordered) * pipeline.test_size)  # as the product rounds it
    train, holdout = ordered.iloc[:-n_test], ordered.iloc[-n_test:]
    features = [c for c in frame.columns if c not in ("target", "timestamp")]
    started = time.perf_counter()
    model = pipeline.build(train[features], Task.CLASSIFICATION)
    model.fit(train[features], train["target"])
    predicted = model.predict(holdout[features])
    probability = model.predict_proba(holdout[features])[:, 1]
    y = holdout["target"].to_numpy()
    scores = [
        metrics.accuracy_score(y, predicted),
        metrics.f1_score(y, predicted),
        metrics.precision_score(y, predicted, zero_division=0),
        metrics.recall_score(y, predicted, zero_division=0),
        metrics.roc_auc_score(y, probability),
    ]
    elapsed = time.perf_counter() - started
    assert np.all(np.isfinite(scores))
    return elapsed


def run(sizes: list[int], jobs: int, stores: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """Per store and size: the first job, then bare and product alternately (same load)."""
    results = {}
    timers = Timers()
    timers.install()
    with tempfile.TemporaryDirectory(prefix="bench-training-") as work:
        for store in stores:
            if store == "server":
                with mlflow_server(Path(work)) as url:
                    results.update(run_store(store, url, sizes, jobs, Path(work), timers))
            else:
                results.update(run_store(store, None, sizes, jobs, Path(work), timers))
    return results


def run_store(
    store: str, tracking_uri: str | None, sizes: list[int], jobs: int, work: Path, timers: Timers
) -> dict[tuple[str, int], dict[str, Any]]:
    from retraining.synthetic import make_churn_frame

    results = {}
    for rows in sizes:
        frame = make_churn_frame(rows, seed=1, end=datetime.now(UTC), days=20)
        name = f"bench_training_{store}_{rows}"
        scheduler = open_scheduler(frame, work / store, name, tracking_uri)
        product = [product_job(scheduler, timers, 0)]
        bare = []
        for index in range(1, jobs):
            bare.append(bare_fit_and_score(frame))
            product.append(product_job(scheduler, timers, index))
        champion_load = cold_champion_load(scheduler)
        scheduler.close()
        results[(store, rows)] = {"bare": bare, "product": product, "cold_load": champion_load}
        steady = statistics.median(job["seconds"] for job in product[1:])
        print(
            f"{store:>8} {rows:>7,} rows: job {steady:.2f} s (first "
            f"{product[0]['seconds']:.2f} s), bare fit+score {statistics.median(bare):.2f} s",
            flush=True,
        )
    return results


HEADERS = [
    "MLflow store",
    "rows",
    "bare fit + score s",
    "job s",
    "job's own fit + score s",
    "overhead s (job - own fit + score)",
    "overhead s (job - bare)",
    "first job s (its overhead)",
    "champion load on another worker s",
]


def _own(job: dict[str, Any]) -> float:
    return sum(job["phases"].get(phase, 0.0) for phase in OWN_WORK)


def summary(result: dict[str, Any]) -> dict[str, float]:
    steady = result["product"][1:]
    first = result["product"][0]
    return {
        "bare": statistics.median(result["bare"]),
        "steady": statistics.median(job["seconds"] for job in steady),
        "own": statistics.median(_own(job) for job in steady),
        "overhead": statistics.median(job["seconds"] - _own(job) for job in steady),
        "first": first["seconds"],
        "first_overhead": first["seconds"] - _own(first),
    }


def table_rows(results: dict[int, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for (store, size), result in results.items():
        s = summary(result)
        rows.append(
            [
                store,
                f"{size:,}",
                f"{s['bare']:.2f}",
                f"{s['steady']:.2f}",
                f"{s['own']:.2f}",
                f"{s['overhead']:.2f}",
                f"{s['steady'] - s['bare']:.2f}",
                f"{s['first']:.2f} ({s['first_overhead']:.2f})",
                f"{result['cold_load']:.2f}",
            ]
        )
    return rows


def phase_rows(results: dict[int, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    runs = list(results)
    headers = [
        "phase (steady jobs, median s)",
        *[f"{store}, {size:,} rows" for store, size in runs],
    ]
    rows = []
    for phase in [*PHASES, "other (job rows, audit events, heartbeat, transactions)"]:
        row = [phase]
        for run_key in runs:
            jobs = results[run_key]["product"][1:]
            if phase in PHASES:
                value = statistics.median(job["phases"].get(phase, 0.0) for job in jobs)
            else:
                value = statistics.median(
                    job["seconds"] - sum(job["phases"].values()) for job in jobs
                )
            row.append(f"{value:.3f}")
        rows.append(row)
    return headers, rows


def verdict_lines(results: dict[int, dict[str, Any]]) -> list[str]:
    lines = []
    for (store, size), result in results.items():
        s = summary(result)
        met = "met" if s["overhead"] < TARGET_OVERHEAD else "NOT met"
        lines.append(
            f"- {store}, {size:,} rows: {s['overhead']:.2f} s of overhead per job (median of the "
            f"steady jobs: wall time minus the job's own fit and scoring of the new model), target "
            f"< {TARGET_OVERHEAD} s {met}; against the separately measured bare fit + score: "
            f"{s['steady'] - s['bare']:.2f} s; the first job of a model: "
            f"{s['first_overhead']:.2f} s."
        )
    return lines


def cause_lines(results: dict[int, dict[str, Any]]) -> list[str]:
    """The largest overhead phases, and what is known to drive them."""
    lines = ["Where the overhead goes (largest steady-job phases besides fit and scoring):", ""]
    for (store, size), result in results.items():
        steady = result["product"][1:]
        phases = {
            phase: statistics.median(job["phases"].get(phase, 0.0) for job in steady)
            for phase in PHASES
            if phase not in OWN_WORK
        }
        top = sorted(phases.items(), key=lambda item: -item[1])[:3]
        listed = ", ".join(f"{phase} {value:.2f} s" for phase, value in top)
        lines.append(f"- {store}, {size:,} rows: {listed}.")
    lines += [
        "",
        "Every job here is promoted, so the next job's champion is the model the previous job "
        "logged. The registry keeps the model a process has just logged, so on the same worker "
        "scoring the champion costs only the scoring; a worker that did not train it downloads "
        "it once (last column: a registry with an empty cache loading the champion, through "
        "the tracking server's artifact proxy for the server store). Logging through the "
        "server adds its HTTP round trips (run, params and metrics, logged model, artifact "
        "upload, registration) to the same work.",
    ]
    return lines


def run_gate(rows: int, jobs: int) -> dict[str, Any]:
    """Two models on the same frame, one with ``promotion_confidence``, jobs alternately.

    ``auto_promote`` is off for both, so neither job promotes: both do the same work but the
    gate (a promotion would add the monitors' move to one side only). The change-aware window
    is off, so the holdout is the plain 20% of the rows.
    """
    from retraining.synthetic import make_churn_frame

    timers = Timers()
    timers.install()
    frame = make_churn_frame(rows, seed=1, end=datetime.now(UTC), days=20)
    jobs_of: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as work:
        schedulers = {
            gate: open_scheduler(
                frame,
                Path(work),
                f"bench_gate_{gate}",
                None,
                auto_promote=False,
                change_aware_window=False,  # the plain 80/20 split: a 20% holdout
                promotion_confidence=GATE_CONFIDENCE if gate == "on" else None,
            )
            for gate in jobs_of
        }
        for scheduler in schedulers.values():
            product_job(scheduler, timers, 0)  # the first model: no champion, no gate
        for index in range(1, jobs + 1):
            for gate, scheduler in schedulers.items():
                jobs_of[gate].append(product_job(scheduler, timers, index))
        holdout = schedulers["on"].runtime.jobs.list("bench_gate_on", limit=1)[0]
        n_holdout = holdout.details["n_holdout"]
        method = holdout.details["promotion"]["method"]
        for scheduler in schedulers.values():
            scheduler.close()
    return {"jobs": jobs_of, "n_holdout": n_holdout, "method": method, "bare": bare_bootstrap()}


def bare_bootstrap(rows: int = 20_000, repeats: int = 5) -> dict[str, float]:
    """``paired_bootstrap`` alone on given predictions (no model): both tasks, median s."""
    import numpy as np

    from shared.enums import Task
    from shared.significance import paired_bootstrap

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    flip = rng.random((2, rows)) < [[0.14], [0.16]]
    cases = {
        "classification (accuracy)": (Task.CLASSIFICATION, "accuracy", True, y, *(y ^ flip)),
        "regression (rmse)": (
            Task.REGRESSION,
            "rmse",
            False,
            y * 1.0,
            y + rng.normal(scale=0.5, size=rows),
            y + rng.normal(scale=0.52, size=rows),
        ),
    }
    out = {}
    for name, (task, metric, higher, truth, new, old) in cases.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            paired_bootstrap(
                truth,
                new,
                old,
                task=task,
                metric=metric,
                higher_is_better=higher,
                confidence=GATE_CONFIDENCE,
            )
            times.append(time.perf_counter() - started)
        out[name] = statistics.median(times)
    return out


GATE_HEADERS = [
    "promotion_confidence",
    "holdout rows",
    "job s (median, min-max)",
    "significance gate phase s (median)",
    "extra s per job (median job difference)",
]


def gate_rows(result: dict[str, Any]) -> list[list[str]]:
    jobs_of = result["jobs"]
    seconds = {gate: [job["seconds"] for job in jobs_of[gate]] for gate in jobs_of}
    medians = {gate: statistics.median(values) for gate, values in seconds.items()}
    rows = []
    for gate, label in (("off", "None (baseline)"), ("on", str(GATE_CONFIDENCE))):
        phase = statistics.median(job["phases"].get(GATE_PHASE, 0.0) for job in jobs_of[gate])
        extra = "" if gate == "off" else f"{medians['on'] - medians['off']:+.3f}"
        spread = f"{medians[gate]:.3f} ({min(seconds[gate]):.3f}-{max(seconds[gate]):.3f})"
        rows.append([label, f"{result['n_holdout']:,}", spread, f"{phase:.3f}", extra])
    return rows


def gate_main(args: argparse.Namespace) -> None:
    info, started, load_before = machine(), now_text(), load_average()
    print(f"significance gate benchmark, {started}, load average {load_before}", flush=True)
    result = run_gate(args.gate_rows, args.jobs)
    loads = (load_before, load_average())
    rows = gate_rows(result)
    bare = result["bare"]
    print(text_table(GATE_HEADERS, rows))
    bare_lines = [
        f"- `paired_bootstrap` alone on 20,000 given prediction pairs, {name}: {seconds:.3f} s"
        for name, seconds in bare.items()
    ]
    print("\n".join(bare_lines))
    if args.no_doc:
        return
    body = "\n".join(
        [
            "## training --gate: what the significance gate costs a job",
            "",
            machine_markdown(info, started, loads, command(MODULE)),
            f"Two models on the same {args.gate_rows:,}-row `make_churn_frame` frame (embedded "
            "store, default pipeline, `change_aware_window` off so the holdout is 20% of the "
            "rows), one with `promotion_confidence` "
            f"{GATE_CONFIDENCE} and one without (the baseline), {args.jobs} jobs each after "
            "the first, alternately, so both see the same load. `auto_promote` is off for "
            "both, so neither job promotes and the only difference is the gate: a "
            f"{result['method']} over the holdout predictions both models made for their "
            "metrics anyway.",
            "",
            markdown_table(GATE_HEADERS, rows),
            "",
            *bare_lines,
            "",
            "The phase column is timed around `paired_bootstrap` inside the job; the job "
            "difference is the same cost seen from outside, with the fit's run-to-run noise "
            "(on a loaded machine, see the load average above, that noise is larger than the "
            "gate). Classification resamples are "
            "multinomial draws over the few (label, candidate, champion) combinations, so "
            "their cost hardly grows with the holdout; regression resamples gather per-row "
            "errors (2,000 x rows indices).",
        ]
    )
    print(f"\nwritten to {update_doc('training-gate', body)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=MODULE, description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    parser.add_argument("--jobs", type=int, default=6, help="jobs per size (the first is cold)")
    parser.add_argument("--stores", default=",".join(STORES), help="embedded, server or both")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument(
        "--gate",
        action="store_true",
        help="measure the significance gate (promotion_confidence) against its absence",
    )
    parser.add_argument("--gate-rows", type=int, default=GATE_ROWS)
    args = parser.parse_args(argv)
    if args.jobs < 2:
        parser.error("--jobs must be at least 2 (the first job is reported apart)")
    logging.basicConfig(level=logging.ERROR)
    if args.gate:
        gate_main(args)
        return
    info, started, load_before = machine(), now_text(), load_average()
    print(f"training benchmark, {started}, load average {load_before}", flush=True)
    stores = [store.strip() for store in args.stores.split(",")]
    if not set(stores) <= set(STORES):
        parser.error(f"--stores: choose from {', '.join(STORES)}")
    results = run([int(size) for size in args.sizes.split(",")], args.jobs, stores)
    loads = (load_before, load_average())
    headers, phases = phase_rows(results)
    print()
    print(text_table(HEADERS, table_rows(results)))
    print()
    print(text_table(headers, phases))
    print()
    print("\n".join(verdict_lines(results)))
    if args.no_doc:
        return
    body = "\n".join(
        [
            "## training: the product's overhead around a retraining job",
            "",
            machine_markdown(info, started, loads, command(MODULE)),
            "Two MLflow stores in one run: embedded (tracking, registry and artifacts on SQLite "
            "and disk under a temporary `RETRAINING_HOME`) and server (`mlflow server "
            "--serve-artifacts` on a fresh Postgres database, every log and load over HTTP, "
            "artifacts proxied as `mlflow-artifacts:`: what workers on several hosts share). "
            "Job state on SQLite, Python API `RetrainingScheduler.trigger_retraining`, "
            "`make_churn_frame` data "
            "(7 features, timestamp, binary target), the default pipeline, monitors "
            f"initialized; {args.jobs} jobs per size, all promoted. Bare: the same estimator "
            "fitted and scored with scikit-learn alone on the same time-based 80/20 split. The "
            "first job of a model also creates its MLflow experiment and registered model (the "
            "first in the process imports MLflow).",
            "",
            markdown_table(HEADERS, table_rows(results)),
            "",
            "Where a steady job's time goes (timers around the product's functions):",
            "",
            markdown_table(headers, phases),
            "",
            "Target (issues 5 and 8): under 1.5 s of overhead per job, with either store.",
            "",
            *verdict_lines(results),
            "",
            *cause_lines(results),
        ]
    )
    print(f"\nwritten to {update_doc('training', body)}")


if __name__ == "__main__":
    main(sys.argv[1:])
