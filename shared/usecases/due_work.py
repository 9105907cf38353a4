"""Start what is due (periodic retrainings, monitoring checks), and the loop that does it.

Beat's dispatcher task, the embedded API's dispatcher thread and the Python API's monitoring
thread all start due work here; each due run is claimed once (``shared.dispatch``), so any
number of them may run side by side.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.breaker import paused_because
from shared.clock import utcnow
from shared.dispatch import DueWork, WorkKind, claim_due_work
from shared.enums import RetrainingTrigger
from shared.runtime import Runtime
from shared.usecases.checks import publish_new_check
from shared.usecases.ports import Publisher
from shared.usecases.retraining import submit_retraining

logger = logging.getLogger("retraining.usecases")


@dataclass(frozen=True)
class Started:
    """A due run and what it started: a job, or a requested check (or neither: it failed)."""

    work: DueWork
    job_id: str | None = None
    check_id: str | None = None
    skipped: str | None = None  # why nothing was started (automatic retraining paused)


def start_due_work(
    runtime: Runtime,
    publisher: Publisher,
    now: datetime | None = None,
    model_names: Sequence[str] | None = None,
) -> list[Started]:
    """Claim every due run and start it; one bad model never stops the others."""
    started = []
    names = None if model_names is None else list(model_names)
    for work in claim_due_work(runtime, now or utcnow(), names):
        try:
            started.append(_start(runtime, publisher, work))
        except Exception:
            logger.exception("could not start the %s of %s", work.kind, work.model_name)
            started.append(Started(work))
    return started


def _start(runtime: Runtime, publisher: Publisher, work: DueWork) -> Started:
    if work.kind is WorkKind.SCHEDULED_RETRAINING:
        reason = f"scheduled run due at {work.due_at.isoformat()}"
        paused = paused_because(runtime, runtime.models.get(work.model_name))
        if paused is not None:
            logger.warning("%s: %s skipped: %s", work.model_name, reason, paused)
            runtime.models.record(
                work.model_name, "scheduled_run_skipped", {"due_at": reason, "reason": paused}
            )
            return Started(work, skipped=paused)
        job, _ = submit_retraining(
            runtime, publisher, work.model_name, RetrainingTrigger.SCHEDULED, reason
        )
        return Started(work, job_id=job.job_id)
    check = publish_new_check(runtime, publisher, work.model_name, retrain_if_needed=True)
    return Started(work, check_id=check.check_id)


class Ticker:
    """Calls ``tick`` every ``interval`` seconds on a thread of its own, until stopped; the
    loop outlives any one failed tick (a database hiccup, a broken model)."""

    def __init__(self, tick: Callable[[], object], interval: float, name: str) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:
                logger.exception("%s: a tick failed", self._thread.name)
            self._stop.wait(self._interval)
