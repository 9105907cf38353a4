"""Every scenario of the retraining guide, in order, on generated data (nothing downloaded).

    .venv/bin/python examples/retraining_example.py

1. basic setup                  7. job tracking
2. initialize monitors          8. automatic promotion (2% margin, "Production" stage)
3. performance degradation      9. custom notifications
4. data drift                  10. troubleshooting (too little data, a failed job)
5. scheduled + monitoring      11. metrics (report, job history)
6. manual trigger

Jobs run in this process (the embedded mode, no servers). State goes to a new temporary
directory, unless RETRAINING_HOME is set: then your environment (RETRAINING_HOME,
DATABASE_URL, MLFLOW_TRACKING_URI) is used as it is. Run it on a fresh RETRAINING_HOME: on a
home that already has "my_model" the outcomes differ (it already has a champion).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from retraining.synthetic import make_churn_frame
from shared.settings import Settings
from training.pipeline import TrainingPipeline

logger = logging.getLogger("retraining_example")


# -- the user's own code: where data comes from ----------------------------------------------


class World:
    """Stands in for your data store: labelled history plus recent production inputs.

    Labels arrive late: at first only the 'before' world is labelled. Later in the run the
    market changes, production inputs drift, and then the labels of the new world arrive.
    """

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        # four weeks of labelled history, up to a week ago (labels lag a week)
        self.labelled = make_churn_frame(4000, seed=1, end=self.now - timedelta(days=7), days=21)
        self.production = self.inputs(drift=0.0, seed=2)

    def inputs(self, *, drift: float, seed: int, n_rows: int = 1500) -> pd.DataFrame:
        """A week of production inputs: features and timestamp, no labels yet."""
        frame = make_churn_frame(n_rows, drift=drift, seed=seed, end=self.now, days=7)
        return frame.drop(columns=["target"])

    def market_changes(self) -> None:
        self.production = self.inputs(drift=1.0, seed=3)

    def labels_arrive(self) -> None:
        """The last week's outcomes are known now, and they follow the new world."""
        recent = make_churn_frame(2500, drift=1.0, seed=4, end=self.now, days=7)
        self.labelled = pd.concat([self.labelled, recent], ignore_index=True)

    # the two loaders the scheduler calls
    def load_training_data(self) -> pd.DataFrame:
        return self.labelled.copy()

    def load_current_data(self) -> pd.DataFrame:
        return self.production.copy()


def example_settings() -> Settings:
    if os.environ.get("RETRAINING_HOME"):
        settings = Settings.from_env()
    else:
        home = tempfile.mkdtemp(prefix="retraining-example-")
        settings = Settings.from_env({"RETRAINING_HOME": home})
    if settings.redis_url:
        print("note: REDIS_URL is set, but this example runs its jobs in this process")
        settings = dataclasses.replace(settings, redis_url=None)
    return settings


# -- printing --------------------------------------------------------------------------------


