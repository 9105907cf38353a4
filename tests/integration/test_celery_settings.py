"""The Celery settings the distributed mode depends on, and how ``retrain worker`` starts one.

No broker is contacted: these read the configured app (unit level, no ``integration`` mark).
"""

from __future__ import annotations

import os

import pytest

import retraining.cli
from beat_schedule import beat_schedule
from shared.settings import Settings
from workers.app import create_celery
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
from workers.publisher import CeleryPublisher

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"REDIS_URL": REDIS, "RETRAINING_HOME": str(tmp_path)})


def _stand_in(*args, **kwargs) -> None:
    return None


def _app(settings: Settings, config: WorkerConfig):
    app = create_celery(settings, config)
    for name in (RUN_JOB, RUN_CHECK, RENDER_CHECK_PAGE, DISPATCH_DUE, RECONCILE):
        app.task(name=name)(_stand_in)  # to see the annotations land on tasks of these names
    app.finalize()
    return app


def test_delivery_settings(settings):
    conf = _app(settings, WorkerConfig()).conf
    assert conf.broker_url == REDIS
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_reject_on_worker_lost is True
    assert conf.broker_connection_retry_on_startup is True
    assert conf.worker_send_task_events is True and conf.task_send_sent_event is True
    assert conf.task_ignore_result is True and not conf.result_backend  # state is in the database


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"RETRAINING_JOB_TIME_LIMIT": "14400", "RETRAINING_JOB_SOFT_TIME_LIMIT": "14000"},
        {"RETRAINING_CHECK_TIME_LIMIT": "7200"},
    ],
)
def test_visibility_timeout_outlasts_the_longest_hard_time_limit(settings, env):
    config = WorkerConfig.from_env(env)
    app = _app(settings, config)
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    job, check = app.tasks[RUN_JOB], app.tasks[RUN_CHECK]
    assert job.time_limit == config.job_time_limit
    assert job.soft_time_limit == config.job_soft_time_limit < job.time_limit
    assert check.time_limit == config.check_time_limit
    longest = max(task.time_limit for task in app.tasks.values() if task.time_limit)
    # otherwise Redis hands a long training to another worker while it still runs
    assert visibility > longest


def test_trainings_and_checks_have_their_own_queues(settings):
    app = _app(settings, WorkerConfig())
    router = app.amqp.router
    assert router.route({}, RUN_JOB)["queue"].name == RETRAINING_QUEUE
    for name in (RUN_CHECK, RENDER_CHECK_PAGE, DISPATCH_DUE, RECONCILE):
        assert router.route({}, name)["queue"].name == CHECKS_QUEUE, name


def test_a_check_page_is_rendered_after_waiting_checks(settings, monkeypatch):
    """The page task goes to the checks queue at Redis priority 9 (checks are sent at 0, the
    first served), under the checks' hard time limit."""
    app = _app(settings, WorkerConfig(check_time_limit=321))
    assert app.tasks[RENDER_CHECK_PAGE].time_limit == 321
    publisher = CeleryPublisher(settings)
    sent = []
    monkeypatch.setattr(publisher.app, "send_task", lambda name, **kw: sent.append((name, kw)))
    publisher.publish_check_page("churn", "c1")
    name, options = sent[0]
    assert (name, options["args"], options["queue"]) == (
        RENDER_CHECK_PAGE,
        ["churn", "c1"],
        "checks",
    )
    assert options["priority"] == 9


def test_a_worker_without_queue_options_consumes_both_queues(settings):
    """``celery -A workers.app worker`` with no -Q consumes what task_queues declares."""
    app = _app(settings, WorkerConfig())
    declared = {queue.name: queue for queue in app.conf.task_queues}
    assert set(declared) == {RETRAINING_QUEUE, CHECKS_QUEUE}
    assert set(app.amqp.queues.consume_from) == {RETRAINING_QUEUE, CHECKS_QUEUE}
    for name, queue in declared.items():
        # what Celery creates for a routed name by itself: publishers of an app without the
        # declaration (an older process) and this worker meet on the same exchange and key
        exchange = queue.exchange
        assert (exchange.name, exchange.type, queue.routing_key) == (name, "direct", name)
    routed = {
        name: app.amqp.router.route({}, task)["queue"]
        for name, task in ((RETRAINING_QUEUE, RUN_JOB), (CHECKS_QUEUE, RUN_CHECK))
    }
    assert all(routed[name] is app.amqp.queues[name] for name in declared)


