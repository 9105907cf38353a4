"""The watch window after a promotion (``promotion_watch_rows``).

A promotion that replaced a champion opens a watch (in its ledger entry). The next check
whose data holds at least ``promotion_watch_rows`` labelled rows scores both the new champion
and the one it replaced on them; if the new one is worse on the primary metric by more than
``performance_threshold`` (relative), it is rolled back automatically (an ``auto-rollback``
ledger entry, with the reason, and a notification). Either way the watch closes with both
scores in the promotion's entry. Checks run on too few labelled rows leave it open.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd

from shared import ledger
from shared.clock import utcnow
from shared.enums import Task
from shared.errors import Conflict
from shared.evaluation import compute_metrics, primary_metric, relative_drop
from shared.model_store import ModelRecord
from shared.notifications import Notifier
from shared.runtime import Runtime
from shared.usecases.rollback import rollback

logger = logging.getLogger("retraining.watch")


def watch_after_promotion(
    runtime: Runtime,
    record: ModelRecord,
    current: pd.DataFrame,
    notifier: Notifier | None = None,
    check_id: str | None = None,
) -> ModelRecord:
    """Judge an open watch on ``current``'s labelled rows; returns the model as it is now
    (its earlier champion, after a rollback), for the check to go on with."""
    rows = record.config.promotion_watch_rows
    target = record.config.target_column
    if not rows or not isinstance(current, pd.DataFrame) or target not in current.columns:
        return record
    entry = ledger.latest_change(runtime.engine, record.name)
    watch = (entry.details or {}).get("watch") if entry is not None else None
    if (
        entry is None
        or entry.kind != ledger.PROMOTED
        or entry.to_version != record.champion_version
        or not watch
        or watch.get("status") != "open"
    ):
        return record
    labelled = current[current[target].notna()]
    if len(labelled) < rows:
        return record
    try:
        scored = _score_both(runtime, record, entry, labelled)
    except Exception as exc:  # the check goes on; the next one judges again
        logger.warning("%s: the watch window could not score the models: %s", record.name, exc)
        return record
    if scored is None:
        return record
    result = {**watch, **scored, "rows_scored": len(labelled), "judged_at": utcnow().isoformat()}
    if result["relative_drop"] > record.config.performance_threshold:
        reason = (
            f"watch window: version {entry.to_version} scored {scored['metric']} "
            f"{scored['new']:.4g} on {len(labelled)} labelled rows, the version it replaced "
            f"({entry.from_version}) {scored['replaced']:.4g}: {result['relative_drop']:.1%} "
            f"worse, more than performance_threshold {record.config.performance_threshold:.1%}"
        )
        try:
            rolled = rollback(
                runtime,
                record.name,
                entry.from_version,
                reason,
                kind=ledger.AUTO_ROLLBACK,
                trigger="watch",
                notifier=notifier,
                details={
                    "watch": result,
                    "promotion_entry_id": entry.entry_id,
                    "check_id": check_id,
                },
            )
        except Conflict as exc:  # a job is running: the next check judges again
            logger.warning("%s: watch window could not roll back yet: %s", record.name, exc)
            return record
        result.update(status="rolled_back", rollback_entry_id=rolled.entry_id)
    else:
        result["status"] = "passed"
    ledger.set_details(runtime.engine, entry.entry_id, {**entry.details, "watch": result})
    return runtime.models.get(record.name)


def _score_both(
    runtime: Runtime, record: ModelRecord, entry: ledger.PromotionEntry, labelled: pd.DataFrame
) -> dict[str, Any] | None:
    """Both models' primary metric on the labelled rows; None when either cannot be scored."""
    target = record.config.target_column
    old_state = entry.from_state or {}
    task = record.task or Task(old_state.get("task") or Task.CLASSIFICATION)
    sides = {
        "new": (record.champion_version, record.feature_columns or []),
        "replaced": (entry.from_version, old_state.get("feature_columns") or []),
    }
    metric, higher = primary_metric(record.config, task)
    found: dict[str, Any] = {"metric": metric}
    for side, (version, features) in sides.items():
        if version is None or not features or any(c not in labelled for c in features):
            return None
        model = runtime.registry.load(record.name, version)
        value = compute_metrics(model, labelled[features], labelled[target], task).get(metric)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        found[side] = float(value)
    found["relative_drop"] = relative_drop(found["replaced"], found["new"], higher)
    return found
