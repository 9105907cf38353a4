"""The two state machines, each one transition table: retraining jobs and requested checks.

Every status change goes through a repository's conditional UPDATE, whose ``WHERE status``
comes from these tables; nothing else decides which change is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.enums import Status
from shared.errors import Conflict

Transitions = Mapping[Status, frozenset[Status]]

JOB_TRANSITIONS: Transitions = {
    Status.PENDING: frozenset({Status.RUNNING, Status.FAILED}),
    # running -> pending: the reconciler re-queues a job whose worker died
    Status.RUNNING: frozenset({Status.COMPLETED, Status.FAILED, Status.PENDING}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
}

# A check run in one go (the Python API's) is stored completed at once; a requested one is
# pending until a worker starts it, and a check no worker finished in time is failed.
CHECK_TRANSITIONS: Transitions = {
    Status.PENDING: frozenset({Status.RUNNING, Status.FAILED}),
    Status.RUNNING: frozenset({Status.COMPLETED, Status.FAILED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
}


class InvalidTransition(Conflict):
    """A change the table does not allow: a bug in the caller, never a user's mistake."""


def check_transition(table: Transitions, what: str, current: Status, new: Status) -> None:
    if new not in table[current]:
        raise InvalidTransition(f"a {what} cannot go from {current} to {new}")


def statuses_leading_to(table: Transitions, new: Status) -> frozenset[Status]:
    """The statuses from which ``new`` may be reached (the ``WHERE status IN`` of an update)."""
    return frozenset(status for status, targets in table.items() if new in targets)
