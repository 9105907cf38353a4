"""What every handler needs: the context, a model looked up by its (safe) name, responses."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

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


def page_links(
    model_name: str, collection: str, limit: int, offset: int, returned: int, **filters: object
) -> dict[str, str]:
    """A list's links: its model and, when the page came back full, the next page."""
    base = f"/retraining/{model_name}"
    links = {"model": f"{base}/config"}
    if returned == limit:
        shown = {name: value for name, value in filters.items() if value is not None}
        query = urlencode({"limit": limit, "offset": offset + limit, **shown})
        links["next"] = f"{base}/{collection}?{query}"
    return links


def json_response(
    body: BaseModel, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(body.model_dump_json(), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def html_response(html: str, status: int = 200, *, scripts: bool = False) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    # nothing from another host; scripts (when the page has any) only from /assets
    policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    if scripts:
        policy = (
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:"
        )
    response.headers["Content-Security-Policy"] = policy
    return response