def section(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def fmt(metrics: dict[str, float] | None, names=("accuracy", "f1_score", "roc_auc")) -> str:
    if not metrics:
        return "-"
    return ", ".join(f"{k}={metrics[k]:.3f}" for k in names if k in metrics)


def show_check(needs: bool, trigger, reason: str) -> None:
    print(f"needs_retraining={needs}  trigger={trigger}")
    print(f"  reason: {reason}")


def show_job(job) -> None:
    print(f"job {job.job_id[:8]}  status={job.status}  trigger={job.trigger}")
    if job.error:
        print(f"  error: {job.error}")
        return
    print(f"  new model v{job.model_version}: {fmt(job.metrics)}")
    print(f"  champion on the same holdout: {fmt(job.champion_metrics)}")
    print(f"  promoted={job.promoted}: {job.promotion_reason}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow sets its own log level
    started = time.perf_counter()
    settings = example_settings()
    world = World()
    print(f"state in {settings.home}")

    # ---------------------------------------------------------------------------------------
    section("1. Basic setup")
    config = RetrainingConfig(
        model_name="my_model",
        performance_threshold=0.05,  # 5% degradation triggers retraining
        drift_threshold=0.1,  # retrain when 10% or more of the columns drifted
        schedule_enabled=True,
        schedule_interval_days=7,  # weekly retraining
        auto_promote=True,  # auto-deploy if better
        timestamp_column="timestamp",  # not a feature; bounds the training window
    )
    pipeline = TrainingPipeline("automated_retraining", "sklearn")
    scheduler = RetrainingScheduler(
        config,
        world.load_training_data,
        pipeline,
        current_data_loader=world.load_current_data,  # what start_monitoring() checks
        settings=settings,
    )
    print(f"scheduler for {scheduler.model_name!r}: {pipeline}")
    print(f"training data: {len(world.load_training_data())} labelled rows")

    # ---------------------------------------------------------------------------------------
    section("2. Initialize monitors")
    reference_data = world.labelled.tail(2000)
    baseline_metrics = {"accuracy": 0.85, "f1_score": 0.83}
    baseline = scheduler.initialize_monitors(reference_data, baseline_metrics)
    print(f"reference: {len(reference_data)} rows; baseline: {fmt(baseline)}")

    # ---------------------------------------------------------------------------------------
    section("3. Performance degradation")
    current_data = world.load_current_data()
    current_metrics = {"accuracy": 0.78, "f1_score": 0.75}
    print(f"current metrics {fmt(current_metrics)} (threshold: a relative drop above 5%)")
    needs, trigger, reason = scheduler.check_retraining_needed(
        current_data, current_metrics=current_metrics
    )
    show_check(needs, trigger, reason)
    assert trigger == RetrainingTrigger.PERFORMANCE_DEGRADATION, trigger

    print("a smaller drop, accuracy=0.84 f1_score=0.82, stays within the threshold:")
    needs, trigger, reason = scheduler.check_retraining_needed(
        current_data, current_metrics={"accuracy": 0.84, "f1_score": 0.82}
    )
    show_check(needs, trigger, reason)
    assert not needs, reason

    # ---------------------------------------------------------------------------------------
    section("4. Data drift")
    world.market_changes()
    production_data = world.load_current_data()  # inputs only: no labels yet
    needs, trigger, reason = scheduler.check_retraining_needed(production_data)
    show_check(needs, trigger, reason)
    assert trigger == RetrainingTrigger.DATA_DRIFT, trigger
    check = scheduler.last_check
    report = scheduler.check_report_path()
    print(f"  drift share {check.drift_share:.2f}; Evidently report: {report}")

    # ---------------------------------------------------------------------------------------
    section("5. Scheduled retraining and continuous monitoring")
    next_run = scheduler.schedule_periodic_retraining()
    print(f"retraining every 7 days at 02:00 UTC; first run due {next_run:%Y-%m-%d %H:%M} UTC")
    earlier = {row["job_id"] for row in scheduler.get_job_history()}
    scheduler.start_monitoring(check_interval_seconds=5)
    print(f"monitoring in the background: {scheduler.is_monitoring}")
    # the first check runs at once; wait until the job it starts has finished
    monitor_job = wait_for_new_job(scheduler, earlier, timeout=60)
    scheduler.stop_monitoring()
    print(f"monitoring stopped: is_monitoring={scheduler.is_monitoring}")
    print(f"the monitor's check: {scheduler.last_check.reason}")
    assert monitor_job is not None, "the monitoring thread started no job"
    print(
        f"it started job {monitor_job['job_id'][:8]} ({monitor_job['trigger']}): "
        f"{monitor_job['status']}, v{monitor_job['model_version']}, "
        f"promoted={monitor_job['promoted']}: {monitor_job['promotion_reason']}"
    )
    print("when the scheduled time comes (simulated here by passing that time):")
    for result in scheduler.run_due_work(now=next_run):
        show_job(result)

    # ---------------------------------------------------------------------------------------
    section("6. Manual trigger")
    job = scheduler.trigger_retraining(trigger=RetrainingTrigger.MANUAL, reason="New feature added")
    show_job(job)

    # ---------------------------------------------------------------------------------------
    section("7. Job tracking")
    print(f"Job ID: {job.job_id}")
    print(f"Status: {job.status}")
    print(f"Metrics: {job.metrics}")
    print(f"Duration: {job.end_time - job.start_time}")
    print("audit trail of this job:")
    for event in scheduler.get_job_status(job.job_id)["events"]:
        change = f"{event['from_status'] or '-'} -> {event['to_status']}"
        print(f"  {event['at'][11:23]}  {event['kind']:<18} {change if event['to_status'] else ''}")

    # ---------------------------------------------------------------------------------------
    section("8. Automatic promotion")
    promotion_config = dataclasses.replace(
        config,
        auto_promote=True,
        promotion_min_improvement=0.02,  # require 2% improvement
        promotion_stage="Production",
    )
    scheduler.close()
    # a scheduler stores its configuration: this one replaces the model's previous rules
    scheduler = RetrainingScheduler(
        promotion_config,
        world.load_training_data,
        pipeline,
        current_data_loader=world.load_current_data,
        settings=settings,
    )
    print("labels of the changed market arrive; retraining on them:")
    world.labels_arrive()
    job = scheduler.trigger_retraining(RetrainingTrigger.DATA_DRIFT, "labels after the drift")
    show_job(job)
    assert job.promoted, job.promotion_reason
    print_registry(settings, "my_model")

    # ---------------------------------------------------------------------------------------
    section("9. Custom notifications")

    class MyNotifier:
        def notify(self, job):
            if job.status == "failed":
                print(f"  [pagerduty] {job.model_name}: job failed: {job.error}")
            elif job.status == "drift_alert":
                print(f"  [slack] {job.model_name}: drift alert, share {job.drift_share:.2f}")
            else:
                print(
                    f"  [slack] {job.model_name}: job {job.status}, promoted={job.promoted}, "
                    f"{fmt(job.metrics, ('accuracy',))}"
                )

    scheduler.notification_handler = MyNotifier()
    print("a check on drifted inputs (drift share at or above drift_alert_threshold=0.3):")
    scheduler.check_retraining_needed(world.load_current_data())
    print("a retraining:")
    scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "weekly review")

    # ---------------------------------------------------------------------------------------
    section("10. Troubleshooting")
    print("too few rows to check (min_samples_for_check=100):")
    needs, trigger, reason = scheduler.check_retraining_needed(world.load_current_data().head(40))
    show_check(needs, trigger, reason)

    print("drift kept firing after the retrainings (section 9): the reference data is still")
    print("the old market's, until initialize_monitors() is called again.")
    # refresh it with recent labelled data; no baseline given: the champion's metrics on it
    baseline = scheduler.initialize_monitors(world.labelled.tail(2000))
    print(f"  monitors refreshed, baseline now the champion's: {fmt(baseline)}")
    needs, trigger, reason = scheduler.check_retraining_needed(world.load_current_data())
    print(f"  after: needs_retraining={needs} trigger={trigger}")
    print(f"  reason: {reason}")
    assert not needs, reason

    print("insufficient training data (min_training_samples=1000, 300 rows available):")
    small_data = make_churn_frame(300, seed=5)
    small_config = RetrainingConfig(
        model_name="my_small_model",
        min_training_samples=1000,
        training_data_window_days=30,
        timestamp_column="timestamp",
    )
    if len(small_data) < small_config.min_training_samples:
        logger.warning("Not enough training data: %d rows", len(small_data))
    small = RetrainingScheduler(
        small_config,
        lambda: small_data,
        TrainingPipeline("small_pipeline"),
        notification_handler=MyNotifier(),
        settings=settings,
    )
    print("(the core logs the failure with its traceback; the job keeps the readable error)")
    failed = small.trigger_retraining(RetrainingTrigger.MANUAL, "try anyway")
    status = small.get_job_status(failed.job_id)
    if status["status"] == "failed":
        print(f"Retraining failed: {status['error']}")
    print(f"  events: {' -> '.join(e['to_status'] for e in status['events'])}")
    small.close()

    # ---------------------------------------------------------------------------------------
    section("11. Metrics")
    report_path = scheduler.generate_report()
    jobs = scheduler.get_job_history(limit=50)
    successful = [j for j in jobs if j["status"] == "completed"]
    avg_accuracy = np.mean([j["metrics"]["accuracy"] for j in successful])
    print(f"report: {report_path}")
    for row in reversed(jobs):
        print(
            f"  {row['created_at'][11:19]}  {row['trigger']:<24} {row['status']:<9} "
            f"v{row['model_version']}  promoted={row['promoted']}  "
            f"{fmt(row['metrics'], ('accuracy',))}"
        )
    print(f"{len(successful)} of {len(jobs)} jobs completed; mean accuracy {avg_accuracy:.3f}")
    scheduler.close()
    print(f"\ndone in {time.perf_counter() - started:.0f}s; state in {settings.home}")


def wait_for_new_job(scheduler, earlier: set[str], timeout: float) -> dict | None:
    """The first job not in ``earlier``, once it has finished; None after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [row for row in scheduler.get_job_history() if row["job_id"] not in earlier]
        if new and new[-1]["status"] in ("completed", "failed"):
            return new[-1]
        time.sleep(0.2)
    return None


def print_registry(settings: Settings, name: str) -> None:
    """What MLflow now says: the champion alias and the version's stage."""
    from mlflow import MlflowClient

    client = MlflowClient(
        tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # stages are deprecated in MLflow
        champion = client.get_model_version_by_alias(name, "champion")
        print(f"MLflow: alias 'champion' -> v{champion.version}, stage {champion.current_stage}")


if __name__ == "__main__":
    main()
