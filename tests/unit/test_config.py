"""``RetrainingConfig``: the specification's defaults, and an error naming the field for
every value the specification rules out."""

import math

import pandas as pd
import pytest

from retraining.scheduler import RetrainingConfig, RetrainingScheduler
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
]


@pytest.mark.parametrize(("field", "value", "words"), INVALID)
def test_an_invalid_value_is_refused_with_an_error_naming_its_field(field, value, words):
    with pytest.raises(ValueError) as caught:
        RetrainingConfig(**{field: value})
    message = str(caught.value)
    assert message.startswith(f"{field}:"), message
    assert words in message


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
