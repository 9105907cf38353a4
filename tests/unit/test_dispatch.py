"""Due work is claimed exactly once, however many dispatchers look at the same database."""

import threading
from datetime import UTC, datetime, timedelta

import pandas as pd

from retraining.scheduler import RetrainingConfig, RetrainingScheduler
from shared.dispatch import DueWork, WorkKind, claim_due_work
from shared.enums import RetrainingTrigger
from shared.runtime import Runtime
from training.pipeline import TrainingPipeline

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
WEEKLY = RetrainingConfig(model_name="churn", schedule_enabled=True, schedule_interval_days=7)


def configure(runtime, config=WEEKLY):
    runtime.models.save_config(config, {"name": "p"})


def test_a_due_schedule_is_claimed_once_across_two_runtimes(settings):
    first, second = Runtime(settings), Runtime(settings)
    try:
        configure(first)
        due = NOW - timedelta(minutes=5)
        first.models.set_schedule("churn", due)
        assert claim_due_work(first, NOW) == [DueWork("churn", WorkKind.SCHEDULED_RETRAINING, due)]
        assert claim_due_work(second, NOW) == []
        assert claim_due_work(first, NOW) == []
        assert second.models.get("churn").schedule_next_run_at == due + timedelta(days=7)
    finally:
        first.dispose()
        second.dispose()


def test_racing_dispatchers_claim_a_due_schedule_once(settings):
    runtimes = [Runtime(settings) for _ in range(4)]
    try:
        configure(runtimes[0])
        runtimes[0].models.set_schedule("churn", NOW - timedelta(minutes=1))
        barrier = threading.Barrier(len(runtimes))
        claimed: list[DueWork] = []

        def dispatch(runtime):
            barrier.wait()
            claimed.extend(claim_due_work(runtime, NOW))

        threads = [threading.Thread(target=dispatch, args=(r,)) for r in runtimes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [work.kind for work in claimed] == [WorkKind.SCHEDULED_RETRAINING]
    finally:
        for runtime in runtimes:
            runtime.dispose()


def test_a_run_missed_by_several_periods_is_run_once(runtime):
    configure(runtime)
    due = datetime(2026, 2, 4, 2, tzinfo=UTC)  # four weekly runs ago
    runtime.models.set_schedule("churn", due)
    assert [w.due_at for w in claim_due_work(runtime, NOW)] == [due]
    following = runtime.models.get("churn").schedule_next_run_at
    assert following == datetime(2026, 3, 11, 2, tzinfo=UTC)  # the next one on the cadence
    assert claim_due_work(runtime, NOW) == []
    assert claim_due_work(runtime, NOW + timedelta(days=6)) == []


def test_nothing_is_claimed_before_it_is_due(runtime):
    configure(runtime)
    runtime.models.set_schedule("churn", NOW + timedelta(seconds=1))
    assert claim_due_work(runtime, NOW) == []
    assert len(claim_due_work(runtime, NOW + timedelta(seconds=1))) == 1


def test_a_disabled_schedule_is_cleared_not_run(runtime):
    configure(runtime, RetrainingConfig(model_name="churn", schedule_enabled=False))
    runtime.models.set_schedule("churn", NOW - timedelta(hours=1))
    assert claim_due_work(runtime, NOW) == []
    assert runtime.models.get("churn").schedule_next_run_at is None


def test_a_monitoring_check_is_claimed_once_and_rescheduled_by_its_interval(settings):
    first, second = Runtime(settings), Runtime(settings)
    try:
        configure(first)
        due = NOW - timedelta(seconds=10)
        first.models.set_monitoring("churn", 300, due)
        assert claim_due_work(first, NOW) == [DueWork("churn", WorkKind.MONITORING_CHECK, due)]
        assert claim_due_work(second, NOW) == []
        assert second.models.get("churn").monitoring_next_run_at == NOW + timedelta(seconds=300)
    finally:
        first.dispose()
        second.dispose()


def test_both_kinds_due_for_several_models_are_all_claimed(runtime):
    for name in ("a", "b"):
        configure(runtime, WEEKLY.with_model_name(name))
        runtime.models.set_schedule(name, NOW - timedelta(hours=1))
        runtime.models.set_monitoring(name, 60, NOW)
    claimed = {(w.model_name, w.kind) for w in claim_due_work(runtime, NOW)}
    assert claimed == {
        ("a", WorkKind.SCHEDULED_RETRAINING),
        ("a", WorkKind.MONITORING_CHECK),
        ("b", WorkKind.SCHEDULED_RETRAINING),
        ("b", WorkKind.MONITORING_CHECK),
    }


def test_only_the_named_models_are_claimed(runtime):
    for name in ("a", "b"):
        configure(runtime, WEEKLY.with_model_name(name))
        runtime.models.set_schedule(name, NOW - timedelta(hours=1))
    assert [w.model_name for w in claim_due_work(runtime, NOW, ["b"])] == ["b"]
    assert [w.model_name for w in claim_due_work(runtime, NOW)] == ["a"]


def _no_data() -> pd.DataFrame:
    raise ConnectionError("warehouse unreachable")


def test_the_scheduler_runs_a_missed_schedule_once(settings):
    config = RetrainingConfig(model_name="churn", schedule_enabled=True, schedule_interval_days=7)
    scheduler = RetrainingScheduler(
        config, _no_data, TrainingPipeline("churn", "sklearn"), settings=settings
    )
    try:
        scheduler.runtime.models.set_schedule("churn", NOW - timedelta(days=30))
        results = scheduler.run_due_work(NOW)
        assert [job.trigger for job in results] == [RetrainingTrigger.SCHEDULED]
        assert "warehouse unreachable" in results[0].error  # it ran (and failed) exactly once
        assert scheduler.run_due_work(NOW) == []
        assert len(scheduler.get_job_history()) == 1
    finally:
        scheduler.close()


def test_a_restart_keeps_a_missed_run_and_does_not_bring_the_next_one_forward(settings):
    config = RetrainingConfig(model_name="churn", schedule_enabled=True, schedule_interval_days=7)
    pipeline = TrainingPipeline("churn", "sklearn")
    first = RetrainingScheduler(config, _no_data, pipeline, settings=settings)
    planned = first.schedule_periodic_retraining()
    first.close()

    restarted = RetrainingScheduler(config, _no_data, pipeline, settings=settings)
    try:
        assert restarted.schedule_periodic_retraining() == planned  # not moved by the restart
        missed = planned - timedelta(days=14)
        restarted.runtime.models.set_schedule("churn", missed)  # as if down for two weeks
        again = RetrainingScheduler(config, _no_data, pipeline, settings=settings)
        try:
            assert again.schedule_periodic_retraining() == missed
            assert [job.trigger for job in again.run_due_work()] == [RetrainingTrigger.SCHEDULED]
            assert again.run_due_work() == []
        finally:
            again.close()
    finally:
        restarted.close()
