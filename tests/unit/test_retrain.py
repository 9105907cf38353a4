"""execute_job: one claimed job trained, scored against the champion, decided and recorded.

The champion changes only in the transaction that completes the job, fenced on the attempt:
a failed job, or an attempt superseded while it ran, leaves the model in service as it was.
Real scikit-learn and MLflow (SQLite) on a few hundred generated rows.
"""

from __future__ import annotations

import pandas as pd
import pytest
from jobtest import NAME, claim, configure, run
from sklearn.base import BaseEstimator, ClassifierMixin

from retraining.synthetic import make_churn_frame
from shared.checks import CheckNotFound
from shared.datasets import DataValidationError
from shared.enums import Status
from shared.errors import Invalid, explain
from shared.events import list_events
from shared.jobs import JobNotFound
from shared.modeling import TrainingPipeline
from shared.monitoring import initialize_monitors
from shared.retrain import execute_job
from shared.runtime import Runtime


class Recorder:
    def __init__(self) -> None:
        self.seen: list = []

    def notify(self, subject) -> None:
        self.seen.append(subject)


class ExplodingClassifier(ClassifierMixin, BaseEstimator):
    """An estimator that fails while fitting, as one out of memory would."""

    def fit(self, X, y):
        raise RuntimeError("out of memory")

    def predict(self, X):  # pragma: no cover - never fitted
        raise AssertionError("never fitted")


