"""Schedules keep wall-clock time across both daylight-saving changes, for every kind of
schedule: daily, weekly, cron and hourly. A skipped time runs once, just after the gap; a
repeated time runs once, the first time.

America/New_York in 2026: clocks go forward on Sunday 8 March at 02:00 (to 03:00) and back
on Sunday 1 November at 02:00 (to 01:00), so 01:00-01:59 happens twice that day.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.config import RetrainingConfig
from shared.schedule import first_run_after, next_run_after_due, next_scheduled_run, still_fits

NY = ZoneInfo("America/New_York")
SPRING, AUTUMN = datetime(2026, 3, 8).date(), datetime(2026, 11, 1).date()


def schedule(**kwargs) -> RetrainingConfig:
    return RetrainingConfig(schedule_enabled=True, schedule_timezone="America/New_York", **kwargs)


def runs(config: RetrainingConfig, start: datetime, count: int) -> list[datetime]:
    """Due times as the dispatcher sees them: the first, then each run's following one."""
    due = first_run_after(config, start)
    out = [due]
    for _ in range(count - 1):
        due = next_run_after_due(config, due, due + timedelta(seconds=30))
        out.append(due)
    assert out == sorted(set(out)), "due times must strictly increase"
    return out


def wall(times: list[datetime]) -> list[str]:
    return [t.astimezone(NY).strftime("%m-%d %H:%M %Z") for t in times]


def test_a_daily_run_at_0200_goes_back_to_0200_after_the_spring_change():
    # The bug: the run skipped to 03:00 on the 8th, then every later run stayed at 03:00.
    times = runs(schedule(schedule_interval_days=1), datetime(2026, 3, 6, 12, tzinfo=NY), 5)
    assert wall(times) == [
        "03-07 02:00 EST",
        "03-08 03:00 EDT",  # 02:00 does not exist that day: once, just after the gap
        "03-09 02:00 EDT",
        "03-10 02:00 EDT",
        "03-11 02:00 EDT",
    ]


def test_a_daily_run_in_the_repeated_hour_runs_once_at_the_autumn_change():
    config = schedule(schedule_interval_days=1, schedule_time="01:30")
    times = runs(config, datetime(2026, 10, 30, 12, tzinfo=NY), 4)
    assert wall(times) == [
        "10-31 01:30 EDT",
        "11-01 01:30 EDT",  # not again at 01:30 EST an hour later
        "11-02 01:30 EST",
        "11-03 01:30 EST",
    ]


def test_an_interval_of_days_keeps_its_time_across_both_changes():
    config = schedule(schedule_interval_days=3)
    spring = runs(config, datetime(2026, 3, 4, 12, tzinfo=NY), 4)
    assert wall(spring) == [
        "03-05 02:00 EST",
        "03-08 03:00 EDT",
        "03-11 02:00 EDT",
        "03-14 02:00 EDT",
    ]
    autumn = runs(config, datetime(2026, 10, 28, 12, tzinfo=NY), 3)
    assert wall(autumn) == ["10-29 02:00 EDT", "11-01 02:00 EST", "11-04 02:00 EST"]


@pytest.mark.parametrize(
    "config",
    [
        schedule(schedule_day_of_week="sunday", schedule_time="02:00"),
        schedule(schedule_cron="0 2 * * 0"),  # the specification's CI example
    ],
    ids=["day_of_week", "cron"],
)
def test_a_weekly_sunday_0200_run_across_the_spring_change(config):
    times = runs(config, datetime(2026, 2, 27, tzinfo=NY), 4)
    assert wall(times) == [
        "03-01 02:00 EST",
        "03-08 03:00 EDT",
        "03-15 02:00 EDT",
        "03-22 02:00 EDT",
    ]


@pytest.mark.parametrize(
    "config",
    [
        schedule(schedule_day_of_week="sunday", schedule_time="01:30"),
        schedule(schedule_cron="30 1 * * sun"),
    ],
    ids=["day_of_week", "cron"],
)
def test_a_weekly_run_in_the_repeated_hour_runs_once(config):
    times = runs(config, datetime(2026, 10, 24, tzinfo=NY), 3)
    assert wall(times) == ["10-25 01:30 EDT", "11-01 01:30 EDT", "11-08 01:30 EST"]


def test_a_cron_expression_every_30_minutes_across_both_changes():
    every_half_hour = schedule(schedule_cron="*/30 * * * *")
    spring = runs(every_half_hour, datetime(2026, 3, 8, 1, 15, tzinfo=NY), 4)
    assert wall(spring) == [
        "03-08 01:30 EST",
        "03-08 03:00 EDT",
        "03-08 03:30 EDT",
        "03-08 04:00 EDT",
    ]
    autumn = runs(every_half_hour, datetime(2026, 11, 1, 0, 45, tzinfo=NY), 5)
    # 01:00 and 01:30 once each (EDT), then straight on to 02:00 EST
    assert wall(autumn) == [
        "11-01 01:00 EDT",
        "11-01 01:30 EDT",
        "11-01 02:00 EST",
        "11-01 02:30 EST",
        "11-01 03:00 EST",
    ]


