"""Two Beat processes, one set of schedules: every due run starts exactly one job.

Both Beats send the dispatcher task every second; two worker processes run those tasks side
by side, and each claims due runs by compare-and-set of the model's ``next_run_at``. The test
arms the models' schedules in the database while everything runs (schedules change at run time
without restarting Beat), round after round, and counts: jobs per due run, and due runs
claimed across all dispatcher tasks (each task logs how many it claimed).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from dist_harness import (
    assert_never_two_running,
    configure_models,
    job_rows,
    wait_until,
)

from shared.clock import utcnow
from shared.runtime import Runtime

pytestmark = pytest.mark.integration

MODELS = [f"scheduled_{i}" for i in range(5)]
ROUNDS = 3
_DISPATCHED = re.compile(r"retraining\.dispatch_due\[[^\]]+\] succeeded in [^:]+: (\d+)")
_BEAT_SENT = "Sending due task dispatch-due-work"


def test_two_beats_start_each_due_run_once(make_stack, database_url, redis_url):
    stack = make_stack(database_url, redis_url, RETRAINING_DISPATCH_INTERVAL="1")
    # checks (dispatch, reconcile) on two processes at once; trainings on their own worker
    dispatchers = stack.start_worker(
        "dispatchers", queues="checks", pool="prefork", concurrency=2, wait=False
    )
    trainer = stack.start_worker(
        "trainer", queues="retraining", pool="prefork", concurrency=2, wait=False
    )
    beats = [stack.start_beat(name, wait=False) for name in ("beat_a", "beat_b")]
    settings = stack.settings()
    configure_models(settings, MODELS, schedule_enabled=True, schedule_interval_days=1)
    for proc in (dispatchers, trainer, *beats):
        proc.wait_ready()

    runtime = Runtime(settings)
    armed: dict[str, list] = {name: [] for name in MODELS}
    try:
        for round_number in range(ROUNDS):
            now = utcnow()
            for index, name in enumerate(MODELS):
                # the first model's first run was missed three days running: it runs once
                missed = round_number == 0 and index == 0
                due = now - timedelta(days=3) if missed else now - timedelta(seconds=index)
                runtime.models.set_schedule(name, due)
                armed[name].append(due)
            expected = (round_number + 1) * len(MODELS)
            wait_until(
                lambda expected=expected: _all_ended(runtime, expected),
                60,
                f"round {round_number}'s scheduled jobs to end",
                diagnostics=lambda: f"{dispatchers.tail()}\n{trainer.tail()}",
            )
            for name in MODELS:
                assert runtime.models.get(name).schedule_next_run_at > now, name

        # a few more dispatches from both Beats, which must find nothing left to start
        seen = len(_dispatch_counts(dispatchers))
        wait_until(lambda: len(_dispatch_counts(dispatchers)) >= seen + 6, 30, "more dispatches")

        rows = job_rows(runtime.engine, MODELS)
        assert len(rows) == ROUNDS * len(MODELS)
        assert {row["status"] for row in rows} == {"completed"}
        assert {row["trigger"] for row in rows} == {"scheduled"}
        for name in MODELS:
            reasons = sorted(row["reason"] for row in rows if row["model_name"] == name)
            assert reasons == sorted(
                f"scheduled run due at {due.isoformat()}" for due in armed[name]
            )
            assert_never_two_running(runtime.engine, name)

        # every due run was claimed by exactly one of all the dispatcher tasks
        counts = _dispatch_counts(dispatchers)
        assert sum(counts) == ROUNDS * len(MODELS), counts
        for beat in beats:
            assert beat.log().count(_BEAT_SENT) >= ROUNDS, f"{beat.name} did not dispatch"
    finally:
        runtime.dispose()


def _all_ended(runtime: Runtime, expected: int) -> bool:
    rows = job_rows(runtime.engine, MODELS)
    return len(rows) >= expected and all(row["status"] in ("completed", "failed") for row in rows)


def _dispatch_counts(worker) -> list[int]:
    return [int(count) for count in _DISPATCHED.findall(worker.log())]
