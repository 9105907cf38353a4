"""Every Python snippet of the specification (reference-usage.md), run as written.

The snippets' undefined helpers (load_training_data, load_reference_data, current_data,
get_recent_predictions, evaluate_model, send_slack_message, ...) stand for the user's code and
are defined here over generated data. Where a snippet writes ``...`` or a placeholder body for
the user's own code, ``spec()`` substitutes it explicitly (and fails if the placeholder is no
longer in the text). The snippets build their schedulers without ``settings=``, as a user does,
so the module points ``RETRAINING_HOME`` at its own directory (embedded mode: no REDIS_URL).

Real Evidently, scikit-learn and MLflow throughout; one data directory for the module.
"""

from __future__ import annotations

import asyncio
import logging
import re
import textwrap
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from retraining.synthetic import make_churn_frame
from shared.enums import JobStatus
from shared.events import list_events

# -- the specification's snippets, verbatim -------------------------------------------------

BASIC_SETUP = """
from retraining.scheduler import RetrainingScheduler, RetrainingConfig
from training.pipeline import TrainingPipeline

# Configure retraining
config = RetrainingConfig(
    model_name="my_model",
    performance_threshold=0.05,  # 5% degradation triggers retraining
    drift_threshold=0.1,         # Drift detection sensitivity
    schedule_enabled=True,
    schedule_interval_days=7,    # Weekly retraining
    auto_promote=True            # Auto-deploy if better
)

# Data loader function
def load_training_data():
    # Your data loading logic
    return pd.DataFrame(...)

# Initialize
pipeline = TrainingPipeline("automated_retraining", "sklearn")
scheduler = RetrainingScheduler(config, load_training_data, pipeline)
"""

INITIALIZE_MONITORS = """
# Set baseline
reference_data = load_reference_data()
baseline_metrics = {
    'accuracy': 0.85,
    'f1_score': 0.83
}

scheduler.initialize_monitors(reference_data, baseline_metrics)
"""

PERFORMANCE_DEGRADATION = """
# Automatic check
current_metrics = {'accuracy': 0.78, 'f1_score': 0.75}
needs_retraining, trigger, reason = scheduler.check_retraining_needed(
    current_data,
    current_metrics=current_metrics
)
"""

DATA_DRIFT = """
# Check drift on production data
production_data = get_recent_predictions()
needs_retraining, trigger, reason = scheduler.check_retraining_needed(
    production_data
)
"""

SCHEDULED = """
config = RetrainingConfig(
    schedule_enabled=True,
    schedule_interval_days=7,
    schedule_time="02:00"
)

scheduler.schedule_periodic_retraining()
scheduler.start_monitoring()  # Runs in background
"""

MANUAL = """
job = scheduler.trigger_retraining(
    trigger=RetrainingTrigger.MANUAL,
    reason="New feature added"
)
"""

CONFIGURATION_OPTIONS = """
RetrainingConfig(
    # Model identification
    model_name: str,
    
    # Performance thresholds
    performance_threshold: float = 0.05,     # 5% degradation
    min_samples_for_check: int = 100,
    
    # Drift thresholds
    drift_threshold: float = 0.1,
    drift_alert_threshold: float = 0.3,
    
    # Scheduling
    schedule_enabled: bool = False,
    schedule_interval_days: int = 7,
    schedule_day_of_week: str = None,        # "monday", "tuesday", etc.
    schedule_time: str = "02:00",
    
    # Data requirements
    min_training_samples: int = 1000,
    training_data_window_days: int = 30,
    
    # Auto-promotion
    auto_promote: bool = False,
    promotion_min_improvement: float = 0.01,  # 1%
    promotion_stage: str = "Staging",
    
    # Notifications
    enable_notifications: bool = True,
    notification_email: str = None
)
"""  # noqa: W293 (the specification's blank lines carry spaces)

JOB_TRACKING = """
job = scheduler.trigger_retraining(...)

print(f"Job ID: {job.job_id}")
print(f"Status: {job.status}")
print(f"Metrics: {job.metrics}")
print(f"Duration: {job.end_time - job.start_time}")
"""

