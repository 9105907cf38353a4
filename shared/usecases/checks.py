"""Checks that a worker runs: request one (a pending row, then a message), run a requested one.

A check run in one go on data the caller holds (the Python API's ``check_retraining_needed``)
is ``shared.monitoring.run_check``; these are for checks run somewhere else, on the model's
current data: its ``current`` source, else its recent served predictions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pandas as pd

from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.enums import Status
from shared.errors import Conflict, Unavailable, explain
from shared.model_store import ModelRecord
from shared.monitoring import monitors_required, run_check
from shared.notifications import Notifier, notifier_for
from shared.predictions import PredictionRepository
from shared.runtime import Runtime
from shared.sources import load_source
from shared.usecases.ports import Publisher
from shared.usecases.retraining import submit_retraining
from shared.usecases.watch import watch_after_promotion

logger = logging.getLogger("retraining.usecases")

DataLoader = Callable[[], pd.DataFrame]


class NoCurrentData(Conflict):
    """Nothing to check the model on yet."""


def request_check(
    runtime: Runtime,
    publisher: Publisher,
    model_name: str,
    *,
    retrain_if_needed: bool,
    reuse_within: float | None = None,
) -> CheckRecord:
    """A pending check, published to whoever runs checks.

    ``reuse_within`` (seconds): while a check of the model requested that recently is still
    pending or running, that check instead of another.
    """
    record = runtime.models.get(model_name)
    monitors_required(record)
    if not has_current_data(runtime, record):
        raise NoCurrentData(
            f"model {model_name!r} has no current data: configure data_sources.current, or "
            "serve predictions for monitoring to use"
        )
    if reuse_within is not None:
        active = _recent_active_check(runtime, model_name, reuse_within)
        if active is not None:
            return active
    return publish_new_check(runtime, publisher, model_name, retrain_if_needed)


def publish_new_check(
    runtime: Runtime, publisher: Publisher, model_name: str, retrain_if_needed: bool
) -> CheckRecord:
    """The pending row first, committed, then the message; a worker records any failure."""
    check = runtime.checks.request(model_name)
    try:
        publisher.publish_check(model_name, check.check_id, retrain_if_needed)
    except Exception as exc:
        runtime.checks.fail(check.check_id, f"could not be queued: {exc}")
        raise Unavailable(f"the check could not be queued ({exc}); retry later") from exc
    return check


def perform_check(
    runtime: Runtime,
    publisher: Publisher,
    check_id: str,
    *,
    retrain_if_needed: bool,
    current: DataLoader | None = None,
    notifier: Notifier | None = None,
) -> CheckRecord | None:
    """Run a requested check, then submit a retraining if it calls for one (and that is wanted).

    None when it was not ours to run (picked up already, or ended). ``current`` loads the
    data to check; by default the model's current data.
    """
    check = run_requested_check(
        runtime,
        check_id,
        current=current,
        notifier=notifier,
        render_page=publisher.publish_check_page,
    )
    if (
        retrain_if_needed
        and check is not None
        and check.status is Status.COMPLETED
        and check.needs_retraining
    ):
        submit_retraining(
            runtime, publisher, check.model_name, check.trigger, check.reason, origin=check
        )
    return check


def run_requested_check(
    runtime: Runtime,
    check_id: str,
    *,
    current: DataLoader | None = None,
    notifier: Notifier | None = None,
    render_page: Callable[[str, str], None] | None = None,
) -> CheckRecord | None:
    """pending -> running -> completed; a failure (no data, a broken source, monitors not
    initialized) is recorded on the check, never raised. ``render_page``: who renders the
    check's Evidently page (``shared.monitoring.run_check``)."""
    claimed = runtime.checks.start(check_id)
    if claimed is None:
        return None
    try:
        record = runtime.models.get(claimed.model_name)
        frame = current() if current is not None else current_data(runtime, record)
        notifier = notifier or notifier_for(record.config)
        watch_after_promotion(runtime, record, frame, notifier, check_id)
        return run_check(
            runtime,
            record.name,
            frame,
            None,
            notifier,
            check_id=check_id,
            render_page=render_page,
        )
    except Exception as exc:
        logger.warning("check %s of %s failed: %s", check_id, claimed.model_name, exc)
        return runtime.checks.fail(check_id, explain(exc)) or runtime.checks.get(check_id)


def expire_if_stale(runtime: Runtime, check: CheckRecord, timeout: float) -> CheckRecord:
    """A check no worker finished within ``timeout`` seconds is failed, so nobody waits on."""
    if check.status.is_terminal:
        return check
    failed = runtime.checks.fail(
        check.check_id,
        f"no worker finished this check within {timeout:.0f} s",
        requested_before=utcnow() - timedelta(seconds=timeout),
    )
    return failed or check


def current_data(runtime: Runtime, record: ModelRecord) -> pd.DataFrame:
    """The model's current data: its current source, else its recent served predictions."""
    if "current" in record.data_sources:
        return load_source(record.data_sources["current"])
    frame = PredictionRepository(runtime.engine).current_frame(
        record.name, record.config.target_column, record.feature_columns
    )
    if frame.empty:
        raise NoCurrentData(
            f"model {record.name!r} has no current data: configure data_sources.current, "
            "or serve predictions for monitoring to use"
        )
    return frame


def has_current_data(runtime: Runtime, record: ModelRecord) -> bool:
    if "current" in record.data_sources:
        return True
    return bool(PredictionRepository(runtime.engine).counts(record.name))


def _recent_active_check(runtime: Runtime, model_name: str, seconds: float) -> CheckRecord | None:
    cutoff = utcnow() - timedelta(seconds=seconds)
    for recent in runtime.checks.list(model_name, 10, status=None):
        if recent.status.is_active and recent.requested_at and recent.requested_at >= cutoff:
            return recent
    return None
