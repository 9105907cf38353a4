"""When a finding may start a retraining: cooldown, persistence, hysteresis, at their edges."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from shared.checks import CheckRecord
from shared.clock import simulated_clock, utcnow
from shared.config import RetrainingConfig
from shared.enums import RetrainingTrigger
from shared.monitoring import initialize_monitors, run_check
from shared.policy import held_because

DATA, CONCEPT, PERF = (
    RetrainingTrigger.DATA_DRIFT,
    RetrainingTrigger.CONCEPT_DRIFT,
    RetrainingTrigger.PERFORMANCE_DEGRADATION,
)


def configure(runtime, **options):
    config = RetrainingConfig(model_name="m", enable_notifications=False, **options)
    return runtime.models.save_config(config, {"name": "m"})


def finished_job(runtime, trigger, *, promoted, origin=None):
    job, _ = runtime.jobs.create("m", trigger, "t", {"origin": origin} if origin else None)
    claimed = runtime.jobs.claim(job.job_id)
    details = {**claimed.details, "note": "trained"}
    return runtime.jobs.complete(job.job_id, claimed.attempt, promoted=promoted, details=details)


def stored_check(runtime, drift_share):
    runtime.checks.save(
        CheckRecord(
            check_id=runtime.checks.new_id(),
            model_name="m",
            created_at=utcnow(),
            n_rows=100,
            needs_retraining=False,
            trigger=None,
            reason="r",
            drift_share=drift_share,
            drift=None,
            performance=None,
            report_key=None,
        )
    )


def test_a_cooldown_holds_every_check_trigger_until_it_ends(runtime):
    record = configure(runtime, retrain_cooldown_hours=2)
    with simulated_clock() as clock:
        started = utcnow()
        finished_job(runtime, RetrainingTrigger.MANUAL, promoted=True)
        clock.set(started + timedelta(hours=1, minutes=59))
        for trigger in (PERF, CONCEPT, DATA):
            why = held_because(runtime, record, trigger, 0.9, {})
            assert why.startswith("cooldown: a retraining started at") and "is 2" in why
        clock.set(started + timedelta(hours=2, seconds=1))
        assert held_because(runtime, record, DATA, 0.9, {}) is None


def test_no_cooldown_by_default(runtime):
    record = configure(runtime)
    finished_job(runtime, RetrainingTrigger.MANUAL, promoted=True)
    assert held_because(runtime, record, DATA, 0.9, {}) is None


@pytest.mark.parametrize(("previous", "held"), [([0.5, 0.5], False), ([0.5, 0.05], True)])
def test_persistence_needs_that_many_drifting_checks_in_a_row(runtime, previous, held):
    record = configure(runtime, drift_persistence=3, drift_threshold=0.1)
    for share in reversed(previous):  # oldest first: the first listed is the newest
        stored_check(runtime, share)
    why = held_because(runtime, record, DATA, 0.5, {})
    assert (why is not None) is held
    if held:
        assert why == "data drift in 2 check(s) in a row, drift_persistence is 3"
    assert held_because(runtime, record, CONCEPT, 0.5, {"accuracy": 0.1}) is None


def test_after_a_refused_drift_retraining_the_same_drift_waits_for_the_step(runtime):
    record = configure(runtime, drift_hysteresis_step=0.1)
    finished_job(runtime, DATA, promoted=False, origin={"drift_share": 0.4})
    just_below = held_because(runtime, record, DATA, 0.4999, {})
    assert just_below is not None and "drift share of 0.50 (now 0.50" in just_below
    assert held_because(runtime, record, DATA, 0.5, {}) is None  # rose by the step
    assert held_because(runtime, record, PERF, 0.0, {}) is None  # performance degraded


def test_a_promotion_after_the_refusal_starts_afresh(runtime):
    record = configure(runtime)
    finished_job(runtime, DATA, promoted=False, origin={"drift_share": 0.4})
    finished_job(runtime, RetrainingTrigger.MANUAL, promoted=True)
    assert held_because(runtime, record, DATA, 0.41, {}) is None


def test_hysteresis_can_be_turned_off(runtime):
    record = configure(runtime, drift_hysteresis_step=None)
    finished_job(runtime, DATA, promoted=False, origin={"drift_share": 0.4})
    assert held_because(runtime, record, DATA, 0.41, {}) is None


def test_concept_drift_waits_until_the_champion_falls_further(runtime):
    record = configure(runtime, performance_threshold=0.05)
    finished_job(runtime, CONCEPT, promoted=False, origin={"concept": {"accuracy": 0.8}})
    assert held_because(runtime, record, CONCEPT, 0.0, {"accuracy": 0.761}) is not None
    assert held_because(runtime, record, CONCEPT, 0.0, {"accuracy": 0.759}) is None  # -5.1%
    assert held_because(runtime, record, DATA, 0.9, {}) is None  # another kind of drift


def test_a_check_says_why_it_holds_back_and_calls_for_the_next_unheld_finding(runtime):
    configure(runtime, drift_threshold=0.3, retrain_cooldown_hours=0)
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"a": rng.normal(size=800), "b": rng.normal(size=800)})
    initialize_monitors(runtime, "m", reference, {"accuracy": 0.9})
    drifted = pd.DataFrame({"a": rng.normal(3, 1, 800), "b": rng.normal(size=800)})
    finished_job(runtime, DATA, promoted=False, origin={"drift_share": 0.5})

    held = run_check(runtime, "m", drifted)
    assert (held.needs_retraining, held.trigger) == (False, None)
    assert held.reason.startswith("suppressed: data_drift: the retraining for the last")
    assert "(found: data_drift: 1 of 2 columns drifted" in held.reason

    degraded = run_check(runtime, "m", drifted, current_metrics={"accuracy": 0.5})
    assert degraded.trigger is PERF and degraded.needs_retraining  # never held by hysteresis