AUTOMATIC_PROMOTION = """
config = RetrainingConfig(
    auto_promote=True,
    promotion_min_improvement=0.02,  # Require 2% improvement
    promotion_stage="Production"
)

# Promotion happens automatically after retraining
# if new model outperforms by 2%+
"""

CONTINUOUS_MONITORING = """
# Start background monitoring
scheduler.start_monitoring(check_interval_seconds=3600)  # Check hourly

# Stop when done
scheduler.stop_monitoring()
"""

CUSTOM_NOTIFICATIONS = """
# Implement custom notification handler
class MyNotifier:
    def notify(self, job):
        if job.status == "failed":
            send_pagerduty_alert(job)
        else:
            send_slack_message(job)

# Use in scheduler
scheduler.notification_handler = MyNotifier()
"""

PERFORMANCE_BASED = """
scheduler.initialize_monitors(ref_data, baseline_metrics)

# Check performance regularly
current_metrics = evaluate_model(production_data)
needs_retraining, trigger, reason = scheduler.check_retraining_needed(
    production_data,
    current_metrics=current_metrics
)

if needs_retraining:
    job = scheduler.trigger_retraining(trigger, reason)
"""

DRIFT_BASED = """
# Monitor production data
production_data = get_recent_data()
needs_retraining, trigger, reason = scheduler.check_retraining_needed(
    production_data
)

if trigger == RetrainingTrigger.DATA_DRIFT:
    logger.warning(f"Data drift detected: {reason}")
    job = scheduler.trigger_retraining(trigger, reason)
"""

SCHEDULED_WITH_PROMOTION = """
config = RetrainingConfig(
    schedule_enabled=True,
    schedule_day_of_week="sunday",
    schedule_time="02:00",
    auto_promote=True,
    promotion_min_improvement=0.02
)

scheduler = RetrainingScheduler(config, data_loader, pipeline)
scheduler.schedule_periodic_retraining()
scheduler.start_monitoring()
"""

INSUFFICIENT_DATA = """
config = RetrainingConfig(
    min_training_samples=1000,
    training_data_window_days=30
)

# Validate before retraining
if len(training_data) < config.min_training_samples:
    logger.error("Not enough training data")
"""

RETRAINING_FAILURES = """
# Check job status
job = scheduler.get_job_status(job_id)
if job['status'] == 'failed':
    logger.error(f"Retraining failed: {job['error']}")
"""

SERVING_API = """
# In serving/api.py
@app.post("/predict")
async def predict(request):
    # Make prediction
    prediction = model.predict(features)
    
    # Check if retraining needed
    if scheduler.check_retraining_needed(...):
        background_tasks.add_task(trigger_retraining)
    
    return prediction
"""  # noqa: W293

METRICS = """
# Generate report
report_path = scheduler.generate_report()

# View job history
jobs = scheduler.get_job_history(limit=50)
successful = [j for j in jobs if j['status'] == 'completed']
avg_improvement = np.mean([j['metrics']['accuracy'] for j in successful])
"""


def spec(snippet: str, **placeholders: str) -> str:
    """The snippet with each ``placeholder=replacement`` applied; every one must occur."""
    code = textwrap.dedent(snippet)
    for placeholder, replacement in placeholders.items():
        assert placeholder in code, f"the specification no longer has {placeholder!r}"
        code = code.replace(placeholder, replacement)
    return code


def run(code: str, namespace: dict) -> dict:
    exec(compile(code, "<reference-usage.md>", "exec"), namespace)
    return namespace


# -- the user's side: data and helpers --------------------------------------------------------


def without_timestamp(frame: pd.DataFrame) -> pd.DataFrame:
    # The specification's config names no timestamp column: the user's tables have none.
    return frame.drop(columns=["timestamp"])


class UserWorld:
    """The user's data store and side effects, as the snippets' helpers see them."""

    def __init__(self) -> None:
        self.training = without_timestamp(make_churn_frame(1500, seed=1))
        self.fail_loading = False
        self.pages: list = []
        self.slack: list = []

    def load_training_data(self) -> pd.DataFrame:
        if self.fail_loading:
            raise ConnectionError("warehouse unreachable")
        return self.training


