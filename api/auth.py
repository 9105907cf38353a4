"""Bearer tokens: who may read and who may change.

With no token configured, nothing is checked (``retrain api`` then listens on loopback only).
With tokens, every endpoint needs one except the public ones (health, the API description),
and reads need none when ``RETRAINING_API_OPEN_READS`` is set. A read-only token reads and
runs checks; changing anything needs a full token. Tokens are compared as SHA-256 digests
with ``hmac.compare_digest``, every configured digest each time; they are never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from flask import current_app, request

from api.errors import Problem
from api.settings import ApiSettings, TokenDigest, digest

F = TypeVar("F", bound=Callable)

REALM = 'Bearer realm="retraining"'


class Access(StrEnum):
    PUBLIC = "public"  # no token ever (health, API description)
    READ = "read"  # any token; none when reads are open
    RUN = "run"  # any token, read-only included; never open (it starts work)
    WRITE = "write"  # a full token


def access(level: Access) -> Callable[[F], F]:
    """Declare what a view needs; a view without a declaration needs a full token."""

    def mark(view: F) -> F:
        view._access = level  # type: ignore[attr-defined]
        return view

    return mark


def view_access(view: Callable | None) -> Access:
    return getattr(view, "_access", Access.WRITE)


def authorize_request(settings: ApiSettings) -> None:
    """``before_request``: raise a 401/403 problem unless this request may proceed."""
    if not settings.auth_enabled or request.endpoint is None:
        return
    level = view_access(current_app.view_functions.get(request.endpoint))
    if level is Access.PUBLIC or (level is Access.READ and settings.open_reads):
        return
    token = _bearer_token()
    if token is None:
        raise Problem(
            401,
            "this endpoint needs a bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": REALM},
        )
    match = _match(settings.tokens, token)
    if match is None:
        raise Problem(
            401,
            "the bearer token is not valid",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    if level is Access.WRITE and match.read_only:
        raise Problem(
            403,
            "this token is read-only; changing state needs a full token",
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope"'},
        )


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _match(tokens: tuple[TokenDigest, ...], token: str) -> TokenDigest | None:
    presented = digest(token)
    found = None
    for candidate in tokens:  # no early exit: the time taken does not depend on which matched
        if hmac.compare_digest(candidate.digest, presented) and found is None:
            found = candidate
    return found
