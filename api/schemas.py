"""Request and response models: they validate requests and generate ``/openapi.json``.

Request bodies are parsed strictly from JSON (no "0.1" for 0.1, no unknown fields). The
configuration's models are derived from ``RetrainingConfig``'s fields and their rules, and
check each value with the core's own ``check_value``: one declaration, one message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from shared.config import CONFIG_FIELDS, MODEL_NAME_PATTERN, ConfigField, check_value
from shared.enums import RetrainingTrigger, Status, Task

NAME_PATTERN = MODEL_NAME_PATTERN.pattern
ModelName = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        max_length=128,
        description="Letters, digits, '_', '.', '-'; starts with a letter or digit; no '..'.",
        examples=["my_model"],
    ),
]
Metrics = dict[str, float | None]
Links = Annotated[dict[str, str], Field(description="Related resources, by relation name.")]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class QueryModel(BaseModel):
    """Query strings are text: numbers are parsed from it (not strict); unknown names: 422."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ResponseModel(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="null", use_enum_values=True)


# -- data sources and training options ---------------------------------------------------


# a local path or a URL (its query string, e.g. a presigned signature, after the suffix);
# spelled out because JSON Schema has no (?i)
_DATA_FILE = r"\.([cC][sS][vV]|[pP][aA][rR][qQ][uU][eE][tT]|[pP][qQ])(\?.*)?$"


class FileSource(RequestModel):
    """A CSV or Parquet file the workers can read: a local path, or a URL that fsspec reads
    (protocols s3, gs, abfs, https and others), its reader package installed where the data
    is loaded."""

    kind: Literal["file"]
    path: str = Field(min_length=1, max_length=4096, pattern=_DATA_FILE)


class SqlSource(RequestModel):
    """The result of an SQL query on a database URL (SQLAlchemy form)."""

    kind: Literal["sql"]
    url: str = Field(min_length=1, max_length=4096)
    query: str = Field(min_length=1, max_length=100_000)


class CallableSource(RequestModel):
    """``package.module:function`` returning a DataFrame; allowed over HTTP only for the
    modules named in RETRAINING_API_CALLABLE_MODULES."""

    kind: Literal["callable"]
    target: str = Field(min_length=3, max_length=512, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


DataSource = Annotated[FileSource | SqlSource | CallableSource, Field(discriminator="kind")]


class DataSources(RequestModel):
    """Where a model's data comes from; roles left out keep their current source."""

    training: DataSource | None = None
    reference: DataSource | None = Field(
        None, description="Drift reference; the training source when not set."
    )
    current: DataSource | None = Field(
        None, description="Recent production data; the served predictions when not set."
    )


class PipelineOptions(RequestModel):
    """What to train: an estimator class (default: HistGradientBoosting for the task)."""

    estimator_class: str | None = Field(
        None,
        max_length=256,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w]*$",
        examples=["sklearn.linear_model:LogisticRegression"],
        description="'module:Class' in a module allowed by RETRAINING_API_ESTIMATOR_MODULES "
        "(default: sklearn).",
    )
    estimator_params: dict[str, Any] | None = Field(
        None, description="Constructor arguments of the estimator class."
    )
    task: Task | None = Field(None, description="Inferred from the target when not set.")
    test_size: float = Field(0.2, gt=0.0, le=0.5)
    random_state: int = Field(42, ge=0, le=2**32 - 1)


# -- configuration: derived from RetrainingConfig's fields ---------------------------------


def _core_check(name: str, *, nullable: bool | None = None) -> BeforeValidator:
    """Run the core's own check first, so a refused value is answered with its message."""

    def check(value: Any) -> Any:
        try:
            return check_value(name, value, nullable=nullable)
        except ValueError as exc:
            message = str(exc).removeprefix(f"{name}: ")
            raise PydanticCustomError("config_value", "{message}", {"message": message}) from None

    return BeforeValidator(check)


