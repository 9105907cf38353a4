"""Client processes for the concurrency test: trigger retrainings from outside the test process.

Run in a spawned process (``multiprocessing`` "spawn"), so each client has its own database
connections and Celery producer, as two separate services calling the product would.
"""

from __future__ import annotations

import traceback
from typing import Any

SCHEDULER = "scheduler"  # the Python API: RetrainingScheduler.trigger_retraining
SERVICE = "service"  # the core call the HTTP API and the workers make: submit_retraining


def trigger_rounds(
    env: dict[str, str],
    front_door: str,
    models: list[str],
    rounds: int,
    barrier: Any,
    results: Any,
    wait_timeout: float,
) -> None:
    """Each round: wait for the other client, trigger every model, wait for those jobs to end.

    Puts ``("ok", front_door, [(round, model, job_id, status), ...])`` on ``results``, or
    ``("error", front_door, traceback)``.
    """
    try:
        results.put(
            ("ok", front_door, _rounds(env, front_door, models, rounds, barrier, wait_timeout))
        )
    except BaseException:
        barrier.abort()  # the other client must not wait for this one forever
        results.put(("error", front_door, traceback.format_exc()))


def _rounds(env, front_door, models, rounds, barrier, wait_timeout) -> list[tuple]:
    from shared.settings import Settings

    settings = Settings.from_env(env)
    trigger, close = _front_door(front_door, settings, models)
    outcomes = []
    try:
        for round_number in range(rounds):
            barrier.wait(timeout=120)
            jobs = [(name, trigger(name, f"round {round_number}")) for name in models]
            for name, job in jobs:
                job.wait(timeout=wait_timeout)
                outcomes.append((round_number, name, job.job_id, str(job.status)))
    finally:
        close()
    return outcomes


def _front_door(front_door: str, settings, models: list[str]):
    if front_door == SCHEDULER:
        import dist_loaders
        from dist_harness import model_config

        from retraining.scheduler import RetrainingScheduler
        from training.pipeline import TrainingPipeline

        schedulers = {
            name: RetrainingScheduler(
                model_config(name),
                dist_loaders.training_data,
                TrainingPipeline(name),
                settings=settings,
            )
            for name in models
        }

        def trigger(name: str, reason: str):
            return schedulers[name].trigger_retraining("manual", reason)

        def close() -> None:
            for scheduler in schedulers.values():
                scheduler.close()

        return trigger, close

    from shared.enums import RetrainingTrigger
    from shared.runtime import Runtime
    from shared.usecases.retraining import submit_retraining
    from workers.publisher import CeleryPublisher

    runtime = Runtime(settings)
    publisher = CeleryPublisher(settings)

    def trigger(name: str, reason: str):
        job, _created = submit_retraining(
            runtime, publisher, name, RetrainingTrigger.MANUAL, reason
        )
        return job

    def close() -> None:
        publisher.close()
        runtime.dispose()

    return trigger, close
