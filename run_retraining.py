"""The whole retraining loop on generated data, on the embedded default (no servers).

    python run_retraining.py            # or: make demo

1. train the first model (it becomes the champion) and set the monitors' baseline;
2. a clean window of production data: no retraining;
3. a drifted window: drift detected, retrained, the better model promoted (the monitors
   then follow it, so the next window of the new world is no longer drift);
4. a manual retraining: trained and compared, promoted only if better by the margin;
5. the job table and the report's path.

State goes to ``$RETRAINING_HOME`` (default ``./.retraining``).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pandas as pd

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from retraining.synthetic import make_churn_frame
from training.pipeline import TrainingPipeline


class World:
    """The production data store the loaders read: it grows as days pass."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.rows = make_churn_frame(4000, seed=1, end=self.now)

    def advance(self, days: int, n_rows: int, drift: float, seed: int) -> pd.DataFrame:
        self.now += timedelta(days=days)
        window = make_churn_frame(n_rows, drift=drift, seed=seed, end=self.now, days=days)
        self.rows = pd.concat([self.rows, window], ignore_index=True)
        return window

    def training_data(self) -> pd.DataFrame:
        # the scheduler keeps the last training_data_window_days by the timestamp column
        shift = datetime.now(UTC) - self.now
        frame = self.rows.copy()
        frame["timestamp"] = frame["timestamp"] + shift
        return frame


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def show_job(job) -> None:
    took = (job.end_time - job.start_time).total_seconds() if job.end_time else float("nan")
    print(f"job {job.job_id[:8]}  {job.status}  trigger={job.trigger}  {took:.1f}s")
    if job.error:
        print(f"  error: {job.error}")
        return
    print(f"  new model (v{job.model_version}): {_fmt(job.metrics)}")
    if job.champion_metrics:
        print(f"  champion on the same holdout: {_fmt(job.champion_metrics)}")
    print(f"  promoted={job.promoted}: {job.promotion_reason}")


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.3f}" for k, v in metrics.items())


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    world = World()
    config = RetrainingConfig(
        model_name="churn_demo",
        performance_threshold=0.05,
        drift_threshold=0.3,
        min_training_samples=1000,
        training_data_window_days=14,
        timestamp_column="timestamp",
        auto_promote=True,
        promotion_min_improvement=0.01,
    )
    pipeline = TrainingPipeline("automated_retraining", "sklearn")
    scheduler = RetrainingScheduler(config, world.training_data, pipeline)
    print(f"state in {scheduler.runtime.settings.home}")

    step("1. first model and monitors")
    job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "initial model")
    show_job(job)
    reference = world.rows.tail(2000)
    baseline = {name: job.metrics[name] for name in ("accuracy", "f1_score")}
    scheduler.initialize_monitors(reference, baseline)
    print(f"baseline: {_fmt(baseline)}")

    step("2. a clean week of production data")
    clean = world.advance(days=7, n_rows=1500, drift=0.0, seed=2)
    needs, trigger, reason = scheduler.check_retraining_needed(clean)
    print(f"needs retraining: {needs}  trigger: {trigger}\n  {reason}")

    step("3. a drifted week of production data")
    drifted = world.advance(days=7, n_rows=1500, drift=1.0, seed=3)
    world.advance(days=7, n_rows=2500, drift=1.0, seed=4)
    needs, trigger, reason = scheduler.check_retraining_needed(drifted)
    print(f"needs retraining: {needs}  trigger: {trigger}\n  {reason}")
    if needs:
        show_job(scheduler.trigger_retraining(trigger, reason))
    after = world.advance(days=3, n_rows=1500, drift=1.0, seed=5)
    needs, trigger, reason = scheduler.check_retraining_needed(after)
    print(f"next window (monitors now follow the new champion): needs retraining: {needs}")
    print(f"  {reason}")

    step("4. a manual retraining")
    show_job(scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "New feature added"))

    step("5. job history and report")
    for row in scheduler.get_job_history(limit=10):
        print(
            f"{row['created_at'][:19]}  {row['trigger']:<24} {row['status']:<10} "
            f"v{row['model_version']}  promoted={row['promoted']}"
        )
    print(f"report: {scheduler.generate_report()}")
    print(f"\ndone in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
