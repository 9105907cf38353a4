"""``RetrainingConfig``: the specification's defaults, and an error naming the field for
every value the specification rules out."""

import dataclasses
import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from retraining.scheduler import RetrainingConfig, RetrainingScheduler
from shared.config import CONFIG_FIELDS, FieldRules, check_value
from shared.datasets import filter_training_window
from training.pipeline import TrainingPipeline


def test_defaults_are_the_specifications():
    config = RetrainingConfig(model_name="my_model")
    assert config.performance_threshold == 0.05
    assert config.min_samples_for_check == 100
    assert config.drift_threshold == 0.1
    assert config.drift_alert_threshold == 0.3
    assert config.schedule_enabled is False
    assert config.schedule_interval_days == 7
    assert config.schedule_day_of_week is None
    assert config.schedule_time == "02:00"
    assert config.min_training_samples == 1000
    assert config.training_data_window_days == 30
    assert config.auto_promote is False
    assert config.promotion_min_improvement == 0.01
    assert config.promotion_stage == "Staging"
    assert config.enable_notifications is True
    assert config.notification_email is None


@pytest.mark.parametrize(
    "kwargs",
    [
        # every RetrainingConfig(...) call of the specification, as written
        dict(
            model_name="my_model",
            performance_threshold=0.05,
            drift_threshold=0.1,
            schedule_enabled=True,
            schedule_interval_days=7,
            auto_promote=True,
        ),
        dict(schedule_enabled=True, schedule_interval_days=7, schedule_time="02:00"),
        dict(auto_promote=True, promotion_min_improvement=0.02, promotion_stage="Production"),
        dict(
            schedule_enabled=True,
            schedule_day_of_week="sunday",
            schedule_time="02:00",
            auto_promote=True,
            promotion_min_improvement=0.02,
        ),
        dict(min_training_samples=1000, training_data_window_days=30),
    ],
)
def test_every_config_of_the_specification_is_accepted(kwargs):
    config = RetrainingConfig(**kwargs)
    for name, value in kwargs.items():
        assert getattr(config, name) == value


@pytest.mark.parametrize(
    "name", ["performance_threshold", "drift_threshold", "drift_alert_threshold"]
)
@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0])
def test_thresholds_accept_both_ends_of_zero_to_one(name, value):
    assert getattr(RetrainingConfig(**{name: value}), name) == value


INVALID = [
    # (field, value, words the message must contain)
    ("performance_threshold", -0.01, "at least 0"),
    ("performance_threshold", 1.5, "between 0 and 1"),
    ("performance_threshold", math.nan, "number"),
    ("performance_threshold", "0.05", "number"),
    ("performance_threshold", True, "number"),
    ("drift_threshold", -0.1, "at least 0"),
    ("drift_threshold", 1.0001, "between 0 and 1"),
    ("drift_alert_threshold", -1, "at least 0"),
    ("drift_alert_threshold", 2, "between 0 and 1"),
    ("promotion_min_improvement", -0.01, "at least 0"),
    ("schedule_time", "2am", "HH:MM"),
    ("schedule_time", "24:00", "HH:MM"),
    ("schedule_time", "02:60", "HH:MM"),
    ("schedule_time", "2:00", "HH:MM"),
    ("schedule_time", "02:00:00", "HH:MM"),
    ("schedule_time", 200, "HH:MM"),
    ("schedule_day_of_week", "funday", "monday"),
    ("schedule_day_of_week", "mon", "monday"),
    ("schedule_timezone", "Mars/Olympus_Mons", "time zone"),
    ("model_name", "../x", "safe model name"),
    ("model_name", "a/b", "safe model name"),
    ("model_name", "a..b", "safe model name"),
    ("model_name", "..", "safe model name"),
    ("model_name", "", "safe model name"),
    ("model_name", "my model", "safe model name"),
    ("model_name", ".hidden", "safe model name"),
    ("model_name", "x" * 129, "safe model name"),
    ("model_name", 7, "safe model name"),
    ("min_training_samples", 0, "at least 1"),
    ("min_training_samples", 10.5, "whole number"),
    ("min_samples_for_check", 0, "at least 1"),
    ("schedule_interval_days", 0, "at least 1"),
    ("schedule_interval_days", True, "whole number"),
    ("training_data_window_days", -1, "at least 1"),
    ("schedule_enabled", "yes", "true or false"),
    ("auto_promote", 1, "true or false"),
    ("enable_notifications", None, "true or false"),
    ("promotion_stage", "Prod", "Staging"),
    ("notification_email", "nobody", "e-mail"),
    ("target_column", "", "column name"),
    ("primary_metric", "smiles", "not a metric training computes"),
    ("primary_metric", "log_loss", "not a metric training computes"),
    # the bounds the HTTP API once declared alone are the core's
    ("training_data_window_days", 36_601, "between 1 and 36600"),
    ("training_data_window_days", 200_000, "between 1 and 36600"),  # past pandas' Timedelta
    ("schedule_interval_days", 3661, "between 1 and 3660"),
    ("min_samples_for_check", 1_000_000_001, "between 1 and 1000000000"),
    ("min_training_samples", 10**12, "between 1 and 1000000000"),
    ("promotion_min_improvement", 1000.5, "between 0 and 1000"),
    ("promotion_min_improvement", math.inf, "between 0 and 1000"),
    ("target_column", "x" * 257, "column name"),
    ("timestamp_column", "", "column name"),
    ("notification_email", "a@" + "b" * 319, "e-mail"),
    ("schedule_timezone", "", "time zone"),
    ("schedule_timezone", "Europe/" + "x" * 60, "time zone"),
    # "$" ends the text, as in JSON Schema: no final newline slips through
    ("schedule_time", "02:00\n", "HH:MM"),
    ("model_name", "churn\n", "safe model name"),
]


