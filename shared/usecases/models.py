"""Configure a model: its configuration, what to train, where its data comes from, and its
next scheduled run (one rule for every door: ``shared.schedule.next_scheduled_run``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.errors import Invalid
from shared.model_store import ModelRecord
from shared.runtime import Runtime
from shared.schedule import next_scheduled_run
from shared.sources import validate_source


def configure_model(
    runtime: Runtime,
    config: RetrainingConfig,
    *,
    pipeline: dict[str, Any] | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> tuple[ModelRecord, bool]:
    """Create the model or replace its configuration; ``created`` is True for a new one.

    ``pipeline`` (a spec, ``shared.pipeline_spec``) and each of ``sources`` replace what the
    model had; left out, the model keeps its own (a new model: the default pipeline).
    """
    name = config.model_name
    if name is None:
        raise Invalid("model_name: required to configure a model")
    checked = {role: validate_source(role, source) for role, source in (sources or {}).items()}
    existing = runtime.models.find(name)
    if pipeline is None:
        has_own = existing is not None and existing.pipeline
        pipeline = existing.pipeline if has_own else {"name": name, "framework": "sklearn"}
    runtime.models.save_config(config, pipeline)
    if checked:
        runtime.models.set_data_sources(name, checked)
    _sync_schedule(runtime, config, existing, now or utcnow())
    return runtime.models.get(name), existing is None


def enable_schedule(runtime: Runtime, model_name: str, now: datetime | None = None) -> datetime:
    """Turn the model's schedule on (if it is off); returns when the next run is due."""
    record = runtime.models.get(model_name)
    config = record.config
    if not config.schedule_enabled:
        config = RetrainingConfig(**{**config.to_dict(), "schedule_enabled": True})
        runtime.models.save_config(config, record.pipeline)
    next_run = _sync_schedule(runtime, config, record, now or utcnow())
    assert next_run is not None  # the schedule is on
    return next_run


def _sync_schedule(
    runtime: Runtime, config: RetrainingConfig, before: ModelRecord | None, now: datetime
) -> datetime | None:
    kept = before.schedule_next_run_at if before is not None else None
    wanted = next_scheduled_run(config, kept, now)
    if wanted != kept:
        runtime.models.set_schedule(config.model_name, wanted)
    return wanted
