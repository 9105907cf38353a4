"""What every handler needs: the context, a model looked up by its (safe) name, responses."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response
from pydantic import BaseModel

from api.context import context
from api.errors import Problem
from shared.config import validate_model_name
from shared.model_store import ModelRecord


def get_model(name: str) -> ModelRecord:
    """The model, or a 404 (an unsafe name can name no model)."""
    try:
        validate_model_name(name)
    except ValueError as exc:
        raise Problem(404, str(exc).replace("model_name: ", "", 1), title="Unknown model") from None
    return context().runtime.models.get(name)


def json_response(
    body: BaseModel, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(body.model_dump_json(), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def html_response(html: str, status: int = 200) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    # our pages are static HTML: no script, no outside resource
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    )
    return response
