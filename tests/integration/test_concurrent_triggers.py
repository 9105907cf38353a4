"""Twenty jobs across five models, triggered from two processes at once, on two workers.

One client uses the Python API (``RetrainingScheduler.trigger_retraining``), the other the
core call the HTTP API makes (``submit_retraining``); they trigger the same models at the same
moment, in opposite orders, four rounds in a row. Whichever creates a model's job, the other
must get that same job back, and no model may ever have two jobs running.
"""

from __future__ import annotations

import multiprocessing
from collections import defaultdict

import pytest
from dist_clients import SCHEDULER, SERVICE, trigger_rounds
from dist_harness import assert_never_two_running, configure_models, job_rows

from shared.runtime import Runtime

pytestmark = pytest.mark.integration

MODELS = [f"concurrent_{i}" for i in range(5)]
ROUNDS = 4


def test_twenty_jobs_from_two_processes_complete_one_running_per_model(
    make_stack, database_url, redis_url
):
    # a short pause in each load keeps a job active while the other client is still triggering
    stack = make_stack(database_url, redis_url, DIST_LOAD_SLEEP="0.5")
    settings = stack.settings()
    configure_models(settings, MODELS)
    workers = [stack.start_worker(name, wait=False) for name in ("worker1", "worker2")]
    for worker in workers:
        worker.wait_ready()

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    clients = [
        context.Process(
            target=trigger_rounds,
            args=(stack.env(), door, order, ROUNDS, barrier, results, 120),
            name=f"client-{door}",
        )
        for door, order in ((SCHEDULER, MODELS), (SERVICE, MODELS[::-1]))
    ]
    for client in clients:
        client.start()
    try:
        outcomes = dict(_result(results) for _ in clients)
    finally:
        for client in clients:
            client.join(timeout=30)
            if client.is_alive():
                client.kill()

    # both clients were handed the same job for every model in every round
    seen = defaultdict(set)
    for door, rows in outcomes.items():
        assert len(rows) == ROUNDS * len(MODELS), door
        for round_number, model, job_id, status in rows:
            assert status == "completed", (door, round_number, model, job_id)
            seen[(round_number, model)].add(job_id)
    assert all(len(ids) == 1 for ids in seen.values()), seen

    runtime = Runtime(settings)
    try:
        rows = job_rows(runtime.engine, MODELS)
        assert len(rows) == ROUNDS * len(MODELS) == 20
        assert {row["id"] for row in rows} == {ids.pop() for ids in seen.values()}
        assert {row["status"] for row in rows} == {"completed"}
        assert {row["attempt"] for row in rows} == {1}, "a job ran more than once"
        for model in MODELS:
            assert sum(row["model_name"] == model for row in rows) == ROUNDS
            spans = assert_never_two_running(runtime.engine, model)
            assert len(spans) == ROUNDS and all(span.ended_at for span in spans)
    finally:
        runtime.dispose()


def _result(results) -> tuple[str, list]:
    status, door, payload = results.get(timeout=240)
    assert status == "ok", f"client {door} failed:\n{payload}"
    return door, payload