def _config_field(
    spec: ConfigField, *, request: bool, required: bool = False, nullable: bool | None = None
) -> Any:
    """A pydantic field from a ``RetrainingConfig`` field: its type, default (requests only,
    unless ``required``), bounds, choices, pattern, lengths, description and examples.

    The core's check runs first; pydantic's own checks of the same rules, after it, keep the
    server at least as strict as the document and never answer first.
    """
    rules = spec.rules
    choices = rules.allowed()
    kind: Any = Literal[choices] if choices else spec.kind
    optional = spec.optional if nullable is None else nullable
    annotation: Any = kind | None if optional else kind
    if request:
        annotation = Annotated[annotation, _core_check(spec.name, nullable=optional)]
    constraints = {
        "ge": rules.minimum,
        "le": rules.maximum,
        "pattern": rules.pattern,
        "min_length": rules.min_length,
        "max_length": rules.max_length,
        "examples": list(rules.examples) or None,
    }
    extra = {key: value for key, value in constraints.items() if value is not None}
    default = spec.default if request and not required else ...
    return annotation, Field(default, description=rules.description, **extra)


_SETTINGS = [name for name in CONFIG_FIELDS if name != "model_name"]

RetrainingConfigFields = create_model(
    "RetrainingConfigFields",
    __base__=RequestModel,
    __doc__="Every `RetrainingConfig` field but the model name, with its default.",
    **{name: _config_field(CONFIG_FIELDS[name], request=True) for name in _SETTINGS},
)


# required over HTTP (in Python, None takes the pipeline's name)
_ModelNameIn, _model_name_in = _config_field(
    CONFIG_FIELDS["model_name"], request=True, required=True, nullable=False
)


class ConfigureRequest(RetrainingConfigFields):  # type: ignore[misc, valid-type]
    """A model's whole configuration (fields left out take their defaults), and optionally
    its data sources and training options (left out: kept as they are)."""

    model_name: _ModelNameIn = _model_name_in
    data_sources: DataSources | None = None
    pipeline: PipelineOptions | None = None


RetrainingConfigOut = create_model(
    "RetrainingConfigOut",
    __base__=ResponseModel,
    __doc__="A model's `RetrainingConfig`.",
    **{name: _config_field(spec, request=False) for name, spec in CONFIG_FIELDS.items()},
)


class ScheduleOut(ResponseModel):
    enabled: bool
    next_run_at: datetime | None


class MonitoringOut(ResponseModel):
    active: bool
    check_interval_seconds: int | None
    next_run_at: datetime | None


class ModelOut(ResponseModel):
    model_name: str
    config: RetrainingConfigOut
    pipeline: dict[str, Any]
    data_sources: dict[str, dict[str, Any]] = Field(
        description="Configured sources; passwords in SQL URLs are masked."
    )
    task: Task | None
    feature_columns: list[str] | None
    monitors_initialized: bool
    baseline_metrics: Metrics | None
    champion_version: str | None
    champion_metrics: Metrics | None
    schedule: ScheduleOut
    monitoring: MonitoringOut
    links: Links


class ConfigureOut(ModelOut):
    created: bool = Field(description="True when this request created the model.")


class ModelListOut(ResponseModel):
    models: list[ModelOut]


# -- monitors ------------------------------------------------------------------------------


class InitializeRequest(RequestModel):
    baseline_metrics: dict[str, float] | None = Field(
        None,
        description="Baseline for degradation checks; left out, the champion is scored on "
        "the reference data (no champion yet: empty, the first champion's metrics apply).",
        examples=[{"accuracy": 0.85, "f1_score": 0.83}],
    )


class InitializeOut(ResponseModel):
    model_name: str
    monitors_initialized: bool
    reference_source: Literal["reference", "training"]
    baseline_metrics: Metrics
    links: Links


class MonitoringRequest(RequestModel):
    check_interval_seconds: int = Field(3600, ge=1, le=31 * 24 * 3600)


class MonitoringStateOut(ResponseModel):
    model_name: str
    monitoring: MonitoringOut
    runner: str = Field(description="Who runs the due checks: celery-beat or in-process.")


