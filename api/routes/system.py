"""The system at a glance, health probes, metrics, and the API's own documentation."""

from __future__ import annotations

import os

from apiflask import APIBlueprint
from flask import Response, current_app

from api.auth import Access
from api.context import ApiContext, context
from api.docs import render_docs
from api.errors import problem_response
from api.metrics import CONTENT_TYPE, render_metrics
from api.openapi import Resp, hidden, operation
from api.presenters import monitoring_out, schedule_out
from api.routes.assets import ASSETS_URL
from api.routes.common import html_response, json_response
from api.schemas import (
    ComponentOut,
    HealthOut,
    ModelStatusOut,
    ReadyOut,
    StatusOut,
    WorkersOut,
)
from shared.clock import utcnow

bp = APIBlueprint("system", __name__)


@bp.get("/retraining/status")
@operation(
    tag="system",
    access=Access.READ,
    responses={200: Resp(StatusOut, "Database, broker, workers, models and job counts.")},
)
def status():
    """System status

    Database and broker reachable, workers alive (a Celery ping; embedded: this process),
    each model's monitoring state and next runs, and job counts by status. 503 when the
    database is unreachable.
    """
    ctx = context()
    database, broker = _components(ctx)
    if not database.reachable:
        return _not_ready(database, broker)
    runtime = ctx.runtime
    records = runtime.models.list()
    models = []
    for record in records:
        active = runtime.jobs.active_for(record.name)
        models.append(
            ModelStatusOut(
                model_name=record.name,
                monitors_initialized=record.monitors_initialized,
                champion_version=record.champion_version,
                monitoring=monitoring_out(record),
                schedule=schedule_out(record),
                active_job_id=active.job_id if active else None,
            )
        )
    return json_response(
        StatusOut(
            mode="distributed" if ctx.distributed else "embedded",
            checked_at=utcnow(),
            database=database,
            broker=broker,
            workers=_workers(ctx, broker.reachable),
            jobs=runtime.jobs.count_by_status(),
            models=models,
        )
    )


@bp.get("/healthz")
@operation(tag="system", access=Access.PUBLIC, responses={200: Resp(HealthOut, "Alive.")})
def healthz():
    """Liveness: the process answers"""
    return json_response(HealthOut(status="ok"))


@bp.get("/readyz")
@operation(
    tag="system",
    access=Access.PUBLIC,
    responses={200: Resp(ReadyOut, "The database and the broker are reachable.")},
    errors=(503,),
)
def readyz():
    """Readiness: the database and the broker are reachable"""
    database, broker = _components(context())
    if not (database.reachable and broker.reachable):
        return _not_ready(database, broker)
    return json_response(ReadyOut(ready=True, database=database, broker=broker))


@bp.get("/metrics")
@operation(
    tag="system",
    access=Access.READ,
    responses={
        200: Resp(
            None,
            "Prometheus text format: finished jobs by status and trigger, checks by outcome, "
            "active jobs and checks, job and check durations, drift scores, promotions and "
            "refusals, predictions, and this API's requests (the names: docs/api.md).",
            content_type="text/plain",
        )
    },
)
def metrics():
    """Prometheus metrics"""
    body = render_metrics(context().runtime, current_app.extensions.get("retraining_requests"))
    return Response(body, mimetype=None, content_type=CONTENT_TYPE)


@bp.get("/docs")
@hidden
@operation(tag="system", access=Access.PUBLIC, responses={})
def docs():
    """This API's documentation: Swagger UI, from this API's own files"""
    info = current_app.spec.get("info", {})
    title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
    return html_response(render_docs(title, "/openapi.json", ASSETS_URL), scripts=True)


def _components(ctx: ApiContext) -> tuple[ComponentOut, ComponentOut]:
    db_ok, db_detail = ctx.database_status()
    broker_ok, broker_detail = ctx.broker_status(fresh=True)
    database = ComponentOut(
        reachable=db_ok,
        kind=ctx.settings.database_url.split(":", 1)[0].split("+", 1)[0],
        url=ctx.database_url(),
        detail=db_detail,
    )
    broker = ComponentOut(
        reachable=broker_ok,
        kind="redis" if ctx.distributed else "in-process",
        url=ctx.broker_url(),
        detail=broker_detail,
    )
    return database, broker


def _workers(ctx: ApiContext, broker_reachable: bool) -> WorkersOut:
    if not ctx.distributed:
        return WorkersOut(kind="in-process", alive=1, names=[f"api-{os.getpid()}"], detail=None)
    if not broker_reachable:
        return WorkersOut(kind="celery", alive=0, names=[], detail="broker unreachable")
    names, detail = ctx.ping_workers()
    if not names and detail is None:
        detail = "no worker answered the ping: start one with `retrain worker`"
    return WorkersOut(kind="celery", alive=len(names), names=names, detail=detail)


def _not_ready(database: ComponentOut, broker: ComponentOut) -> Response:
    down = [n for n, c in (("the database", database), ("the broker", broker)) if not c.reachable]
    return problem_response(
        503,
        f"{' and '.join(down)} {'are' if len(down) > 1 else 'is'} unreachable",
        headers={"Retry-After": "5"},
        database=database.model_dump(mode="json"),
        broker=broker.model_dump(mode="json"),
    )