def test_an_hourly_schedule_runs_each_wall_clock_hour_once_on_both_change_days():
    hourly = schedule(schedule_interval_hours=1, schedule_time="00:10")
    spring = runs(hourly, datetime(2026, 3, 8, tzinfo=NY), 23)
    assert {t.astimezone(NY).date() for t in spring} == {SPRING}
    # 02:10 does not exist: that run and 03:10's are one run
    assert [t.astimezone(NY).strftime("%H:%M") for t in spring[:4]] == [
        "00:10",
        "01:10",
        "03:10",
        "04:10",
    ]
    autumn = runs(hourly, datetime(2026, 11, 1, tzinfo=NY), 24)
    hours = [
        t.astimezone(NY).strftime("%H:%M") for t in autumn if t.astimezone(NY).date() == AUTUMN
    ]
    assert hours == [f"{h:02d}:10" for h in range(24)]  # 01:10 once, not twice


def test_every_six_hours_keeps_its_wall_clock_times():
    config = schedule(schedule_interval_hours=6, schedule_time="02:00")
    times = runs(config, datetime(2026, 3, 7, 12, tzinfo=NY), 6)
    assert wall(times) == [
        "03-07 14:00 EST",
        "03-07 20:00 EST",
        "03-08 03:00 EDT",
        "03-08 08:00 EDT",
        "03-08 14:00 EDT",
        "03-08 20:00 EDT",
    ]


def test_a_missed_hourly_run_is_run_once_then_the_next_hour():
    config = schedule(schedule_interval_hours=1, schedule_time="00:00")
    due = datetime(2026, 3, 1, 5, tzinfo=UTC)
    now = due + timedelta(days=2, minutes=20)
    assert next_run_after_due(config, due, now) == now.replace(minute=0) + timedelta(hours=1)


def test_a_due_time_moved_by_the_spring_gap_still_fits_its_schedule():
    # 03:00 EDT on the 8th is the daily 02:00 run of that day: kept, not recomputed
    config = schedule(schedule_interval_days=1)
    moved = datetime(2026, 3, 8, 3, tzinfo=NY)
    assert still_fits(config, moved, moved - timedelta(hours=12))
    assert next_scheduled_run(config, moved, moved - timedelta(hours=12)) == moved
    assert not still_fits(config, datetime(2026, 3, 9, 3, tzinfo=NY), moved)  # 03:00 is not it


def test_a_kept_cron_time_fits_only_its_own_expression_and_one_period_ahead():
    config = schedule(schedule_cron="15 */4 * * *")
    now = datetime(2026, 6, 1, 9, tzinfo=NY)
    assert still_fits(config, datetime(2026, 6, 1, 12, 15, tzinfo=NY), now)
    assert still_fits(config, datetime(2026, 5, 20, 0, 15, tzinfo=NY), now)  # missed: run once
    assert not still_fits(config, datetime(2026, 6, 1, 12, 0, tzinfo=NY), now)  # not a cron time
    assert not still_fits(config, datetime(2026, 6, 1, 16, 15, tzinfo=NY), now)  # a period on


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule_cron": "0 2 * *"}, "schedule_cron: '0 2 * *' is not a cron expression of five"),
        ({"schedule_cron": "0 0 * * * *"}, "is not a cron expression of five fields"),
        ({"schedule_cron": "61 * * * *"}, "schedule_cron: '61 * * * *' is not a valid cron"),
        ({"schedule_cron": "0 0 30 2 *"}, "schedule_cron: '0 0 30 2 *' never runs"),
        ({"schedule_cron": 7}, "schedule_cron: must be a string or None"),
        ({"schedule_interval_hours": 5}, "schedule_interval_hours: must divide a day evenly"),
        ({"schedule_interval_hours": 0}, "schedule_interval_hours: must be at least 1"),
        ({"schedule_interval_hours": 24}, "schedule_interval_hours: must be between 1 and 12"),
        (
            {"schedule_cron": "0 2 * * *", "schedule_day_of_week": "monday"},
            "schedule_cron: cannot be combined with schedule_day_of_week",
        ),
        (
            {"schedule_interval_hours": 6, "schedule_day_of_week": "monday"},
            "schedule_interval_hours: cannot be combined with schedule_day_of_week",
        ),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        RetrainingConfig(**fields)


@pytest.mark.parametrize(
    "zone", ["UTC", "America/New_York", "Europe/Paris", "Australia/Lord_Howe", "America/Santiago"]
)
@pytest.mark.parametrize(
    "fields",
    [
        {"schedule_time": "02:30"},
        {"schedule_time": "00:00"},
        {"schedule_time": "01:15", "schedule_day_of_week": "sunday"},
    ],
)
def test_the_calendar_shortcut_agrees_with_croniter_all_year(zone, fields):
    """Daily and weekly times come from date arithmetic where they exist once: the same
    instants croniter gives, every few hours of a year with two changes."""
    from shared.cron import next_cron_time
    from shared.schedule import cron_expression

    config = RetrainingConfig(schedule_enabled=True, schedule_timezone=zone, **fields)
    expression = cron_expression(config)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    while now < datetime(2027, 1, 1, tzinfo=UTC):
        assert first_run_after(config, now) == next_cron_time(expression, zone, now), now
        now += timedelta(hours=19, minutes=13)
