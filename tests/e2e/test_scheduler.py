"""The Python API end to end: real training, Evidently checks, MLflow registry and promotion.

One trained scheduler serves the read-only assertions (module scope: each new MLflow store
costs seconds); flows that change the champion get their own data directory.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from retraining.synthetic import make_churn_frame
from shared.enums import JobStatus
from shared.events import list_events
from shared.notifications import DriftAlert
from training.pipeline import TrainingPipeline

BASELINE = {"accuracy": 0.8, "f1_score": 0.76}
CLEAN_SEED = 4  # a clean sample Evidently finds no drift in (checked: share 0.0)


class World:
    """Production data as the loaders see it: 1500 rows of the last 30 days, 300 older ones."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        recent = make_churn_frame(1500, seed=1, end=now)
        old = make_churn_frame(300, seed=11, end=now - timedelta(days=35), days=25)
        self.training = pd.concat([old, recent], ignore_index=True)
        self.reference = recent

    def load(self) -> pd.DataFrame:
        return self.training


def unlabelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["target"])


class Recorder:
    def __init__(self) -> None:
        self.seen: list = []

    def notify(self, subject) -> None:
        self.seen.append(subject)


class BrokenNotifier:
    def notify(self, subject) -> None:
        raise ConnectionError("slack is down")


def churn_config(**overrides) -> RetrainingConfig:
    values = dict(
        model_name="churn",
        timestamp_column="timestamp",
        min_training_samples=500,
        min_samples_for_check=200,
        drift_threshold=0.3,
        drift_alert_threshold=0.5,
        auto_promote=True,
        promotion_min_improvement=0.01,
    )
    return RetrainingConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, make_home):
    """A scheduler whose first job made the champion, with monitors initialized."""
    world = World()
    recorder = Recorder()
    scheduler = RetrainingScheduler(
        churn_config(),
        world.load,
        TrainingPipeline("automated_retraining", "sklearn"),
        notification_handler=recorder,
        # its checks' Evidently pages are opened by the tests
        settings=make_home(tmp_path_factory.mktemp("trained"), RETRAINING_CHECK_REPORTS="true"),
    )
    first = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "initial model")
    second = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "same data again")
    scheduler.initialize_monitors(world.reference, BASELINE)
    yield scheduler, world, recorder, first, second
    scheduler.close()


def test_the_first_trigger_makes_a_champion(trained):
    scheduler, _, _, first, _ = trained
    assert first.status == JobStatus.COMPLETED, first.error
    assert first.promoted is True and "first model" in first.promotion_reason
    assert first.champion_metrics is None
    assert set(first.metrics) >= {"accuracy", "f1_score", "precision", "recall", "roc_auc"}
    record = scheduler.runtime.models.get("churn")
    assert record.champion_version == first.model_version
    assert record.champion_metrics == first.metrics
    assert "timestamp" not in record.feature_columns and "target" not in record.feature_columns
    assert scheduler.runtime.registry.champion_version("churn") == first.model_version


def test_training_uses_only_the_window_and_holds_out_the_newest_rows(trained):
    _, _, _, first, _ = trained
    details = first.details
    assert details["n_rows_loaded"] == 1800
    assert details["n_rows_in_window"] == 1500  # the 300 rows older than 30 days are left out
    assert details["n_train"] + details["n_holdout"] == 1500
    assert details["n_holdout"] == 300


def test_an_equal_model_is_compared_on_the_same_holdout_and_not_promoted(trained):
    scheduler, _, _, first, second = trained
    assert second.status == JobStatus.COMPLETED, second.error
    assert second.model_version != first.model_version
    assert second.champion_metrics == second.metrics  # same data, same seed, same holdout
    assert second.promoted is False
    assert "not better by the margin" in second.promotion_reason
    assert scheduler.runtime.models.get("churn").champion_version == first.model_version
    refused = list_events(scheduler.runtime.engine, model_name="churn", kind="promotion_refused")
    assert [event["job_id"] for event in refused] == [second.job_id]


def test_a_job_has_a_duration_and_a_status_dict(trained):
    scheduler, _, _, first, _ = trained
    assert isinstance(first.end_time - first.start_time, timedelta)
    assert first.end_time >= first.start_time
    status = scheduler.get_job_status(first.job_id)
    assert (status["status"], status["error"]) == ("completed", None)
    assert status["metrics"] == first.metrics
    assert [e["to_status"] for e in status["events"] if e["kind"] == "job_status"] == [
        "pending",
        "running",
        "completed",
    ]


