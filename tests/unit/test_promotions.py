"""The promotion ledger, rollback, storm control and the watch window after a promotion.

Real scikit-learn and MLflow (SQLite) on a few hundred generated rows; jobs run in-process.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from jobtest import NAME, configure, promotable

from retraining.synthetic import make_churn_frame
from shared import breaker, ledger
from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.datasets import data_fingerprint
from shared.enums import RetrainingTrigger, Status
from shared.errors import Conflict, Invalid
from shared.events import list_events
from shared.modeling import TrainingPipeline
from shared.monitoring import initialize_monitors, run_check
from shared.notifications import Notice
from shared.policy import held_because
from shared.runtime import Runtime
from shared.usecases.due_work import start_due_work
from shared.usecases.retraining import run_retraining_job
from shared.usecases.rollback import RollbackRefused, rollback
from shared.usecases.watch import watch_after_promotion


class Recorder:
    def __init__(self) -> None:
        self.seen: list = []

    def notify(self, subject) -> None:
        self.seen.append(subject)

    def notices(self, status: str) -> list[Notice]:
        return [s for s in self.seen if isinstance(s, Notice) and s.status == status]


class NoPublisher:
    def publish_retraining(self, job_id: str, model_name: str) -> None:
        pass

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        pass

    def close(self) -> None:
        pass


def flipped(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows with the opposite labels: a model of this world is wrong in the other."""
    return frame.assign(target=1 - frame["target"])


def train(
    runtime: Runtime,
    frame: pd.DataFrame,
    trigger: RetrainingTrigger = RetrainingTrigger.MANUAL,
    notifier=None,
    details=None,
):
    job, created = runtime.jobs.create(NAME, trigger, "test", details)
    assert created
    done = run_retraining_job(
        runtime,
        job.job_id,
        load_training_data=lambda: frame,
        pipeline=TrainingPipeline(NAME),
        notifier=notifier or Recorder(),
    )
    assert done.status is Status.COMPLETED, done.error
    return done


def history(runtime: Runtime) -> list[ledger.PromotionEntry]:
    return ledger.history(runtime.engine, NAME)


# -- the ledger ----------------------------------------------------------------------------


def test_every_promotion_and_refusal_is_in_the_ledger_with_both_sides(ml_runtime):
    configure(ml_runtime, promotion_min_improvement=1000.0)  # only the first is promoted
    frame = make_churn_frame(300, seed=1)
    first = train(ml_runtime, frame)
    origin = {"check_id": "c0ffee00-0000-0000-0000-000000000000", "trigger": "data_drift"}
    second = train(
        ml_runtime,
        make_churn_frame(300, seed=2),
        RetrainingTrigger.DATA_DRIFT,
        None,
        {"origin": origin},
    )

    assert first.promoted is True and second.promoted is False
    refused, promoted = history(ml_runtime)  # newest first
    assert promoted.kind == "promoted" and promoted.from_version is None
    assert promoted.to_version == first.model_version and promoted.job_id == first.job_id
    assert promoted.trigger == "manual" and promoted.check_id is None
    assert promoted.metrics == first.metrics and promoted.from_metrics is None
    assert promoted.data_fingerprint == data_fingerprint(frame)
    assert promoted.holdout_fingerprint == first.details["holdout_fingerprint"]
    assert promoted.holdout_fingerprint != promoted.data_fingerprint
    assert refused.kind == "refused" and refused.trigger == "data_drift"
    assert (refused.from_version, refused.to_version) == (
        first.model_version,
        second.model_version,
    )
    assert refused.check_id == origin["check_id"] and refused.job_id == second.job_id
    assert refused.metrics == second.metrics
    assert refused.from_metrics == second.champion_metrics  # both on the same holdout
    assert refused.reason == second.promotion_reason
    assert refused.to_dict()["monitors"]["to"]["reference_key"] is None  # never in service


# -- rollback ------------------------------------------------------------------------------


