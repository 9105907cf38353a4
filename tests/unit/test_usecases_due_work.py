"""Start what is due (scheduled retrainings, monitoring checks) and the loop that does it.

Claiming each due run once is ``shared.dispatch``'s (tests/unit/test_dispatch.py); here:
what each claimed run starts, that one bad model never stops the others, and the Ticker.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from shared.config import RetrainingConfig
from shared.dispatch import WorkKind
from shared.enums import RetrainingTrigger, Status
from shared.usecases.due_work import Started, Ticker, start_due_work

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
DUE = NOW - timedelta(hours=1)
WAIT = 10  # seconds: the most a Ticker test waits for something that takes milliseconds


class RecordingPublisher:
    def __init__(self, broken_checks_of: frozenset[str] = frozenset()) -> None:
        self.pages: list[tuple[str, str]] = []
        self.broken_checks_of = broken_checks_of
        self.retrainings: list[tuple[str, str]] = []
        self.checks: list[tuple[str, str, bool]] = []

    def publish_retraining(self, job_id: str, model_name: str) -> None:
        self.retrainings.append((job_id, model_name))

    def publish_check(self, model_name: str, check_id: str, retrain_if_needed: bool) -> None:
        if model_name in self.broken_checks_of:
            raise ConnectionError("broker down")
        self.checks.append((model_name, check_id, retrain_if_needed))

    def publish_check_page(self, model_name: str, check_id: str) -> None:
        self.pages.append((model_name, check_id))

    def close(self) -> None:
        pass


def scheduled(runtime, name: str, due: datetime = DUE) -> None:
    config = RetrainingConfig(model_name=name, schedule_enabled=True, schedule_interval_days=7)
    runtime.models.save_config(config, {"name": name})
    runtime.models.set_schedule(name, due)


def monitored(runtime, name: str, due: datetime = DUE) -> None:
    runtime.models.save_config(RetrainingConfig(model_name=name), {"name": name})
    runtime.models.set_monitoring(name, 300, due)


def test_a_due_schedule_submits_a_scheduled_retraining(runtime):
    scheduled(runtime, "a")
    publisher = RecordingPublisher()
    (started,) = start_due_work(runtime, publisher, NOW)
    assert (started.work.model_name, started.work.kind) == ("a", WorkKind.SCHEDULED_RETRAINING)
    assert started.check_id is None
    job = runtime.jobs.get(started.job_id)
    assert (job.status, job.trigger) == (Status.PENDING, RetrainingTrigger.SCHEDULED)
    assert job.reason == f"scheduled run due at {DUE.isoformat()}"
    assert publisher.retrainings == [(job.job_id, "a")]
    assert start_due_work(runtime, publisher, NOW) == []  # claimed: not started twice


def test_a_due_monitoring_check_is_requested_to_retrain_if_needed(runtime):
    monitored(runtime, "b")
    publisher = RecordingPublisher()
    (started,) = start_due_work(runtime, publisher, NOW)
    assert started.work.kind is WorkKind.MONITORING_CHECK and started.job_id is None
    check = runtime.checks.get(started.check_id)
    assert (check.model_name, check.status) == ("b", Status.PENDING)
    assert publisher.checks == [("b", check.check_id, True)]
    assert runtime.models.get("b").monitoring_next_run_at == NOW + timedelta(seconds=300)


def test_a_scheduled_run_while_a_job_is_active_starts_that_job_not_another(runtime):
    scheduled(runtime, "a")
    active, _ = runtime.jobs.create("a", RetrainingTrigger.MANUAL, "already running")
    runtime.jobs.claim(active.job_id)
    publisher = RecordingPublisher()
    (started,) = start_due_work(runtime, publisher, NOW)
    assert started.job_id == active.job_id
    assert publisher.retrainings == []
    assert len(runtime.jobs.list("a")) == 1
    assert runtime.models.get("a").schedule_next_run_at == DUE + timedelta(days=7)


def test_one_bad_model_never_stops_the_others(runtime):
    for name in ("a", "b"):
        monitored(runtime, name)
    scheduled(runtime, "c")
    publisher = RecordingPublisher(broken_checks_of=frozenset({"a"}))

    started = start_due_work(runtime, publisher, NOW)
    by_model = {s.work.model_name: s for s in started}
    assert set(by_model) == {"a", "b", "c"}
    assert by_model["a"] == Started(by_model["a"].work)  # neither a job nor a check
    (lost,) = runtime.checks.list("a", status=None)
    assert (lost.status, lost.error) == (Status.FAILED, "could not be queued: broker down")
    assert by_model["b"].check_id is not None and by_model["c"].job_id is not None
    assert [c[0] for c in publisher.checks] == ["b"]
    assert [r[1] for r in publisher.retrainings] == ["c"]


def test_only_the_named_models_are_started(runtime):
    for name in ("a", "b"):
        scheduled(runtime, name)
    publisher = RecordingPublisher()
    assert [s.work.model_name for s in start_due_work(runtime, publisher, NOW, ["b"])] == ["b"]
    assert runtime.jobs.list("a") == []
    assert [s.work.model_name for s in start_due_work(runtime, publisher, NOW)] == ["a"]


def test_nothing_due_starts_nothing(runtime):
    scheduled(runtime, "a", due=NOW + timedelta(seconds=1))
    publisher = RecordingPublisher()
    assert start_due_work(runtime, publisher, NOW) == []
    assert publisher.retrainings == [] and runtime.jobs.list() == []


def test_the_ticker_ticks_until_stopped_and_outlives_failed_ticks():
    calls: list[int] = []
    enough = threading.Event()

    def tick() -> None:
        calls.append(len(calls))
        if len(calls) <= 2:
            raise RuntimeError("database hiccup")
        if len(calls) >= 4:
            enough.set()

    ticker = Ticker(tick, interval=0.01, name="test-ticker")
    assert not ticker.running
    ticker.start()
    try:
        assert enough.wait(WAIT), f"only {len(calls)} ticks"
        assert ticker.running
    finally:
        ticker.stop(timeout=WAIT)
    assert not ticker.running
    ticked = len(calls)
    threading.Event().wait(0.05)
    assert len(calls) == ticked  # no tick after stop


def wait_until_stopped(ticker: Ticker) -> None:
    deadline = threading.Event()
    for _ in range(WAIT * 100):
        if not ticker.running:
            return
        deadline.wait(0.01)


def test_a_ticker_stopped_from_its_own_tick_ends():
    calls: list[int] = []

    def tick() -> None:
        calls.append(1)
        ticker.stop(timeout=WAIT)  # joining itself would deadlock

    ticker = Ticker(tick, interval=0.01, name="self-stopping")
    ticker.start()
    wait_until_stopped(ticker)
    assert not ticker.running
    assert calls == [1]


def test_a_ticker_waits_its_interval_between_ticks():
    ticked = threading.Event()
    calls: list[int] = []

    def tick() -> None:
        calls.append(1)
        ticked.set()

    ticker = Ticker(tick, interval=60, name="slow-ticker")
    ticker.start()
    try:
        assert ticked.wait(WAIT)  # the first tick at once
        threading.Event().wait(0.1)
        assert calls == [1]  # the next only after the interval
    finally:
        ticker.stop(timeout=WAIT)
    assert not ticker.running  # stop does not wait out the interval