def test_job_history_is_newest_first(trained):
    scheduler, _, _, first, second = trained
    history = scheduler.get_job_history()
    ids = [job["job_id"] for job in history]
    assert ids.index(second.job_id) < ids.index(first.job_id)
    created = [job["created_at"] for job in history]
    assert created == sorted(created, reverse=True)
    assert [job["job_id"] for job in scheduler.get_job_history(limit=1)] == ids[:1]


def test_the_notification_handler_received_each_job(trained):
    _, _, recorder, first, second = trained
    jobs = [subject for subject in recorder.seen if not isinstance(subject, DriftAlert)]
    assert [job.job_id for job in jobs[:2]] == [first.job_id, second.job_id]
    assert jobs[0].status == "completed" and jobs[0].promoted


def test_clean_unlabelled_data_needs_no_retraining(trained):
    scheduler, _, _, _, _ = trained
    clean = unlabelled(make_churn_frame(500, seed=CLEAN_SEED))
    needs, trigger, reason = scheduler.check_retraining_needed(clean)
    assert (needs, trigger) == (False, None)
    assert reason.startswith("no retraining needed")
    assert scheduler.last_check.drift_share == 0.0


def test_drifted_unlabelled_data_is_data_drift_and_alerts(trained):
    scheduler, _, recorder, _, _ = trained
    drifted = unlabelled(make_churn_frame(500, seed=20, drift=1.0))
    needs, trigger, reason = scheduler.check_retraining_needed(drifted)
    assert (needs, trigger) == (True, RetrainingTrigger.DATA_DRIFT)
    check = scheduler.last_check
    assert check.drift_share >= 0.5
    assert "tenure" in check.drift["drifted_columns"]
    assert "at or above the 0.30 threshold" in reason
    with open(scheduler.check_report_path(), encoding="utf-8") as report:
        assert "tenure" in report.read()  # the Evidently report of this check
    alerts = [s for s in recorder.seen if isinstance(s, DriftAlert)]
    assert alerts and alerts[-1].check_id == check.check_id
    assert "tenure" in alerts[-1].drifted_columns


def test_drifted_labelled_data_is_concept_drift(trained):
    scheduler, _, _, _, _ = trained
    drifted = make_churn_frame(500, seed=21, drift=1.0)
    needs, trigger, reason = scheduler.check_retraining_needed(drifted)
    assert (needs, trigger) == (True, RetrainingTrigger.CONCEPT_DRIFT)
    concept = scheduler.last_check.performance["concept"]
    assert "accuracy" in concept["degraded"]
    assert reason.startswith("concept_drift: ")


def test_metrics_ten_percent_below_baseline_are_performance_degradation(trained):
    scheduler, _, _, _, _ = trained
    clean = unlabelled(make_churn_frame(500, seed=CLEAN_SEED))
    current = {name: value * 0.9 for name, value in BASELINE.items()}
    needs, trigger, reason = scheduler.check_retraining_needed(clean, current_metrics=current)
    assert (needs, trigger) == (True, RetrainingTrigger.PERFORMANCE_DEGRADATION)
    assert "accuracy 0.8 -> 0.72 (-10.0%)" in reason


def test_a_drop_exactly_at_the_threshold_does_not_fire_and_just_above_does(trained):
    scheduler, _, _, _, _ = trained
    clean = unlabelled(make_churn_frame(500, seed=CLEAN_SEED))
    at_threshold = {"accuracy": 0.76, "f1_score": 0.76}  # accuracy exactly 5% below 0.8
    assert scheduler.check_retraining_needed(clean, current_metrics=at_threshold) == (
        False,
        None,
        scheduler.last_check.reason,
    )
    assert scheduler.last_check.performance["current"]["degraded"] == []
    above = {"accuracy": 0.7599, "f1_score": 0.76}
    needs, trigger, _ = scheduler.check_retraining_needed(clean, current_metrics=above)
    assert (needs, trigger) == (True, RetrainingTrigger.PERFORMANCE_DEGRADATION)


def test_every_check_is_stored(trained):
    scheduler, _, _, _, _ = trained
    before = len(scheduler.runtime.checks.list("churn", limit=500))
    scheduler.check_retraining_needed(unlabelled(make_churn_frame(300, seed=CLEAN_SEED)))
    checks = scheduler.runtime.checks.list("churn", limit=500)
    assert len(checks) == before + 1
    assert checks[0].check_id == scheduler.last_check.check_id and checks[0].n_rows == 300