class SupersededWhileDeciding(TrainingPipeline):
    """Training as usual; when the job's result is about to be logged and recorded (the
    pipeline is described for MLflow's params), the reconciler re-queues this attempt and
    another worker claims the job, as after a lost heartbeat."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(NAME)
        self.runtime = runtime
        self.job_id: str | None = None
        self.taken_over = None

    def describe(self):
        if self.taken_over is None:
            job = self.runtime.jobs.get(self.job_id)
            self.runtime.jobs.requeue(self.job_id, job.attempt, "worker lost")
            self.taken_over = self.runtime.jobs.claim(self.job_id)
        return super().describe()


def events(runtime: Runtime, kind: str) -> list[dict]:
    return list_events(runtime.engine, model_name=NAME, kind=kind)


def test_the_first_model_becomes_champion_and_keeps_the_monitors_the_user_set(ml_runtime):
    configure(ml_runtime, auto_promote=False)  # the first model is promoted all the same
    reference = make_churn_frame(200, seed=3)
    initialize_monitors(ml_runtime, NAME, reference, {"accuracy": 0.5})
    reference_key = ml_runtime.models.get(NAME).reference_key
    recorder = Recorder()

    job = run(ml_runtime, make_churn_frame(300, seed=1), notifier=recorder)

    assert job.status is Status.COMPLETED, job.error
    assert job.promoted is True and "first model" in job.promotion_reason
    assert job.champion_metrics is None  # nothing to compare against
    assert job.details["n_rows_in_window"] == 300
    record = ml_runtime.models.get(NAME)
    assert record.champion_version == job.model_version
    assert ml_runtime.registry.champion_version(NAME) == job.model_version
    assert record.champion_metrics == job.metrics
    assert "target" not in record.feature_columns and "timestamp" not in record.feature_columns
    # the first champion keeps the user's reference and baseline
    assert (record.reference_key, record.baseline_metrics) == (reference_key, {"accuracy": 0.5})
    assert [e["job_id"] for e in events(ml_runtime, "promotion")] == [job.job_id]
    assert [subject.job_id for subject in recorder.seen] == [job.job_id]


def test_the_monitors_follow_a_replacing_champion_and_only_a_replacing_one(ml_runtime):
    configure(ml_runtime, promotion_min_improvement=10.0)
    first = run(ml_runtime, make_churn_frame(300, seed=1))
    initialize_monitors(ml_runtime, NAME, make_churn_frame(200, seed=3), {"accuracy": 0.5})
    before = ml_runtime.models.get(NAME)
    drifted = make_churn_frame(400, seed=2, drift=1.0)  # the new model wins on the new holdout

    refused = run(ml_runtime, drifted)
    assert refused.status is Status.COMPLETED, refused.error
    assert refused.promoted is False and "not better by the margin" in refused.promotion_reason
    assert refused.metrics["accuracy"] > refused.champion_metrics["accuracy"]
    unchanged = ml_runtime.models.get(NAME)
    assert unchanged.champion_version == first.model_version
    assert (unchanged.reference_key, unchanged.baseline_metrics) == (
        before.reference_key,
        {"accuracy": 0.5},
    )
    assert ml_runtime.registry.champion_version(NAME) == first.model_version
    (refusal,) = events(ml_runtime, "promotion_refused")
    assert (refusal["job_id"], refusal["details"]["version"]) == (
        refused.job_id,
        refused.model_version,
    )

    configure(ml_runtime, promotion_min_improvement=0.0)
    promoted = run(ml_runtime, drifted)
    assert promoted.promoted is True, promoted.promotion_reason
    after = ml_runtime.models.get(NAME)
    assert after.champion_version == promoted.model_version
    assert after.reference_key != before.reference_key
    # the new reference is the new champion's training window, profiled for its features
    window = ml_runtime.references.frame(after.reference_key)
    assert len(window) == promoted.details["n_rows_in_window"] == 400
    profile = ml_runtime.references.profile(after.reference_key, after.feature_columns)
    assert sorted(profile.column_names) == sorted(after.feature_columns)
    # the baseline keeps the user's metric names, with the new champion's holdout values
    assert after.baseline_metrics == {"accuracy": promoted.metrics["accuracy"]}
    (promotion,) = [e for e in events(ml_runtime, "promotion") if e["job_id"] == promoted.job_id]
    assert promotion["details"]["reference_key"] == after.reference_key
    assert promotion["details"]["champion_version"] == first.model_version


def test_a_failed_job_leaves_the_champion_as_it_was(ml_runtime):
    configure(ml_runtime)
    first = run(ml_runtime, make_churn_frame(300, seed=1))
    champion = ml_runtime.models.get(NAME)
    recorder = Recorder()

    crashed = run(
        ml_runtime,
        make_churn_frame(300, seed=2),
        TrainingPipeline(NAME, estimator=ExplodingClassifier()),
        recorder,
    )
    assert crashed.status is Status.FAILED
    assert crashed.error == "RuntimeError: out of memory"  # a crash names its type
    assert (crashed.promoted, crashed.model_version) == (None, None)

    refused = run(ml_runtime, make_churn_frame(300, seed=2).head(99), notifier=recorder)
    assert refused.status is Status.FAILED
    assert refused.error == (  # a refusal is its message alone
        "not enough training data: 99 labelled rows within the last 30 days, "
        "min_training_samples is 100"
    )

    assert ml_runtime.models.get(NAME) == champion
    assert ml_runtime.registry.champion_version(NAME) == first.model_version
    assert [e["job_id"] for e in events(ml_runtime, "promotion")] == [first.job_id]
    assert [(s.job_id, s.status) for s in recorder.seen] == [
        (crashed.job_id, Status.FAILED),
        (refused.job_id, Status.FAILED),
    ]


def test_an_attempt_superseded_before_it_records_drops_its_result(ml_runtime):
    configure(ml_runtime)
    pipeline = SupersededWhileDeciding(ml_runtime)
    job = claim(ml_runtime)
    pipeline.job_id = job.job_id
    recorder = Recorder()

    result = execute_job(ml_runtime, job, lambda: make_churn_frame(300, seed=1), pipeline, recorder)

    assert pipeline.taken_over is not None and pipeline.taken_over.attempt == 2
    # the job is the new attempt's: neither completed nor failed by the old one
    assert (result.status, result.attempt) == (Status.RUNNING, 2)
    assert (result.metrics, result.promoted, result.model_version, result.error) == (
        {},
        None,
        None,
        None,
    )
    # the first model would have been promoted: nothing of it reached the model or the alias
    record = ml_runtime.models.get(NAME)
    assert (record.champion_version, record.champion_metrics) == (None, None)
    assert ml_runtime.registry.champion_version(NAME) is None
    assert events(ml_runtime, "promotion") == []
    assert recorder.seen == []  # a dropped result is nobody's news

    # the attempt that owns the job can still finish it
    done = execute_job(
        ml_runtime,
        pipeline.taken_over,
        lambda: make_churn_frame(300, seed=1),
        TrainingPipeline(NAME),
    )
    assert (done.status, done.attempt, done.promoted) == (Status.COMPLETED, 2, True)
    assert ml_runtime.models.get(NAME).champion_version == done.model_version


def test_a_superseded_attempt_cannot_fail_the_job(runtime):
    configure(runtime)
    job = claim(runtime)

    def requeued_then_broken() -> pd.DataFrame:
        runtime.jobs.requeue(job.job_id, job.attempt, "worker lost")
        raise ConnectionError("warehouse unreachable")

    recorder = Recorder()
    result = execute_job(runtime, job, requeued_then_broken, TrainingPipeline(NAME), recorder)
    assert (result.status, result.attempt, result.error) == (Status.PENDING, 1, None)
    assert runtime.jobs.get(job.job_id).status is Status.PENDING  # waiting for its next attempt
    assert recorder.seen == []


def test_an_attempt_superseded_while_loading_never_trains(runtime):
    configure(runtime)
    job = claim(runtime)

    def load_while_taken_over() -> pd.DataFrame:
        runtime.jobs.requeue(job.job_id, job.attempt, "worker lost")
        runtime.jobs.claim(job.job_id)
        return make_churn_frame(300, seed=1)

    result = execute_job(runtime, job, load_while_taken_over, TrainingPipeline(NAME))
    assert (result.status, result.attempt, result.details) == (Status.RUNNING, 2, {})
    # this runtime has no MLflow store yet: training would have created one to log the model
    assert not (runtime.settings.home / "mlflow.db").exists()


def test_no_notification_when_notifications_are_off(runtime):
    configure(runtime, enable_notifications=False)
    recorder = Recorder()
    job = run(runtime, make_churn_frame(50, seed=1), notifier=recorder)
    assert job.status is Status.FAILED and "not enough training data: 50" in job.error
    assert recorder.seen == []


def test_a_loader_that_returns_no_frame_is_a_refusal_naming_what_it_returned(runtime):
    configure(runtime)
    job = execute_job(runtime, claim(runtime), lambda: [1, 2, 3], TrainingPipeline(NAME))
    assert job.status is Status.FAILED
    assert job.error == "the training data loader returned list, not a pandas DataFrame"


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (Invalid("min_training_samples: too low"), "min_training_samples: too low"),
        (DataValidationError("training data is empty"), "training data is empty"),
        (JobNotFound("j1"), "there is no job 'j1'"),  # a KeyError, shown without quotes
        (CheckNotFound("c1", "churn"), "model 'churn' has no check 'c1'"),
        (ValueError("test_size must be a fraction"), "test_size must be a fraction"),
        (KeyError("tenure"), "KeyError: 'tenure'"),
        (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
    ],
)
def test_explain_shows_a_refusal_by_its_message_and_a_crash_by_its_type(error, text):
    assert explain(error) == text
