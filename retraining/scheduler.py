"""``RetrainingScheduler``: the specification's Python API over the retraining core.

On the embedded default a triggered job runs in the calling thread and comes back finished.
With ``REDIS_URL`` set, it is queued for the Celery workers and comes back ``pending``
(``job.wait(timeout)`` and ``job.refresh()`` follow it); the data loaders must then be
importable functions, since the workers call them by name.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

import pandas as pd

from retraining.wiring import distributed_publisher
from shared import breaker, ledger
from shared.check_pages import render_in_background, wait_for_page
from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.config import RetrainingConfig, validate_model_name
from shared.enums import JobStatus, RetrainingTrigger
from shared.jobs import RetrainingJob
from shared.modeling import TrainingPipeline
from shared.monitoring import initialize_monitors, run_check
from shared.notifications import Notifier, notifier_for
from shared.pipeline_spec import pipeline_to_spec
from shared.registry_sync import settle
from shared.retrain import DataLoader
from shared.runtime import Runtime
from shared.settings import Settings
from shared.sources import require_importable
from shared.usecases.checks import perform_check
from shared.usecases.due_work import Ticker, start_due_work
from shared.usecases.models import configure_model, enable_schedule
from shared.usecases.ports import Publisher
from shared.usecases.reconcile import fail_abandoned_jobs
from shared.usecases.retraining import run_retraining_job, submit_retraining
from shared.usecases.rollback import rollback
from shared.usecases.watch import watch_after_promotion

__all__ = [
    "JobStatus",
    "RetrainingCheck",
    "RetrainingConfig",
    "RetrainingJob",
    "RetrainingScheduler",
    "RetrainingTrigger",
]

logger = logging.getLogger("retraining.scheduler")

# The monitoring thread wakes at least this often, so a due schedule is never late by more.
MONITOR_TICK_SECONDS = 30.0


class RetrainingCheck(NamedTuple):
    """``(needs_retraining, trigger, reason)``, true only when retraining is needed.

    So ``if scheduler.check_retraining_needed(...):`` means what it says (a plain 3-tuple is
    always true).
    """

    needs_retraining: bool
    trigger: RetrainingTrigger | None
    reason: str

    def __bool__(self) -> bool:
        return bool(self.needs_retraining)


class RetrainingScheduler:
    """Checks one model, retrains it when needed, and promotes a better model."""

    def __init__(
        self,
        config: RetrainingConfig,
        data_loader: DataLoader,
        pipeline: TrainingPipeline,
        *,
        current_data_loader: DataLoader | None = None,
        notification_handler: Notifier | None = None,
        settings: Settings | None = None,
    ) -> None:
        if not callable(data_loader):
            raise ValueError("data_loader: must be a callable returning a pandas DataFrame")
        if not isinstance(pipeline, TrainingPipeline):
            raise ValueError("pipeline: must be a training.pipeline.TrainingPipeline")
        name = config.model_name or validate_model_name(pipeline.name, "pipeline name")
        self.config = config if config.model_name else config.with_model_name(name)
        self.model_name = name
        self.data_loader = data_loader
        self.current_data_loader = current_data_loader
        self.pipeline = pipeline
        self.notification_handler = notification_handler or notifier_for(self.config)
        self.runtime = Runtime(settings or Settings.from_env())
        self.last_check: CheckRecord | None = None
        self._monitor: Ticker | None = None
        distributed = self.runtime.settings.distributed
        configure_model(
            self.runtime,
            self.config,
            pipeline=pipeline_to_spec(pipeline),
            sources=self._worker_sources() if distributed else None,
        )
        self._publisher: Publisher
        if distributed:
            self._publisher = distributed_publisher(self.runtime.settings)
        else:
            self._publisher = _InThisThread(self)
            # A job left running by a process that died must not block this model forever.
            fail_abandoned_jobs(self.runtime, self.model_name)

    # -- monitors and checks -------------------------------------------------------------

    def initialize_monitors(
        self, reference_data: pd.DataFrame, baseline_metrics: dict[str, float] | None = None
    ) -> dict[str, float]:
        """Set the reference data for drift and the baseline metrics for degradation."""
        return initialize_monitors(self.runtime, self.model_name, reference_data, baseline_metrics)

    def check_retraining_needed(
        self, current_data: pd.DataFrame, current_metrics: dict[str, float] | None = None
    ) -> RetrainingCheck:
        """``(needs_retraining, trigger, reason)``; the full result is in ``last_check``.

        With ``promotion_watch_rows`` set, an open watch window after a promotion is judged
        on ``current_data``'s labelled rows first (and may roll the champion back).
        """
        record = self.runtime.models.get(self.model_name)
        watch_after_promotion(self.runtime, record, current_data, self.notification_handler)
        check = run_check(  # Evidently's page is rendered off this call's path
            self.runtime,
            self.model_name,
            current_data,
            current_metrics,
            self.notification_handler,
            render_page=self._publisher.publish_check_page,
        )
        self.last_check = check
        return RetrainingCheck(check.needs_retraining, check.trigger, check.reason)

    # -- jobs ----------------------------------------------------------------------------

    def trigger_retraining(
        self,
        trigger: RetrainingTrigger | str = RetrainingTrigger.MANUAL,
        reason: str = "",
    ) -> RetrainingJob:
        """Start a retraining, or return the one already pending or running for this model."""
        trigger = _as_trigger(trigger)
        check = self.last_check  # the check that called for it, when it is the one answered
        origin = check if check and (check.trigger, check.reason) == (trigger, reason) else None
        job, created = submit_retraining(
            self.runtime, self._publisher, self.model_name, trigger, reason, origin=origin
        )
        if not created:
            logger.info("job %s is already %s for %s", job.job_id, job.status, self.model_name)
        return job.refresh()  # embedded: finished in this thread already

    def get_job_status(self, job_id: str) -> dict[str, Any]:
        """The job as a dict (``status``, ``error``, ``metrics``, ...) with its audit events."""
        job = self.runtime.jobs.get_of(self.model_name, job_id)
        return {**job.to_dict(), "events": self.runtime.jobs.events(job_id)}

    def get_job_history(self, limit: int = 50) -> list[dict[str, Any]]:
        """Jobs of this model as dicts, newest first."""
        return [job.to_dict() for job in self.runtime.jobs.list(self.model_name, limit=limit)]

    def predict(self, frame: pd.DataFrame):
        """The champion's predictions for ``frame``."""
        record = self.runtime.models.get(self.model_name)
        version = record.require_champion()
        missing = [c for c in record.feature_columns or [] if c not in frame.columns]
        if missing:
            raise ValueError(f"frame: missing feature columns {missing}")
        model = self.runtime.registry.load(self.model_name, version)
        return model.predict(frame[record.feature_columns])

    def check_report_path(self, check_id: str | None = None) -> str:
        """This host's copy of a check's Evidently report (default: the last check's).

        A page still rendering is waited for, or rendered here when nobody is rendering it.
        """
        check = self.last_check if check_id is None else self.runtime.checks.get(check_id)
        if check is None or check.report_key is None:
            raise ValueError("check_id: that check has no drift report (too little data?)")
        wait_for_page(self.runtime, check)
        return str(self.runtime.blobs.local_path(check.report_key))

    def generate_report(self) -> str:
        """Write the model's HTML report and return its path."""
        from shared.reports import write_model_report

        return str(write_model_report(self.runtime, self.model_name))

    # -- promotions: the ledger, rollback, storm control -------------------------------------

    def get_promotion_history(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Every promotion, refusal and rollback of this model as dicts, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit: must be a whole number of at least 1")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError("offset: must be a whole number of at least 0")
        entries = ledger.history(self.runtime.engine, self.model_name, limit=limit, offset=offset)
        return [entry.to_dict() for entry in entries]

    def rollback(
        self, to_version: str | int | None = None, reason: str = "", actor: str | None = None
    ) -> dict[str, Any]:
        """Make an earlier champion (None: the one before the current) the champion again:
        database, MLflow alias and stage, and its monitors. Returns the ledger entry.

        Refused (``Conflict``) while a retraining of this model is pending or running.
        """
        entry = rollback(
            self.runtime,
            self.model_name,
            None if to_version is None else str(to_version),
            reason,
            actor=actor or "python",
            notifier=self.notification_handler,
        )
        return entry.to_dict()

    def resume(self, actor: str | None = None) -> dict[str, Any]:
        """Resume automatic retraining paused by storm control (``max_consecutive_refusals``)."""
        return breaker.resume(self.runtime, self.model_name, actor or "python").to_dict()

    def get_breaker_state(self) -> dict[str, Any]:
        """Storm control: automatic refusals in a row, and whether retraining is paused."""
        record = self.runtime.models.get(self.model_name)
        return breaker.state(self.runtime.engine, record).to_dict()

    # -- schedules and monitoring ----------------------------------------------------------

    def schedule_periodic_retraining(self) -> datetime:
        """Enable the configured schedule; returns when the next run is due (UTC).

        A due time kept from an earlier process is kept while it fits the schedule, so a
        restart neither brings the next run forward nor drops a missed one.
        """
        next_run = enable_schedule(self.runtime, self.model_name)
        self.config = self.runtime.models.get(self.model_name).config
        return next_run

    def start_monitoring(self, check_interval_seconds: int = 3600) -> None:
        """Run due schedules and periodic checks in a background thread until stopped.

        Periodic checks need ``current_data_loader``; without one only schedules run.
        """
        if isinstance(check_interval_seconds, bool) or not isinstance(check_interval_seconds, int):
            raise ValueError("check_interval_seconds: must be a whole number of seconds")
        if check_interval_seconds < 1:
            raise ValueError("check_interval_seconds: must be at least 1")
        self.stop_monitoring()
        interval = check_interval_seconds if self._can_check() else None
        self.runtime.models.set_monitoring(
            self.model_name, interval, utcnow() if interval else None
        )
        tick = min(MONITOR_TICK_SECONDS, float(check_interval_seconds))
        self._monitor = Ticker(self.run_due_work, tick, name=f"monitor-{self.model_name}")
        self._monitor.start()

    def stop_monitoring(self) -> None:
        """Stop the background thread (waits for a job in progress to finish)."""
        if self._monitor is None:
            return
        self._monitor.stop()
        self._monitor = None
        self.runtime.models.set_monitoring(self.model_name, None, None)

    @property
    def is_monitoring(self) -> bool:
        return self._monitor is not None and self._monitor.running

    def run_due_work(self, now: datetime | None = None) -> list[RetrainingJob | CheckRecord]:
        """Run whatever is due for this model now (what the monitoring thread does each tick):
        the jobs and checks it ran (embedded), or queued (distributed), oldest first.
        A registry change MLflow missed (it was unavailable) is retried first."""
        settle(self.runtime, self.model_name)
        if isinstance(self._publisher, _InThisThread):
            with self._publisher.recording() as done:
                start_due_work(self.runtime, self._publisher, now, [self.model_name])
            return done
        started = start_due_work(self.runtime, self._publisher, now, [self.model_name])
        return [
            self.runtime.jobs.get(item.job_id)
            if item.job_id
            else self.runtime.checks.get(item.check_id)
            for item in started
            if item.job_id or item.check_id
        ]

    def _can_check(self) -> bool:
        """Periodic checks need current data: the loader here, or a source the workers load."""
        if self.current_data_loader is not None:
            return True
        record = self.runtime.models.get(self.model_name)
        return self.runtime.settings.distributed and "current" in record.data_sources

    def _worker_sources(self) -> dict[str, dict[str, Any]]:
        """The loaders by import path, so that a worker on another host can call them."""
        sources = {"training": require_importable("training", self.data_loader)}
        if self.current_data_loader is not None:
            sources["current"] = require_importable("current", self.current_data_loader)
        return sources

    # -- housekeeping --------------------------------------------------------------------

    def close(self) -> None:
        self.stop_monitoring()
        self._publisher.close()
        self.runtime.dispose()


class _InThisThread:
    """The embedded Python API's publisher: each job or check runs at once, in the thread that
    published it, with the scheduler's own loaders, pipeline and notifier."""

    def __init__(self, scheduler: RetrainingScheduler) -> None:
        self._scheduler = scheduler
        self._thread = threading.local()  # the monitoring thread and the caller record apart

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        scheduler = self._scheduler
        job = run_retraining_job(
            scheduler.runtime,
            job_id,
            load_training_data=scheduler.data_loader,
            pipeline=scheduler.pipeline,
            notifier=scheduler.notification_handler,
        )
        self._record(job)

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        scheduler = self._scheduler
        check = perform_check(
            scheduler.runtime,
            self,
            check_id,
            retrain_if_needed=retrain_if_needed,
            current=scheduler.current_data_loader,
            notifier=scheduler.notification_handler,
        )
        if check is not None:
            scheduler.last_check = check
        self._record(check)

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        render_in_background(self._scheduler.runtime, model_name, check_id)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[RetrainingJob | CheckRecord]]:
        """What runs in the block, oldest first (a check before the job it started)."""
        done: list[RetrainingJob | CheckRecord] = []
        self._thread.done = done
        try:
            yield done
        finally:
            self._thread.done = None
            done.sort(key=lambda item: item.created_at)

    def _record(self, item: RetrainingJob | CheckRecord | None) -> None:
        done = getattr(self._thread, "done", None)
        if item is not None and done is not None:
            done.append(item)

    def close(self) -> None:
        return None


def _as_trigger(trigger: RetrainingTrigger | str) -> RetrainingTrigger:
    try:
        return RetrainingTrigger(trigger)
    except ValueError:
        allowed = ", ".join(t.value for t in RetrainingTrigger)
        raise ValueError(f"trigger: {trigger!r} is not one of {allowed}") from None