def two_champions(runtime: Runtime) -> tuple:
    """v1 (with the user's monitors), then v2 (monitors following its training data)."""
    configure(runtime)
    initialize_monitors(runtime, NAME, make_churn_frame(200, seed=9), {"accuracy": 0.5})
    first = train(runtime, flipped(make_churn_frame(300, seed=1)))
    v1 = runtime.models.get(NAME)
    second = train(runtime, make_churn_frame(300, seed=2))
    assert second.promoted is True, second.promotion_reason
    return first, second, v1


def test_rollback_restores_the_earlier_champion_its_monitors_and_the_alias(ml_runtime):
    first, second, v1 = two_champions(ml_runtime)
    v2 = ml_runtime.models.get(NAME)
    assert v2.reference_key != v1.reference_key  # the monitors followed v2

    recorder = Recorder()
    entry = rollback(ml_runtime, NAME, reason="bad outputs", actor="alice", notifier=recorder)

    now = ml_runtime.models.get(NAME)
    assert now.champion_version == first.model_version
    assert ml_runtime.registry.champion_version(NAME) == first.model_version
    assert (now.reference_key, now.baseline_metrics) == (v1.reference_key, v1.baseline_metrics)
    assert now.champion_metrics == v1.champion_metrics
    assert now.feature_columns == v1.feature_columns
    assert entry.kind == "rollback" and entry.actor == "alice" and entry.reason == "bad outputs"
    assert (entry.from_version, entry.to_version) == (second.model_version, first.model_version)
    assert history(ml_runtime)[0] == entry
    assert [n.details["to_version"] for n in recorder.notices("rollback")] == [first.model_version]
    assert list_events(ml_runtime.engine, model_name=NAME, kind="rollback")

    # None again: the champion before this one, i.e. forward to v2 with its own monitors
    back = rollback(ml_runtime, NAME, reason="it was fine after all")
    now = ml_runtime.models.get(NAME)
    assert back.to_version == now.champion_version == second.model_version
    assert (now.reference_key, now.baseline_metrics) == (v2.reference_key, v2.baseline_metrics)
    assert ml_runtime.registry.champion_version(NAME) == second.model_version


def test_rollback_is_refused_while_a_retraining_of_the_model_is_active(ml_runtime):
    first, second, _ = two_champions(ml_runtime)
    job, _ = ml_runtime.jobs.create(NAME, RetrainingTrigger.MANUAL, "running now")
    ml_runtime.jobs.claim(job.job_id)

    with pytest.raises(RollbackRefused, match=f"is running \\(job {job.job_id}\\)") as caught:
        rollback(ml_runtime, NAME, first.model_version)

    assert isinstance(caught.value, Conflict)  # 409 over HTTP
    assert ml_runtime.models.get(NAME).champion_version == second.model_version
    assert [e.kind for e in history(ml_runtime)] == ["promoted", "promoted"]


def test_rollback_names_what_is_wrong_with_the_version(ml_runtime):
    _, second, _ = two_champions(ml_runtime)
    with pytest.raises(Invalid, match=r"to_version: version 7 .* never its champion.*1, 2"):
        rollback(ml_runtime, NAME, "7")
    with pytest.raises(Invalid, match="to_version: must be a registered version number"):
        rollback(ml_runtime, NAME, "v1")
    with pytest.raises(RollbackRefused, match="already the champion"):
        rollback(ml_runtime, NAME, second.model_version)


def test_rollback_without_an_earlier_champion_is_refused(ml_runtime):
    configure(ml_runtime)
    train(ml_runtime, make_churn_frame(300, seed=1))
    with pytest.raises(RollbackRefused, match="knows no champion before version 1"):
        rollback(ml_runtime, NAME)


# -- storm control -------------------------------------------------------------------------


def refusing(runtime: Runtime, limit: int | None = 2) -> None:
    """A (poor) champion no candidate beats by the margin."""
    configure(runtime, promotion_min_improvement=1000.0, max_consecutive_refusals=limit)
    train(runtime, flipped(make_churn_frame(300, seed=1)))


