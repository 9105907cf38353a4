"""``RetrainingScheduler``: the specification's Python API over the retraining core.

On the embedded default a triggered job runs in the calling thread and comes back finished.
With ``REDIS_URL`` set, it is queued for the Celery workers and comes back ``pending``
(``job.wait(timeout)`` and ``job.refresh()`` follow it); the data loaders must then be
importable functions, since the workers call them by name.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, NamedTuple

import pandas as pd

from shared.checks import CheckRecord
from shared.config import RetrainingConfig, validate_model_name
from shared.db.schema import utcnow
from shared.dispatch import WorkKind, claim_due_work
from shared.enums import JobStatus, RetrainingTrigger
from shared.jobs import RetrainingJob
from shared.modeling import TrainingPipeline
from shared.monitoring import initialize_monitors, run_check
from shared.notifications import Notifier, default_notifier
from shared.pipeline_spec import pipeline_to_spec
from shared.reconcile import fail_abandoned_jobs
from shared.retrain import DataLoader
from shared.runtime import Runtime
from shared.schedule import first_run_after, still_fits
from shared.service import run_retraining_job, set_data_sources, submit_retraining
from shared.settings import Settings
from shared.sources import require_importable

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
        self.notification_handler = notification_handler or default_notifier(
            self.config.notification_email
        )
        self.runtime = Runtime(settings or Settings.from_env())
        self.runtime.models.save_config(self.config, pipeline_to_spec(pipeline))
        self._publisher = self._distributed_publisher()
        if self._publisher is None:
            # A job left running by a process that died must not block this model forever.
            fail_abandoned_jobs(self.runtime, self.model_name)
        self.last_check: CheckRecord | None = None
        self._monitor_thread: threading.Thread | None = None
        self._stop_monitoring = threading.Event()

    # -- monitors and checks -------------------------------------------------------------

    def initialize_monitors(
        self, reference_data: pd.DataFrame, baseline_metrics: dict[str, float] | None = None
    ) -> dict[str, float]:
        """Set the reference data for drift and the baseline metrics for degradation."""
        return initialize_monitors(self.runtime, self.model_name, reference_data, baseline_metrics)

    def check_retraining_needed(
        self, current_data: pd.DataFrame, current_metrics: dict[str, float] | None = None
    ) -> RetrainingCheck:
        """``(needs_retraining, trigger, reason)``; the full result is in ``last_check``."""
        check = run_check(
            self.runtime, self.model_name, current_data, current_metrics, self.notification_handler
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
        publisher = self._publisher or _NoPublisher()
        job, created = submit_retraining(self.runtime, publisher, self.model_name, trigger, reason)
        if not created:
            logger.info("job %s is already %s for %s", job.job_id, job.status, self.model_name)
            return job
        if self._publisher is not None:
            return job
        finished = run_retraining_job(
            self.runtime,
            job.job_id,
            load_training_data=self.data_loader,
            pipeline=self.pipeline,
            notifier=self.notification_handler,
        )
        return finished or self.runtime.jobs.get(job.job_id)

    def get_job_status(self, job_id: str) -> dict[str, Any]:
        """The job as a dict (``status``, ``error``, ``metrics``, ...) with its audit events."""
        job = self.runtime.jobs.get(job_id)
        if job.model_name != self.model_name:
            raise KeyError(f"job {job_id!r} belongs to model {job.model_name!r}")
        return {**job.to_dict(), "events": self.runtime.jobs.events(job_id)}

    def get_job_history(self, limit: int = 50) -> list[dict[str, Any]]:
        """Jobs of this model as dicts, newest first."""
        return [job.to_dict() for job in self.runtime.jobs.list(self.model_name, limit=limit)]

    def predict(self, frame: pd.DataFrame):
        """The champion's predictions for ``frame``."""
        record = self.runtime.models.get(self.model_name)
        if record.champion_version is None:
            raise RuntimeError(f"{self.model_name!r} has no champion yet: trigger a retraining")
        missing = [c for c in record.feature_columns or [] if c not in frame.columns]
        if missing:
            raise ValueError(f"frame: missing feature columns {missing}")
        model = self.runtime.registry.load(self.model_name, record.champion_version)
        return model.predict(frame[record.feature_columns])

    def check_report_path(self, check_id: str | None = None) -> str:
        """This host's copy of a check's Evidently report (default: the last check's)."""
        check = self.last_check if check_id is None else self.runtime.checks.get(check_id)
        if check is None or check.report_key is None:
            raise ValueError("check_id: that check has no drift report (too little data?)")
        return str(self.runtime.blobs.local_path(check.report_key))

    def generate_report(self) -> str:
        """Write the model's HTML report and return its path."""
        from shared.reports import write_model_report

        return str(write_model_report(self.runtime, self.model_name))

    # -- schedules and monitoring ----------------------------------------------------------

    def schedule_periodic_retraining(self) -> datetime:
        """Enable the configured schedule; returns when the next run is due (UTC).

        A due time kept from an earlier process is kept while it fits the schedule, so a
        restart neither brings the next run forward nor drops a missed one.
        """
        if not self.config.schedule_enabled:
            self.config = RetrainingConfig(**{**self.config.to_dict(), "schedule_enabled": True})
            self.runtime.models.save_config(self.config, pipeline_to_spec(self.pipeline))
        now = utcnow()
        kept = self.runtime.models.get(self.model_name).schedule_next_run_at
        if kept is not None and still_fits(self.config, kept, now):
            return kept
        next_run = first_run_after(self.config, now)
        self.runtime.models.set_schedule(self.model_name, next_run)
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
        interval = check_interval_seconds if self.current_data_loader else None
        self.runtime.models.set_monitoring(
            self.model_name, interval, utcnow() if interval else None
        )
        self._stop_monitoring = threading.Event()
        tick = min(MONITOR_TICK_SECONDS, float(check_interval_seconds))
        self._monitor_thread = threading.Thread(
            target=self._monitor, args=(tick,), name=f"monitor-{self.model_name}", daemon=True
        )
        self._monitor_thread.start()

    def stop_monitoring(self) -> None:
        """Stop the background thread (waits for a job in progress to finish)."""
        if self._monitor_thread is None:
            return
        self._stop_monitoring.set()
        self._monitor_thread.join()
        self._monitor_thread = None
        self.runtime.models.set_monitoring(self.model_name, None, None)

    @property
    def is_monitoring(self) -> bool:
        return self._monitor_thread is not None and self._monitor_thread.is_alive()

    def run_due_work(self, now: datetime | None = None) -> list[RetrainingJob | CheckRecord]:
        """Run whatever is due for this model now (what the monitoring thread does each tick)."""
        results: list[RetrainingJob | CheckRecord] = []
        for work in claim_due_work(self.runtime, now or utcnow(), [self.model_name]):
            if work.kind is WorkKind.SCHEDULED_RETRAINING:
                reason = f"scheduled run due at {work.due_at.isoformat()}"
                results.append(self.trigger_retraining(RetrainingTrigger.SCHEDULED, reason))
            elif self.current_data_loader is not None:
                results.extend(self._periodic_check())
        return results

    def _periodic_check(self) -> list[RetrainingJob | CheckRecord]:
        needs, trigger, reason = self.check_retraining_needed(self.current_data_loader())
        if not needs:
            return [self.last_check]
        return [self.last_check, self.trigger_retraining(trigger, reason)]

    def _monitor(self, tick_seconds: float) -> None:
        while not self._stop_monitoring.is_set():
            try:
                self.run_due_work()
            except Exception:  # the loop must outlive any one bad check or job
                logger.exception("monitoring of %s: a due run failed", self.model_name)
            self._stop_monitoring.wait(tick_seconds)

    def _distributed_publisher(self):
        """The Celery publisher when a broker is configured, after naming the data for workers."""
        if not self.runtime.settings.distributed:
            return None
        from workers.publisher import CeleryPublisher

        sources = {"training": require_importable("training", self.data_loader)}
        if self.current_data_loader is not None:
            sources["current"] = require_importable("current", self.current_data_loader)
        set_data_sources(self.runtime, self.model_name, sources)
        return CeleryPublisher(self.runtime.settings)

    # -- housekeeping --------------------------------------------------------------------

    def close(self) -> None:
        self.stop_monitoring()
        if self._publisher is not None:
            self._publisher.close()
        self.runtime.dispose()


class _NoPublisher:
    """The embedded mode runs the job right here, so there is nothing to send."""

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        return None


def _as_trigger(trigger: RetrainingTrigger | str) -> RetrainingTrigger:
    try:
        return RetrainingTrigger(trigger)
    except ValueError:
        allowed = ", ".join(t.value for t in RetrainingTrigger)
        raise ValueError(f"trigger: {trigger!r} is not one of {allowed}") from None