@pytest.mark.parametrize(("field", "value", "words"), INVALID)
def test_an_invalid_value_is_refused_with_an_error_naming_its_field(field, value, words):
    with pytest.raises(ValueError) as caught:
        RetrainingConfig(**{field: value})
    message = str(caught.value)
    assert message.startswith(f"{field}:"), message
    assert words in message


# (field, lowest, highest): every bound of the configuration, declared once in the core
BOUNDS = [
    ("performance_threshold", 0.0, 1.0),
    ("drift_threshold", 0.0, 1.0),
    ("drift_alert_threshold", 0.0, 1.0),
    ("promotion_min_improvement", 0.0, 1000.0),
    ("min_samples_for_check", 1, 1_000_000_000),
    ("min_training_samples", 1, 1_000_000_000),
    ("schedule_interval_days", 1, 3660),
    ("schedule_interval_hours", 1, 12),
    ("training_data_window_days", 1, 36_600),
    ("drift_false_alarm_rate", 0.0001, 0.5),
    ("drift_persistence", 1, 100),
    ("retrain_cooldown_hours", 0.0, 8760.0),
    ("drift_hysteresis_step", 0.0, 1.0),
    ("max_consecutive_refusals", 1, 1000),
    ("promotion_watch_rows", 1, 1_000_000_000),
]
# Bounds that are themselves refused (above 0.5 and below 1): tests/unit/test_significance.py
EXCLUSIVE_BOUNDS = {"promotion_confidence": (0.5, 1.0)}


def test_every_field_declares_its_description_and_rules_next_to_it():
    for item in dataclasses.fields(RetrainingConfig):
        rules = item.metadata["rules"]
        assert isinstance(rules, FieldRules), item.name
        assert rules.description.strip(), item.name
        assert CONFIG_FIELDS[item.name].rules is rules
        assert CONFIG_FIELDS[item.name].default == item.default


def test_the_bounds_are_the_fields_metadata():
    declared = {
        name: (spec.rules.minimum, spec.rules.maximum)
        for name, spec in CONFIG_FIELDS.items()
        if spec.kind in (int, float)
    }
    assert declared == {
        **{name: (low, high) for name, low, high in BOUNDS},
        **EXCLUSIVE_BOUNDS,
    }


@pytest.mark.parametrize(("name", "low", "high"), BOUNDS)
def test_each_bound_is_enforced_by_the_core(name, low, high):
    assert getattr(RetrainingConfig(**{name: low}), name) == low
    assert getattr(RetrainingConfig(**{name: high}), name) == high
    if isinstance(low, int):
        below, above = low - 1, high + 1
    else:
        below, above = math.nextafter(low, -math.inf), math.nextafter(high, math.inf)
    with pytest.raises(ValueError) as caught:
        RetrainingConfig(**{name: below})
    assert str(caught.value) == f"{name}: must be at least {low:g}, got {below!r}"
    with pytest.raises(ValueError) as caught:
        RetrainingConfig.from_dict({name: above})
    high_text = f"{high:.0f}" if float(high).is_integer() else f"{high}"
    assert str(caught.value) == f"{name}: must be between {low:g} and {high_text}, got {above!r}"


