"""The promotion ledger: every champion change and every refusal, newest last, never edited
(but for the outcome of a promotion's watch window, ``shared.usecases.watch``).

Each entry keeps both sides' champion state (version, run id, metrics, features, task,
diagnostics, and the monitors' reference and baseline that belonged to it), so a rollback
restores an earlier champion with its own monitors (``shared.usecases.rollback``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.clock import utcnow
from shared.db.schema import promotions

if TYPE_CHECKING:
    from shared.jobs import RetrainingJob
    from shared.model_store import ModelRecord
    from shared.promotion import PromotionDecision

PROMOTED = "promoted"
REFUSED = "refused"
ROLLBACK = "rollback"
AUTO_ROLLBACK = "auto-rollback"
KINDS = (PROMOTED, REFUSED, ROLLBACK, AUTO_ROLLBACK)
CHAMPION_CHANGES = (PROMOTED, ROLLBACK, AUTO_ROLLBACK)


@dataclass(frozen=True)
class PromotionEntry:
    entry_id: int
    model_name: str
    at: datetime
    kind: str
    from_version: str | None
    to_version: str | None
    trigger: str
    actor: str | None
    job_id: str | None
    check_id: str | None
    reason: str
    metrics: dict[str, float] | None  # to_version's (the candidate's, for a refusal)
    from_metrics: dict[str, float] | None  # from_version's, on the same holdout for a job
    data_fingerprint: str | None
    holdout_fingerprint: str | None
    from_state: dict[str, Any] | None
    to_state: dict[str, Any] | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """As the API and the Python API show it (the diagnostics stay in the database)."""
        return {
            "entry_id": self.entry_id,
            "model_name": self.model_name,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "trigger": self.trigger,
            "actor": self.actor,
            "job_id": self.job_id,
            "check_id": self.check_id,
            "reason": self.reason,
            "metrics": self.metrics,
            "from_metrics": self.from_metrics,
            "data_fingerprint": self.data_fingerprint,
            "holdout_fingerprint": self.holdout_fingerprint,
            "monitors": {
                "from": _monitors_of(self.from_state),
                "to": _monitors_of(self.to_state),
            },
            "details": self.details,
        }


def champion_state(record: ModelRecord) -> dict[str, Any] | None:
    """What the model's champion is now, with its monitors; None before the first one."""
    if record.champion_version is None:
        return None
    return {
        "version": record.champion_version,
        "run_id": record.champion_run_id,
        "metrics": record.champion_metrics,
        "task": str(record.task) if record.task else None,
        "feature_columns": record.feature_columns,
        "diagnostics": record.champion_diagnostics,
        "reference_key": record.reference_key,
        "baseline_metrics": record.baseline_metrics,
    }


def record_job_outcome(
    connection: Connection,
    job: RetrainingJob,
    record: ModelRecord,
    candidate: Any,
    logged: Any,
    decision: PromotionDecision,
    details: dict[str, Any],
    monitors: tuple[str, dict[str, float]] | None,
) -> int:
    """The job's decision as a ledger entry, in the transaction that records the decision.

    ``candidate``: ``shared.retrain.TrainedCandidate``; ``logged``: its registered version;
    ``monitors``: the (reference, baseline) following a promoted candidate, None when the
    model keeps its own. Storm control counts the decision here too (``shared.breaker``).
    """
    from shared import breaker

    promoted = decision.promote
    reference, baseline = monitors if monitors else (record.reference_key, record.baseline_metrics)
    to_state = {
        "version": logged.version,
        "run_id": logged.run_id,
        "metrics": candidate.metrics,
        "task": str(candidate.task),
        "feature_columns": candidate.features,
        "diagnostics": candidate.diagnostics,
        # a refused candidate never had monitors: a rollback cannot go to it
        "reference_key": reference if promoted else None,
        "baseline_metrics": baseline if promoted else None,
    }
    extra: dict[str, Any] = {}
    watch_rows = record.config.promotion_watch_rows
    if promoted and record.champion_version is not None and watch_rows:
        extra["watch"] = {"status": "open", "rows": watch_rows}
    origin = (job.details or {}).get("origin") or {}
    entry_id = insert(
        connection,
        model_name=record.name,
        kind=PROMOTED if promoted else REFUSED,
        from_version=record.champion_version,
        to_version=logged.version,
        trigger=str(job.trigger),
        actor=None,
        job_id=job.job_id,
        check_id=origin.get("check_id"),
        reason=decision.reason,
        metrics=candidate.metrics,
        from_metrics=candidate.champion_metrics,
        data_fingerprint=details.get("data_fingerprint"),
        holdout_fingerprint=details.get("holdout_fingerprint"),
        from_state=champion_state(record),
        to_state=to_state,
        details={"improvement": details.get("improvement"), **extra},
    )
    breaker.count_decision(connection, record, job, promoted)
    return entry_id


