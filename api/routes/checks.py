"""Checks: request one (answered when it finishes quickly), follow it, read its drift report."""

from __future__ import annotations

import time
from datetime import timedelta

from apiflask import APIBlueprint
from flask import Response

from api.auth import Access
from api.context import context
from api.errors import Problem, is_unavailable
from api.openapi import Resp, operation
from api.presenters import check_out, check_url
from api.routes.common import get_model, is_uuid, json_response
from api.schemas import CheckListOut, CheckOut, CheckQuery, ChecksQuery
from shared.checks import CheckRecord, CheckStatus
from shared.db.schema import utcnow
from shared.service import has_current_data
from shared.storage import BlobNotFound

bp = APIBlueprint("checks", __name__)

_POLL_SECONDS = 0.1


@bp.get("/retraining/<model_name>/check")
@operation(
    tag="checks",
    access=Access.RUN,
    responses={
        200: Resp(
            CheckOut,
            "The check finished within `wait` seconds: its result "
            "(`status` completed, or failed with `error`).",
        ),
        202: Resp(
            CheckOut,
            "The check is queued or running: poll `Location`.",
            {"Location": "The check, to poll."},
        ),
    },
    errors=(409,),
)
@bp.input(CheckQuery, location="query", arg_name="query")
def check(model_name: str, query: CheckQuery):
    """Check whether the model needs retraining

    Runs the drift and performance checks on the model's current data (its current source,
    else its recent served predictions, labelled ones carrying their outcomes) on a worker,
    and waits up to `wait` seconds for the answer: `needs_retraining`, `trigger`, `reason`,
    `drift_score` and per-column results. While a check of the model is pending or running,
    asking again answers with that check rather than queueing another. Never starts a
    retraining itself.
    """
    record = get_model(model_name)
    ctx = context()
    runtime = ctx.runtime
    if not record.monitors_initialized:
        raise Problem(
            409,
            f"monitors of {model_name!r} are not initialized: "
            f"POST /retraining/{model_name}/initialize first",
        )
    if not has_current_data(runtime, record):
        raise Problem(
            409,
            f"model {model_name!r} has no current data: configure data_sources.current, or "
            f"serve predictions with POST /models/{model_name}/predict",
        )
    requested = _active_check(model_name)  # asked again meanwhile: the same check
    if requested is None:
        ctx.require_broker()
        requested = runtime.checks.request(model_name)
        try:
            ctx.publisher.publish_check(model_name, requested.check_id, retrain_if_needed=False)
        except Exception as exc:
            runtime.checks.fail(requested.check_id, f"could not be queued: {exc}")
            if is_unavailable(exc):
                raise
            raise Problem(503, "the check could not be queued; retry later") from exc
    wait = ctx.api.check_wait_seconds if query.wait is None else query.wait
    result = _wait_for(requested.check_id, wait)
    if result.status.is_terminal:
        return json_response(check_out(result))
    return json_response(
        check_out(result), 202, {"Location": check_url(model_name, result.check_id)}
    )


@bp.get("/retraining/<model_name>/checks")
@operation(tag="checks", access=Access.READ, responses={200: Resp(CheckListOut, "Newest first.")})
@bp.input(ChecksQuery, location="query", arg_name="query")
def list_checks(model_name: str, query: ChecksQuery):
    """A model's checks, newest first (requested ones too)"""
    get_model(model_name)
    checks = context().runtime.checks.list(
        model_name, query.limit, offset=query.offset, status=None
    )
    return json_response(
        CheckListOut(
            model_name=model_name,
            limit=query.limit,
            offset=query.offset,
            checks=[check_out(c) for c in checks],
        )
    )


@bp.get("/retraining/<model_name>/checks/<check_id>")
@operation(tag="checks", access=Access.READ, responses={200: Resp(CheckOut, "The check.")})
def get_check(model_name: str, check_id: str):
    """A check: pending, running, or its result"""
    get_model(model_name)
    return json_response(check_out(_expire_if_stale(_find_check(model_name, check_id))))


@bp.get("/retraining/<model_name>/checks/<check_id>/report")
@operation(
    tag="checks",
    access=Access.READ,
    responses={200: Resp(None, "Evidently's drift report.", content_type="text/html")},
)
def check_report(model_name: str, check_id: str):
    """The Evidently HTML report of a check"""
    get_model(model_name)
    found = _find_check(model_name, check_id)
    if found.report_key is None or found.status is not CheckStatus.COMPLETED:
        raise Problem(
            404,
            f"check {check_id!r} has no drift report (it is not finished, it failed, or it "
            "had too little data to compare)",
        )
    try:
        page = context().runtime.blobs.get(found.report_key)
    except BlobNotFound:
        # the verdict is stored first; Evidently's page is rendered right after it
        raise Problem(
            404,
            f"the drift report of check {check_id!r} is still being rendered: retry shortly",
            headers={"Retry-After": "2"},
        ) from None
    response = Response(page, mimetype="text/html")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _find_check(model_name: str, check_id: str) -> CheckRecord:
    try:
        found = context().runtime.checks.get(check_id) if is_uuid(check_id) else None
    except KeyError:
        found = None
    if found is None or found.model_name != model_name:
        raise Problem(404, f"model {model_name!r} has no check {check_id!r}", title="Unknown check")
    return found


def _active_check(model_name: str) -> CheckRecord | None:
    """A check of this model still pending or running (and not stale), if any."""
    ctx = context()
    cutoff = utcnow() - timedelta(seconds=ctx.api.check_timeout_seconds)
    for recent in ctx.runtime.checks.list(model_name, 10, status=None):
        if recent.status.is_terminal or recent.requested_at is None:
            continue
        if recent.requested_at >= cutoff:
            return recent
    return None


def _wait_for(check_id: str, seconds: float) -> CheckRecord:
    checks = context().runtime.checks
    deadline = time.monotonic() + seconds
    while True:
        current = checks.get(check_id)
        if current.status.is_terminal or time.monotonic() >= deadline:
            return current
        time.sleep(_POLL_SECONDS)


def _expire_if_stale(found: CheckRecord) -> CheckRecord:
    """A check no worker finished within the timeout is failed, so clients stop polling."""
    ctx = context()
    if found.status.is_terminal:
        return found
    timeout = ctx.api.check_timeout_seconds
    cutoff = utcnow() - timedelta(seconds=timeout)
    failed = ctx.runtime.checks.fail(
        found.check_id,
        f"no worker finished this check within {timeout:.0f} s",
        requested_before=cutoff,
    )
    return failed or found