def test_the_breaker_trips_on_the_nth_automatic_refusal_and_a_person_resumes(ml_runtime):
    refusing(ml_runtime, limit=2)
    record = lambda: ml_runtime.models.get(NAME)  # noqa: E731
    recorder = Recorder()

    train(ml_runtime, make_churn_frame(300, seed=2), RetrainingTrigger.DATA_DRIFT, recorder)
    train(ml_runtime, make_churn_frame(300, seed=3), RetrainingTrigger.MANUAL, recorder)
    assert breaker.state(ml_runtime.engine, record()).consecutive_refusals == 1  # manual: no count
    assert not breaker.state(ml_runtime.engine, record()).paused
    assert held_because(ml_runtime, record(), RetrainingTrigger.DATA_DRIFT, 0.9, {}) is None

    tripping = train(
        ml_runtime, make_churn_frame(300, seed=4), RetrainingTrigger.SCHEDULED, recorder
    )

    state = breaker.state(ml_runtime.engine, record())
    assert state.paused and state.consecutive_refusals == 2
    assert state.tripped_by_job == tripping.job_id
    [notice] = recorder.notices("retraining_paused")
    assert "2 automatic candidates in a row were refused" in notice.reason
    held = held_because(ml_runtime, record(), RetrainingTrigger.DATA_DRIFT, 0.9, {})
    assert held.startswith("automatic retraining paused") and "retrain resume churn" in held
    initialize_monitors(ml_runtime, NAME, make_churn_frame(300, seed=8), None)
    check = run_check(ml_runtime, NAME, make_churn_frame(300, seed=7, drift=0.9))
    assert not check.needs_retraining  # the check says why
    assert check.reason.startswith("suppressed:") and "automatic retraining paused" in check.reason
    # manual triggers always run, and do not notify again
    train(ml_runtime, make_churn_frame(300, seed=5), RetrainingTrigger.MANUAL, recorder)
    assert len(recorder.notices("retraining_paused")) == 1

    resumed = breaker.resume(ml_runtime, NAME, actor="bob")
    assert not resumed.paused and resumed.consecutive_refusals == 0
    assert resumed.resumed_by == "bob"
    assert held_because(ml_runtime, record(), RetrainingTrigger.DATA_DRIFT, 0.9, {}) is None
    assert list_events(ml_runtime.engine, model_name=NAME, kind="retraining_resumed")


def test_a_paused_model_skips_its_scheduled_runs_saying_why(ml_runtime):
    refusing(ml_runtime, limit=1)
    train(ml_runtime, make_churn_frame(300, seed=2), RetrainingTrigger.SCHEDULED)
    configure(
        ml_runtime,
        promotion_min_improvement=1000.0,
        max_consecutive_refusals=1,
        schedule_enabled=True,
    )
    ml_runtime.models.set_schedule(NAME, utcnow() - timedelta(minutes=1))

    [started] = start_due_work(ml_runtime, NoPublisher(), model_names=[NAME])

    assert started.job_id is None and "automatic retraining paused" in started.skipped
    assert ml_runtime.jobs.active_for(NAME) is None
    assert list_events(ml_runtime.engine, model_name=NAME, kind="scheduled_run_skipped")

    breaker.resume(ml_runtime, NAME)
    ml_runtime.models.set_schedule(NAME, utcnow() - timedelta(minutes=1))
    [started] = start_due_work(ml_runtime, NoPublisher(), model_names=[NAME])
    assert started.job_id is not None and started.skipped is None


def test_a_promotion_starts_the_count_afresh_and_off_never_pauses(ml_runtime):
    refusing(ml_runtime, limit=None)
    for seed in (2, 3, 4):
        train(ml_runtime, make_churn_frame(300, seed=seed), RetrainingTrigger.DATA_DRIFT)
    state = breaker.state(ml_runtime.engine, ml_runtime.models.get(NAME))
    assert state.consecutive_refusals == 3 and not state.paused  # off: counted, never paused

    configure(ml_runtime, promotion_min_improvement=0.0, max_consecutive_refusals=5)
    promoted = train(ml_runtime, make_churn_frame(300, seed=6), RetrainingTrigger.DATA_DRIFT)
    assert promoted.promoted is True
    state = breaker.state(ml_runtime.engine, ml_runtime.models.get(NAME))
    assert state.consecutive_refusals == 0 and not state.paused


