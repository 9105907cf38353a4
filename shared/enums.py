"""The vocabularies shared by every front door: triggers and job statuses."""

from enum import StrEnum


class RetrainingTrigger(StrEnum):
    """Why a retraining job was started (the HTTP API's ``trigger_type``)."""

    PERFORMANCE_DEGRADATION = "performance_degradation"
    DATA_DRIFT = "data_drift"
    CONCEPT_DRIFT = "concept_drift"
    SCHEDULED = "scheduled"
    MANUAL = "manual"


class JobStatus(StrEnum):
    """Where a retraining job is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class Task(StrEnum):
    """The kind of supervised problem a model solves."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"
