"""The promotion ledger, rollback to an earlier champion, and resuming paused retraining."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from api.auth import Access
from api.context import context
from api.openapi import Resp, operation
from api.presenters import model_url
from api.routes.common import get_model, json_response, page_links
from api.schemas import (
    BreakerOut,
    PromotionListOut,
    PromotionOut,
    PromotionsQuery,
    ResumeRequest,
    RollbackRequest,
)
from api.validation import json_body
from shared import breaker, ledger
from shared.usecases.rollback import rollback as roll_back

bp = APIBlueprint("promotions", __name__)


@bp.get("/retraining/<model_name>/promotions")
@operation(
    tag="promotions",
    access=Access.READ,
    responses={200: Resp(PromotionListOut, "Promotions, refusals and rollbacks, newest first.")},
)
@bp.input(PromotionsQuery, location="query", arg_name="query")
def list_promotions(model_name: str, query: PromotionsQuery):
    """A model's promotion ledger, newest first

    Every champion change (`promoted`, `rollback`, `auto-rollback`) and every refusal, with
    who or what triggered it, both models' metrics, the data and holdout fingerprints and
    the check and job it came from.
    """
    get_model(model_name)
    entries = ledger.history(
        context().runtime.engine, model_name, limit=query.limit, offset=query.offset
    )
    links = page_links(model_name, "promotions", query.limit, query.offset, len(entries))
    return json_response(
        PromotionListOut(
            model_name=model_name,
            limit=query.limit,
            offset=query.offset,
            promotions=[promotion_out(entry) for entry in entries],
            links=links,
        )
    )


@bp.post("/retraining/<model_name>/rollback")
@operation(
    tag="promotions",
    access=Access.WRITE,
    responses={200: Resp(PromotionOut, "Rolled back: the new ledger entry.")},
    errors=(409,),
)
@json_body(RollbackRequest, required=False)
def rollback(model_name: str, body: RollbackRequest):
    """Roll back to an earlier champion

    Moves the champion in the database, the MLflow alias and stage, and the monitors (the
    reference data and baseline that belonged to that version) together. 409 while a
    retraining of the model is pending or running, or when there is no earlier champion.
    """
    get_model(model_name)
    entry = roll_back(
        context().runtime,
        model_name,
        body.to_version,
        body.reason,
        actor=body.actor or "api",
    )
    return json_response(promotion_out(entry))


@bp.post("/retraining/<model_name>/resume")
@operation(
    tag="promotions",
    access=Access.WRITE,
    responses={200: Resp(BreakerOut, "Automatic retraining runs again (or was not paused).")},
)
@json_body(ResumeRequest, required=False)
def resume(model_name: str, body: ResumeRequest):
    """Resume automatic retraining paused by storm control

    After `max_consecutive_refusals` automatic candidates in a row were refused, checks and
    schedules stop starting retrainings until this is called. No body needed.
    """
    get_model(model_name)
    state = breaker.resume(context().runtime, model_name, body.actor or "api")
    return json_response(breaker_out(state))


@bp.get("/retraining/<model_name>/breaker")
@operation(
    tag="promotions",
    access=Access.READ,
    responses={200: Resp(BreakerOut, "Storm control: refusals in a row, and the pause.")},
)
def get_breaker(model_name: str):
    """Storm control's state of a model"""
    record = get_model(model_name)
    return json_response(breaker_out(breaker.state(context().runtime.engine, record)))


def promotion_out(entry: ledger.PromotionEntry) -> PromotionOut:
    data: dict[str, Any] = entry.to_dict()
    base = model_url(entry.model_name)
    links = {"promotions": f"{base}/promotions", "model": f"{base}/config"}
    if entry.job_id:
        links["job"] = f"{base}/jobs/{entry.job_id}"
    if entry.check_id:
        links["check"] = f"{base}/checks/{entry.check_id}"
    return PromotionOut.model_validate({**data, "links": links})


def breaker_out(state: breaker.BreakerState) -> BreakerOut:
    base = model_url(state.model_name)
    links = {"resume": f"{base}/resume", "promotions": f"{base}/promotions"}
    return BreakerOut.model_validate({**state.to_dict(), "links": links})
