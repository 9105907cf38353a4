"""A model's retraining report: HTML by default, JSON with ``Accept: application/json``."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from api.auth import Access
from api.context import context
from api.openapi import Resp, operation
from api.presenters import check_out
from api.routes.assets import ASSETS_URL
from api.routes.common import get_model, html_response, json_response
from api.schemas import CheckOut, JobOut, ReportOut
from shared.reports import render_html, report_data

bp = APIBlueprint("reports", __name__)

_RECENT_CHECKS = 10


@bp.get("/retraining/<model_name>/report")
@operation(
    tag="reports",
    access=Access.READ,
    responses={
        200: Resp(
            ReportOut,
            "The report: HTML (the default), or JSON when `Accept` prefers application/json. "
            "Each stored check links to its Evidently HTML report.",
            also_html=True,
        )
    },
)
def report(model_name: str):
    """The model's retraining report"""
    get_model(model_name)
    runtime = context().runtime
    data = report_data(runtime, model_name)
    wanted = request.accept_mimetypes.best_match(["text/html", "application/json"], "text/html")
    if wanted == "application/json":
        checks = [check_out(c) for c in runtime.checks.list(model_name, _RECENT_CHECKS)]
        return json_response(_report_out(model_name, data, checks))
    links = {}  # over HTTP, each check links its report's endpoint
    for record in runtime.checks.list(model_name, len(data["checks"]) or 1):
        href = check_out(record).links.get("report")
        if href:
            links[record.check_id] = href
    html = render_html(data, check_links=links, asset_base=ASSETS_URL)
    return html_response(html, scripts=True)


def _report_out(model_name: str, data: dict, checks: list[CheckOut]) -> ReportOut:
    latest = checks[0] if checks else None
    return ReportOut(
        model_name=model_name,
        generated_at=data["generated_at"],
        champion_version=data["champion_version"],
        champion_metrics=data["champion_metrics"],
        primary_metric=data["primary_metric"],
        job_counts=data["job_counts"],
        trigger_counts=data["trigger_counts"],
        jobs=[
            JobOut.model_validate(
                {**job, "links": {"self": f"/retraining/{model_name}/jobs/{job['job_id']}"}}
            )
            for job in data["jobs"]
        ],
        latest_check=latest,
        checks=checks,
        links={
            "self": f"/retraining/{model_name}/report",
            "jobs": f"/retraining/{model_name}/jobs",
        },
    )
