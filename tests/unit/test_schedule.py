"""When a periodic retraining is due: the first run, the next one, and after missed runs."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.config import RetrainingConfig
from shared.schedule import first_run_after, next_run_after_due, still_fits

WEDNESDAY = datetime(2026, 3, 4, tzinfo=UTC)  # 2026-03-04 is a Wednesday


def at(day: datetime, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, second=second)


def weekly(**kwargs) -> RetrainingConfig:
    return RetrainingConfig(schedule_enabled=True, **kwargs)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(WEDNESDAY, 1, 59), at(WEDNESDAY, 2)),
        (at(WEDNESDAY, 2), at(WEDNESDAY + timedelta(days=1), 2)),  # strictly after now
        (at(WEDNESDAY, 2, 0, 1), at(WEDNESDAY + timedelta(days=1), 2)),
        (at(WEDNESDAY, 23, 59), at(WEDNESDAY + timedelta(days=1), 2)),
    ],
)
def test_the_first_run_is_the_next_schedule_time(now, expected):
    due = first_run_after(weekly(schedule_time="02:00"), now)
    assert due == expected
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(WEDNESDAY, 12), datetime(2026, 3, 8, 2, tzinfo=UTC)),
        (datetime(2026, 3, 8, 1, 59, tzinfo=UTC), datetime(2026, 3, 8, 2, tzinfo=UTC)),
        (datetime(2026, 3, 8, 2, tzinfo=UTC), datetime(2026, 3, 15, 2, tzinfo=UTC)),
        (datetime(2026, 3, 8, 3, tzinfo=UTC), datetime(2026, 3, 15, 2, tzinfo=UTC)),
    ],
)
def test_a_day_of_week_schedule_runs_on_that_day(now, expected):
    due = first_run_after(weekly(schedule_day_of_week="sunday", schedule_time="02:00"), now)
    assert due == expected
    assert due.strftime("%A") == "Sunday"


@pytest.mark.parametrize(
    ("day", "utc_hour"), [(datetime(2026, 1, 15, tzinfo=UTC), 1), (WEDNESDAY.replace(month=7), 0)]
)
def test_schedule_time_is_wall_clock_time_in_the_schedule_timezone(day, utc_hour):
    config = weekly(schedule_time="02:00", schedule_timezone="Europe/Paris")
    due = first_run_after(config, at(day, 0) - timedelta(hours=2))
    assert due.hour == utc_hour  # 02:00 in Paris: CET in winter, CEST in summer
    assert due.astimezone(ZoneInfo("Europe/Paris")).hour == 2


def test_a_run_on_time_is_followed_one_interval_later():
    config = weekly(schedule_interval_days=7)
    due = at(WEDNESDAY, 2)
    assert next_run_after_due(config, due, due + timedelta(seconds=30)) == due + timedelta(days=7)


@pytest.mark.parametrize("missed_days", [7, 8, 20, 21, 365])
def test_after_missed_periods_the_next_run_is_the_first_one_ahead_on_the_cadence(missed_days):
    config = weekly(schedule_interval_days=7)
    due = at(WEDNESDAY, 2)
    now = due + timedelta(days=missed_days, hours=8)
    following = next_run_after_due(config, due, now)
    assert now < following <= now + timedelta(days=7)
    # still on the weekly cadence: a multiple of 7 days after the missed due time, at 02:00
    assert (following - due) % timedelta(days=7) == timedelta(0)
    # never a second run within hours of the catch-up (one run for all the missed periods)
    assert following - now > timedelta(hours=12)


def test_after_missed_weeks_a_day_of_week_schedule_resumes_on_its_day():
    config = weekly(schedule_day_of_week="sunday", schedule_time="02:00")
    due = datetime(2026, 3, 8, 2, tzinfo=UTC)
    now = datetime(2026, 3, 25, 9, tzinfo=UTC)  # a Wednesday, three Sundays later
    assert next_run_after_due(config, due, now) == datetime(2026, 3, 29, 2, tzinfo=UTC)


def test_an_interval_keeps_the_wall_clock_time_across_a_daylight_saving_change():
    config = weekly(
        schedule_interval_days=1, schedule_time="04:00", schedule_timezone="Europe/Paris"
    )
    due = datetime(2026, 3, 28, 3, tzinfo=UTC)  # 04:00 CET, the day before clocks go forward
    following = next_run_after_due(config, due, due + timedelta(minutes=1))
    assert following == datetime(2026, 3, 29, 2, tzinfo=UTC)  # 04:00 CEST
    assert following.astimezone(ZoneInfo("Europe/Paris")).hour == 4


def test_a_kept_due_time_fits_only_its_own_schedule():
    config = weekly(schedule_interval_days=7, schedule_time="02:00")
    now = at(WEDNESDAY, 12)
    assert still_fits(config, at(WEDNESDAY + timedelta(days=3), 2), now)
    assert still_fits(config, at(WEDNESDAY - timedelta(days=10), 2), now)  # missed: still to run
    assert not still_fits(config, at(WEDNESDAY + timedelta(days=3), 3), now)  # other time of day
    assert not still_fits(config, at(WEDNESDAY + timedelta(days=9), 2), now)  # beyond one period
    sunday = weekly(schedule_day_of_week="sunday", schedule_time="02:00")
    assert still_fits(sunday, datetime(2026, 3, 8, 2, tzinfo=UTC), now)
    assert not still_fits(sunday, datetime(2026, 3, 7, 2, tzinfo=UTC), now)  # a Saturday