def insert(connection: Connection, **values: Any) -> int:
    """Append an entry (the caller's transaction); returns its id."""
    if values["kind"] not in KINDS:
        raise ValueError(f"kind: {values['kind']!r} is not one of {', '.join(KINDS)}")
    result = connection.execute(
        promotions.insert().values(at=utcnow(), **values).returning(promotions.c.id)
    )
    return int(result.scalar_one())


def history(
    engine: Engine, model_name: str, *, limit: int = 50, offset: int = 0
) -> list[PromotionEntry]:
    """The model's entries, newest first."""
    query = (
        sa.select(promotions)
        .where(promotions.c.model_name == model_name)
        .order_by(promotions.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [_to_entry(row) for row in rows]


def get(engine: Engine, entry_id: int) -> PromotionEntry:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(promotions).where(promotions.c.id == entry_id)
        ).mappings()
        return _to_entry(row.one())


def latest_change(engine: Engine, model_name: str) -> PromotionEntry | None:
    """The entry that made the current champion (None before any ledger entry made one)."""
    query = (
        sa.select(promotions)
        .where(promotions.c.model_name == model_name, promotions.c.kind.in_(CHAMPION_CHANGES))
        .order_by(promotions.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _to_entry(row)


def previous_champion(engine: Engine, model_name: str, current: str) -> str | None:
    """The champion before ``current`` took over, as the ledger knows it."""
    entry = latest_change(engine, model_name)
    if entry is None or entry.to_version != current:
        return None
    return entry.from_version


def state_of(engine: Engine, model_name: str, version: str) -> dict[str, Any] | None:
    """The latest known champion state of ``version``; None if it was never champion."""
    query = (
        sa.select(promotions)
        .where(
            promotions.c.model_name == model_name,
            sa.or_(
                promotions.c.from_version == version,
                sa.and_(
                    promotions.c.to_version == version,
                    promotions.c.kind.in_(CHAMPION_CHANGES),
                ),
            ),
        )
        .order_by(promotions.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return row["from_state"] if row["from_version"] == version else row["to_state"]


def former_champions(engine: Engine, model_name: str) -> list[str]:
    """Every version the ledger knows as a champion, oldest first (for messages)."""
    query = sa.select(promotions.c.from_version, promotions.c.to_version, promotions.c.kind).where(
        promotions.c.model_name == model_name
    )
    seen: dict[str, None] = {}
    with engine.connect() as connection:
        for row in connection.execute(query.order_by(promotions.c.id)):
            if row.from_version:
                seen.setdefault(row.from_version)
            if row.to_version and row.kind in CHAMPION_CHANGES:
                seen.setdefault(row.to_version)
    return list(seen)


def set_details(engine: Engine, entry_id: int, details: dict[str, Any]) -> None:
    """Replace an entry's details (a watch window's outcome is written there once)."""
    with engine.begin() as connection:
        connection.execute(
            promotions.update().where(promotions.c.id == entry_id).values(details=details)
        )


def _monitors_of(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if not state:
        return None
    return {
        "reference_key": state.get("reference_key"),
        "baseline_metrics": state.get("baseline_metrics"),
    }


def _to_entry(row) -> PromotionEntry:
    return PromotionEntry(
        entry_id=row["id"],
        model_name=row["model_name"],
        at=row["at"],
        kind=row["kind"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        trigger=row["trigger"],
        actor=row["actor"],
        job_id=row["job_id"],
        check_id=row["check_id"],
        reason=row["reason"],
        metrics=row["metrics"],
        from_metrics=row["from_metrics"],
        data_fingerprint=row["data_fingerprint"],
        holdout_fingerprint=row["holdout_fingerprint"],
        from_state=row["from_state"],
        to_state=row["to_state"],
        details=row["details"] or {},
    )