@pytest.fixture(scope="module")
def world():
    return UserWorld()


@pytest.fixture(scope="module")
def namespace(tmp_path_factory, make_home, world):
    """The user's module after Basic Setup, Initialize Monitors and a first Manual trigger."""
    home = make_home(tmp_path_factory.mktemp("spec_home")).home
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETRAINING_HOME", str(home))
        for name in ("DATABASE_URL", "MLFLOW_TRACKING_URI", "REDIS_URL"):
            env.delenv(name, raising=False)
        ns: dict = {
            "pd": pd,
            "np": np,
            "logger": logging.getLogger("user_code"),
            "RetrainingTrigger": RetrainingTrigger,
            "load_reference_data": lambda: without_timestamp(make_churn_frame(1500, seed=1)),
            "world": world,
        }
        run(
            spec(
                BASIC_SETUP,
                **{
                    "    # Your data loading logic\n    return pd.DataFrame(...)": (
                        "    return world.load_training_data()"
                    )
                },
            ),
            ns,
        )
        run(spec(INITIALIZE_MONITORS), ns)
        run(spec(MANUAL), ns)
        ns["first_job"] = ns["job"]
        yield ns
        for value in list(ns.values()):
            if isinstance(value, RetrainingScheduler):
                value.close()


@pytest.fixture
def ns(namespace):
    """A copy per test, so one snippet's variables do not leak into another's."""
    return dict(namespace)


def test_basic_setup_builds_the_scheduler_in_retraining_home(ns):
    scheduler = ns["scheduler"]
    assert scheduler.model_name == "my_model"
    assert scheduler.config.schedule_enabled and scheduler.config.auto_promote
    home = scheduler.runtime.settings.home
    assert home.name.startswith("spec_home")  # RETRAINING_HOME, as the user set it
    assert (home / "retraining.db").exists() and (home / "mlflow.db").exists()


def test_initialize_monitors_stores_the_baseline(ns):
    scheduler = ns["scheduler"]
    (initialized,) = list_events(
        scheduler.runtime.engine, model_name="my_model", kind="monitors_initialized"
    )
    assert initialized["details"]["baseline_metrics"] == {"accuracy": 0.85, "f1_score": 0.83}
    record = scheduler.runtime.models.get("my_model")
    assert record.monitors_initialized
    # the first champion keeps the monitors the user set; only a replacement moves them
    assert ns["first_job"].promoted
    assert record.baseline_metrics == {"accuracy": 0.85, "f1_score": 0.83}


def test_the_first_manual_trigger_makes_a_champion(ns):
    job = ns["first_job"]
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.trigger == RetrainingTrigger.MANUAL and job.reason == "New feature added"
    assert job.promoted and "first model" in job.promotion_reason
    assert job.metrics["accuracy"] > 0.7
    scheduler = ns["scheduler"]
    assert scheduler.runtime.models.get("my_model").champion_version == job.model_version
    assert scheduler.runtime.registry.champion_version("my_model") == job.model_version


def test_performance_degradation(ns):
    ns["current_data"] = without_timestamp(make_churn_frame(500, seed=4))
    run(spec(PERFORMANCE_DEGRADATION), ns)
    assert ns["needs_retraining"] is True
    assert ns["trigger"] == RetrainingTrigger.PERFORMANCE_DEGRADATION
    assert "-> 0.78" in ns["reason"] and "-> 0.75" in ns["reason"]
    assert "dropped more than the 5.0% threshold" in ns["reason"]


def test_data_drift(ns):
    drifted = make_churn_frame(500, seed=20, drift=1.0)
    ns["get_recent_predictions"] = lambda: without_timestamp(drifted).drop(columns=["target"])
    run(spec(DATA_DRIFT), ns)
    assert (ns["needs_retraining"], ns["trigger"]) == (True, RetrainingTrigger.DATA_DRIFT)
    assert "tenure" in ns["reason"] and "columns drifted" in ns["reason"]


