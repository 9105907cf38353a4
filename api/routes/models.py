"""Configuring models, their monitors and monitoring, and their retraining jobs."""

from __future__ import annotations

from apiflask import APIBlueprint

from api.auth import Access
from api.configure import configure_model
from api.context import context
from api.errors import Problem
from api.openapi import Resp, operation
from api.presenters import job_out, job_url, model_out, monitoring_out
from api.routes.common import get_model, json_response, page_links
from api.schemas import (
    ConfigureOut,
    ConfigureRequest,
    InitializeOut,
    InitializeRequest,
    JobDetailOut,
    JobListOut,
    JobsQuery,
    ModelListOut,
    ModelOut,
    MonitoringRequest,
    MonitoringStateOut,
    TriggerAllOut,
    TriggerAllRequest,
    TriggerOut,
    TriggerRequest,
    TriggerResultOut,
)
from api.validation import json_body
from shared.clock import utcnow
from shared.monitoring import monitors_required
from shared.sources import MissingSource, model_source
from shared.usecases.monitors import initialize_from_sources
from shared.usecases.retraining import submit_retraining

bp = APIBlueprint("models", __name__)

_LOCATION = {"Location": "Where to follow the job."}


@bp.post("/retraining/configure")
@operation(
    tag="models",
    access=Access.WRITE,
    responses={
        201: Resp(ConfigureOut, "The model was created.", {"Location": "The model."}),
        200: Resp(ConfigureOut, "The model's configuration was replaced."),
    },
)
@json_body(ConfigureRequest)
def configure(body: ConfigureRequest):
    """Create or update a model's configuration

    Every `RetrainingConfig` field (left out: its default), plus optionally where the model's
    data comes from (`data_sources`) and what to train (`pipeline`); both are kept as they
    are when left out. Turning `schedule_enabled` on schedules the next periodic run.
    """
    ctx = context()
    record, created = configure_model(ctx.runtime, ctx.api, body)
    out = model_out(record, ConfigureOut, created=created)
    headers = {"Location": out.links["self"]} if created else {}
    return json_response(out, 201 if created else 200, headers)


@bp.get("/retraining/models")
@operation(tag="models", access=Access.READ, responses={200: Resp(ModelListOut, "Every model.")})
def list_models():
    """List the configured models"""
    records = context().runtime.models.list()
    return json_response(ModelListOut(models=[model_out(r) for r in records]))


@bp.get("/retraining/<model_name>/config")
@operation(tag="models", access=Access.READ, responses={200: Resp(ModelOut, "The model.")})
def get_config(model_name: str):
    """A model's configuration and state"""
    return json_response(model_out(get_model(model_name)))


@bp.post("/retraining/<model_name>/initialize")
@operation(
    tag="models",
    access=Access.WRITE,
    responses={200: Resp(InitializeOut, "Reference data stored and baseline set.")},
    errors=(409,),
)
@json_body(InitializeRequest, required=False)
def initialize(model_name: str, body: InitializeRequest):
    """Initialize the model's monitors

    Loads the reference data (the reference source, else the training source) and sets the
    baseline metrics: those given, else the champion's on its training holdout. No body needed.
    """
    get_model(model_name)
    role, baseline = initialize_from_sources(context().runtime, model_name, body.baseline_metrics)
    return json_response(
        InitializeOut(
            model_name=model_name,
            monitors_initialized=True,
            reference_source=role,
            baseline_metrics=baseline,
            links={"check": f"/retraining/{model_name}/check"},
        )
    )


@bp.post("/retraining/<model_name>/trigger")
@operation(
    tag="jobs",
    access=Access.WRITE,
    responses={
        202: Resp(TriggerOut, "A new job was queued.", _LOCATION),
        200: Resp(
            TriggerOut,
            "A job of this model was already pending or running: that job "
            "(`created: false`); no other was started.",
            _LOCATION,
        ),
    },
    errors=(409,),
)
@json_body(TriggerRequest, required=False)
def trigger(model_name: str, body: TriggerRequest):
    """Trigger a retraining

    Answers 202 with the queued job, or 200 with the job already pending or running.
    """
    model_source(get_model(model_name), "training")  # a worker loads it: it must be there
    ctx = context()
    ctx.require_broker()
    job, created = submit_retraining(
        ctx.runtime, ctx.publisher, model_name, body.trigger_type, body.reason
    )
    message = "retraining queued" if created else f"job {job.job_id} is already {job.status}"
    out = job_out(job, TriggerOut, created=created, message=message)
    return json_response(
        out, 202 if created else 200, {"Location": job_url(model_name, job.job_id)}
    )


