"""Request bodies: parsed strictly from JSON into the pydantic model that documents them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from apiflask.scaffold import _annotate
from flask import request
from pydantic import BaseModel, ValidationError

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
    raw = request.get_data(cache=True)  # past MAX_CONTENT_LENGTH: 413
    if not raw.strip():
        if required:
            raise Problem(400, "this endpoint needs a JSON object as its request body")
        raw = b"{}"
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