# -- jobs ----------------------------------------------------------------------------------


class TriggerRequest(RequestModel):
    trigger_type: RetrainingTrigger = RetrainingTrigger.MANUAL
    reason: str = Field("", max_length=2000)


class TriggerAllRequest(RequestModel):
    models: list[ModelName] | None = Field(
        None, max_length=1000, description="Models to retrain; left out: every configured one."
    )
    trigger_type: RetrainingTrigger = RetrainingTrigger.MANUAL
    reason: str = Field("", max_length=2000)


class JobsQuery(QueryModel):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)
    status: Status | None = None
    trigger: RetrainingTrigger | None = None


class JobOut(ResponseModel):
    job_id: str
    model_name: str
    trigger: RetrainingTrigger
    reason: str
    status: Status
    created_at: datetime
    attempt: int
    start_time: datetime | None
    end_time: datetime | None
    heartbeat_at: datetime | None
    duration_seconds: float | None
    metrics: Metrics
    champion_metrics: Metrics | None
    promoted: bool | None
    promotion_reason: str | None
    model_version: str | None
    mlflow_run_id: str | None
    error: str | None
    details: dict[str, Any]
    links: Links


class TriggerOut(JobOut):
    created: bool = Field(description="False: the model's active job, returned instead.")
    message: str


class TriggerResultOut(ResponseModel):
    model_name: str
    outcome: Literal["queued", "already_active", "skipped"]
    job: JobOut | None
    detail: str | None


class TriggerAllOut(ResponseModel):
    queued: int
    results: list[TriggerResultOut]


class EventOut(ResponseModel):
    id: int
    at: datetime
    model_name: str
    job_id: str | None
    kind: str
    from_status: str | None
    to_status: str | None
    details: dict[str, Any] | None


class JobDetailOut(JobOut):
    events: list[EventOut] = Field(description="The job's audit trail, oldest first.")


class JobListOut(ResponseModel):
    model_name: str
    limit: int
    offset: int
    jobs: list[JobOut]
    links: Links


# -- checks --------------------------------------------------------------------------------


class CheckQuery(QueryModel):
    wait: float | None = Field(
        None,
        ge=0.0,
        le=30.0,
        description="Seconds to wait for the result before answering 202 "
        "(default: RETRAINING_API_CHECK_WAIT_SECONDS).",
    )


class ChecksQuery(QueryModel):
    limit: int = Field(20, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class ColumnDriftOut(ResponseModel):
    column: str
    method: str | None
    score: float | None
    threshold: float | None
    drifted: bool
    issue: str | None


class CheckOut(ResponseModel):
    check_id: str
    model_name: str
    status: Status
    needs_retraining: bool | None = Field(description="null until the check has run.")
    trigger: RetrainingTrigger | None
    reason: str
    drift_score: float | None = Field(description="Share of drifted columns (0 to 1).")
    n_rows: int | None
    columns: list[ColumnDriftOut]
    drifted_columns: list[str]
    performance: dict[str, Any] | None
    error: str | None
    created_at: datetime
    requested_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    links: Links


class CheckListOut(ResponseModel):
    model_name: str
    limit: int
    offset: int
    checks: list[CheckOut]
    links: Links


# -- report, status, health ----------------------------------------------------------------


class ReportOut(ResponseModel):
    model_name: str
    generated_at: datetime
    champion_version: str | None
    champion_metrics: Metrics | None
    primary_metric: str
    job_counts: dict[str, int]
    trigger_counts: dict[str, int]
    jobs: list[JobOut]
    latest_check: CheckOut | None
    checks: list[CheckOut]
    links: Links


class ComponentOut(ResponseModel):
    reachable: bool
    kind: str
    url: str | None = Field(description="Without its password.")
    detail: str | None


class WorkersOut(ResponseModel):
    kind: Literal["celery", "in-process"]
    alive: int = Field(description="Workers that answered a ping (in-process: 1).")
    names: list[str]
    detail: str | None


class ModelStatusOut(ResponseModel):
    model_name: str
    monitors_initialized: bool
    champion_version: str | None
    monitoring: MonitoringOut
    schedule: ScheduleOut
    active_job_id: str | None


class StatusOut(ResponseModel):
    mode: Literal["embedded", "distributed"]
    checked_at: datetime
    database: ComponentOut
    broker: ComponentOut
    workers: WorkersOut
    jobs: dict[str, int] = Field(description="Jobs of every model, by status.")
    models: list[ModelStatusOut]


class HealthOut(ResponseModel):
    status: Literal["ok"]


class ReadyOut(ResponseModel):
    ready: bool
    database: ComponentOut
    broker: ComponentOut


# -- serving -------------------------------------------------------------------------------

JsonScalar = str | int | float | bool | None


class PredictRequest(RequestModel):
    instances: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10_000,
        description="One object of feature values per row.",
        examples=[[{"feature_a": 1.2, "feature_b": "x"}]],
    )


