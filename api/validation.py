"""Request bodies: parsed strictly from JSON into the pydantic model that documents them.

Strict at the edge, before any parsing: a body over ``RETRAINING_API_MAX_BODY_BYTES`` is a
413 whether its length is declared or not (chunked: read up to the limit and no further); a
body that is not declared JSON is a 415; a JSON object with a key twice is a 400 (JSON
parsers disagree on which one wins, so none is chosen for the client).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from apiflask.scaffold import _annotate
from flask import current_app, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import Problem, field_problem

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)

_ROLES = {"training", "reference", "current"}
_MESSAGES = {"extra_forbidden": "unknown field", "missing": "required"}


def json_body(model: type[BaseModel], *, required: bool = True) -> Callable[[F], F]:
    """Pass the validated body as ``body``; an empty body is ``{}`` unless ``required``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs["body"] = parse_body(model, required=required)
            return view(*args, **kwargs)

        _annotate(wrapper, body=model, content_type="application/json")
        wrapper._body_required = required  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def parse_body(model: type[M], *, required: bool) -> M:
    raw = read_body()
    if not raw.strip():
        if required:
            raise Problem(400, "this endpoint needs a JSON object as its request body")
        raw = b"{}"
    else:
        _require_json_media_type()
        _refuse_duplicate_keys(raw)
    if b"\\u0000" in raw:  # no database stores it in text (Postgres refuses it)
        raise field_problem(
            [{"field": "body", "message": "strings must not contain the NUL character"}]
        )
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        invalid = next((e for e in errors if e["type"] == "json_invalid"), None)
        if invalid is not None:
            raise Problem(
                400,
                f"the request body is not valid JSON ({invalid['msg']})",
                title="Malformed JSON",
            ) from None
        raise field_problem([_field_error(error) for error in errors]) from None


def read_body() -> bytes:
    """The body, never more than the limit: 413 past it, declared length or not."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None:
        return request.get_data(cache=True)  # a declared length past the limit: 413 unread
    environ = request.environ
    if not environ.get("wsgi.input_terminated"):
        # No length and a server that does not end the stream: nothing can be read safely
        # (Werkzeug's rule); gunicorn ends chunked bodies, so it sets this.
        return b""
    stream, parts, size = environ["wsgi.input"], [], 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
    raise RequestEntityTooLarge()  # one byte past the limit: the rest is never read


_JSON_TYPES = ("application/json",)


def _require_json_media_type() -> None:
    mimetype = request.mimetype
    if mimetype in _JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    ):
        return
    got = f"'{request.content_type}'" if request.content_type else "no Content-Type"
    raise Problem(
        415,
        f"the request body must be JSON: send 'Content-Type: application/json' (got {got})",
        title="Unsupported Media Type",
    )


def _refuse_duplicate_keys(raw: bytes) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise Problem(
                    400,
                    f"the request body has the key {key!r} twice in one object; send each once",
                    title="Malformed JSON",
                )
            seen.add(key)
        return dict(items)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):  # not JSON at all: pydantic says why, below
        return


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    parts: list[str] = []
    for item in error["loc"]:
        # a discriminated source's kind shows up in the location: keep the path readable
        if parts and parts[-1] in _ROLES and item in ("file", "sql", "callable"):
            continue
        parts.append(f"[{item}]" if isinstance(item, int) else str(item))
    name = ".".join(parts).replace(".[", "[") or "body"
    message = _MESSAGES.get(error["type"], error["msg"])
    if name == "body" and error["type"] == "model_type":
        message = "must be a JSON object"
    return {"field": name, "message": message}