@pytest.mark.parametrize(
    ("name", "longest", "fits"),
    [
        ("model_name", 128, "m" * 128),
        ("target_column", 256, "t" * 256),
        ("timestamp_column", 256, "t" * 256),
        ("notification_email", 320, "a@" + "b" * 318),
        ("schedule_timezone", 64, "America/Argentina/ComodRivadavia"),
    ],
)
def test_each_length_bound_is_enforced_by_the_core(name, longest, fits):
    assert CONFIG_FIELDS[name].rules.max_length == longest
    assert getattr(RetrainingConfig(**{name: fits}), name) == fits
    too_long = fits + "x" * (longest + 1 - len(fits))
    with pytest.raises(ValueError, match=rf"^{name}: "):
        RetrainingConfig(**{name: too_long})


def test_the_longest_training_window_is_one_pandas_can_compute():
    frame = pd.DataFrame({"ts": ["1950-06-01", "2020-01-01"], "x": [1, 2]})
    longest = CONFIG_FIELDS["training_data_window_days"].rules.maximum
    kept = filter_training_window(frame, "ts", longest, datetime(2026, 1, 1, tzinfo=UTC))
    assert list(kept["x"]) == [1, 2]


def test_check_value_is_the_rule_of_one_field():
    assert check_value("schedule_day_of_week", "Friday") == "friday"
    assert check_value("model_name", None) is None
    with pytest.raises(ValueError, match=r"^model_name: None is not a safe model name"):
        check_value("model_name", None, nullable=False)
    with pytest.raises(ValueError, match=r"^drift_threshold: must be a number, got '0.1'$"):
        check_value("drift_threshold", "0.1")


def test_day_of_week_is_normalized_to_lower_case():
    assert RetrainingConfig(schedule_day_of_week=" Sunday ").schedule_day_of_week == "sunday"


def test_timestamp_column_must_differ_from_target():
    with pytest.raises(ValueError, match=r"^timestamp_column:"):
        RetrainingConfig(timestamp_column="target")


@pytest.mark.parametrize("metric", ["accuracy", "f1_score", "roc_auc", "rmse", "mae", "r2"])
def test_a_primary_metric_training_computes_is_accepted(metric):
    assert RetrainingConfig(primary_metric=metric).primary_metric == metric


def test_from_dict_round_trips_and_names_an_unknown_field():
    config = RetrainingConfig(model_name="m", schedule_day_of_week="friday", auto_promote=True)
    assert RetrainingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"^performance_treshold: unknown"):
        RetrainingConfig.from_dict({"performance_treshold": 0.1})


def test_with_model_name_copies_and_validates():
    config = RetrainingConfig(drift_threshold=0.2)
    renamed = config.with_model_name("churn")
    assert (renamed.model_name, renamed.drift_threshold) == ("churn", 0.2)
    assert config.model_name is None
    with pytest.raises(ValueError, match=r"^model_name:"):
        config.with_model_name("../churn")


def _loader() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0], "target": [0, 1]})


def test_the_specifications_schedule_config_works_and_takes_the_pipelines_name(settings):
    config = RetrainingConfig(
        schedule_enabled=True, schedule_interval_days=7, schedule_time="02:00"
    )
    pipeline = TrainingPipeline("automated_retraining", "sklearn")
    scheduler = RetrainingScheduler(config, _loader, pipeline, settings=settings)
    try:
        assert scheduler.model_name == "automated_retraining"
        assert scheduler.config.model_name == "automated_retraining"
        assert config.model_name is None  # the caller's object is not changed
        stored = scheduler.runtime.models.get("automated_retraining").config
        assert (stored.schedule_enabled, stored.schedule_interval_days) == (True, 7)
        assert stored.schedule_time == "02:00"
    finally:
        scheduler.close()


def test_an_unsafe_pipeline_name_is_refused_when_it_would_name_the_model(settings):
    with pytest.raises(ValueError, match="pipeline name"):
        RetrainingScheduler(
            RetrainingConfig(), _loader, TrainingPipeline("../escape", "sklearn"), settings=settings
        )


def test_scheduler_arguments_are_checked(settings):
    pipeline = TrainingPipeline("p", "sklearn")
    with pytest.raises(ValueError, match=r"^data_loader:"):
        RetrainingScheduler(RetrainingConfig(), "not callable", pipeline, settings=settings)
    with pytest.raises(ValueError, match=r"^pipeline:"):
        RetrainingScheduler(RetrainingConfig(), _loader, "sklearn", settings=settings)
