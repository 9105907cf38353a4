"""Checks: request one (answered when it finishes quickly), follow it, read its drift report."""

from __future__ import annotations

import time
from html import escape

from apiflask import APIBlueprint
from flask import Response, request

from api.auth import Access
from api.context import context
from api.errors import Problem, problem_response
from api.openapi import Resp, operation
from api.presenters import check_out, check_url
from api.routes.common import get_model, html_response, json_response, page_links
from api.schemas import CheckListOut, CheckOut, CheckQuery, ChecksQuery
from shared.check_pages import RETRY_AFTER_SECONDS, request_page
from shared.checks import CheckRecord
from shared.enums import Status
from shared.usecases.checks import expire_if_stale, request_check

bp = APIBlueprint("checks", __name__)

# A check is asked about every 10 ms at first (most finish within a second), then less often
_FIRST_POLL_SECONDS, _MAX_POLL_SECONDS = 0.01, 0.1


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
    get_model(model_name)
    ctx = context()
    ctx.require_broker()
    requested = request_check(  # asked again while one is active: that same check
        ctx.runtime,
        ctx.publisher,
        model_name,
        retrain_if_needed=False,
        reuse_within=ctx.api.check_timeout_seconds,
    )
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
            links=page_links(model_name, "checks", query.limit, query.offset, len(checks)),
        )
    )


@bp.get("/retraining/<model_name>/checks/<check_id>")
@operation(tag="checks", access=Access.READ, responses={200: Resp(CheckOut, "The check.")})
def get_check(model_name: str, check_id: str):
    """A check: pending, running, or its result"""
    get_model(model_name)
    ctx = context()
    found = context().runtime.checks.get_of(model_name, check_id)
    return json_response(
        check_out(expire_if_stale(ctx.runtime, found, ctx.api.check_timeout_seconds))
    )


@bp.get("/retraining/<model_name>/checks/<check_id>/report")
@operation(
    tag="checks",
    access=Access.READ,
    responses={
        200: Resp(None, "Evidently's drift report.", content_type="text/html"),
        202: Resp(
            None,
            "The page is still being rendered (the check's verdict is stored already): retry "
            "after `Retry-After` seconds. A problem document, or a small HTML page that "
            "reloads itself when `Accept` prefers text/html.",
            {"Retry-After": "Seconds to wait before asking again."},
            content_type="application/problem+json",
        ),
    },
)
def check_report(model_name: str, check_id: str):
    """The Evidently HTML report of a check

    Rendered after the check's verdict is stored, off the check's path: while it renders the
    answer is 202 with `Retry-After`. A page nobody is rendering (its renderer was lost) is
    started by this request.
    """
    get_model(model_name)
    runtime = context().runtime
    found = runtime.checks.get_of(model_name, check_id)
    if found.report_key is None or found.status is not Status.COMPLETED:
        raise Problem(
            404,
            f"check {check_id!r} has no drift report (it is not finished, it failed, or it "
            "had too little data to compare)",
        )
    page = request_page(runtime, found)
    if page is None:
        return _still_rendering(check_id)
    response = Response(page, mimetype="text/html")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _still_rendering(check_id: str) -> Response:
    detail = (
        f"the drift report of check {check_id!r} is still being rendered (the check's verdict "
        f"is stored): retry in {RETRY_AFTER_SECONDS} s"
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    wanted = request.accept_mimetypes.best_match(
        ["application/problem+json", "application/json", "text/html"], "application/json"
    )
    if wanted != "text/html":
        return problem_response(202, detail, title="Still rendering", headers=headers)
    response = html_response(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{RETRY_AFTER_SECONDS}'>"
        f"<title>Rendering</title></head><body><p>{escape(detail)}.</p>"
        "<p>This page reloads itself.</p></body></html>",
        202,
    )
    response.headers.update(headers)
    return response


def _wait_for(check_id: str, seconds: float) -> CheckRecord:
    checks = context().runtime.checks
    deadline = time.monotonic() + seconds
    pause = _FIRST_POLL_SECONDS
    while True:
        current = checks.get(check_id)
        remaining = deadline - time.monotonic()
        if current.status.is_terminal or remaining <= 0:
            return current
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, _MAX_POLL_SECONDS)
