"""For unit tests of training and promotion: a model that promotes any better candidate, and a
retraining job run in this process on a given frame."""

from __future__ import annotations

import pandas as pd

from shared.config import RetrainingConfig
from shared.enums import RetrainingTrigger
from shared.modeling import TrainingPipeline
from shared.retrain import execute_job
from shared.runtime import Runtime

NAME = "churn"


def promotable(**overrides) -> RetrainingConfig:
    """``NAME``'s config: auto-promotion with no margin, 100 rows enough to train."""
    values = dict(
        model_name=NAME,
        timestamp_column="timestamp",
        min_training_samples=100,
        auto_promote=True,
        promotion_min_improvement=0.0,
    )
    return RetrainingConfig(**{**values, **overrides})


def configure(runtime: Runtime, **overrides) -> None:
    runtime.models.save_config(promotable(**overrides), {"name": NAME})


def claim(runtime: Runtime):
    """A manual job of ``NAME``, created and claimed as a worker claims it."""
    job, created = runtime.jobs.create(NAME, RetrainingTrigger.MANUAL, "test")
    assert created
    return runtime.jobs.claim(job.job_id)


def run(runtime: Runtime, frame: pd.DataFrame, pipeline=None, notifier=None):
    """A manual job of ``NAME`` trained on ``frame``, to its end."""
    pipeline = pipeline or TrainingPipeline(NAME)
    return execute_job(runtime, claim(runtime), lambda: frame, pipeline, notifier)
