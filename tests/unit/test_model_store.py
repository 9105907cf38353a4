"""Per-model state: configuration, monitors, champion, schedules, and their audit events."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.config import RetrainingConfig
from shared.enums import Task
from shared.events import list_events
from shared.model_store import UnknownModel

PIPELINE = {"name": "p", "framework": "sklearn"}


def kinds(runtime, name):
    return [event["kind"] for event in list_events(runtime.engine, model_name=name)]


def test_a_saved_config_comes_back_as_it_was(runtime):
    config = RetrainingConfig(
        model_name="churn", drift_threshold=0.2, schedule_day_of_week="sunday"
    )
    record = runtime.models.save_config(config, PIPELINE)
    assert record.config == config
    assert record.pipeline == PIPELINE
    assert record.champion_version is None and not record.monitors_initialized
    assert runtime.models.get("churn") == record
    assert kinds(runtime, "churn") == ["configured"]


def test_saving_the_same_config_again_records_nothing_new(runtime):
    config = RetrainingConfig(model_name="churn")
    runtime.models.save_config(config, PIPELINE)
    runtime.models.save_config(config, PIPELINE)
    assert kinds(runtime, "churn") == ["configured"]
    changed = RetrainingConfig(model_name="churn", auto_promote=True)
    assert runtime.models.save_config(changed, PIPELINE).config.auto_promote is True
    assert kinds(runtime, "churn") == ["configured", "configured"]


def test_an_unknown_model_is_named_in_the_error(runtime):
    assert runtime.models.find("ghost") is None
    with pytest.raises(UnknownModel, match="no model named 'ghost' is configured"):
        runtime.models.get("ghost")
    with pytest.raises(UnknownModel):
        runtime.models.set_schedule("ghost", None)


def test_monitors_and_champion_are_recorded(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="churn"), PIPELINE)
    runtime.models.set_monitors("churn", "/data/ref.parquet", {"accuracy": 0.85})
    runtime.models.set_champion(
        "churn",
        version="3",
        run_id="run-3",
        metrics={"accuracy": 0.9},
        task=Task.CLASSIFICATION,
        feature_columns=["a", "b"],
        details={"reason": "first model"},
        job_id="job-3",
    )
    record = runtime.models.get("churn")
    assert record.monitors_initialized
    assert record.baseline_metrics == {"accuracy": 0.85}
    assert (record.champion_version, record.champion_run_id) == ("3", "run-3")
    assert (record.task, record.feature_columns) == (Task.CLASSIFICATION, ["a", "b"])
    promotion = list_events(runtime.engine, model_name="churn", kind="promotion")
    assert promotion[0]["job_id"] == "job-3"
    assert promotion[0]["details"] == {"reason": "first model"}


def test_a_champion_set_inside_a_transaction_that_fails_is_not_set(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="churn"), PIPELINE)
    with pytest.raises(RuntimeError, match="crash"), runtime.engine.begin() as connection:
        runtime.models.set_champion(
            "churn",
            version="1",
            run_id="r",
            metrics={},
            task=Task.CLASSIFICATION,
            feature_columns=["a"],
            details={},
            connection=connection,
        )
        raise RuntimeError("crash before commit")
    assert runtime.models.get("churn").champion_version is None
    assert "promotion" not in kinds(runtime, "churn")


def test_schedule_times_are_utc_whatever_zone_they_were_given_in(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="churn"), PIPELINE)
    paris_noon = datetime(2026, 3, 4, 12, tzinfo=timezone(timedelta(hours=1)))
    runtime.models.set_schedule("churn", paris_noon)
    stored = runtime.models.get("churn").schedule_next_run_at
    assert stored == paris_noon
    assert stored.utcoffset() == timedelta(0) and stored.hour == 11


def test_advance_is_a_compare_and_set(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="churn"), PIPELINE)
    due = datetime(2026, 3, 4, 2, tzinfo=UTC)
    runtime.models.set_schedule("churn", due)
    later = due + timedelta(days=7)
    assert not runtime.models.advance("churn", "schedule_next_run_at", later, None)
    assert runtime.models.advance("churn", "schedule_next_run_at", due, later)
    assert not runtime.models.advance("churn", "schedule_next_run_at", due, later)
    assert runtime.models.get("churn").schedule_next_run_at == later
    with pytest.raises(ValueError, match="not a schedule column"):
        runtime.models.advance("churn", "champion_version", due, later)


def test_due_lists_models_whose_schedule_or_check_is_due(runtime):
    now = datetime(2026, 3, 4, 12, tzinfo=UTC)
    for name in ("a", "b", "c", "d"):
        runtime.models.save_config(RetrainingConfig(model_name=name), PIPELINE)
    runtime.models.set_schedule("a", now - timedelta(minutes=1))
    runtime.models.set_schedule("b", now + timedelta(minutes=1))
    runtime.models.set_monitoring("c", 60, now)  # due exactly now
    assert [r.name for r in runtime.models.due(now)] == ["a", "c"]
    assert [r.name for r in runtime.models.due(now, ["c", "d"])] == ["c"]


def test_monitoring_start_and_stop_are_events(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="churn"), PIPELINE)
    runtime.models.set_monitoring("churn", 60, datetime(2026, 3, 4, tzinfo=UTC))
    assert runtime.models.get("churn").monitoring_interval_seconds == 60
    runtime.models.set_monitoring("churn", None, None)
    record = runtime.models.get("churn")
    assert (record.monitoring_interval_seconds, record.monitoring_next_run_at) == (None, None)
    assert kinds(runtime, "churn")[-2:] == ["monitoring_started", "monitoring_stopped"]


def test_models_are_listed_by_name(runtime):
    for name in ("zeta", "alpha", "mid"):
        runtime.models.save_config(RetrainingConfig(model_name=name), PIPELINE)
    assert [r.name for r in runtime.models.list()] == ["alpha", "mid", "zeta"]


def test_data_sources_are_merged_by_role(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="churn"), PIPELINE)
    runtime.models.set_data_sources("churn", {"training": {"path": "a.parquet"}})
    runtime.models.set_data_sources("churn", {"current": {"path": "b.parquet"}})
    assert runtime.models.get("churn").data_sources == {
        "training": {"path": "a.parquet"},
        "current": {"path": "b.parquet"},
    }
