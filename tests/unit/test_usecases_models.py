"""Configure a model (configuration, pipeline, sources) and its schedule, through every door.

The next scheduled run follows one rule (``shared.schedule.next_scheduled_run``): a due time
set earlier is kept while it still fits the schedule, else the first run after now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.config import RetrainingConfig
from shared.events import list_events
from shared.model_store import UnknownModel
from shared.sources import SourceError
from shared.usecases.models import configure_model, enable_schedule

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)  # a Wednesday, noon
TOMORROW_2AM = datetime(2026, 3, 5, 2, tzinfo=UTC)
TRAINING = {"kind": "file", "path": "/data/train.parquet"}
CURRENT = {"kind": "sql", "url": "sqlite:///x.db", "query": "SELECT * FROM recent"}


def config(**values) -> RetrainingConfig:
    return RetrainingConfig(**{"model_name": "churn", **values})


def kinds(runtime) -> list[str]:
    return [event["kind"] for event in list_events(runtime.engine, model_name="churn")]


def test_a_new_model_gets_the_default_pipeline_and_no_schedule(runtime):
    record, created = configure_model(runtime, config(), now=NOW)
    assert created
    assert record.pipeline == {"name": "churn", "framework": "sklearn"}
    assert (record.schedule_next_run_at, record.data_sources) == (None, {})
    _, created_again = configure_model(runtime, config(drift_threshold=0.2), now=NOW)
    assert created_again is False
    assert runtime.models.get("churn").config.drift_threshold == 0.2


def test_a_reconfigured_model_keeps_its_pipeline_and_sources_unless_given(runtime):
    own = {"name": "churn", "framework": "sklearn", "test_size": 0.3}
    configure_model(runtime, config(), pipeline=own, sources={"training": TRAINING}, now=NOW)
    record, _ = configure_model(runtime, config(auto_promote=True), now=NOW)
    assert record.pipeline == own
    assert record.data_sources == {"training": TRAINING}
    record, _ = configure_model(runtime, config(), sources={"current": CURRENT}, now=NOW)
    assert record.data_sources == {"training": TRAINING, "current": CURRENT}


def test_an_invalid_source_refuses_the_whole_configuration(runtime):
    configure_model(runtime, config(drift_threshold=0.2), now=NOW)
    with pytest.raises(SourceError, match=r"data_sources.training.path: must end in .csv"):
        configure_model(
            runtime,
            config(drift_threshold=0.5),
            sources={"current": CURRENT, "training": {"kind": "file", "path": "train.txt"}},
            now=NOW,
        )
    record = runtime.models.get("churn")
    assert record.config.drift_threshold == 0.2 and record.data_sources == {}
    with pytest.raises(SourceError, match="data_sources: unknown role 'test'"):
        configure_model(runtime, config(model_name="fresh"), sources={"test": TRAINING})
    assert runtime.models.find("fresh") is None


def test_a_configuration_without_a_model_name_is_refused(runtime):
    with pytest.raises(ValueError, match="model_name: required"):
        configure_model(runtime, RetrainingConfig(), now=NOW)
    assert runtime.models.list() == []


def test_turning_the_schedule_on_plans_the_first_run_after_now(runtime):
    record, _ = configure_model(runtime, config(schedule_enabled=True), now=NOW)
    assert record.schedule_next_run_at == TOMORROW_2AM  # 02:00 has passed today


def test_an_unrelated_change_keeps_the_planned_run(runtime):
    configure_model(runtime, config(schedule_enabled=True), now=NOW)
    events_before = kinds(runtime).count("schedule_set")
    later = NOW + timedelta(hours=6)
    record, _ = configure_model(
        runtime, config(schedule_enabled=True, auto_promote=True), now=later
    )
    assert record.schedule_next_run_at == TOMORROW_2AM  # not pushed to the day after
    assert kinds(runtime).count("schedule_set") == events_before  # nothing rewritten


def test_a_missed_run_is_kept_to_be_run_once(runtime):
    configure_model(runtime, config(schedule_enabled=True), now=NOW)
    missed = datetime(2026, 2, 18, 2, tzinfo=UTC)  # two weeks ago, at the schedule time
    runtime.models.set_schedule("churn", missed)
    record, _ = configure_model(runtime, config(schedule_enabled=True), now=NOW)
    assert record.schedule_next_run_at == missed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"schedule_time": "03:30"}, datetime(2026, 3, 5, 3, 30, tzinfo=UTC)),
        ({"schedule_day_of_week": "sunday"}, datetime(2026, 3, 8, 2, tzinfo=UTC)),
        ({"schedule_timezone": "Europe/Paris"}, datetime(2026, 3, 5, 1, tzinfo=UTC)),
        # six days ahead no longer fits a daily cadence: the first run after now
        ({"schedule_interval_days": 1}, TOMORROW_2AM),
    ],
)
def test_a_schedule_change_the_planned_run_no_longer_fits_replans_it(runtime, change, expected):
    configure_model(runtime, config(schedule_enabled=True), now=NOW)
    planned = datetime(2026, 3, 10, 2, tzinfo=UTC)  # six days ahead: fits weekly, at 02:00
    runtime.models.set_schedule("churn", planned)
    kept, _ = configure_model(runtime, config(schedule_enabled=True), now=NOW)
    assert kept.schedule_next_run_at == planned
    record, _ = configure_model(runtime, config(schedule_enabled=True, **change), now=NOW)
    assert record.schedule_next_run_at == expected


def test_turning_the_schedule_off_clears_the_planned_run(runtime):
    configure_model(runtime, config(schedule_enabled=True), now=NOW)
    record, _ = configure_model(runtime, config(schedule_enabled=False), now=NOW)
    assert record.schedule_next_run_at is None
    # on again later: planned from then, not from the old plan
    record, _ = configure_model(runtime, config(schedule_enabled=True), now=NOW + timedelta(days=2))
    assert record.schedule_next_run_at == datetime(2026, 3, 7, 2, tzinfo=UTC)


def test_enable_schedule_turns_it_on_and_keeps_the_rest_of_the_configuration(runtime):
    configure_model(runtime, config(drift_threshold=0.2, schedule_day_of_week="friday"), now=NOW)
    assert enable_schedule(runtime, "churn", now=NOW) == datetime(2026, 3, 6, 2, tzinfo=UTC)
    record = runtime.models.get("churn")
    assert record.config == config(
        drift_threshold=0.2, schedule_day_of_week="friday", schedule_enabled=True
    )
    assert record.schedule_next_run_at == datetime(2026, 3, 6, 2, tzinfo=UTC)


def test_enable_schedule_again_keeps_the_planned_run_and_the_configuration(runtime):
    configure_model(runtime, config(), now=NOW)
    first = enable_schedule(runtime, "churn", now=NOW)
    before = kinds(runtime)
    assert enable_schedule(runtime, "churn", now=NOW + timedelta(hours=13)) == first
    assert kinds(runtime) == before  # neither "configured" nor "schedule_set" again


def test_enable_schedule_of_an_unknown_model_is_refused(runtime):
    with pytest.raises(UnknownModel, match="no model named 'ghost'"):
        enable_schedule(runtime, "ghost", now=NOW)
