"""The API description: responses and errors declared on each view, added to APIFlask's spec.

APIFlask documents paths, parameters and request bodies from the pydantic models that
validate them; ``operation`` declares the rest (who may call it, the success responses, the
problem responses) and ``complete_spec`` writes it into ``/openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apiflask.scaffold import _annotate
from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.auth import Access, view_access
from api.errors import PROBLEM_JSON
from api.schemas import NAME_PATTERN, ProblemOut

F = TypeVar("F", bound=Callable[..., Any])

DESCRIPTION = """\
Automated retraining of scikit-learn models: configure a model, initialize its monitors,
check it for drift and degradation, retrain it, follow its jobs, serve its champion.

To try an endpoint here: **Authorize** with your bearer token (when the server has tokens),
open the endpoint, then **Try it out**.

**Asynchronous work.** Retrainings and checks run on workers (Celery with `REDIS_URL`, else
threads inside this API process), never inside a request:

* `POST /retraining/{model_name}/trigger` answers **202 Accepted** with the new job and a
  `Location` to poll. While a job of that model is pending or running it starts no other
  and answers **200 OK** with that job (`created: false`).
* `GET /retraining/{model_name}/check` requests a check and waits a few seconds for it
  (`wait`): **200 OK** with the result when it finished in time, else **202 Accepted** with
  the check's id and a `Location` (`GET /retraining/{model_name}/checks/{check_id}`) to poll.
  A check never starts a retraining by itself: trigger one with the check's trigger and
  reason. Periodic checks (`start-monitoring`) do retrain when needed.

**Errors** are `application/problem+json` (RFC 9457) with a `detail` naming what to fix;
422 lists every invalid field in `errors`.

**Authentication.** With tokens configured (`RETRAINING_API_TOKENS`,
`RETRAINING_API_TOKENS_FILE`) send `Authorization: Bearer <token>`: every endpoint needs one
except `/healthz`, `/readyz`, `/openapi.json`, `/docs` and the pages' files under `/assets`;
reads need none when `RETRAINING_API_OPEN_READS=true`; read-only tokens (`ro:`) read and run
checks only (403 otherwise). Without tokens (the local default) nothing is checked and the
server listens on loopback only.
"""

_ERROR_DESCRIPTIONS = {
    400: "Malformed JSON (or a key twice in one object), or a missing body where one is required.",
    401: "No bearer token, or one that is not valid.",
    403: "A read-only token on an endpoint that changes state.",
    404: "Unknown model, job, check or prediction (or an unsafe model name).",
    409: "The model's state does not allow it yet (the detail says what to do first).",
    413: "The request body is larger than RETRAINING_API_MAX_BODY_BYTES.",
    415: "A request body that is not declared as JSON (Content-Type: application/json).",
    422: "A field is invalid: the detail names it, `errors` lists every one.",
    503: "The database or the broker is unreachable; retry after `Retry-After` seconds.",
}


@dataclass(frozen=True)
class Resp:
    """A success response: its model (None: plain text), description and headers."""

    model: type[BaseModel] | None
    description: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    also_html: bool = False  # the same resource as text/html (content negotiation)


def operation(
    *,
    tag: str,
    access: Access,
    responses: dict[int, Resp],
    errors: Iterable[int] = (),
) -> Callable[[F], F]:
    """Declare an endpoint's access level, success responses and extra problem responses."""

    def mark(view: F) -> F:
        view._access = access  # type: ignore[attr-defined]
        view._responses = responses  # type: ignore[attr-defined]
        view._errors = tuple(errors)  # type: ignore[attr-defined]
        _annotate(view, tags=[tag])
        return view

    return mark


def hidden(view: F) -> F:
    _annotate(view, hide=True)
    return view


def complete_spec(app: Flask, spec: dict[str, Any]) -> dict[str, Any]:
    """APIFlask's ``spec_processor``: responses, errors, security and path parameters."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    refs = _register_models(schemas, _response_models(app))
    components["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from RETRAINING_API_TOKENS (or whose SHA-256 digest is "
            "in RETRAINING_API_TOKENS_FILE). Not checked when no token is configured.",
        }
    }
    spec["info"]["description"] = DESCRIPTION
    spec.pop("servers", None)  # relative to wherever the document was fetched from
    paths = spec.get("paths", {})
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "_responses"):
            continue
        path = _openapi_path(rule.rule)
        for method in rule.methods or ():
            operation_spec = paths.get(path, {}).get(method.lower())
            if operation_spec is not None:
                _complete_operation(operation_spec, view, refs)
    return spec


def _complete_operation(op: dict[str, Any], view: Callable, refs: dict[type, dict]) -> None:
    responses: dict[str, Any] = {}
    for status, resp in view._responses.items():
        responses[str(status)] = _response(resp, refs)
    for status in _error_statuses(op, view):
        responses[str(status)] = {
            "description": _ERROR_DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": refs[ProblemOut]}},
        }
        if status == 401:
            responses["401"]["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
            }
        if status == 503:
            responses["503"]["headers"] = {
                "Retry-After": {"description": "Seconds", "schema": {"type": "string"}}
            }
    op["responses"] = dict(sorted(responses.items()))
    level = view_access(view)
    op["security"] = [] if level is Access.PUBLIC else [{"bearerAuth": []}]
    op["x-access"] = str(level)
    if "requestBody" in op:
        op["requestBody"]["required"] = getattr(view, "_body_required", True)
    for parameter in op.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        if parameter["name"] == "model_name":
            parameter["schema"] = {"type": "string", "pattern": NAME_PATTERN, "maxLength": 128}
        else:
            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 64}


def _error_statuses(op: dict[str, Any], view: Callable) -> set[int]:
    statuses = set(view._errors)
    level = view_access(view)
    if level is not Access.PUBLIC:
        statuses |= {401, 503}
    if level is Access.WRITE:
        statuses.add(403)
    if "requestBody" in op:
        statuses |= {400, 413, 415, 422}
    if any(p.get("in") == "query" for p in op.get("parameters", [])):
        statuses.add(422)
    if any(p.get("in") == "path" for p in op.get("parameters", [])):
        statuses.add(404)
    return statuses


def _response(resp: Resp, refs: dict[type, dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": resp.description}
    if resp.model is None:
        out["content"] = {resp.content_type: {"schema": {"type": "string"}}}
    else:
        out["content"] = {resp.content_type: {"schema": refs[resp.model]}}
    if resp.also_html:
        out["content"]["text/html"] = {"schema": {"type": "string"}}
    if resp.headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in resp.headers.items()
        }
    return out


def _response_models(app: Flask) -> list[type[BaseModel]]:
    models: list[type[BaseModel]] = [ProblemOut]
    for view in app.view_functions.values():
        for resp in getattr(view, "_responses", {}).values():
            if resp.model is not None and resp.model not in models:
                models.append(resp.model)
    return models


def _register_models(schemas: dict[str, Any], models: list[type[BaseModel]]) -> dict[type, dict]:
    mapping, definitions = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    return {model: mapping[(model, "serialization")] for model in models}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^<:>]+:)?([^<>]+)>", r"{\1}", rule)
