"""The product's clock: now, in UTC. A backtest replays history on a simulated clock.

Every decision that depends on the time (a training window, a cooldown, a due schedule) and
every timestamp the product writes reads ``utcnow()``. ``simulated_clock`` sets it for the
current context only (a ``ContextVar``): other threads and requests keep the real clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

_simulated: ContextVar[datetime | None] = ContextVar("retraining_simulated_now", default=None)


def utcnow() -> datetime:
    return _simulated.get() or datetime.now(UTC)


@contextlib.contextmanager
def simulated_clock() -> Iterator[SimulatedClock]:
    """A clock for this context that stands still until ``set`` moves it."""
    clock = SimulatedClock()
    token = _simulated.set(datetime.now(UTC))
    try:
        yield clock
    finally:
        _simulated.reset(token)


class SimulatedClock:
    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware moment")
        _simulated.set(moment.astimezone(UTC))

    @property
    def now(self) -> datetime:
        return utcnow()
