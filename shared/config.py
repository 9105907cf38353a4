"""``RetrainingConfig``: every retraining rule's knob, validated once on construction."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
DAYS_OF_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def validate_model_name(name: str, field: str = "model_name") -> str:
    """Model names become file and registry names: letters, digits, ``_``, ``.``, ``-`` only."""
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.match(name) or ".." in name:
        raise ValueError(
            f"{field}: {name!r} is not a safe model name (1-128 characters: letters, digits, "
            "'_', '.', '-', starting with a letter or digit, no '..')"
        )
    return name


@dataclass
class RetrainingConfig:
    """When to retrain a model, how much data it needs, and when a new model may replace it."""

    # Model identification (None: the scheduler names the model after its pipeline)
    model_name: str | None = None

    # Performance thresholds
    performance_threshold: float = 0.05
    min_samples_for_check: int = 100

    # Drift thresholds
    drift_threshold: float = 0.1
    drift_alert_threshold: float = 0.3

    # Scheduling
    schedule_enabled: bool = False
    schedule_interval_days: int = 7
    schedule_day_of_week: str | None = None
    schedule_time: str = "02:00"
    schedule_timezone: str = "UTC"

    # Data requirements
    min_training_samples: int = 1000
    training_data_window_days: int = 30
    target_column: str = "target"
    timestamp_column: str | None = None

    # Auto-promotion
    auto_promote: bool = False
    promotion_min_improvement: float = 0.01
    promotion_stage: str | None = "Staging"
    primary_metric: str | None = None
    primary_metric_higher_is_better: bool | None = None

    # Notifications
    enable_notifications: bool = True
    notification_email: str | None = None

    def __post_init__(self) -> None:
        if self.model_name is not None:
            validate_model_name(self.model_name)
        for name in ("performance_threshold", "drift_threshold", "drift_alert_threshold"):
            _require_fraction(self, name)
        _require_number(self, "promotion_min_improvement", minimum=0.0)
        for name in ("min_samples_for_check", "min_training_samples"):
            _require_int(self, name, minimum=1)
        for name in ("schedule_interval_days", "training_data_window_days"):
            _require_int(self, name, minimum=1)
        for name in ("schedule_enabled", "auto_promote", "enable_notifications"):
            _require_bool(self, name)
        self._validate_schedule()
        self._validate_columns()
        self._validate_optional_strings()

    def _validate_schedule(self) -> None:
        if not isinstance(self.schedule_time, str) or not _TIME_PATTERN.match(self.schedule_time):
            raise ValueError(
                f"schedule_time: {self.schedule_time!r} is not a time of day as 'HH:MM' "
                "(00:00 to 23:59)"
            )
        if self.schedule_day_of_week is not None:
            day = str(self.schedule_day_of_week).strip().lower()
            if day not in DAYS_OF_WEEK:
                raise ValueError(
                    f"schedule_day_of_week: {self.schedule_day_of_week!r} is not one of "
                    f"{', '.join(DAYS_OF_WEEK)}"
                )
            self.schedule_day_of_week = day
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.schedule_timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(
                f"schedule_timezone: {self.schedule_timezone!r} is not a known time zone"
            ) from exc

    def _validate_columns(self) -> None:
        if not isinstance(self.target_column, str) or not self.target_column:
            raise ValueError("target_column: must be a non-empty column name")
        if self.timestamp_column is not None and (
            not isinstance(self.timestamp_column, str) or not self.timestamp_column
        ):
            raise ValueError("timestamp_column: must be a non-empty column name or None")
        if self.timestamp_column == self.target_column:
            raise ValueError("timestamp_column: must differ from target_column")

    def _validate_optional_strings(self) -> None:
        if self.primary_metric is not None:
            from shared.evaluation import COMPUTED_METRICS

            computed = [name for names in COMPUTED_METRICS.values() for name in names]
            if self.primary_metric not in computed:
                raise ValueError(
                    f"primary_metric: {self.primary_metric!r} is not a metric training computes "
                    f"({', '.join(computed)})"
                )
        if self.primary_metric_higher_is_better is not None:
            _require_bool(self, "primary_metric_higher_is_better")
        if self.promotion_stage not in (None, "Staging", "Production"):
            raise ValueError(
                f"promotion_stage: {self.promotion_stage!r} is not an MLflow stage a model can be "
                "promoted to ('Staging' or 'Production'), nor None for the alias alone"
            )
        if self.notification_email is not None and "@" not in str(self.notification_email):
            raise ValueError(
                f"notification_email: {self.notification_email!r} is not an e-mail address"
            )

    def with_model_name(self, model_name: str) -> RetrainingConfig:
        """A copy of this configuration for another model name."""
        return RetrainingConfig(**{**self.to_dict(), "model_name": model_name})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainingConfig:
        """Build from JSON-like data; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown configuration field")
        return cls(**data)


def _require_bool(config: RetrainingConfig, name: str) -> None:
    if not isinstance(getattr(config, name), bool):
        raise ValueError(f"{name}: must be true or false, got {getattr(config, name)!r}")


def _require_number(config: RetrainingConfig, name: str, minimum: float) -> float:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{name}: must be a number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {value!r}")
    return float(value)


def _require_fraction(config: RetrainingConfig, name: str) -> None:
    value = _require_number(config, name, minimum=0.0)
    if value > 1.0:
        raise ValueError(f"{name}: must be between 0 and 1, got {value!r}")


def _require_int(config: RetrainingConfig, name: str, minimum: int) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {value!r}")
