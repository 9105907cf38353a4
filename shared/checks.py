"""Stored checks: every drift/performance check with its verdict and its report's blob key.

A check is usually run and stored in one go. It can also be *requested* first (a pending row,
so an HTTP client gets its id at once), picked up by a worker (running), and finished there:
the worker runs the ordinary check with that ``check_id``, so the result lands on the
requested row instead of a new one.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from shared.clock import utcnow
from shared.db.schema import checks
from shared.enums import RetrainingTrigger, Status
from shared.errors import NotFound
from shared.events import record_event
from shared.lifecycle import CHECK_TRANSITIONS, statuses_leading_to

_DATETIME_FIELDS = ("created_at", "requested_at", "started_at", "completed_at")


class CheckNotFound(NotFound):
    title = "Unknown check"

    def __init__(self, check_id: str, model_name: str | None = None) -> None:
        owner = f"model {model_name!r} has" if model_name else "there is"
        super().__init__(f"{owner} no check {check_id!r}")


def _from(new: Status) -> list[str]:
    """The statuses a check may reach ``new`` from, for an update's ``WHERE status IN``."""
    return [str(status) for status in statuses_leading_to(CHECK_TRANSITIONS, new)]


@dataclass(frozen=True)
class CheckRecord:
    check_id: str
    model_name: str
    created_at: datetime
    n_rows: int
    needs_retraining: bool
    trigger: RetrainingTrigger | None
    reason: str
    drift_share: float | None
    drift: dict[str, Any] | None
    performance: dict[str, Any] | None
    report_key: str | None  # the drift report's blob, stored once it is rendered
    status: Status = Status.COMPLETED
    error: str | None = None
    requested_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in _DATETIME_FIELDS:
            data[name] = data[name].isoformat() if data[name] else None
        data["trigger"] = str(self.trigger) if self.trigger else None
        data["status"] = str(self.status)
        return data


class CheckRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def request(self, model_name: str) -> CheckRecord:
        """A pending check for a worker to run; its id is known before it runs."""
        now = utcnow()
        record = CheckRecord(
            check_id=str(uuid.uuid4()),
            model_name=model_name,
            created_at=now,
            n_rows=0,
            needs_retraining=False,
            trigger=None,
            reason="requested: waiting for a worker",
            drift_share=None,
            drift=None,
            performance=None,
            report_key=None,
            status=Status.PENDING,
            requested_at=now,
        )
        with self.engine.begin() as connection:
            connection.execute(checks.insert().values(**_row_values(record)))
            record_event(
                connection, model_name, "check_requested", details={"check_id": record.check_id}
            )
        return record

    def start(self, check_id: str) -> CheckRecord | None:
        """pending -> running; None when it is not pending (another worker has it, or it ended)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                checks.update()
                .where(checks.c.id == check_id, checks.c.status.in_(_from(Status.RUNNING)))
                .values(status=str(Status.RUNNING), started_at=utcnow(), reason="running")
            )
        return self.get(check_id) if result.rowcount == 1 else None

    def fail(
        self, check_id: str, error: str, *, requested_before: datetime | None = None
    ) -> CheckRecord | None:
        """pending/running -> failed (only if requested before ``requested_before`` when given)."""
        query = checks.update().where(
            checks.c.id == check_id, checks.c.status.in_(_from(Status.FAILED))
        )
        if requested_before is not None:
            query = query.where(checks.c.requested_at < requested_before)
        with self.engine.begin() as connection:
            result = connection.execute(
                query.values(
                    status=str(Status.FAILED),
                    error=error,
                    reason=f"check failed: {error}",
                    completed_at=utcnow(),
                )
            )
            if result.rowcount != 1:
                return None
            model_name = connection.execute(
                sa.select(checks.c.model_name).where(checks.c.id == check_id)
            ).scalar_one()
            record_event(
                connection,
                model_name,
                "check_failed",
                details={"check_id": check_id, "error": error},
            )
        return self.get(check_id)

    def save(self, record: CheckRecord) -> CheckRecord:
        """Store a finished check: completes the requested row of that id, else adds a row."""
        values = _row_values(record)
        values.update(status=str(Status.COMPLETED), completed_at=utcnow())
        for name in ("requested_at", "started_at"):
            values.pop(name)  # a requested row keeps its own
        with self.engine.begin() as connection:
            result = connection.execute(
                checks.update()
                .where(checks.c.id == record.check_id, checks.c.status.in_(_from(Status.COMPLETED)))
                .values(**{k: v for k, v in values.items() if k not in ("id", "created_at")})
            )
            if result.rowcount != 1:
                try:
                    with connection.begin_nested():
                        connection.execute(checks.insert().values(**values))
                except IntegrityError:  # requested, then failed (timed out) meanwhile
                    return self.get(record.check_id)
            record_event(
                connection,
                record.model_name,
                "check",
                details={
                    "check_id": record.check_id,
                    "needs_retraining": record.needs_retraining,
                    "trigger": str(record.trigger) if record.trigger else None,
                    "drift_share": record.drift_share,
                },
            )
        return self.get(record.check_id)

    def get(self, check_id: str) -> CheckRecord:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(checks).where(checks.c.id == check_id))
            row = row.mappings().first()
        if row is None:
            raise CheckNotFound(check_id)
        return _to_record(row)

    def get_of(self, model_name: str, check_id: str) -> CheckRecord:
        """The model's check of that id; ``CheckNotFound`` for another model's or none."""
        try:
            check = self.get(check_id)
        except CheckNotFound:
            check = None
        if check is None or check.model_name != model_name:
            raise CheckNotFound(check_id, model_name)
        return check

    def list(
        self,
        model_name: str,
        limit: int = 50,
        *,
        offset: int = 0,
        status: Status | str | None = Status.COMPLETED,
    ) -> list[CheckRecord]:
        """Newest first; finished checks only unless another ``status`` (None: all) is asked."""
        query = (
            sa.select(checks)
            .where(checks.c.model_name == model_name)
            .order_by(checks.c.created_at.desc(), checks.c.id)
            .limit(limit)
            .offset(offset)
        )
        if status is not None:
            query = query.where(checks.c.status == str(Status(status)))
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [_to_record(row) for row in rows]


def _row_values(record: CheckRecord) -> dict[str, Any]:
    values = record.to_dict()
    values["id"] = values.pop("check_id")
    for name in _DATETIME_FIELDS:
        values[name] = getattr(record, name)
    return values


def _to_record(row) -> CheckRecord:
    return CheckRecord(
        check_id=row["id"],
        model_name=row["model_name"],
        created_at=row["created_at"],
        n_rows=row["n_rows"],
        needs_retraining=row["needs_retraining"],
        trigger=RetrainingTrigger(row["trigger"]) if row["trigger"] else None,
        reason=row["reason"],
        drift_share=row["drift_share"],
        drift=row["drift"],
        performance=row["performance"],
        report_key=row["report_key"],
        status=Status(row["status"] or Status.COMPLETED),
        error=row["error"],
        requested_at=row["requested_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
    )
