"""``RetrainingConfig``: every retraining rule's knob, declared once with its rules.

Each field carries its description and its rules (bounds, choices, pattern, lengths) as
dataclass field metadata, written next to it with ``setting()``. Construction checks every
field against its rules (``check_value``), plus the one rule between fields: the timestamp
column is not the target. The few rules no bound or pattern expresses (a known time zone, a
metric training computes, no ``..`` in a model name) are the field's ``check``.

The HTTP API derives its request and response schemas (and ``/openapi.json``) from these
fields, and validates each value with ``check_value`` before anything else: a value is valid
or invalid through every door, with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType
from typing import Any, get_args, get_type_hints

from shared.errors import Invalid

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
DAYS_OF_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PROMOTION_STAGES = ("Staging", "Production")
METADATA_KEY = "rules"


@dataclass(frozen=True)
class FieldRules:
    """What a configuration field means and which values it takes.

    Bounds are inclusive. ``pattern`` has JSON Schema's meaning (a search; ``$`` is the end of
    the text). ``message`` (``{value!r}``, ``{choices}``) replaces every other wording of a
    refused string. ``check`` is a rule no bound expresses: the problem with a value, or None.
    """

    description: str
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    message: str | None = None
    normalize: Callable[[str], str] | None = None
    check: Callable[[Any], str | None] | None = None
    examples: tuple[Any, ...] = ()

    def allowed(self) -> tuple[str, ...] | None:
        """The choices, computed if they are given as a function."""
        return self.choices() if callable(self.choices) else self.choices


def setting(default: Any, description: str, **rules: Any) -> Any:
    """A configuration field: its default, its description and its rules."""
    return field(
        default=default, metadata={METADATA_KEY: FieldRules(description=description, **rules)}
    )


def _no_double_dot(name: str) -> str | None:
    return "contains '..'" if ".." in name else None


def _unknown_zone(name: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return "is not a known time zone"
    return None


def _bad_cron(expression: str) -> str | None:
    from shared.cron import cron_problem

    return cron_problem(expression)


def _not_a_day_divisor(hours: int) -> str | None:
    if 24 % hours:
        return f"must divide a day evenly (1, 2, 3, 4, 6, 8 or 12), got {hours}"
    return None


def _strictly_inside_half_and_one(value: float) -> str | None:
    return None if 0.5 < value < 1 else f"must be above 0.5 and below 1, got {value!r}"


def _computed_metrics() -> tuple[str, ...]:
    from shared.evaluation import COMPUTED_METRICS

    return tuple(name for names in COMPUTED_METRICS.values() for name in names)


def _drift_methods() -> tuple[str, ...]:
    from shared.drift.stattests.registry import STATTESTS

    return tuple(STATTESTS)


def _drift_overrides_problem(overrides: dict) -> str | None:
    """Each column: an object with a known ``method`` and/or a positive ``threshold``."""
    methods = _drift_methods()
    for column, override in overrides.items():
        if (
            not isinstance(override, dict)
            or not override
            or set(override) - {"method", "threshold"}
        ):
            return f"{column!r}: must be an object with 'method' and/or 'threshold'"
        method = override.get("method")
        if method is not None and method not in methods:
            return f"{column!r}: method {method!r} is not one of {', '.join(methods)}"
        threshold = override.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0
        ):
            return f"{column!r}: threshold must be a positive number, got {threshold!r}"
    return None


_SAFE_NAME = (
    "{value!r} is not a safe model name (1-128 characters: letters, digits, '_', '.', '-', "
    "starting with a letter or digit, no '..')"
)


@dataclass
class RetrainingConfig:
    """When to retrain a model, how much data it needs, and when a new model may replace it."""

    # Model identification (None: the scheduler names the model after its pipeline)
    model_name: str | None = setting(
        None,
        "The model's name, also its MLflow registered model name: 1-128 letters, digits, "
        "'_', '.', '-', starting with a letter or digit, no '..'.",
        pattern=MODEL_NAME_PATTERN.pattern,
        min_length=1,
        max_length=128,
        message=_SAFE_NAME,
        check=_no_double_dot,
        examples=("my_model",),
    )

    # Performance thresholds
    performance_threshold: float = setting(
        0.05,
        "A relative drop of a baseline metric above this is degradation (also used for "
        "concept drift); 0.05 = 5%.",
        minimum=0.0,
        maximum=1.0,
    )
    min_samples_for_check: int = setting(
        100,
        "Fewer current rows (or labelled rows, for concept drift) and the check is not run.",
        minimum=1,
        maximum=1_000_000_000,
    )

    # Drift thresholds
    drift_threshold: float = setting(
        0.1,
        "Share of drifted columns at or above which data drift triggers retraining.",
        minimum=0.0,
        maximum=1.0,
    )
    drift_alert_threshold: float = setting(
        0.3,
        "Share of drifted columns at or above which a drift alert is sent.",
        minimum=0.0,
        maximum=1.0,
    )
    drift_method: str | None = setting(
        None,
        "The drift test of numeric columns, by Evidently's name; None: Evidently's default "
        "choice for each column.",
        choices=_drift_methods,
        message="{value!r} is not a drift test ({choices})",
    )
    cat_drift_method: str | None = setting(
        None,
        "The drift test of categorical columns, by Evidently's name; None: Evidently's "
        "default choice for each column.",
        choices=_drift_methods,
        message="{value!r} is not a drift test ({choices})",
    )
    drift_column_overrides: dict | None = setting(  # noqa: RUF009 - setting() is a field()
        None,
        "Per column, {'method': name, 'threshold': number} (either or both): overrides "
        "drift_method, cat_drift_method and calibration for that column.",
        check=_drift_overrides_problem,
        examples=({"income": {"method": "ks", "threshold": 0.01}},),
    )
    drift_threshold_mode: str = setting(
        "default",
        "'default': each test's own threshold (Evidently's). 'calibrated': per column, the "
        "threshold at which unchanged data drawn from the reference, at the current sample "
        "size, is flagged with probability drift_false_alarm_rate.",
        choices=("default", "calibrated"),
    )
    drift_false_alarm_rate: float = setting(
        0.01,
        "Calibrated mode: the chance that one column of unchanged data is flagged in a check.",
        minimum=0.0001,
        maximum=0.5,
    )
    drift_persistence: int = setting(
        1,
        "Data drift triggers retraining only when this many checks in a row found it.",
        minimum=1,
        maximum=100,
    )
    drift_weighting: str = setting(
        "none",
        "'importance': the drift share weighs each column by the champion's permutation "
        "importance (measured on its holdout when it was trained).",
        choices=("none", "importance"),
    )

    # Scheduling
    schedule_enabled: bool = setting(False, "Whether the periodic schedule runs.")
    schedule_interval_days: int = setting(
        7,
        "Days between scheduled runs (when schedule_day_of_week is not set); at most ten years.",
        minimum=1,
        maximum=3660,
    )
    schedule_day_of_week: str | None = setting(
        None,
        "Weekly on this day instead of every schedule_interval_days (read in any case, kept "
        "in lower case).",
        choices=DAYS_OF_WEEK,
        normalize=lambda day: day.strip().lower(),
    )
    schedule_time: str = setting(
        "02:00",
        "Time of day of scheduled runs, 'HH:MM' (24-hour, 00:00 to 23:59).",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        min_length=5,
        max_length=5,
        message="{value!r} is not a time of day as 'HH:MM' (00:00 to 23:59)",
    )
    schedule_timezone: str = setting(
        "UTC",
        "IANA time zone of schedule_time and schedule_day_of_week.",
        min_length=1,
        max_length=64,
        message="{value!r} is not a known time zone",
        check=_unknown_zone,
        examples=("UTC", "Europe/Paris"),
    )
    schedule_cron: str | None = setting(
        None,
        "A cron expression (minute hour day-of-month month day-of-week, e.g. '0 2 * * 0') "
        "read in schedule_timezone; replaces schedule_time, schedule_day_of_week and the "
        "interval.",
        max_length=200,
        check=_bad_cron,
        examples=("0 2 * * 0", "*/30 8-18 * * mon-fri"),
    )
    schedule_interval_hours: int | None = setting(
        None,
        "Every N hours (1, 2, 3, 4, 6, 8 or 12) at schedule_time's minute, counted from "
        "schedule_time's hour, instead of every schedule_interval_days.",
        minimum=1,
        maximum=12,
        check=_not_a_day_divisor,
    )

    # Data requirements
    min_training_samples: int = setting(
        1000,
        "Labelled rows needed inside the training window to train; fewer fails the job.",
        minimum=1,
        maximum=1_000_000_000,
    )
    training_data_window_days: int = setting(
        30,
        "Train on rows from the last N days (needs timestamp_column; without one, all rows "
        "are used); at most a century.",
        minimum=1,
        maximum=36_600,
    )
    target_column: str = setting(
        "target",
        "The label column.",
        min_length=1,
        max_length=256,
        message="must be a non-empty column name (at most 256 characters)",
    )
    timestamp_column: str | None = setting(
        None,
        "The column that dates each row: it bounds the training window, selects the newest "
        "rows as the holdout, and is never a feature.",
        min_length=1,
        max_length=256,
        message="must be a non-empty column name (at most 256 characters) or None",
    )

    # When retraining pays
    change_aware_window: bool = setting(
        True,
        "Also train on the rows after the most recent change in the champion's errors, and "
        "keep it if it beats the configured window on the newest holdout by the promotion "
        "margin.",
    )
    retrain_cooldown_hours: float = setting(
        0.0,
        "After a retraining started, checks do not call for another for this many hours "
        "(0: off); manual and scheduled retrainings are never held.",
        minimum=0.0,
        maximum=8760.0,
    )
    drift_hysteresis_step: float | None = setting(
        0.1,
        "After a drift-triggered retraining found no better model, that drift calls for "
        "retraining again only once the drift share rose by this much, or performance "
        "degraded; None: off.",
        minimum=0.0,
        maximum=1.0,
    )
    estimate_performance: bool = setting(
        False,
        "Classifiers with probabilities: estimate accuracy on unlabelled current data "
        "(confidence-based, as NannyML's CBPE) and treat a drop as performance degradation "
        "until enough labels arrive.",
    )

    # Auto-promotion
    auto_promote: bool = setting(
        False, "Promote a better model automatically (a model's first one always is)."
    )
    promotion_min_improvement: float = setting(
        0.01,
        "Relative improvement of the primary metric needed to promote (0.02 = 2%).",
        minimum=0.0,
        maximum=1000.0,
    )
    promotion_confidence: float | None = setting(
        None,
        "With a value (e.g. 0.95, above 0.5 and below 1), also promote only when the lower "
        "bound of this paired bootstrap confidence interval of the relative improvement on "
        "the shared holdout is above promotion_min_improvement; None: the margin alone.",
        minimum=0.5,
        maximum=1.0,
        check=_strictly_inside_half_and_one,
        examples=(0.95,),
    )
    promotion_stage: str | None = setting(
        "Staging",
        "MLflow stage the promoted version moves to; None: the 'champion' alias only.",
        choices=PROMOTION_STAGES,
        message="{value!r} is not an MLflow stage a model can be promoted to ('Staging' or "
        "'Production'), nor None for the alias alone",
    )
    primary_metric: str | None = setting(
        None,
        "The metric promotion compares; None: accuracy (classification) or rmse (regression).",
        choices=_computed_metrics,
        message="{value!r} is not a metric training computes ({choices})",
    )
    primary_metric_higher_is_better: bool | None = setting(
        None, "Direction of primary_metric; None: its known direction."
    )

    # Storm control and the watch after a promotion (shared.breaker, shared.usecases.watch)
    max_consecutive_refusals: int | None = setting(
        None,
        "After this many automatic (check or schedule) candidates in a row were refused, "
        "automatic retraining of the model pauses until a person resumes it; manual "
        "triggers always run. None: off.",
        minimum=1,
        maximum=1000,
    )
    promotion_watch_rows: int | None = setting(
        None,
        "After a promotion, the new champion and the one it replaced are both scored on the "
        "next check's labelled rows once there are at least this many; the new one is rolled "
        "back when it is worse by more than performance_threshold. None: off.",
        minimum=1,
        maximum=1_000_000_000,
    )

    # Notifications
    enable_notifications: bool = setting(True, "Notify on finished jobs and drift alerts.")
    notification_email: str | None = setting(
        None,
        "Also e-mail each notification to this address.",
        pattern="@",
        max_length=320,
        message="{value!r} is not an e-mail address",
    )
    notification_webhook_url: str | None = setting(
        None,
        "Also POST each notification as JSON to this URL (Slack-compatible: a 'text' field, "
        "plus model, status, trigger, reason, metrics, ...).",
        pattern=r"^https?://[^\s/?#]+[^\s]*$",
        max_length=2048,
        message="{value!r} is not an http(s) URL",
    )

    def __post_init__(self) -> None:
        for name in CONFIG_FIELDS:
            setattr(self, name, check_value(name, getattr(self, name)))
        if self.timestamp_column == self.target_column:
            raise Invalid("timestamp_column: must differ from target_column")
        _check_schedule_kinds(self)
        _check_significance(self)

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
            raise Invalid(f"{unknown[0]}: unknown configuration field")
        return cls(**data)


def _check_schedule_kinds(config: RetrainingConfig) -> None:
    """One way to say when: a cron expression, or hours, or a day of the week (or days)."""
    if config.schedule_cron is not None:
        for other in ("schedule_day_of_week", "schedule_interval_hours"):
            if getattr(config, other) is not None:
                raise Invalid(f"schedule_cron: cannot be combined with {other}")
    if config.schedule_interval_hours is not None and config.schedule_day_of_week is not None:
        raise Invalid("schedule_interval_hours: cannot be combined with schedule_day_of_week")


def _check_significance(config: RetrainingConfig) -> None:
    """The significance gate resamples the primary metric: it must be one it can recompute."""
    metric = config.primary_metric
    if config.promotion_confidence is None or metric is None:
        return
    from shared.significance import BOOTSTRAP_METRICS

    if metric not in BOOTSTRAP_METRICS:
        raise Invalid(
            f"promotion_confidence: the paired bootstrap cannot resample primary_metric "
            f"{metric!r} (it can: {', '.join(BOOTSTRAP_METRICS)})"
        )


@dataclass(frozen=True)
class ConfigField:
    """One ``RetrainingConfig`` field: its Python type (``bool``, ``int``, ``float``, ``str``
    or ``dict``), whether None is allowed, its default and its rules."""

    name: str
    kind: type
    optional: bool
    default: Any
    rules: FieldRules


def _config_fields() -> Mapping[str, ConfigField]:
    hints = get_type_hints(RetrainingConfig)
    out = {}
    for item in fields(RetrainingConfig):
        kinds = get_args(hints[item.name]) or (hints[item.name],)
        optional = type(None) in kinds
        (kind,) = [k for k in kinds if k is not type(None)]
        out[item.name] = ConfigField(
            item.name, kind, optional, item.default, item.metadata[METADATA_KEY]
        )
    return MappingProxyType(out)


CONFIG_FIELDS: Mapping[str, ConfigField] = _config_fields()


def check_value(name: str, value: Any, *, nullable: bool | None = None) -> Any:
    """``value`` as field ``name`` keeps it (a day of the week in lower case), or
    ``Invalid("name: why")`` (a ``ValueError``). ``nullable=False`` refuses None even where
    the field allows it."""
    spec = CONFIG_FIELDS[name]
    value, problem = _check(spec, value, spec.optional if nullable is None else nullable)
    if problem is not None:
        raise Invalid(f"{name}: {problem}")
    return value


def validate_model_name(name: str, field: str = "model_name") -> str:
    """Model names become file and registry names: letters, digits, ``_``, ``.``, ``-`` only."""
    value, problem = _check(CONFIG_FIELDS["model_name"], name, nullable=False)
    if problem is not None:
        raise Invalid(f"{field}: {problem}")
    return value


def _check(spec: ConfigField, value: Any, nullable: bool) -> tuple[Any, str | None]:
    if value is None and nullable:
        return None, None
    if spec.kind is bool:
        ok = isinstance(value, bool)
        return value, None if ok else f"must be true or false, got {value!r}"
    if spec.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return value, f"must be a whole number, got {value!r}"
        problem = _out_of_bounds(spec.rules, value)
        if problem is None and spec.rules.check is not None:
            problem = spec.rules.check(value)
        return value, problem
    if spec.kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return value, f"must be a number, got {value!r}"
        problem = _out_of_bounds(spec.rules, value)
        if problem is None and spec.rules.check is not None:
            problem = spec.rules.check(value)
        return value, problem
    if spec.kind is dict:
        if not isinstance(value, dict):
            return value, f"must be an object, got {value!r}"
        return value, spec.rules.check(value) if spec.rules.check else None
    return _check_text(spec, value, nullable)


def _out_of_bounds(rules: FieldRules, value: float) -> str | None:
    low, high = rules.minimum, rules.maximum
    if low is not None and value < low:
        return f"must be at least {_number(low)}, got {value!r}"
    if high is not None and value > high:
        if low is not None:
            return f"must be between {_number(low)} and {_number(high)}, got {value!r}"
        return f"must be at most {_number(high)}, got {value!r}"
    return None


def _check_text(spec: ConfigField, value: Any, nullable: bool) -> tuple[Any, str | None]:
    rules = spec.rules
    choices = rules.allowed()
    if not isinstance(value, str):
        kind = "a string or None" if nullable else "a string"
        return value, _wording(rules, value, choices, f"must be {kind}, got {value!r}")
    text = rules.normalize(value) if rules.normalize is not None else value
    problem = None
    if rules.min_length is not None and len(text) < rules.min_length:
        problem = f"must be at least {rules.min_length} characters long"
    elif rules.max_length is not None and len(text) > rules.max_length:
        problem = f"must be at most {rules.max_length} characters long, got {len(text)}"
    elif rules.pattern is not None and not _matches(rules.pattern, text):
        problem = f"{value!r} does not match {rules.pattern}"
    elif choices is not None and text not in choices:
        problem = f"{value!r} is not one of {', '.join(choices)}"
    elif rules.check is not None:
        problem = rules.check(text)
    return text, None if problem is None else _wording(rules, value, choices, problem)


def _wording(rules: FieldRules, value: Any, choices: tuple[str, ...] | None, problem: str) -> str:
    """A field's own message (else its list of choices) says why, whatever the problem."""
    if rules.message is not None:
        return rules.message.format(value=value, choices=", ".join(choices or ()))
    if choices is not None:
        return f"{value!r} is not one of {', '.join(choices)}"
    return problem


def _matches(pattern: str, text: str) -> bool:
    # JSON Schema's (and pydantic's) "$" is the end of the text; Python's also matches
    # before a final newline, so an anchored match must reach the end.
    found = re.search(pattern, text)
    return found is not None and (not pattern.endswith("$") or found.end() == len(text))


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)
