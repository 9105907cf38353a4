"""Cron expressions in a time zone, by croniter, with one rule for daylight-saving changes.

A wall-clock time that a spring change skips runs once, at the first instant after the gap
(croniter's choice: 02:00 in New York on the day clocks go forward runs at 03:00 EDT). A
wall-clock time that an autumn change repeats runs once, at its first occurrence: croniter
would return both, so the second (``fold=1``) is skipped here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Minutes are the dispatcher's resolution: seconds (a sixth field) and years are refused.
CRON_FIELDS = 5


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable five-field cron expression, or None."""
    from croniter import CroniterError, croniter

    if len(expression.split()) != CRON_FIELDS:
        return (
            f"{expression!r} is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week)"
        )
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression"
    try:  # a valid expression can still name a date that never comes (30 February)
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterError, ValueError) as exc:
        return f"{expression!r} never runs ({exc})"
    return None


def next_cron_time(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``expression`` names in ``timezone`` (UTC)."""
    from croniter import croniter

    zone = ZoneInfo(timezone)
    times = croniter(expression, after.astimezone(zone))
    while True:
        candidate: datetime = times.get_next(datetime)
        if not _second_pass_of_a_repeated_time(candidate, zone):
            return candidate.astimezone(UTC)


def _second_pass_of_a_repeated_time(local: datetime, zone: ZoneInfo) -> bool:
    """True for the later of two instants with the same wall-clock time (an autumn change)."""
    if not local.fold:
        return False
    naive = local.replace(tzinfo=None)
    first = naive.replace(tzinfo=zone, fold=0)
    return first.utcoffset() != local.replace(tzinfo=zone).utcoffset()