def test_scheduled_sets_the_next_run_and_monitors_in_the_background(ns):
    scheduler = ns["scheduler"]
    try:
        run(spec(SCHEDULED), ns)
        assert scheduler.is_monitoring
        next_run = scheduler.runtime.models.get("my_model").schedule_next_run_at
        now = datetime.now(UTC)
        assert now < next_run <= now + timedelta(days=7)
        assert (next_run.hour, next_run.minute) == (2, 0)
    finally:
        scheduler.stop_monitoring()
    assert not scheduler.is_monitoring


def test_job_tracking_prints_a_duration(ns, capsys):
    code = spec(JOB_TRACKING, **{"trigger_retraining(...)": "trigger_retraining()"})
    run(code, ns)
    job = ns["job"]
    assert isinstance(job.end_time - job.start_time, timedelta)
    out = capsys.readouterr().out
    assert f"Job ID: {job.job_id}" in out
    assert "Status: completed" in out
    assert re.search(r"Duration: \d+:\d\d:\d\d", out)
    assert "'accuracy':" in out


def test_configuration_options_are_the_configs_fields_and_defaults():
    # The block is a signature listing, not Python; its names and defaults must be ours.
    documented = dict(
        re.findall(r"^\s*(\w+): \w+(?: = ([^,#\n]+))?,?", CONFIGURATION_OPTIONS, re.M)
    )
    defaults = RetrainingConfig()
    ours = {f.name for f in fields(RetrainingConfig)}
    assert set(documented) <= ours
    for name, default in documented.items():
        if default:
            assert getattr(defaults, name) == eval(default.strip()), name


def test_automatic_promotion_config(ns):
    run(spec(AUTOMATIC_PROMOTION), ns)
    config = ns["config"]
    assert (config.auto_promote, config.promotion_min_improvement) == (True, 0.02)
    assert config.promotion_stage == "Production"


def test_continuous_monitoring_starts_and_stops(ns):
    start, stop = spec(CONTINUOUS_MONITORING).split("# Stop when done")
    scheduler = ns["scheduler"]
    try:
        run(start, ns)
        assert scheduler.is_monitoring
    finally:
        run(stop, ns)
    assert not scheduler.is_monitoring


def test_custom_notifications_reach_slack_and_pagerduty(ns, world):
    ns["send_pagerduty_alert"] = world.pages.append
    ns["send_slack_message"] = world.slack.append
    scheduler = ns["scheduler"]
    previous = scheduler.notification_handler
    try:
        run(spec(CUSTOM_NOTIFICATIONS), ns)
        done = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "notify me")
        world.fail_loading = True
        failed = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "page me")
    finally:
        world.fail_loading = False
        scheduler.notification_handler = previous
    assert [job.job_id for job in world.slack] == [done.job_id]
    assert [job.job_id for job in world.pages] == [failed.job_id]
    assert "warehouse unreachable" in world.pages[0].error


def evaluate_model_with(scheduler):
    def evaluate_model(frame: pd.DataFrame) -> dict[str, float]:
        predicted = scheduler.predict(frame)
        return {
            "accuracy": accuracy_score(frame["target"], predicted),
            "f1_score": f1_score(frame["target"], predicted),
        }

    return evaluate_model


def test_performance_based_retraining(ns):
    scheduler = ns["scheduler"]
    ns["ref_data"] = without_timestamp(make_churn_frame(1500, seed=1))
    ns["production_data"] = without_timestamp(make_churn_frame(600, seed=21, drift=1.0))
    ns["evaluate_model"] = evaluate_model_with(scheduler)
    ns.pop("job", None)
    run(spec(PERFORMANCE_BASED), ns)
    assert ns["current_metrics"]["accuracy"] < 0.85 * 0.95  # the champion really got worse
    assert (ns["needs_retraining"], ns["trigger"]) == (
        True,
        RetrainingTrigger.PERFORMANCE_DEGRADATION,
    )
    job = ns["job"]
    assert job.trigger == RetrainingTrigger.PERFORMANCE_DEGRADATION
    assert job.reason == ns["reason"]
    assert job.status == JobStatus.COMPLETED, job.error


