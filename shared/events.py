"""The audit trail: every job transition, promotion, refusal and alert is a row; none is deleted."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.clock import utcnow
from shared.db.schema import events


def record_event(
    connection: Connection,
    model_name: str,
    kind: str,
    *,
    job_id: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an event inside the caller's transaction, so it lands with the change it explains."""
    connection.execute(
        events.insert().values(
            at=utcnow(),
            model_name=model_name,
            job_id=job_id,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            details=details or {},
        )
    )


def list_events(
    engine: Engine,
    *,
    model_name: str | None = None,
    job_id: str | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Events oldest first."""
    query = sa.select(events).order_by(events.c.id).limit(limit)
    if model_name is not None:
        query = query.where(events.c.model_name == model_name)
    if job_id is not None:
        query = query.where(events.c.job_id == job_id)
    if kind is not None:
        query = query.where(events.c.kind == kind)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [{**row, "at": row["at"].isoformat()} for row in rows]