@pytest.mark.parametrize("value", [0, -1])
def test_max_consecutive_refusals_below_one_is_refused_naming_the_field(value):
    with pytest.raises(ValueError, match="max_consecutive_refusals: must be at least 1"):
        RetrainingConfig(max_consecutive_refusals=value)


def test_promotion_watch_rows_below_one_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="promotion_watch_rows: must be at least 1"):
        RetrainingConfig(promotion_watch_rows=0)


# -- the watch window ----------------------------------------------------------------------


def test_a_promotion_worse_on_the_next_labelled_data_is_rolled_back(ml_runtime):
    configure(ml_runtime, promotion_watch_rows=200)
    first = train(ml_runtime, make_churn_frame(400, seed=1))
    # v2 learns the opposite world, and beats v1 there: promoted, the watch opens
    second = train(ml_runtime, flipped(make_churn_frame(400, seed=2)))
    assert second.promoted is True
    assert history(ml_runtime)[0].details["watch"] == {"status": "open", "rows": 200}
    recorder = Recorder()

    record = ml_runtime.models.get(NAME)
    too_few = make_churn_frame(199, seed=3)
    assert watch_after_promotion(ml_runtime, record, too_few, recorder) == record  # waits

    after = watch_after_promotion(ml_runtime, record, make_churn_frame(300, seed=3), recorder)

    assert after.champion_version == first.model_version
    assert ml_runtime.registry.champion_version(NAME) == first.model_version
    auto, promotion, _ = history(ml_runtime)
    assert auto.kind == "auto-rollback" and auto.trigger == "watch"
    assert (auto.from_version, auto.to_version) == (second.model_version, first.model_version)
    assert "watch window" in auto.reason and "worse" in auto.reason
    watch = promotion.details["watch"]
    assert watch["status"] == "rolled_back" and watch["rollback_entry_id"] == auto.entry_id
    assert watch["new"] < watch["replaced"] and watch["rows_scored"] == 300
    [notice] = recorder.notices("auto-rollback")
    assert notice.details["to_version"] == auto.to_version and "watch window" in notice.reason
    # judged once: the next check's data changes nothing
    again = watch_after_promotion(ml_runtime, after, make_churn_frame(300, seed=4), recorder)
    assert again.champion_version == first.model_version
    assert len(history(ml_runtime)) == 3


def test_a_promotion_as_good_on_the_next_labelled_data_stays(ml_runtime):
    configure(ml_runtime, promotion_watch_rows=200)
    train(ml_runtime, flipped(make_churn_frame(400, seed=1)))
    second = train(ml_runtime, make_churn_frame(400, seed=2))
    assert second.promoted is True
    record = ml_runtime.models.get(NAME)

    after = watch_after_promotion(ml_runtime, record, make_churn_frame(300, seed=3), Recorder())

    assert after.champion_version == second.model_version
    [promotion, _] = history(ml_runtime)
    watch = promotion.details["watch"]
    assert watch["status"] == "passed" and watch["new"] > watch["replaced"]
    assert watch["relative_drop"] < 0


def test_the_watch_waits_while_a_job_runs_and_is_off_by_default(ml_runtime):
    configure(ml_runtime, promotion_watch_rows=200)
    train(ml_runtime, make_churn_frame(400, seed=1))
    second = train(ml_runtime, flipped(make_churn_frame(400, seed=2)))
    job, _ = ml_runtime.jobs.create(NAME, RetrainingTrigger.MANUAL, "running")
    record = ml_runtime.models.get(NAME)

    after = watch_after_promotion(ml_runtime, record, make_churn_frame(300, seed=3))

    assert after.champion_version == second.model_version  # refused: stays open
    assert history(ml_runtime)[0].details["watch"]["status"] == "open"

    ml_runtime.jobs.fail(job.job_id, None, "gave up")
    configure(ml_runtime, promotion_watch_rows=None)
    off = ml_runtime.models.get(NAME)
    assert watch_after_promotion(ml_runtime, off, make_churn_frame(300, seed=3)) == off


