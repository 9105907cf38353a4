"""``POST /retraining/configure``: what only the HTTP door checks, then the core's use case.

Nothing is written unless the whole request is valid: the configuration (by
``RetrainingConfig``), the data sources (by ``shared.sources``; over HTTP, callables only
from allowed modules), and the estimator (an allowed class, built once with its
parameters). Storing it, and the schedule's next run, is ``shared.usecases.models``.
"""

from __future__ import annotations

import inspect
from typing import Any

from sqlalchemy.engine import make_url

from api.errors import Problem, field_problem, value_error_problem
from api.schemas import ConfigureRequest, DataSources, PipelineOptions
from api.settings import ApiSettings
from shared.config import RetrainingConfig
from shared.model_store import ModelRecord
from shared.pipeline_spec import pipeline_from_spec
from shared.runtime import Runtime
from shared.sources import SourceError, resolve_callable, validate_source
from shared.usecases import models


def configure_model(
    runtime: Runtime, api: ApiSettings, body: ConfigureRequest
) -> tuple[ModelRecord, bool]:
    """Create or update the model; ``created`` is True for a new one."""
    fields = body.model_dump(exclude={"data_sources", "pipeline"})
    try:
        config = RetrainingConfig.from_dict(fields)
    except ValueError as exc:
        raise value_error_problem(exc) from None
    sources = _sources(body.data_sources, api) if body.data_sources else None
    pipeline = (
        None if body.pipeline is None else pipeline_spec(body.pipeline, config.model_name, api)
    )
    return models.configure_model(runtime, config, pipeline=pipeline, sources=sources)


def pipeline_spec(options: PipelineOptions, name: str, api: ApiSettings) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "framework": "sklearn",
        "task": str(options.task) if options.task else None,
        "test_size": options.test_size,
        "random_state": options.random_state,
    }
    if options.estimator_class is None:
        if options.estimator_params:
            raise _bad("pipeline.estimator_params", "needs pipeline.estimator_class")
        return spec
    module = options.estimator_class.partition(":")[0]
    if not _allowed(module, api.estimator_modules):
        raise _bad(
            "pipeline.estimator_class",
            f"module {module!r} is not allowed; estimator classes may come from "
            f"{', '.join(api.estimator_modules) or 'no module'} "
            "(RETRAINING_API_ESTIMATOR_MODULES)",
        )
    try:
        target = resolve_callable(options.estimator_class)
    except SourceError as exc:
        raise _bad("pipeline.estimator_class", str(exc)) from None
    if not inspect.isclass(target):
        raise _bad("pipeline.estimator_class", f"{options.estimator_class!r} is not a class")
    spec["estimator_class"] = options.estimator_class
    spec["estimator_params"] = options.estimator_params or {}
    try:
        pipeline = pipeline_from_spec(spec, name)
        validate = getattr(pipeline.estimator, "_validate_params", None)
        if validate is not None:  # scikit-learn's own parameter checks, before any training
            validate()
    except (ValueError, TypeError) as exc:
        text = str(exc)
        field = text.partition(": ")[0] if text.startswith("estimator_params") else None
        message = text.partition(": ")[2] if field else text
        raise _bad(f"pipeline.{field or 'estimator_params'}", message) from None
    return spec


def _sources(sources: DataSources, api: ApiSettings) -> dict[str, dict[str, Any]]:
    checked = {}
    for role in ("training", "reference", "current"):
        source = getattr(sources, role)
        if source is None:
            continue
        data = source.model_dump()
        if data["kind"] == "callable" and not _allowed(
            data["target"].partition(":")[0], api.callable_modules
        ):
            raise _bad(
                f"data_sources.{role}.target",
                "callable sources are refused over HTTP unless their module is listed in "
                "RETRAINING_API_CALLABLE_MODULES; name a file or an SQL source instead",
            )
        try:
            checked[role] = validate_source(role, data)
        except SourceError as exc:
            raise value_error_problem(exc) from None
        if data["kind"] == "sql":
            try:
                make_url(data["url"])
            except Exception:
                raise _bad(
                    f"data_sources.{role}.url", "not a database URL (dialect+driver://...)"
                ) from None
    return checked


def _allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _bad(field: str, message: str) -> Problem:
    return field_problem([{"field": field, "message": message}])
