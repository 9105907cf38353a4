"""The core's errors: one base, four kinds, each mapped to one HTTP status by the API."""

from __future__ import annotations


class RetrainingError(Exception):
    """Anything the core refuses or cannot do, with a message a person can act on."""

    title: str | None = None  # a short name for the kind, where a person reads one first


class NotFound(RetrainingError, KeyError):
    """No such model, job, check, prediction or stored blob (a ``KeyError``, as dict look-ups)."""

    def __str__(self) -> str:  # KeyError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class Conflict(RetrainingError):
    """The state does not allow it yet (the message says what to do first)."""


class Invalid(RetrainingError, ValueError):
    """A value is not acceptable; the message starts with the field's name."""


class Unavailable(RetrainingError):
    """A backing service (database, broker, MLflow) cannot be reached now."""


def explain(exc: BaseException) -> str:
    """A failed job's or check's error as a person should read it."""
    if isinstance(exc, RetrainingError | ValueError):  # ours, or a refusal: the message says it
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