def test_drift_based_retraining(ns, caplog):
    drifted = make_churn_frame(600, seed=22, drift=1.0)
    ns["get_recent_data"] = lambda: without_timestamp(drifted).drop(columns=["target"])
    ns.pop("job", None)
    with caplog.at_level(logging.WARNING, logger="user_code"):
        run(spec(DRIFT_BASED), ns)
    assert ns["trigger"] == RetrainingTrigger.DATA_DRIFT
    assert "Data drift detected:" in caplog.text
    job = ns["job"]
    assert (job.trigger, job.status) == (RetrainingTrigger.DATA_DRIFT, JobStatus.COMPLETED)


def test_scheduled_with_promotion_names_the_model_after_the_pipeline(ns, world):
    ns["data_loader"] = world.load_training_data
    run(spec(SCHEDULED_WITH_PROMOTION), ns)
    scheduler = ns["scheduler"]
    try:
        assert scheduler.model_name == "automated_retraining"
        assert scheduler.is_monitoring
        record = scheduler.runtime.models.get("automated_retraining")
        assert record.config.schedule_day_of_week == "sunday"
        next_run = record.schedule_next_run_at
        assert next_run.strftime("%A %H:%M") == "Sunday 02:00"
        assert next_run > datetime.now(UTC)
    finally:
        scheduler.close()
    assert not scheduler.is_monitoring


def test_insufficient_training_data(ns, caplog):
    ns["training_data"] = without_timestamp(make_churn_frame(300, seed=5))
    with caplog.at_level(logging.ERROR, logger="user_code"):
        run(spec(INSUFFICIENT_DATA), ns)
    assert "Not enough training data" in caplog.text


def test_retraining_failures(ns, world, caplog):
    scheduler = ns["scheduler"]
    world.fail_loading = True
    try:
        failed = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "will fail")
    finally:
        world.fail_loading = False
    ns["job_id"] = failed.job_id
    with caplog.at_level(logging.ERROR, logger="user_code"):
        run(spec(RETRAINING_FAILURES), ns)
    assert ns["job"]["status"] == "failed"
    assert ns["job"]["metrics"] == {}
    assert (
        "Retraining failed: the training data loader raised ConnectionError: "
        "warehouse unreachable" in caplog.text
    )


class _App:
    def post(self, path):
        return lambda function: function


class _Tasks:
    def __init__(self):
        self.added = []

    def add_task(self, function):
        self.added.append(function)


def test_serving_api_integration_adds_a_task_only_when_retraining_is_needed(ns):
    # Pseudo-code for a FastAPI app: app, model, features, background_tasks are the user's;
    # "..." is replaced by the production data the user checks.
    scheduler = ns["scheduler"]
    clean = without_timestamp(make_churn_frame(500, seed=4))
    drifted = without_timestamp(make_churn_frame(500, seed=23, drift=1.0))
    for data, expected in ((clean.drop(columns=["target"]), 0), (drifted, 1)):
        ns.update(
            app=_App(),
            model=scheduler,
            features=data,
            background_tasks=_Tasks(),
            trigger_retraining=scheduler.trigger_retraining,
            production_data=data,
        )
        code = spec(
            SERVING_API,
            **{"check_retraining_needed(...)": "check_retraining_needed(production_data)"},
        )
        run(code, ns)
        prediction = asyncio.run(ns["predict"](request=None))
        assert len(prediction) == len(data)
        assert len(ns["background_tasks"].added) == expected


def test_metrics(ns):
    scheduler = ns["scheduler"]
    run(spec(METRICS), ns)
    jobs = ns["jobs"]
    created = [job["created_at"] for job in jobs]
    assert created == sorted(created, reverse=True)  # newest first
    assert ns["successful"] and all(j["status"] == "completed" for j in ns["successful"])
    assert 0.5 < ns["avg_improvement"] < 1.0
    with open(ns["report_path"], encoding="utf-8") as report:
        html = report.read()
    assert '<div class="chart" id="metric-over-time">' in html and "Plotly.newPlot" in html
    for job in scheduler.get_job_history(limit=50):
        assert job["job_id"] in html