def test_predict_returns_the_champions_predictions(trained):
    scheduler, _, _, first, _ = trained
    frame = make_churn_frame(200, seed=30)
    predicted = scheduler.predict(frame)
    record = scheduler.runtime.models.get("churn")
    champion = scheduler.runtime.registry.load("churn", first.model_version)
    np.testing.assert_array_equal(predicted, champion.predict(frame[record.feature_columns]))
    assert set(np.unique(predicted)) <= {0, 1}
    with pytest.raises(ValueError, match="missing feature columns"):
        scheduler.predict(frame.drop(columns=["tenure"]))


def test_a_trigger_while_a_job_is_active_returns_that_job(trained):
    scheduler, _, _, _, _ = trained
    active, created = scheduler.runtime.jobs.create("churn", RetrainingTrigger.SCHEDULED, "queued")
    assert created
    try:
        job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "another")
        assert (job.job_id, job.status, job.trigger) == (
            active.job_id,
            JobStatus.PENDING,
            RetrainingTrigger.SCHEDULED,
        )
    finally:
        scheduler.runtime.jobs.fail(active.job_id, None, "test cleanup")


def test_the_report_names_every_job_and_plots_the_metric(trained):
    scheduler, _, _, first, second = trained
    path = scheduler.generate_report()
    with open(path, encoding="utf-8") as report:
        html = report.read()
    assert path.endswith(".html")
    assert '<div class="chart" id="metric-over-time">' in html and "Plotly.newPlot" in html
    for job in scheduler.get_job_history():
        assert job["job_id"] in html
    assert first.job_id in html and second.job_id in html


def test_monitoring_runs_periodic_checks_in_the_background(trained):
    scheduler, world, _, _, _ = trained
    clean = unlabelled(make_churn_frame(400, seed=CLEAN_SEED))
    monitor = RetrainingScheduler(
        scheduler.config,
        world.load,
        scheduler.pipeline,
        current_data_loader=lambda: clean,
        settings=scheduler.runtime.settings,
    )
    started = datetime.now(UTC)
    try:
        monitor.start_monitoring(check_interval_seconds=1)
        assert monitor.is_monitoring
        deadline = time.monotonic() + 90
        new_checks: list = []
        while len(new_checks) < 2 and time.monotonic() < deadline:
            checks = monitor.runtime.checks.list("churn", limit=50)
            new_checks = [c for c in checks if c.created_at >= started]
            time.sleep(0.2)
        assert len(new_checks) >= 2, "the monitoring thread ran fewer than two checks"
        assert all(c.n_rows == 400 and not c.needs_retraining for c in new_checks)
    finally:
        monitor.close()
    assert not monitor.is_monitoring
    record = scheduler.runtime.models.get("churn")
    assert (record.monitoring_interval_seconds, record.monitoring_next_run_at) == (None, None)


def test_a_new_scheduler_on_the_same_directory_sees_everything(trained):
    scheduler, world, _, first, _ = trained
    restarted = RetrainingScheduler(
        scheduler.config, world.load, scheduler.pipeline, settings=scheduler.runtime.settings
    )
    try:
        ids = [job["job_id"] for job in restarted.get_job_history(limit=100)]
        assert ids == [job["job_id"] for job in scheduler.get_job_history(limit=100)]
        assert restarted.get_job_status(first.job_id)["status"] == "completed"
        frame = make_churn_frame(50, seed=31)
        np.testing.assert_array_equal(restarted.predict(frame), scheduler.predict(frame))
    finally:
        restarted.close()


def test_a_due_schedule_runs_a_scheduled_job(trained):
    scheduler, _, _, first, _ = trained
    planned = scheduler.schedule_periodic_retraining()  # turns schedule_enabled on
    now = datetime.now(UTC)
    assert now < planned <= now + timedelta(days=1)
    assert scheduler.run_due_work(now) == []  # not due yet
    scheduler.runtime.models.set_schedule("churn", planned - timedelta(days=21))  # missed 3
    try:
        (job,) = scheduler.run_due_work(now)
        assert scheduler.run_due_work(now) == []  # the missed runs are run once
    finally:
        scheduler.runtime.models.set_schedule("churn", None)
    assert (job.trigger, job.status) == (RetrainingTrigger.SCHEDULED, JobStatus.COMPLETED)
    assert job.reason.startswith("scheduled run due at")
    assert scheduler.runtime.models.get("churn").champion_version == first.model_version


