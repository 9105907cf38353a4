"""Retraining jobs: the record, its state machine, and its storage.

A job is a row first. Every change of status is a conditional UPDATE (compare-and-set on the
status and, once running, on the attempt number), so a duplicate or late worker can never
overwrite a newer result. Each transition writes an audit event in the same transaction.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from shared.clock import utcnow
from shared.db.engine import transaction
from shared.db.schema import jobs
from shared.enums import ACTIVE_STATUSES, RetrainingTrigger, Status
from shared.errors import NotFound
from shared.events import list_events, record_event
from shared.lifecycle import JOB_TRANSITIONS, check_transition


class JobNotFound(NotFound):
    title = "Unknown job"

    def __init__(self, job_id: str, model_name: str | None = None) -> None:
        owner = f"model {model_name!r} has" if model_name else "there is"
        super().__init__(f"{owner} no job {job_id!r}")


@dataclass
class RetrainingJob:
    """One retraining: why it started, what it produced, and what was decided."""

    job_id: str
    model_name: str
    trigger: RetrainingTrigger
    reason: str
    status: Status
    created_at: datetime
    attempt: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    heartbeat_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    promoted: bool | None = None
    promotion_reason: str | None = None
    model_version: str | None = None
    mlflow_run_id: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    _repository: JobRepository | None = field(default=None, repr=False, compare=False)

    @property
    def duration(self):
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def refresh(self) -> RetrainingJob:
        """Reload this job's state from the database."""
        if self._repository is None:
            raise RuntimeError("this job is not attached to a job store")
        fresh = self._repository.get(self.job_id)
        for name in _ROW_FIELDS:
            setattr(self, name, getattr(fresh, name))
        return self

    def wait(self, timeout: float | None = None, poll_interval: float = 0.2) -> RetrainingJob:
        """Block until the job is completed or failed; ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.refresh().status.is_terminal:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.job_id} still {self.status} after {timeout} s")
            time.sleep(poll_interval)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _ROW_FIELDS}
        for name in ("created_at", "start_time", "end_time", "heartbeat_at"):
            data[name] = data[name].isoformat() if data[name] else None
        data["trigger"] = str(self.trigger)
        data["status"] = str(self.status)
        data["metrics"] = dict(self.metrics or {})
        data["duration_seconds"] = self.duration.total_seconds() if self.duration else None
        return data


_ROW_FIELDS = (
    "job_id",
    "model_name",
    "trigger",
    "reason",
    "status",
    "created_at",
    "attempt",
    "start_time",
    "end_time",
    "heartbeat_at",
    "metrics",
    "champion_metrics",
    "promoted",
    "promotion_reason",
    "model_version",
    "mlflow_run_id",
    "error",
    "details",
)
_RESULT_FIELDS = frozenset(
    {
        "metrics",
        "champion_metrics",
        "promoted",
        "promotion_reason",
        "model_version",
        "mlflow_run_id",
        "error",
        "details",
    }
)


class JobRepository:
    """Jobs in the database; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        model_name: str,
        trigger: RetrainingTrigger,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> tuple[RetrainingJob, bool]:
        """A new pending job, or the model's active job (``created`` is then False).

        ``details`` start the job's details (e.g. the check that started it).
        """
        for _ in range(5):
            job_id = str(uuid.uuid4())
            try:
                with self.engine.begin() as connection:
                    row = (
                        connection.execute(
                            jobs.insert()
                            .values(
                                id=job_id,
                                model_name=model_name,
                                trigger=str(trigger),
                                reason=reason,
                                status=str(Status.PENDING),
                                attempt=0,
                                created_at=utcnow(),
                                metrics={},
                                details=details or {},
                            )
                            .returning(*jobs.c)
                        )
                        .mappings()
                        .one()
                    )
                    record_event(
                        connection,
                        model_name,
                        "job_status",
                        job_id=job_id,
                        to_status=Status.PENDING,
                        details={"trigger": str(trigger), "reason": reason},
                    )
                return self._to_job(row), True
            except IntegrityError:
                active = self.active_for(model_name)
                if active is not None:
                    return active, False
                # the active job ended between our insert and our look-up: try again
        raise RuntimeError(f"could not create a job for {model_name}: the database kept refusing")

    def claim(self, job_id: str) -> RetrainingJob | None:
        """pending -> running with a new attempt; None if someone else has it or it ended."""
        return self._transition(
            job_id,
            Status.PENDING,
            Status.RUNNING,
            attempt=None,
            values={
                "attempt": jobs.c.attempt + 1,
                "start_time": utcnow(),
                "heartbeat_at": utcnow(),
                "end_time": None,
            },
        )

    def complete(
        self, job_id: str, attempt: int, *, connection: Connection | None = None, **results: Any
    ) -> RetrainingJob | None:
        """running -> completed, only for the attempt that is still current (fencing).

        Pass ``connection`` to complete inside the caller's transaction (with a promotion).
        """
        values = {**_only_results(results), "end_time": utcnow()}
        return self._transition(
            job_id,
            Status.RUNNING,
            Status.COMPLETED,
            attempt=attempt,
            values=values,
            connection=connection,
        )

    def fail(
        self, job_id: str, attempt: int | None, error: str, **results: Any
    ) -> RetrainingJob | None:
        """running -> failed for the current attempt, or pending -> failed when attempt is None."""
        results["error"] = error
        if attempt is None:
            return self._transition(
                job_id,
                Status.PENDING,
                Status.FAILED,
                attempt=None,
                values={**_only_results(results), "end_time": utcnow()},
            )
        return self._transition(
            job_id,
            Status.RUNNING,
            Status.FAILED,
            attempt=attempt,
            values={**_only_results(results), "end_time": utcnow()},
        )

    def requeue(self, job_id: str, attempt: int, reason: str) -> RetrainingJob | None:
        """running -> pending after its worker was lost; the next claim is a new attempt."""
        return self._transition(
            job_id,
            Status.RUNNING,
            Status.PENDING,
            attempt=attempt,
            values={"heartbeat_at": None},
            details={"reason": reason},
        )

    def mark_published(self, job_id: str, last_seen: datetime | None) -> bool:
        """Compare-and-set of a pending job's last publication time: one re-publisher wins."""
        query = jobs.update().where(jobs.c.id == job_id, jobs.c.status == str(Status.PENDING))
        query = query.where(
            jobs.c.heartbeat_at.is_(None) if last_seen is None else jobs.c.heartbeat_at == last_seen
        )
        with self.engine.begin() as connection:
            result = connection.execute(query.values(heartbeat_at=utcnow()))
            if result.rowcount == 1:
                row = connection.execute(sa.select(jobs.c.model_name).where(jobs.c.id == job_id))
                record_event(connection, row.scalar_one(), "job_republished", job_id=job_id)
        return result.rowcount == 1

    def heartbeat(self, job_id: str, attempt: int) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == str(Status.RUNNING))
                .where(jobs.c.attempt == attempt)
                .values(heartbeat_at=utcnow())
            )
        return result.rowcount == 1

    def _transition(
        self,
        job_id: str,
        current: Status,
        new: Status,
        *,
        attempt: int | None,
        values: dict[str, Any],
        details: dict[str, Any] | None = None,
        connection: Connection | None = None,
    ) -> RetrainingJob | None:
        check_transition(JOB_TRANSITIONS, "job", current, new)
        query = jobs.update().where(jobs.c.id == job_id, jobs.c.status == str(current))
        if attempt is not None:
            query = query.where(jobs.c.attempt == attempt)
        with transaction(self.engine, connection) as connection:
            # RETURNING: the changed row without a second round trip
            changed = query.values(status=str(new), **values).returning(*jobs.c)
            row = connection.execute(changed).mappings().first()
            if row is None:
                return None
            event_details = {"attempt": row["attempt"], **(details or {})}
            if new.is_terminal:
                event_details.update(error=row["error"], model_version=row["model_version"])
            record_event(
                connection,
                row["model_name"],
                "job_status",
                job_id=job_id,
                from_status=current,
                to_status=new,
                details=event_details,
            )
        return self._to_job(row)

    def get(self, job_id: str) -> RetrainingJob:
        """The job; ``JobNotFound`` if there is none with that id."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise JobNotFound(job_id)
        return self._to_job(row)

    def get_of(self, model_name: str, job_id: str) -> RetrainingJob:
        """The model's job of that id; ``JobNotFound`` for another model's or none."""
        try:
            job = self.get(job_id)
        except JobNotFound:
            job = None
        if job is None or job.model_name != model_name:
            raise JobNotFound(job_id, model_name)
        return job

    def active_for(self, model_name: str) -> RetrainingJob | None:
        query = sa.select(jobs).where(
            jobs.c.model_name == model_name,
            jobs.c.status.in_([str(status) for status in ACTIVE_STATUSES]),
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else self._to_job(row)

    def list(
        self,
        model_name: str | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        status: Status | str | None = None,
        trigger: RetrainingTrigger | str | None = None,
    ) -> list[RetrainingJob]:
        """Newest first."""
        query = sa.select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id)
        if model_name is not None:
            query = query.where(jobs.c.model_name == model_name)
        if status is not None:
            query = query.where(jobs.c.status == str(Status(status)))
        if trigger is not None:
            query = query.where(jobs.c.trigger == str(RetrainingTrigger(trigger)))
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit).offset(offset)).mappings().all()
        return [self._to_job(row) for row in rows]

    def count_by_status(self, model_name: str | None = None) -> dict[str, int]:
        query = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        if model_name is not None:
            query = query.where(jobs.c.model_name == model_name)
        with self.engine.connect() as connection:
            counts = dict(connection.execute(query).all())
        return {str(status): int(counts.get(str(status), 0)) for status in Status}

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return list_events(self.engine, job_id=job_id)

    def _to_job(self, row) -> RetrainingJob:
        return RetrainingJob(
            job_id=row["id"],
            model_name=row["model_name"],
            trigger=RetrainingTrigger(row["trigger"]),
            reason=row["reason"],
            status=Status(row["status"]),
            created_at=row["created_at"],
            attempt=row["attempt"],
            start_time=row["start_time"],
            end_time=row["end_time"],
            heartbeat_at=row["heartbeat_at"],
            metrics=row["metrics"] or {},
            champion_metrics=row["champion_metrics"],
            promoted=row["promoted"],
            promotion_reason=row["promotion_reason"],
            model_version=row["model_version"],
            mlflow_run_id=row["mlflow_run_id"],
            error=row["error"],
            details=row["details"] or {},
            _repository=self,
        )


def _only_results(results: dict[str, Any]) -> dict[str, Any]:
    unknown = set(results) - _RESULT_FIELDS
    if unknown:
        raise TypeError(f"not a job result field: {sorted(unknown)}")
    return results
