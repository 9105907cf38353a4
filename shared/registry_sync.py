"""The MLflow registry follows the database: champion alias, stage and version tags.

A promotion (or refusal) is committed in the database with a pending row (the outbox), and
MLflow is told afterwards. If MLflow is unavailable then, or the process dies in between,
the row stays: the next job of that model and the reconciler apply it. The reconciler also
compares every model's database champion with the alias and stage, so a registry that lags
(or was changed by hand) is moved back, with an event. A failure here is a warning, never a
job's error: the job's outcome is the database's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.clock import utcnow
from shared.db.schema import registry_pending
from shared.errors import Unavailable
from shared.events import record_event
from shared.runtime import Runtime

logger = logging.getLogger("retraining.registry")


@dataclass
class SyncReport:
    applied: list[int] = field(default_factory=list)  # pending rows done
    repaired: list[str] = field(default_factory=list)  # models whose alias or stage was moved
    failed: list[str] = field(default_factory=list)  # models still owed a change
    unavailable: bool = False  # MLflow did not answer: the rest waits for the next period


def owe(
    connection: Connection,
    model_name: str,
    version: str,
    *,
    promote: bool,
    tags: dict[str, Any],
    description: str,
    job_id: str | None = None,
) -> None:
    """In the caller's transaction: MLflow must get this (alias if ``promote``, tags)."""
    connection.execute(
        registry_pending.insert().values(
            model_name=model_name,
            version=version,
            job_id=job_id,
            promote=promote,
            tags=tags,
            description=description,
            created_at=utcnow(),
            attempts=0,
        )
    )


def settle(
    runtime: Runtime, model_name: str | None = None, *, repairing: bool = True
) -> SyncReport:
    """Apply what is owed (of one model, or all), oldest first; never raises.

    ``repairing=False``: the job that just committed the change tells MLflow itself; a row it
    did not write, or one that failed before, is a repair (event ``registry_repaired``).
    """
    report = SyncReport()
    query = sa.select(registry_pending).order_by(registry_pending.c.id)
    if model_name is not None:
        query = query.where(registry_pending.c.model_name == model_name)
    with runtime.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    for row in rows:
        if row["model_name"] in report.failed:
            continue  # in order: a later change of the model must not overtake an earlier one
        try:
            moved = _apply(runtime, row)
        except Exception as exc:
            _failed(runtime, row, exc)
            report.failed.append(row["model_name"])
            if isinstance(exc, Unavailable):
                report.unavailable = True
                break  # MLflow is down: the others would fail the same way
            continue
        with runtime.engine.begin() as connection:
            connection.execute(registry_pending.delete().where(registry_pending.c.id == row["id"]))
            if row["attempts"] or repairing:  # not the committing job's own first try
                record_event(
                    connection,
                    row["model_name"],
                    "registry_repaired",
                    job_id=row["job_id"],
                    details={
                        "version": row["version"],
                        "champion_moved_to": moved,
                        "owed_since": row["created_at"].isoformat(),
                        "failed_attempts": row["attempts"],
                    },
                )
        report.applied.append(row["id"])
        if row["attempts"] or repairing:
            logger.info("MLflow registry of %s repaired (%s)", row["model_name"], moved)
            if row["model_name"] not in report.repaired:
                report.repaired.append(row["model_name"])
    return report


def reconcile_registry(runtime: Runtime) -> SyncReport:
    """Apply what is owed, then move every alias (and stage) that differs from the database."""
    report = settle(runtime)
    if report.unavailable:
        return report  # the next period tries again
    for record in runtime.models.list():
        if record.champion_version is None or record.name in report.failed:
            continue
        try:
            before = runtime.registry.champion_state(record.name)
            wanted = (record.champion_version, record.config.promotion_stage)
            if _in_step(before, wanted):
                continue
            moved = _align(runtime, record.name)
        except Exception as exc:
            logger.warning("could not compare the MLflow registry of %s: %s", record.name, exc)
            report.failed.append(record.name)
            if isinstance(exc, Unavailable):
                report.unavailable = True
                break
            continue
        if moved is None:
            continue
        runtime.models.record(
            record.name,
            "registry_repaired",
            {
                "alias_was": before[0],
                "stage_was": before[1],
                "champion_moved_to": moved,
                "stage": record.config.promotion_stage,
            },
        )
        logger.warning(
            "MLflow's champion of %s was %s (stage %s), the database's is %s: moved",
            record.name,
            before[0],
            before[1],
            moved,
        )
        report.repaired.append(record.name)
    return report


def _in_step(state: tuple[str | None, str | None], wanted: tuple[str, str | None]) -> bool:
    alias, stage = state
    version, wanted_stage = wanted
    return alias == version and (wanted_stage is None or stage == wanted_stage)


def _apply(runtime: Runtime, row: Any) -> str | None:
    """Tell MLflow one owed change; the champion moved to (the database's, now), or None."""
    moved = _align(runtime, row["model_name"]) if row["promote"] else None
    if row["tags"] or row["description"]:
        runtime.registry.describe_version(
            row["model_name"], row["version"], row["tags"] or {}, row["description"]
        )
    return moved


def _align(runtime: Runtime, model_name: str) -> str | None:
    """Move the alias and stage to the database's champion (read now, not when it was owed:
    a later promotion or a rollback may have moved it since)."""
    moved = None
    for _ in range(3):  # a promotion committed while we moved the alias: follow it too
        record = runtime.models.get(model_name)
        if record.champion_version is None or record.champion_version == moved:
            return moved
        runtime.registry.promote(model_name, record.champion_version, record.config.promotion_stage)
        moved = record.champion_version
    return moved


def _failed(runtime: Runtime, row: Any, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"
    logger.warning(
        "MLflow registry of %s not updated for version %s (%s); a repair is pending",
        row["model_name"],
        row["version"],
        error,
    )
    with runtime.engine.begin() as connection:
        connection.execute(
            registry_pending.update()
            .where(registry_pending.c.id == row["id"])
            .values(attempts=registry_pending.c.attempts + 1, last_error=error[:2000])
        )
        if not row["attempts"]:  # the first failure is news; the retries are not
            record_event(
                connection,
                row["model_name"],
                "registry_sync_failed",
                job_id=row["job_id"],
                details={"version": row["version"], "promote": row["promote"], "error": error},
            )
