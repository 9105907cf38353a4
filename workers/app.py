"""The Celery application: ``celery -A workers.app worker`` (or ``retrain worker``)."""

from __future__ import annotations

import functools

from celery import Celery
from kombu import Exchange, Queue

from shared.settings import Settings
from workers.beat import beat_schedule
from workers.config import (
    CHECKS_QUEUE,
    DISPATCH_DUE,
    RECONCILE,
    RENDER_CHECK_PAGE,
    RETRAINING_QUEUE,
    RUN_CHECK,
    RUN_JOB,
    WorkerConfig,
)


def create_celery(settings: Settings, config: WorkerConfig) -> Celery:
    """A Celery app on the settings' Redis; no result backend: state lives in the database."""
    if not settings.redis_url:
        raise ValueError("REDIS_URL: required to run Celery workers, Beat or Flower")
    app = Celery("retraining", broker=settings.redis_url, include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": config.visibility_timeout},
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_ignore_result=True,
        task_default_queue=CHECKS_QUEUE,
        # Declared, not only routed to: a worker started without -Q consumes the declared
        # queues, and with only the default one a plain `celery -A workers.app worker` would
        # leave every training pending. Each is what Celery would create for the name by itself
        # (a direct exchange of the same name), so publishers and workers of either kind agree.
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name)
            for name in (RETRAINING_QUEUE, CHECKS_QUEUE)
        ],
        task_routes={
            RUN_JOB: {"queue": RETRAINING_QUEUE},
            RUN_CHECK: {"queue": CHECKS_QUEUE},
            RENDER_CHECK_PAGE: {"queue": CHECKS_QUEUE},
            DISPATCH_DUE: {"queue": CHECKS_QUEUE},
            RECONCILE: {"queue": CHECKS_QUEUE},
        },
        # No "*" entry: Celery applies it after a task's own entry, so it would cut every
        # training to the checks' limit.
        task_annotations={
            RUN_JOB: {
                "soft_time_limit": config.job_soft_time_limit,
                "time_limit": config.job_time_limit,
            },
            **{
                name: {"time_limit": config.check_time_limit}
                for name in (RUN_CHECK, RENDER_CHECK_PAGE, DISPATCH_DUE, RECONCILE)
            },
        },
        beat_schedule=beat_schedule(config.dispatch_interval),
        timezone="UTC",
        enable_utc=True,
    )
    app.retraining_settings = settings
    return app


@functools.cache
def _app_from_env() -> Celery:
    return create_celery(Settings.from_env(), WorkerConfig.from_env())


def __getattr__(name: str) -> Celery:
    # ``app`` (what ``celery -A workers.app`` and the tasks use) is built from the environment
    # on first use, so importing ``create_celery`` with explicit settings (the publisher of a
    # process that has no REDIS_URL in its environment) does not need one.
    if name == "app":
        return _app_from_env()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