def test_a_better_model_is_promoted_only_with_auto_promote(tmp_path, make_home):
    """The world drifts: a model retrained on new data beats the old champion on new data."""
    world = World()
    settings = make_home(tmp_path / "home")
    pipeline = TrainingPipeline("automated_retraining", "sklearn")
    cautious = RetrainingScheduler(
        churn_config(auto_promote=False), world.load, pipeline, settings=settings
    )
    try:
        first = cautious.trigger_retraining(RetrainingTrigger.MANUAL, "initial")
        assert first.promoted  # the first model is champion even without auto_promote
        cautious.initialize_monitors(world.reference, None)  # baseline: champion on its holdout
        baseline = cautious.runtime.models.get("churn").baseline_metrics
        assert baseline == first.metrics

        world.training = make_churn_frame(1500, seed=2, drift=1.0)  # the market changed
        needs, trigger, reason = cautious.check_retraining_needed(
            make_churn_frame(500, seed=21, drift=1.0)
        )
        assert needs and trigger == RetrainingTrigger.CONCEPT_DRIFT
        held = cautious.trigger_retraining(trigger, reason)
        assert held.metrics["accuracy"] > held.champion_metrics["accuracy"] * 1.01
        assert held.promoted is False and "auto_promote is off" in held.promotion_reason
        assert cautious.runtime.models.get("churn").champion_version == first.model_version
    finally:
        cautious.close()

    eager = RetrainingScheduler(
        churn_config(),
        world.load,
        pipeline,
        notification_handler=BrokenNotifier(),
        settings=settings,
    )
    try:
        reference_before = eager.runtime.models.get("churn").reference_key
        promoted = eager.trigger_retraining(RetrainingTrigger.MANUAL, "promote it")
        # the notifier raised: the job is completed and promoted all the same
        assert promoted.status == JobStatus.COMPLETED, promoted.error
        assert promoted.promoted is True, promoted.promotion_reason
        (failure,) = list_events(eager.runtime.engine, kind="notification_failed")
        assert failure["details"]["job_id"] == promoted.job_id
        assert "slack is down" in failure["details"]["error"]
        assert promoted.champion_metrics["accuracy"] == held.champion_metrics["accuracy"]
        assert eager.runtime.models.get("churn").champion_version == promoted.model_version
        assert eager.runtime.registry.champion_version("churn") == promoted.model_version
        record = eager.runtime.models.get("churn")
        assert record.champion_metrics == promoted.metrics
        # the monitors follow the replacing champion: its training window is the reference
        assert record.reference_key != reference_before
        window = eager.runtime.references.frame(record.reference_key)
        assert len(window) == promoted.details["n_rows_in_window"]
        assert record.baseline_metrics == {k: promoted.metrics[k] for k in baseline}
        again = eager.check_retraining_needed(make_churn_frame(500, seed=22, drift=1.0))
        assert again.trigger != RetrainingTrigger.DATA_DRIFT, again.reason
    finally:
        eager.close()


def threshold_scheduler(settings, name, **config) -> RetrainingScheduler:
    """No champion, no training: checks against a reference of four numeric columns."""
    return RetrainingScheduler(
        RetrainingConfig(model_name=name, min_samples_for_check=50, **config),
        lambda: None,
        TrainingPipeline(name),
        notification_handler=Recorder(),
        settings=settings,
    )


def four_columns(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({name: rng.normal(size=rows) for name in "abcd"}).assign(target=0)


@pytest.mark.parametrize(
    ("drift_threshold", "fires"), [(0.25, True), (0.2500001, False), (0.24, True)]
)
def test_a_drift_share_at_the_threshold_fires(settings, drift_threshold, fires):
    reference = four_columns()
    current = reference.drop(columns=["target"]).assign(a=reference["a"] + 10)  # 1 of 4 drifts
    scheduler = threshold_scheduler(
        settings,
        "edge",
        drift_threshold=drift_threshold,
        drift_alert_threshold=drift_threshold,
    )
    try:
        scheduler.initialize_monitors(reference, {"accuracy": 0.9})
        needs, trigger, _ = scheduler.check_retraining_needed(current)
        assert scheduler.last_check.drift_share == 0.25
        assert scheduler.last_check.drift["drifted_columns"] == ["a"]
        assert (needs, trigger) == (
            (True, RetrainingTrigger.DATA_DRIFT) if fires else (False, None)
        )
        alerts = scheduler.notification_handler.seen
        assert len(alerts) == (1 if fires else 0)  # alert at or above drift_alert_threshold
    finally:
        scheduler.close()
