"""Roll a model back to an earlier champion: the database champion, its monitors (the reference
and baseline that belonged to that version), the MLflow alias and stage, and a ledger entry.

Refused (409) while a retraining of the model is pending or running: its candidate was
compared with the champion in service, and must not be judged against another.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from shared import breaker, ledger
from shared.db.schema import jobs
from shared.enums import ACTIVE_STATUSES, Task
from shared.errors import Conflict, Invalid
from shared.notifications import Notice, Notifier, notifier_for, notify_safely
from shared.registry_sync import owe, settle
from shared.runtime import Runtime

logger = logging.getLogger("retraining.rollback")


class RollbackRefused(Conflict):
    title = "Rollback refused"


def rollback(
    runtime: Runtime,
    model_name: str,
    to_version: str | None = None,
    reason: str = "",
    *,
    actor: str | None = None,
    kind: str = ledger.ROLLBACK,
    trigger: str = "manual",
    notifier: Notifier | None = None,
    details: dict[str, Any] | None = None,
) -> ledger.PromotionEntry:
    """Make ``to_version`` (None: the champion before the current one) the champion again.

    Returns the ledger entry. ``kind``: ``rollback`` (a person) or ``auto-rollback`` (the
    watch window, ``shared.usecases.watch``).
    """
    record = runtime.models.get(model_name)
    current = record.require_champion()
    _no_active_job(runtime, model_name)
    if to_version is not None:
        to_version = _version(to_version)
    target = to_version or ledger.previous_champion(runtime.engine, model_name, current)
    if target is None:
        raise RollbackRefused(
            f"the ledger of {model_name!r} knows no champion before version {current}: "
            "name the version to roll back to"
        )
    if target == current:
        raise RollbackRefused(f"version {target} is already the champion of {model_name!r}")
    state = ledger.state_of(runtime.engine, model_name, target)
    if state is None:
        known = ", ".join(ledger.former_champions(runtime.engine, model_name)) or "none"
        raise Invalid(
            f"to_version: version {target} of {model_name!r} was never its champion "
            f"(champions in the ledger: {known})"
        )
    reason = reason or f"rolled back from version {current} to version {target}"
    monitors = None
    if state.get("reference_key"):
        monitors = (state["reference_key"], state.get("baseline_metrics") or {})
    with runtime.engine.begin() as connection:
        _no_active_job(runtime, model_name, connection)  # again, in the transaction
        swapped = runtime.models.set_champion(
            model_name,
            version=target,
            run_id=state["run_id"],
            metrics=state["metrics"] or {},
            task=Task(state["task"]) if state.get("task") else record.task,
            feature_columns=state["feature_columns"],
            details={"from_version": current, "to_version": target, "reason": reason},
            monitors=monitors,
            diagnostics=state.get("diagnostics"),
            connection=connection,
            event_kind=kind,
            expected_version=current,
        )
        if not swapped:
            raise RollbackRefused(
                f"the champion of {model_name!r} changed from version {current} while it was "
                "rolled back: try again"
            )
        owe(
            connection,
            model_name,
            target,
            promote=True,
            tags={"decision": kind, "decision_reason": reason},
            description=f"{kind}: {reason}",
        )
        entry_id = ledger.insert(
            connection,
            model_name=model_name,
            kind=kind,
            from_version=current,
            to_version=target,
            trigger=trigger,
            actor=actor,
            job_id=None,
            check_id=(details or {}).get("check_id"),
            reason=reason,
            metrics=state["metrics"],
            from_metrics=record.champion_metrics,
            from_state=ledger.champion_state(record),
            to_state=state,
            details=details or {},
        )
        breaker.reset_count(connection, model_name)
    # MLflow follows the database; if it fails now, the row owed above stays for the reconciler
    settle(runtime, model_name, repairing=False)
    logger.warning("%s: %s to version %s: %s", model_name, kind, target, reason)
    if record.config.enable_notifications:
        notice = Notice(
            model_name=model_name,
            status=kind,
            reason=reason,
            details={"from_version": current, "to_version": target, "actor": actor},
        )
        error = notify_safely(notifier or notifier_for(record.config), notice)
        if error:
            runtime.models.record(model_name, "notification_failed", {"error": error})
    return ledger.get(runtime.engine, entry_id)


def _no_active_job(runtime: Runtime, model_name: str, connection=None) -> None:
    query = sa.select(jobs.c.id, jobs.c.status).where(
        jobs.c.model_name == model_name,
        jobs.c.status.in_([str(status) for status in ACTIVE_STATUSES]),
    )
    if connection is None:
        with runtime.engine.connect() as own:
            row = own.execute(query).first()
    else:
        row = connection.execute(query).first()
    if row is not None:
        raise RollbackRefused(
            f"a retraining of {model_name!r} is {row.status} (job {row.id}): roll back once "
            "it has ended"
        )


def _version(value: Any) -> str:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise Invalid(f"to_version: must be a registered version number, got {value!r}")
    return str(int(text))
