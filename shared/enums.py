"""The vocabularies shared by every front door: triggers, statuses, tasks."""

from enum import StrEnum


class RetrainingTrigger(StrEnum):
    """Why a retraining job was started (the HTTP API's ``trigger_type``)."""

    PERFORMANCE_DEGRADATION = "performance_degradation"
    DATA_DRIFT = "data_drift"
    CONCEPT_DRIFT = "concept_drift"
    SCHEDULED = "scheduled"
    MANUAL = "manual"


class Status(StrEnum):
    """Where a retraining job, or a requested check, is in its life (``shared.lifecycle``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self not in ACTIVE_STATUSES

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


# Still to be worked on: at most one job per model may be in one of these (shared.db.schema).
ACTIVE_STATUSES = frozenset({Status.PENDING, Status.RUNNING})

JobStatus = Status  # the name the Python API has always exported


class Task(StrEnum):
    """The kind of supervised problem a model solves."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"
