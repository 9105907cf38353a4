"""A job's log says each phase once, from the core's logger; a refusal is one warning."""

from __future__ import annotations

import logging

import pytest

from retraining.scheduler import RetrainingConfig, RetrainingScheduler
from retraining.synthetic import make_churn_frame
from shared.enums import JobStatus
from training.pipeline import TrainingPipeline


def small_frame():
    return make_churn_frame(400, seed=1)


def few_rows():
    return make_churn_frame(40, seed=1)


@pytest.fixture
def scheduler_for(settings):
    made = []

    def make(loader):
        config = RetrainingConfig(model_name="churn", min_training_samples=100)
        scheduler = RetrainingScheduler(
            config, loader, TrainingPipeline("churn"), settings=settings
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close()


def test_a_refused_job_logs_once_as_a_warning(scheduler_for, caplog):
    scheduler = scheduler_for(few_rows)
    with caplog.at_level(logging.DEBUG, logger="retraining"):
        job = scheduler.trigger_retraining()
    assert job.status == JobStatus.FAILED
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelno, r.name) for r in loud] == [(logging.WARNING, "retraining.jobs")]
    assert "not enough training data" in loud[0].getMessage()
    assert loud[0].exc_info is None  # a refusal, not a crash: no traceback


def test_a_job_logs_each_phase_at_info(scheduler_for, caplog):
    scheduler = scheduler_for(small_frame)
    with caplog.at_level(logging.INFO, logger="retraining.jobs"):
        job = scheduler.trigger_retraining()
    assert job.status == JobStatus.COMPLETED
    lines = [r.getMessage() for r in caplog.records if r.name == "retraining.jobs"]
    assert len(lines) == 5, lines
    loaded, fitted, scores, logged, decision = lines
    assert loaded == f"job {job.job_id} (churn, manual): loaded 400 rows"
    assert fitted.startswith(
        "churn: fitted a classification model on the configured window (320 rows, "
    )
    assert " s; holdout 80 rows" in fitted
    assert f"accuracy {job.metrics['accuracy']:.4g}" in scores and "champion none yet" in scores
    assert logged == f"job {job.job_id}: logged churn version {job.model_version}"
    assert decision == f"job {job.job_id}: promoted: {job.promotion_reason}"
