"""When a periodic retraining is next due.

With ``schedule_day_of_week`` the cadence is weekly on that day at ``schedule_time``; without
it, every ``schedule_interval_days`` at ``schedule_time``. Times are wall-clock in
``schedule_timezone`` (UTC by default). A run missed while nothing was running is run once,
then the cadence resumes from the present: never once per missed period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.config import DAYS_OF_WEEK, RetrainingConfig


def first_run_after(config: RetrainingConfig, now: datetime) -> datetime:
    """The first due time strictly after ``now``."""
    local = now.astimezone(ZoneInfo(config.schedule_timezone))
    hour, minute = (int(part) for part in config.schedule_time.split(":"))
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if config.schedule_day_of_week:
        days_ahead = (DAYS_OF_WEEK.index(config.schedule_day_of_week) - local.weekday()) % 7
        candidate += timedelta(days=days_ahead)
        step = timedelta(days=7)
    else:
        step = timedelta(days=1)
    while candidate <= local:
        candidate += step
    return candidate.astimezone(UTC)


def next_run_after_due(config: RetrainingConfig, due: datetime, now: datetime) -> datetime:
    """The due time following a run that was due at ``due`` and started at ``now``."""
    if config.schedule_day_of_week:
        return first_run_after(config, now)
    # Stay on the cadence: after missed periods, the next run is the first one still ahead.
    step = timedelta(days=config.schedule_interval_days)
    candidate = due.astimezone(ZoneInfo(config.schedule_timezone)) + step
    while candidate <= now:
        candidate += step
    return candidate.astimezone(UTC)


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

    It must fall at ``schedule_time`` (on ``schedule_day_of_week`` if set) and at most one
    period ahead of ``now``. A past due time fits: it is a missed run, still to be run once.
    """
    local = due.astimezone(ZoneInfo(config.schedule_timezone))
    if local.strftime("%H:%M") != config.schedule_time:
        return False
    if config.schedule_day_of_week:
        weekday = DAYS_OF_WEEK[local.weekday()] == config.schedule_day_of_week
        return weekday and due <= now + timedelta(days=7)
    return due <= now + timedelta(days=config.schedule_interval_days)
