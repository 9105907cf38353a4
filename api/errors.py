"""Every error as ``application/problem+json`` (RFC 9457), with a detail a person can act on.

Stack traces never leave the process: an unexpected error is logged with a reference id and
answered with that id only.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from apiflask.exceptions import HTTPError
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from shared.errors import Conflict, Invalid, NotFound, RetrainingError, Unavailable

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"

logger = logging.getLogger("retraining.api")


class Problem(Exception):
    """Raise to answer with a problem document; extra keyword arguments become members."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extensions = extensions


def field_problem(errors: list[dict[str, str]], status: int = 422) -> Problem:
    """A validation problem naming each bad field (``errors``: field and message)."""
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    text = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return Problem(status, text + more, title="Invalid request", errors=errors)


def value_error_problem(exc: ValueError) -> Problem:
    """The core's ``ValueError("field: message")`` as a 422 naming the field."""
    text = str(exc)
    name, sep, message = text.partition(": ")
    if not sep or " " in name:
        name, message = "body", text
    return field_problem([{"field": name, "message": message}])


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        **extensions,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _from_problem(problem: Problem) -> Response:
    return problem_response(
        problem.status,
        problem.detail,
        title=problem.title,
        headers=problem.headers,
        **problem.extensions,
    )


def _from_apiflask(error: HTTPError) -> Response:
    detail = error.detail
    if error.status_code == 422 and isinstance(detail, dict):  # query/path validation
        errors = [
            {"field": f"{location}.{name}", "message": "; ".join(messages)}
            for location, fields in detail.items()
            for name, messages in fields.items()
        ]
        if errors:
            return _from_problem(field_problem(errors))
    text = detail if isinstance(detail, str) and detail else (error.message or "error")
    return problem_response(error.status_code, text, headers=dict(error.headers or {}))


def _from_werkzeug(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if isinstance(error, RequestEntityTooLarge):
        limit = request.max_content_length
        detail = f"the request body is larger than the {limit}-byte limit of this API"
        return problem_response(413, detail, headers=headers)
    detail = error.description or HTTPStatus(status).phrase
    if status == 404 and detail.startswith("The requested URL was not found"):
        detail = f"no endpoint at {request.path}: see /openapi.json or /docs"
    if status == 405:
        detail = f"{request.method} is not allowed on {request.path}"
    return problem_response(status, detail, headers=headers)


def _unavailable(exc: Exception) -> Response:
    logger.warning("a backing service is unreachable: %s: %s", type(exc).__name__, exc)
    what = "the broker (Redis)" if _is_broker_error(exc) else "the database"
    return problem_response(
        503,
        f"{what} is unreachable; retry later",
        title="Service Unavailable",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _from_werkzeug(exc)
    if is_unavailable(exc):
        return _unavailable(exc)
    reference = uuid.uuid4().hex[:12]
    logger.error(
        "unexpected error %s on %s %s", reference, request.method, request.path, exc_info=exc
    )
    return problem_response(
        500,
        f"an unexpected error occurred; the server log has it under reference {reference}",
        reference=reference,
    )


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean Postgres, SQLite's file or Redis cannot be reached now."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return True
    return _is_broker_error(exc)


def _is_broker_error(exc: BaseException) -> bool:
    try:
        from kombu.exceptions import OperationalError as KombuOperationalError
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - both ship with celery[redis]
        return False
    return isinstance(exc, KombuOperationalError | RedisConnectionError | RedisTimeoutError)


def _from_core(exc: RetrainingError) -> Response:
    """The core's error kinds, each to its one status; the core's message is the detail."""
    if isinstance(exc, Invalid):
        return _from_problem(value_error_problem(exc))
    if isinstance(exc, Unavailable):
        return problem_response(
            503, str(exc), title="Service Unavailable", headers={"Retry-After": RETRY_AFTER_SECONDS}
        )
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 500
    if status == 500:
        return _unexpected(exc)
    return problem_response(status, str(exc), title=getattr(exc, "title", None))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, _from_problem)
    app.register_error_handler(HTTPError, _from_apiflask)
    app.register_error_handler(HTTPException, _from_werkzeug)
    app.register_error_handler(RetrainingError, _from_core)
    app.register_error_handler(Exception, _unexpected)
