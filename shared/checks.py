"""Stored checks: every drift/performance check with its verdict and its report's path."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.schema import checks
from shared.enums import RetrainingTrigger
from shared.events import record_event


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
    report_path: str | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["trigger"] = str(self.trigger) if self.trigger else None
        return data


class CheckRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def save(self, record: CheckRecord) -> CheckRecord:
        values = record.to_dict()
        values["id"] = values.pop("check_id")
        values["created_at"] = record.created_at
        with self.engine.begin() as connection:
            connection.execute(checks.insert().values(**values))
            record_event(
                connection,
                record.model_name,
                "check",
                details={
                    "check_id": record.check_id,
                    "needs_retraining": record.needs_retraining,
                    "trigger": values["trigger"],
                    "drift_share": record.drift_share,
                },
            )
        return record

    def get(self, check_id: str) -> CheckRecord:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(checks).where(checks.c.id == check_id))
            row = row.mappings().first()
        if row is None:
            raise KeyError(f"no check {check_id!r}")
        return _to_record(row)

    def list(self, model_name: str, limit: int = 50) -> list[CheckRecord]:
        """Newest first."""
        query = (
            sa.select(checks)
            .where(checks.c.model_name == model_name)
            .order_by(checks.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [_to_record(row) for row in rows]


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
        report_path=row["report_path"],
    )