# -- the Python door -----------------------------------------------------------------------


def test_the_scheduler_shows_the_ledger_rolls_back_and_resumes(tmp_path, make_home):
    from retraining.scheduler import RetrainingScheduler

    frames = [flipped(make_churn_frame(300, seed=1)), make_churn_frame(300, seed=2)]
    config = promotable(max_consecutive_refusals=3, promotion_watch_rows=100)
    recorder = Recorder()
    scheduler = RetrainingScheduler(
        config,
        lambda: frames[0],
        TrainingPipeline(NAME),
        notification_handler=recorder,
        settings=make_home(tmp_path / "home"),
    )
    try:
        first = scheduler.trigger_retraining(reason="first")
        frames.pop(0)
        second = scheduler.trigger_retraining(reason="better")
        assert (first.model_version, second.model_version) == ("1", "2") and second.promoted

        entries = scheduler.get_promotion_history()
        assert [(e["kind"], e["to_version"]) for e in entries] == [
            ("promoted", "2"),
            ("promoted", "1"),
        ]
        assert scheduler.get_promotion_history(limit=1, offset=1) == entries[1:]
        with pytest.raises(ValueError, match="limit: must be a whole number"):
            scheduler.get_promotion_history(limit=0)

        entry = scheduler.rollback(reason="bad outputs")
        assert (entry["kind"], entry["to_version"], entry["actor"]) == ("rollback", "1", "python")
        assert scheduler.runtime.models.get(NAME).champion_version == "1"
        assert recorder.notices("rollback")
        entry = scheduler.rollback(to_version=2)
        assert entry["to_version"] == "2"
        assert scheduler.runtime.registry.champion_version(NAME) == "2"

        # the watch judges only the promotion that is in service: a rollback closed it
        initialize_monitors(scheduler.runtime, NAME, make_churn_frame(200, seed=9), None)
        scheduler.check_retraining_needed(flipped(make_churn_frame(200, seed=5)))
        assert scheduler.runtime.models.get(NAME).champion_version == "2"

        state = scheduler.resume()
        assert state["paused"] is False and state["max_consecutive_refusals"] == 3
        assert scheduler.get_breaker_state()["consecutive_refusals"] == 0
    finally:
        scheduler.close()


def test_a_check_through_the_scheduler_judges_an_open_watch(tmp_path, make_home):
    from retraining.scheduler import RetrainingScheduler

    frames = [make_churn_frame(400, seed=1), flipped(make_churn_frame(400, seed=2))]
    config = promotable(promotion_watch_rows=150)
    recorder = Recorder()
    scheduler = RetrainingScheduler(
        config,
        lambda: frames[0],
        TrainingPipeline(NAME),
        notification_handler=recorder,
        settings=make_home(tmp_path / "home"),
    )
    try:
        scheduler.trigger_retraining()
        initialize_monitors(scheduler.runtime, NAME, make_churn_frame(200, seed=9), None)
        frames.pop(0)
        assert scheduler.trigger_retraining().promoted is True

        scheduler.check_retraining_needed(make_churn_frame(200, seed=5))

        assert scheduler.runtime.models.get(NAME).champion_version == "1"
        newest = scheduler.get_promotion_history(limit=1)[0]
        assert newest["kind"] == "auto-rollback" and newest["trigger"] == "watch"
        assert recorder.notices("auto-rollback")
    finally:
        scheduler.close()


def test_a_notice_reads_as_text_and_posts_its_fields():
    from shared.notifications import describe, webhook_payload

    notice = Notice(NAME, "auto-rollback", "watch window: worse", {"to_version": "1"})
    assert describe(notice) == "auto-rollback for churn: watch window: worse"
    payload = webhook_payload(notice)
    assert payload["text"] == describe(notice) and payload["status"] == "auto-rollback"
    assert (payload["model"], payload["reason"], payload["to_version"]) == (
        NAME,
        "watch window: worse",
        "1",
    )