class PredictionOut(ResponseModel):
    prediction_id: str
    prediction: Any


class PredictOut(ResponseModel):
    model_name: str
    model_version: str
    predictions: list[PredictionOut]


class Outcome(RequestModel):
    prediction_id: str = Field(min_length=1, max_length=36)
    outcome: JsonScalar = Field(description="The true value of the target.")


class FeedbackRequest(RequestModel):
    outcomes: list[Outcome] = Field(min_length=1, max_length=10_000)


class FeedbackOut(ResponseModel):
    model_name: str
    recorded: int


# -- errors --------------------------------------------------------------------------------


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldErrorOut] | None = Field(
        None, description="On 422: every invalid field and why."
    )


# -- promotions: the ledger, rollback, storm control -----------------------------------------


class PromotionsQuery(QueryModel):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class MonitorsOut(ResponseModel):
    reference_key: str | None
    baseline_metrics: Metrics | None


class PromotionOut(ResponseModel):
    entry_id: int
    model_name: str
    at: datetime
    kind: Literal["promoted", "refused", "rollback", "auto-rollback"]
    from_version: str | None = Field(description="The champion before (null: none yet).")
    to_version: str | None = Field(description="The champion after, or the refused candidate.")
    trigger: str = Field(description="The job's trigger; `manual` or `watch` for a rollback.")
    actor: str | None = Field(description="Who rolled back (null: a job or the watch window).")
    job_id: str | None
    check_id: str | None = Field(description="The check that started the job, if one did.")
    reason: str
    metrics: Metrics | None = Field(description="to_version's metrics.")
    from_metrics: Metrics | None = Field(
        description="from_version's metrics (for a job: on the candidate's holdout)."
    )
    data_fingerprint: str | None
    holdout_fingerprint: str | None
    monitors: dict[str, MonitorsOut | None] = Field(
        description="`from` and `to`: each side's reference data and baseline."
    )
    details: dict[str, Any] = Field(description="The improvement; a promotion's watch window.")
    links: Links


class PromotionListOut(ResponseModel):
    model_name: str
    limit: int
    offset: int
    promotions: list[PromotionOut]
    links: Links


class RollbackRequest(RequestModel):
    to_version: str | None = Field(
        None,
        pattern=r"^[1-9][0-9]{0,9}$",
        description="The version to restore; left out: the champion before the current one.",
    )
    reason: str = Field("", max_length=2000)
    actor: str | None = Field(
        None, max_length=256, description="Who rolls back (recorded); default `api`."
    )


class ResumeRequest(RequestModel):
    actor: str | None = Field(
        None, max_length=256, description="Who resumes (recorded); default `api`."
    )


class BreakerOut(ResponseModel):
    model_name: str
    max_consecutive_refusals: int | None
    consecutive_refusals: int = Field(description="Automatic candidates refused in a row.")
    paused: bool = Field(description="Automatic retraining (checks, schedules) is paused.")
    paused_at: datetime | None
    reason: str | None
    tripped_by_job: str | None
    resumed_at: datetime | None
    resumed_by: str | None
    links: Links
