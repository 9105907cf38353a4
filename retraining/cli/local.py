"""``retrain`` on this machine's state (``Settings.from_env()``), through the core's use cases.

On the embedded default (no ``REDIS_URL``) a triggered job or a check runs here, in this
process, with the model's data sources; with ``REDIS_URL`` it is queued for the workers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from retraining.cli.errors import CliError
from shared.model_store import ModelRecord
from shared.runtime import Runtime
from shared.settings import Settings
from shared.usecases.ports import Publisher

_POLL_SECONDS = 0.5


class _HereAndNow:
    """The embedded publisher of the CLI: each job or check runs at once, in this thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        from shared.usecases.retraining import run_retraining_job

        run_retraining_job(self.runtime, job_id)

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        from shared.usecases.checks import perform_check

        perform_check(self.runtime, self, check_id, retrain_if_needed=retrain_if_needed)

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        # this process may exit before a background thread is done: the page of a check
        # run here is rendered on first request (the API, check_report_path) instead
        pass

    def close(self) -> None:
        pass


class LocalOperator:
    """Models, jobs and checks in the database of this environment."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._runtime: Runtime | None = None
        self._publisher: Publisher | None = None

    @property
    def runs_here(self) -> bool:
        """Whether a job or check runs in this process (the embedded default)."""
        return not self.settings.distributed

    @property
    def where(self) -> str:
        if self.runs_here:
            return f"the local state in {self.settings.home}"
        from retraining.cli.errors import shown_database_url

        return f"the deployment at {shown_database_url(self.settings.database_url)}"

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime(self.settings)
        return self._runtime

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            self._publisher = (
                _HereAndNow(self.runtime) if self.runs_here else _celery(self.settings)
            )
        return self._publisher

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
        if self._runtime is not None:
            self._runtime.dispose()

    # -- reads ---------------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        return [model_summary(record) for record in self.runtime.models.list()]

    def status(self) -> dict[str, Any]:
        from retraining.cli.errors import shown_database_url

        runtime = self.runtime
        models = []
        for record in runtime.models.list():
            active = runtime.jobs.active_for(record.name)
            models.append({**model_summary(record), "active_job_id": active and active.job_id})
        return {
            "mode": "embedded" if self.runs_here else "distributed",
            "database": {"reachable": True, "url": shown_database_url(self.settings.database_url)},
            "broker": {"kind": "in-process" if self.runs_here else "redis"},
            "jobs": runtime.jobs.count_by_status(),
            "models": models,
        }

    def jobs(self, model: str, limit: int, status: str | None) -> list[dict[str, Any]]:
        self.runtime.models.get(model)  # unknown: NotFound
        return [job.to_dict() for job in self.runtime.jobs.list(model, limit=limit, status=status)]

    def job(self, job_id: str, model: str | None = None) -> dict[str, Any]:
        jobs = self.runtime.jobs
        job = jobs.get_of(model, job_id) if model else jobs.get(job_id)
        return {**job.to_dict(), "events": jobs.events(job.job_id)}

    # -- work ----------------------------------------------------------------------------

    def trigger(self, model: str, reason: str) -> dict[str, Any]:
        """A new job (run to its end here on the embedded default), or the active one."""
        from shared.enums import RetrainingTrigger
        from shared.sources import model_source
        from shared.usecases.retraining import submit_retraining

        record = self.runtime.models.get(model)
        if self.runs_here:
            model_source(record, "training")  # this process loads it: it must be named
        job, created = submit_retraining(
            self.runtime, self.publisher, model, RetrainingTrigger.MANUAL, reason
        )
        return {**self.runtime.jobs.get(job.job_id).to_dict(), "created": created}

    def wait_job(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        return _poll(lambda: self.runtime.jobs.get(job["job_id"]).to_dict(), timeout, "job")

    def check(self, model: str) -> dict[str, Any]:
        """A check of the model's current data (run here on the embedded default)."""
        from shared.usecases.checks import request_check

        check = request_check(self.runtime, self.publisher, model, retrain_if_needed=False)
        return self.runtime.checks.get(check.check_id).to_dict()

    def wait_check(self, check: dict[str, Any], timeout: float) -> dict[str, Any]:
        return _poll(lambda: self.runtime.checks.get(check["check_id"]).to_dict(), timeout, "check")

    def promotions(self, model: str, limit: int) -> list[dict[str, Any]]:
        from shared import ledger

        self.runtime.models.get(model)  # unknown: NotFound
        return [e.to_dict() for e in ledger.history(self.runtime.engine, model, limit=limit)]

    def rollback(
        self, model: str, to_version: str | None, reason: str, actor: str
    ) -> dict[str, Any]:
        from shared.usecases.rollback import rollback

        return rollback(self.runtime, model, to_version, reason, actor=actor).to_dict()

    def resume(self, model: str, actor: str) -> dict[str, Any]:
        from shared import breaker

        return breaker.resume(self.runtime, model, actor).to_dict()

    def report(self, model: str, output: Path | None) -> Path:
        from shared.reports import write_model_report

        path = write_model_report(self.runtime, model)
        if output is None:
            return path
        output.write_bytes(path.read_bytes())
        return output


def model_summary(record: ModelRecord) -> dict[str, Any]:
    """A model as ``GET /retraining/models`` shows it (the fields the CLI prints)."""

    def iso(moment: Any) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "model_name": record.name,
        "task": str(record.task) if record.task else None,
        "champion_version": record.champion_version,
        "champion_metrics": record.champion_metrics,
        "monitors_initialized": record.monitors_initialized,
        "data_sources": sorted(record.data_sources),
        "schedule": {
            "enabled": record.config.schedule_enabled,
            "next_run_at": iso(record.schedule_next_run_at),
        },
        "monitoring": {
            "active": bool(record.monitoring_interval_seconds),
            "check_interval_seconds": record.monitoring_interval_seconds,
            "next_run_at": iso(record.monitoring_next_run_at),
        },
    }


def _celery(settings: Settings) -> Publisher:
    try:
        from retraining.wiring import distributed_publisher

        return distributed_publisher(settings)
    except ImportError as exc:
        raise CliError(
            f"REDIS_URL is set but {exc.name or 'Celery'} is not installed: "
            "pip install 'auto-retraining[server]'"
        ) from exc


def _poll(read, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        item = read()
        if item["status"] in ("completed", "failed"):
            return item
        if time.monotonic() > deadline:
            raise CliError(
                f"the {what} is still {item['status']} after {timeout:.0f} s "
                "(are workers running? see `retrain status`)"
            )
        time.sleep(_POLL_SECONDS)
