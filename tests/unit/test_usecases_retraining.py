"""Submit a retraining (the job row first, then the message) and run a submitted one; and the
in-process publisher that runs both on local threads (the embedded mode).

Jobs that fail before training need no MLflow; the ones that train use a ready MLflow store
and a few hundred generated rows in a Parquet file source.
"""

from __future__ import annotations

import pandas as pd
import pytest

from retraining.synthetic import make_churn_frame
from shared.config import RetrainingConfig
from shared.enums import RetrainingTrigger, Status
from shared.model_store import UnknownModel
from shared.runtime import Runtime
from shared.usecases.ports import InProcessPublisher
from shared.usecases.retraining import run_retraining_job, submit_retraining

NAME = "churn"
MANUAL = RetrainingTrigger.MANUAL


class RecordingPublisher:
    def __init__(self, broken: bool = False) -> None:
        self.pages: list[tuple[str, str]] = []
        self.broken = broken
        self.retrainings: list[tuple[str, str]] = []

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.retrainings.append((job_id, model_name))

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        raise AssertionError("no check is published here")

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        self.pages.append((model_name, check_id))

    def close(self) -> None:
        pass


def configure(runtime: Runtime, pipeline: dict | None = None, training=None) -> None:
    config = RetrainingConfig(
        model_name=NAME, timestamp_column="timestamp", min_training_samples=100
    )
    runtime.models.save_config(config, pipeline or {"name": NAME, "framework": "sklearn"})
    if training is not None:
        runtime.models.set_data_sources(NAME, {"training": training})


def parquet_source(tmp_path, frame: pd.DataFrame) -> dict:
    path = tmp_path / "training.parquet"
    frame.to_parquet(path)
    return {"kind": "file", "path": str(path)}


def test_a_submitted_job_is_stored_then_published_once(runtime):
    configure(runtime)
    publisher = RecordingPublisher()
    job, created = submit_retraining(runtime, publisher, NAME, MANUAL, "")
    assert created and job.status is Status.PENDING
    assert job.reason == "manual retraining"  # no reason given: the trigger's
    assert publisher.retrainings == [(job.job_id, NAME)]

    again, created_again = submit_retraining(
        runtime, publisher, NAME, RetrainingTrigger.DATA_DRIFT, "drift"
    )
    assert (again.job_id, created_again, again.reason) == (job.job_id, False, "manual retraining")
    assert publisher.retrainings == [(job.job_id, NAME)]  # the active job is not sent again


def test_a_job_whose_message_is_lost_stays_pending_for_the_reconciler(runtime):
    configure(runtime)
    job, created = submit_retraining(runtime, RecordingPublisher(broken=True), NAME, MANUAL, "x")
    assert created
    stored = runtime.jobs.get(job.job_id)
    assert (stored.status, stored.attempt, stored.error) == (Status.PENDING, 0, None)


def test_a_retraining_of_an_unknown_model_is_refused_and_stores_nothing(runtime):
    publisher = RecordingPublisher()
    with pytest.raises(UnknownModel, match="no model named 'ghost'"):
        submit_retraining(runtime, publisher, "ghost", MANUAL, "")
    assert runtime.jobs.list() == [] and publisher.retrainings == []


def test_a_duplicate_delivery_runs_nothing(runtime):
    configure(runtime)
    job, _ = runtime.jobs.create(NAME, MANUAL, "")
    runtime.jobs.claim(job.job_id)  # another worker has it
    assert run_retraining_job(runtime, job.job_id) is None
    assert runtime.jobs.get(job.job_id).attempt == 1
    runtime.jobs.fail(job.job_id, 1, "gave up")
    assert run_retraining_job(runtime, job.job_id) is None  # an ended job neither
    assert runtime.jobs.get(job.job_id).error == "gave up"


def test_a_job_without_a_training_source_fails_saying_what_to_configure(runtime):
    configure(runtime)
    job, _ = runtime.jobs.create(NAME, MANUAL, "")
    failed = run_retraining_job(runtime, job.job_id)
    assert (failed.status, failed.attempt) == (Status.FAILED, 1)
    assert failed.error == (
        f"model '{NAME}' has no training data source: configure data_sources.training"
    )


def test_a_job_whose_stored_pipeline_cannot_be_built_fails_naming_the_field(runtime, tmp_path):
    spec = {
        "name": NAME,
        "estimator_class": "sklearn.linear_model:LogisticRegression",
        "estimator_params": {"no_such_parameter": 1},
    }
    configure(runtime, spec, parquet_source(tmp_path, make_churn_frame(50, seed=1)))
    job, _ = runtime.jobs.create(NAME, MANUAL, "")
    failed = run_retraining_job(runtime, job.job_id)
    assert failed.status is Status.FAILED
    assert failed.error.startswith("estimator_params: ")
    assert "no_such_parameter" in failed.error


def test_a_job_trains_the_stored_pipeline_on_the_training_source(ml_runtime, tmp_path):
    spec = {
        "name": NAME,
        "estimator_class": "sklearn.linear_model:LogisticRegression",
        "estimator_params": {"max_iter": 500},
    }
    configure(ml_runtime, spec, parquet_source(tmp_path, make_churn_frame(300, seed=1)))
    job, _ = ml_runtime.jobs.create(NAME, MANUAL, "")

    done = run_retraining_job(ml_runtime, job.job_id)
    assert (done.status, done.promoted) == (Status.COMPLETED, True), done.error
    assert done.details["n_rows_loaded"] == 300
    model = ml_runtime.registry.load(NAME, done.model_version)
    assert type(model.steps[-1][1]).__name__ == "LogisticRegression"

    # the caller's own loader wins over the source
    job, _ = ml_runtime.jobs.create(NAME, MANUAL, "")
    mine = run_retraining_job(
        ml_runtime, job.job_id, load_training_data=lambda: make_churn_frame(200, seed=2)
    )
    assert mine.status is Status.COMPLETED and mine.details["n_rows_loaded"] == 200


def test_the_in_process_publisher_runs_a_submitted_job_on_its_own_thread(ml_runtime, tmp_path):
    configure(ml_runtime, training=parquet_source(tmp_path, make_churn_frame(300, seed=1)))
    publisher = InProcessPublisher(lambda: ml_runtime, job_threads=1, check_threads=1)
    try:
        job, created = submit_retraining(ml_runtime, publisher, NAME, MANUAL, "in process")
        assert created
    finally:
        publisher.close(wait=True)  # lets the job in progress finish
    done = ml_runtime.jobs.get(job.job_id)
    assert (done.status, done.attempt, done.promoted) == (Status.COMPLETED, 1, True), done.error
    assert ml_runtime.models.get(NAME).champion_version == done.model_version


def test_work_published_after_the_in_process_publisher_closed_stays_pending(runtime):
    configure(runtime)
    publisher = InProcessPublisher(lambda: runtime, job_threads=1, check_threads=1)
    publisher.close()
    job, created = submit_retraining(runtime, publisher, NAME, MANUAL, "after shutdown")
    assert created
    assert runtime.jobs.get(job.job_id).status is Status.PENDING
