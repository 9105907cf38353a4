"""When a periodic retraining is next due: the one place that computes it.

A schedule is one of:

- ``schedule_cron``: a cron expression;
- ``schedule_interval_hours``: every N hours at ``schedule_time``'s minute, counted from its
  hour (N divides 24, so the times are the same every day);
- ``schedule_day_of_week``: weekly on that day at ``schedule_time``;
- otherwise every ``schedule_interval_days`` days at ``schedule_time``.

Every due time is wall-clock time in ``schedule_timezone`` (UTC by default), computed for its
own date by croniter (``shared.cron``), never by adding hours to the previous due time: that
is how a daily 02:00 run in New York moved to 03:00 at the spring change and stayed there. A
time the spring change skips runs once, just after the gap; a time the autumn change repeats
runs once, the first time. A run missed while nothing was running is run once, then the
cadence resumes: never once per missed period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.config import DAYS_OF_WEEK, RetrainingConfig
from shared.cron import next_cron_time

_ONE_SECOND = timedelta(seconds=1)


def cron_expression(config: RetrainingConfig) -> str:
    """The schedule as a cron expression (an interval of days runs daily at its time)."""
    if config.schedule_cron is not None:
        return config.schedule_cron
    hour, minute = (int(part) for part in config.schedule_time.split(":"))
    if config.schedule_interval_hours is not None:
        step = config.schedule_interval_hours
        hours = sorted((hour + step * k) % 24 for k in range(24 // step))
        return f"{minute} {','.join(map(str, hours))} * * *"
    if config.schedule_day_of_week is not None:
        # cron counts the week from Sunday (0); Python from Monday (0)
        weekday = (DAYS_OF_WEEK.index(config.schedule_day_of_week) + 1) % 7
        return f"{minute} {hour} * * {weekday}"
    return f"{minute} {hour} * * *"


def _in_days(config: RetrainingConfig) -> bool:
    """An interval of days: the one cadence cron cannot say, counted from the last run."""
    return (
        config.schedule_cron is None
        and config.schedule_interval_hours is None
        and config.schedule_day_of_week is None
    )


def first_run_after(config: RetrainingConfig, now: datetime) -> datetime:
    """The first due time strictly after ``now`` (UTC)."""
    plain = _by_the_calendar(config, now)
    if plain is not None:
        return plain
    return next_cron_time(cron_expression(config), config.schedule_timezone, now)


def _by_the_calendar(config: RetrainingConfig, now: datetime) -> datetime | None:
    """A daily or weekly run found by date arithmetic, when its wall-clock time exists once
    that day; None near a daylight-saving change, or for cron and hours: croniter decides.

    The same answer as croniter's (a time that exists once has one instant), several times
    faster: the dispatcher computes one for every run it claims.
    """
    if config.schedule_cron is not None or config.schedule_interval_hours is not None:
        return None
    zone = ZoneInfo(config.schedule_timezone)
    hour, minute = (int(part) for part in config.schedule_time.split(":"))
    day, step = now.astimezone(zone).date(), timedelta(days=1)
    if config.schedule_day_of_week is not None:
        day += timedelta(days=(DAYS_OF_WEEK.index(config.schedule_day_of_week) - day.weekday()) % 7)
        step = timedelta(days=7)
    for _ in range(2):  # today's (this week's) time, else the next one
        candidate = _exists_once(day, hour, minute, zone)
        if candidate is None:
            return None
        if candidate > now:
            return candidate
        day += step
    return None


def _exists_once(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime | None:
    """``hour:minute`` on local date ``day`` in UTC, if that wall-clock time is neither skipped
    nor repeated by a daylight-saving change; else None."""
    local = datetime.combine(day, time(hour, minute), tzinfo=zone)
    if local.replace(fold=1).utcoffset() != local.utcoffset():  # repeated, or in the gap
        return None
    return local.astimezone(UTC)


def next_run_after_due(config: RetrainingConfig, due: datetime, now: datetime) -> datetime:
    """The due time following a run that was due at ``due`` and started at ``now``."""
    if not _in_days(config):
        return first_run_after(config, now)
    # Stay on the cadence: after missed periods, the next run is the first one still ahead.
    # Each run is the wall-clock time on its own date, never the last one plus N days: a run
    # moved by a spring change (02:00 -> 03:00) goes back to 02:00 the next time.
    zone = ZoneInfo(config.schedule_timezone)
    local = due.astimezone(zone)
    daily, extra = cron_expression(config), timedelta(0)
    if _daily_run_on(daily, zone, local.date()) != due:  # set off the schedule's time: keep it
        daily = f"{local.minute} {local.hour} * * *"
        extra = timedelta(seconds=local.second, microseconds=local.microsecond)
    day, step = local.date(), timedelta(days=config.schedule_interval_days)
    while True:
        day += step
        candidate = _daily_run_on(daily, zone, day) + extra
        if candidate > now:
            return candidate


def _daily_run_on(daily: str, zone: ZoneInfo, day: date) -> datetime:
    """A daily cron expression's run on local date ``day`` (after the gap if it is skipped)."""
    minute, hour = (int(part) for part in daily.split()[:2])
    plain = _exists_once(day, hour, minute, zone)
    if plain is not None:
        return plain
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    return next_cron_time(daily, zone.key, midnight - _ONE_SECOND)


def next_scheduled_run(
    config: RetrainingConfig, kept: datetime | None, now: datetime
) -> datetime | None:
    """The one rule for a model's next scheduled run when its configuration is (re)stored.

    None while the schedule is off. A due time set earlier is kept while it still fits the
    schedule, so neither a restart nor an unrelated change brings the next run forward or
    drops a missed one; otherwise the first run after ``now``.
    """
    if not config.schedule_enabled:
        return None
    if kept is not None and still_fits(config, kept, now):
        return kept
    return first_run_after(config, now)


def still_fits(config: RetrainingConfig, due: datetime, now: datetime) -> bool:
    """Whether a due time set earlier still belongs to ``config``'s cadence.

    It must be a time the schedule names (``schedule_time`` on a day, on
    ``schedule_day_of_week`` if set, a cron time, ...) and at most one period ahead of ``now``.
    A past due time fits: it is a missed run, still to be run once.
    """
    due = due.astimezone(UTC)  # arithmetic on a local time would be wall-clock arithmetic
    if first_run_after(config, due - _ONE_SECOND) != due:
        return False
    if _in_days(config):
        return due <= now + timedelta(days=config.schedule_interval_days)
    return due <= first_run_after(config, now)
