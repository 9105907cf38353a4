"""Storm control: after ``max_consecutive_refusals`` automatic candidates in a row were
refused, automatic retraining of the model pauses until a person resumes it.

Automatic means started by a check or a schedule (any trigger but ``manual``). A promotion
or a rollback starts the count afresh; a manual job's refusal does not count. While paused,
checks hold their findings (``shared.policy``) and scheduled runs are skipped
(``shared.usecases.due_work``), each saying why; manual triggers always run. Turning the
option off (None) lifts the pause.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.clock import utcnow
from shared.db.schema import breakers
from shared.enums import RetrainingTrigger
from shared.events import record_event
from shared.notifications import Notice, Notifier, notify_safely

if TYPE_CHECKING:
    from shared.jobs import RetrainingJob
    from shared.model_store import ModelRecord
    from shared.runtime import Runtime

logger = logging.getLogger("retraining.breaker")


@dataclass(frozen=True)
class BreakerState:
    model_name: str
    limit: int | None  # max_consecutive_refusals
    consecutive_refusals: int
    paused: bool
    paused_at: datetime | None
    reason: str | None
    tripped_by_job: str | None
    resumed_at: datetime | None
    resumed_by: str | None

    def to_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "model_name": self.model_name,
            "max_consecutive_refusals": self.limit,
            "consecutive_refusals": self.consecutive_refusals,
            "paused": self.paused,
            "paused_at": iso(self.paused_at),
            "reason": self.reason,
            "tripped_by_job": self.tripped_by_job,
            "resumed_at": iso(self.resumed_at),
            "resumed_by": self.resumed_by,
        }


def count_decision(
    connection: Connection, record: ModelRecord, job: RetrainingJob, promoted: bool
) -> None:
    """Count the job's decision (in the transaction recording it); trip when it is the Nth
    automatic refusal in a row."""
    if promoted:
        reset_count(connection, record.name)
        return
    if job.trigger == RetrainingTrigger.MANUAL:
        return
    row = _row(connection, record.name)
    count = (row["consecutive_refusals"] if row else 0) + 1
    values: dict[str, Any] = {"consecutive_refusals": count}
    limit = record.config.max_consecutive_refusals
    if limit is not None and count >= limit and (row is None or row["paused_at"] is None):
        refused = (
            f"{count} automatic candidates in a row were refused"
            if count > 1
            else "an automatic candidate was refused"
        )
        reason = f"{refused} (max_consecutive_refusals is {limit}); the last: job {job.job_id}"
        values.update(paused_at=utcnow(), reason=reason, tripped_by_job=job.job_id)
        record_event(
            connection,
            record.name,
            "retraining_paused",
            job_id=job.job_id,
            details={"reason": reason},
        )
    _write(connection, record.name, row is None, values)


def reset_count(connection: Connection, model_name: str) -> None:
    """A new champion (promoted or rolled back to) starts the count afresh; a pause stays."""
    row = _row(connection, model_name)
    if row is not None and row["consecutive_refusals"]:
        _write(connection, model_name, False, {"consecutive_refusals": 0})


def state(engine: Engine, record: ModelRecord) -> BreakerState:
    with engine.connect() as connection:
        row = _row(connection, record.name)
    limit = record.config.max_consecutive_refusals
    row = row or {}
    return BreakerState(
        model_name=record.name,
        limit=limit,
        consecutive_refusals=row.get("consecutive_refusals") or 0,
        paused=limit is not None and row.get("paused_at") is not None,
        paused_at=row.get("paused_at"),
        reason=row.get("reason"),
        tripped_by_job=row.get("tripped_by_job"),
        resumed_at=row.get("resumed_at"),
        resumed_by=row.get("resumed_by"),
    )


def paused_because(runtime: Runtime, record: ModelRecord) -> str | None:
    """Why automatic retraining of the model is paused, or None when it is not."""
    if record.config.max_consecutive_refusals is None:
        return None
    current = state(runtime.engine, record)
    if not current.paused:
        return None
    return (
        f"automatic retraining paused since {current.paused_at:%Y-%m-%d %H:%M} UTC: "
        f"{current.reason}; resume it with scheduler.resume(), "
        f"POST /retraining/{record.name}/resume or `retrain resume {record.name}`"
    )


def resume(runtime: Runtime, model_name: str, actor: str | None = None) -> BreakerState:
    """Lift the pause and start the count afresh (a no-op when not paused)."""
    record = runtime.models.get(model_name)
    with runtime.engine.begin() as connection:
        row = _row(connection, model_name)
        if row is not None and row["paused_at"] is not None:
            _write(
                connection,
                model_name,
                False,
                {
                    "consecutive_refusals": 0,
                    "paused_at": None,
                    "reason": None,
                    "tripped_by_job": None,
                    "resumed_at": utcnow(),
                    "resumed_by": actor,
                },
            )
            record_event(
                connection,
                model_name,
                "retraining_resumed",
                details={"actor": actor, "paused_since": row["paused_at"].isoformat()},
            )
    return state(runtime.engine, record)


def notify_if_tripped(
    runtime: Runtime, job: RetrainingJob | None, notifier: Notifier | None
) -> None:
    """After a job: if its refusal paused automatic retraining, say so (once, by that job)."""
    if job is None or job.promoted is not False:
        return
    record = runtime.models.get(job.model_name)
    current = state(runtime.engine, record)
    if not current.paused or current.tripped_by_job != job.job_id:
        return
    logger.warning("automatic retraining of %s paused: %s", record.name, current.reason)
    if not record.config.enable_notifications:
        return
    error = notify_safely(
        notifier,
        Notice(
            model_name=record.name,
            status="retraining_paused",
            reason=f"{current.reason}; resume it with `retrain resume {record.name}`",
            details={"consecutive_refusals": current.consecutive_refusals},
        ),
    )
    if error:
        runtime.models.record(record.name, "notification_failed", {"error": error})


def _row(connection: Connection, model_name: str) -> dict[str, Any] | None:
    row = connection.execute(
        sa.select(breakers).where(breakers.c.model_name == model_name)
    ).mappings()
    found = row.first()
    return None if found is None else dict(found)


def _write(connection: Connection, model_name: str, new: bool, values: dict[str, Any]) -> None:
    if new:
        connection.execute(
            breakers.insert().values(model_name=model_name, **{"consecutive_refusals": 0, **values})
        )
    else:
        connection.execute(
            breakers.update().where(breakers.c.model_name == model_name).values(**values)
        )