@bp.post("/retraining/trigger")
@operation(
    tag="jobs",
    access=Access.WRITE,
    responses={
        202: Resp(TriggerAllOut, "At least one job was queued."),
        200: Resp(TriggerAllOut, "No new job: every model had one already, or was skipped."),
    },
    errors=(404,),
)
@json_body(TriggerAllRequest, required=False)
def trigger_all(body: TriggerAllRequest):
    """Trigger the named models, or every configured one

    A model without a training data source is skipped (`outcome: skipped`).
    """
    ctx = context()
    runtime = ctx.runtime
    if body.models is None:
        records = runtime.models.list()
    else:
        found = {name: runtime.models.find(name) for name in dict.fromkeys(body.models)}
        unknown = [name for name, record in found.items() if record is None]
        if unknown:
            raise Problem(404, f"no model named {', '.join(map(repr, unknown))} is configured")
        records = list(found.values())
    ctx.require_broker()
    results = []
    for record in records:
        try:
            model_source(record, "training")
        except MissingSource as exc:
            results.append(
                TriggerResultOut(
                    model_name=record.name, outcome="skipped", job=None, detail=str(exc)
                )
            )
            continue
        job, created = submit_retraining(
            runtime, ctx.publisher, record.name, body.trigger_type, body.reason
        )
        results.append(
            TriggerResultOut(
                model_name=record.name,
                outcome="queued" if created else "already_active",
                job=job_out(job),
                detail=None if created else f"job {job.job_id} is already {job.status}",
            )
        )
    queued = sum(r.outcome == "queued" for r in results)
    return json_response(TriggerAllOut(queued=queued, results=results), 202 if queued else 200)


@bp.get("/retraining/<model_name>/jobs")
@operation(tag="jobs", access=Access.READ, responses={200: Resp(JobListOut, "Newest first.")})
@bp.input(JobsQuery, location="query", arg_name="query")
def list_jobs(model_name: str, query: JobsQuery):
    """A model's retraining jobs, newest first"""
    get_model(model_name)
    jobs = context().runtime.jobs.list(
        model_name,
        limit=query.limit,
        offset=query.offset,
        status=query.status,
        trigger=query.trigger,
    )
    links = page_links(
        model_name,
        "jobs",
        query.limit,
        query.offset,
        len(jobs),
        status=query.status,
        trigger=query.trigger,
    )
    return json_response(
        JobListOut(
            model_name=model_name,
            limit=query.limit,
            offset=query.offset,
            jobs=[job_out(job) for job in jobs],
            links=links,
        )
    )


@bp.get("/retraining/<model_name>/jobs/<job_id>")
@operation(
    tag="jobs", access=Access.READ, responses={200: Resp(JobDetailOut, "The job and its events.")}
)
def get_job(model_name: str, job_id: str):
    """A job, with its audit events"""
    get_model(model_name)
    runtime = context().runtime
    job = runtime.jobs.get_of(model_name, job_id)
    return json_response(job_out(job, JobDetailOut, events=runtime.jobs.events(job_id)))


@bp.post("/retraining/<model_name>/start-monitoring")
@operation(
    tag="monitoring",
    access=Access.WRITE,
    responses={200: Resp(MonitoringStateOut, "Monitoring is on; the first check is due now.")},
    errors=(409,),
)
@json_body(MonitoringRequest, required=False)
def start_monitoring(model_name: str, body: MonitoringRequest):
    """Start continuous monitoring

    Every `check_interval_seconds` (default 3600) the model is checked on its current data and
    retrained when the check calls for it; Celery Beat's dispatcher runs it (embedded: a thread
    of this process).
    """
    monitors_required(get_model(model_name))
    ctx = context()
    ctx.runtime.models.set_monitoring(model_name, body.check_interval_seconds, utcnow())
    ctx.publisher  # noqa: B018  embedded: make sure the dispatcher thread runs
    return _monitoring_state(model_name)


@bp.post("/retraining/<model_name>/stop-monitoring")
@operation(
    tag="monitoring",
    access=Access.WRITE,
    responses={200: Resp(MonitoringStateOut, "Monitoring is off.")},
)
def stop_monitoring(model_name: str):
    """Stop continuous monitoring"""
    get_model(model_name)
    context().runtime.models.set_monitoring(model_name, None, None)
    return _monitoring_state(model_name)


def _monitoring_state(model_name: str):
    ctx = context()
    record = ctx.runtime.models.get(model_name)
    return json_response(
        MonitoringStateOut(
            model_name=model_name,
            monitoring=monitoring_out(record),
            runner="celery-beat" if ctx.distributed else "in-process",
        )
    )
