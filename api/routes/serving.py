"""Serving the champion, and closing the loop: predictions and outcomes feed monitoring."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from apiflask import APIBlueprint

from api.auth import Access
from api.context import context
from api.errors import Problem, field_problem
from api.openapi import Resp, operation
from api.routes.common import get_model, json_response
from api.schemas import FeedbackOut, FeedbackRequest, PredictionOut, PredictOut, PredictRequest
from api.validation import json_body
from shared.predictions import PredictionRepository, UnknownPredictions
from shared.serving import check_instance_types

bp = APIBlueprint("serving", __name__)


@bp.post("/models/<model_name>/predict")
@operation(
    tag="serving",
    access=Access.WRITE,
    responses={200: Resp(PredictOut, "The champion's predictions, each with its id.")},
    errors=(409,),
)
@json_body(PredictRequest)
def predict(model_name: str, body: PredictRequest):
    """Predict with the model's champion

    Inputs and outputs are recorded; the ids let `/feedback` attach true outcomes later, and
    monitoring uses the recent predictions as current data. The champion in service is read
    at each request, so a promotion takes effect at once.
    """
    record = get_model(model_name)
    version = record.require_champion()
    features = record.feature_columns
    for index, instance in enumerate(body.instances):
        missing = [column for column in features if column not in instance]
        if missing:
            raise field_problem(
                [{"field": f"instances[{index}]", "message": f"missing features {missing}"}]
            )
    runtime = context().runtime
    model = runtime.registry.load(model_name, version)  # imports MLflow once
    check_instance_types(model, features, body.instances)
    frame = pd.DataFrame([{c: instance[c] for c in features} for instance in body.instances])
    try:
        outputs = [_json_value(value) for value in model.predict(frame)]
    except (ValueError, TypeError) as exc:
        raise field_problem(
            [{"field": "instances", "message": f"the champion cannot score them: {exc}"}]
        ) from None
    ids = PredictionRepository(runtime.engine).record(model_name, version, body.instances, outputs)
    return json_response(
        PredictOut(
            model_name=model_name,
            model_version=version,
            predictions=[
                PredictionOut(prediction_id=i, prediction=o)
                for i, o in zip(ids, outputs, strict=True)
            ],
        )
    )


@bp.post("/models/<model_name>/feedback")
@operation(
    tag="serving",
    access=Access.WRITE,
    responses={200: Resp(FeedbackOut, "The outcomes were recorded.")},
)
@json_body(FeedbackRequest)
def feedback(model_name: str, body: FeedbackRequest):
    """Record true outcomes of earlier predictions

    All or nothing: an unknown prediction id (or one of another model) records none (404).
    Labelled predictions feed the performance and concept-drift checks.
    """
    get_model(model_name)
    outcomes = {item.prediction_id: item.outcome for item in body.outcomes}
    try:
        recorded = PredictionRepository(context().runtime.engine).record_outcomes(
            model_name, outcomes
        )
    except UnknownPredictions as exc:
        raise Problem(404, str(exc), title="Unknown prediction") from None
    return json_response(FeedbackOut(model_name=model_name, recorded=recorded))


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