def test_beat_sends_the_dispatcher_and_the_reconciler_every_interval(settings):
    app = _app(settings, WorkerConfig.from_env({"RETRAINING_DISPATCH_INTERVAL": "15"}))
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {DISPATCH_DUE, RECONCILE}
    assert all(entry["schedule"] == 15 for entry in schedule.values())
    # a dispatch nobody ran within its interval is dropped, not piled up behind the next one
    assert all(entry["options"]["expires"] == 15 for entry in schedule.values())
    assert beat_schedule(60.0)["dispatch-due-work"]["schedule"] == 60.0


def test_publisher_needs_no_broker_in_the_environment(settings, monkeypatch):
    """The Python API passes its settings explicitly; REDIS_URL need not be in os.environ."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    publisher = CeleryPublisher(settings)
    try:
        assert publisher.app.conf.broker_url == REDIS
    finally:
        publisher.close()


def test_retrain_worker_command(monkeypatch):
    executed = []
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "execv", lambda path, argv: executed.append(argv))
    retraining.cli.main(["worker", "--pool", "solo", "--hostname", "w2@%h"])
    (argv,) = executed
    assert argv[1:5] == ["-m", "celery", "-A", "workers.app"]
    assert argv[5] == "worker"
    assert argv[argv.index("--queues") + 1] == f"{RETRAINING_QUEUE},{CHECKS_QUEUE}"
    assert argv[argv.index("--hostname") + 1] == "w2@%h"
    assert argv[argv.index("--pool") + 1] == "solo"
    assert "--events" in argv  # Flower sees the tasks
    # one OpenMP thread per training: a worker runs as many trainings as it has processes
    assert os.environ["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize(
    "passthrough",
    [
        ["--autoscale", "4,1"],
        ["--max-tasks-per-child", "10", "-O", "fair"],
        ["--autoscale=4,1", "--without-gossip", "-Q", "checks"],
    ],
)
def test_retrain_worker_passes_other_options_to_celery(monkeypatch, passthrough):
    executed = []
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setattr(os, "execv", lambda path, argv: executed.append(argv))
    retraining.cli.main(["worker", "--pool", "solo", *passthrough, "--loglevel", "DEBUG"])
    (argv,) = executed
    arguments = argv[argv.index("worker") :]
    # ours keep their meaning and defaults; the rest follows in the order given, last, so that
    # Celery (which keeps the last of a repeated option) takes a user's -Q over our --queues
    assert arguments[-len(passthrough) :] == passthrough
    assert arguments[arguments.index("--loglevel") + 1] == "DEBUG"
    assert arguments[arguments.index("--pool") + 1] == "solo"
    assert arguments[arguments.index("--queues") + 1] == f"{RETRAINING_QUEUE},{CHECKS_QUEUE}"
    assert "--events" in arguments


def test_worker_arguments_without_passthrough_are_the_defaults():
    args = retraining.cli._parser().parse_args(["worker"])
    assert retraining.cli.worker_arguments(args) == [
        "worker",
        "--queues",
        f"{RETRAINING_QUEUE},{CHECKS_QUEUE}",
        "--loglevel",
        "INFO",
        "--events",
    ]


def test_retrain_worker_does_not_abbreviate_its_options(monkeypatch):
    """``--q`` would otherwise be taken for --queues instead of going to Celery."""
    executed = []
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setattr(os, "execv", lambda path, argv: executed.append(argv))
    retraining.cli.main(["worker", "--conc", "3"])
    (argv,) = executed
    assert argv[-2:] == ["--conc", "3"] and "--concurrency" not in argv


@pytest.mark.parametrize(
    "argv",
    [
        ["beat", "--autoscale", "4,1"],
        ["flower", "--max-tasks-per-child", "10"],
        ["migrate", "-O", "fair"],
        ["api", "--bogus"],
    ],
)
def test_other_commands_refuse_unknown_options(monkeypatch, capsys, argv):
    executed = []
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setattr(os, "execv", lambda path, argv: executed.append(argv))
    with pytest.raises(SystemExit) as exited:
        retraining.cli.main(argv)
    assert exited.value.code == 2
    assert f"unrecognized arguments: {' '.join(argv[1:])}" in capsys.readouterr().err
    assert not executed


def test_retrain_worker_keeps_a_configured_thread_count(monkeypatch):
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setattr(os, "execv", lambda path, argv: None)
    retraining.cli.main(["worker"])
    assert os.environ["OMP_NUM_THREADS"] == "4"
