"""The core's errors: one base, four kinds, each mapped to one HTTP status by the API."""

from __future__ import annotations


class RetrainingError(Exception):
    """Anything the core refuses or cannot do, with a message a person can act on."""


class NotFound(RetrainingError, LookupError):
    """No such model, job, check, prediction or stored blob."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class Conflict(RetrainingError):
    """The state does not allow it yet (the message says what to do first)."""


class Invalid(RetrainingError, ValueError):
    """A value is not acceptable; the message starts with the field's name."""


class Unavailable(RetrainingError):
    """A backing service (database, broker, MLflow) cannot be reached now."""
