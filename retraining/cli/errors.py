"""How ``retrain`` fails: one line on stderr that says what to do, and an exit status.

| status | meaning |
|--------|---------|
| 1 | refused or failed: a conflict, an invalid value, a job or check that failed |
| 2 | usage: an unknown option or a missing argument (argparse) |
| 3 | not found: no such model, job or check |
| 4 | denied: no token, a token that is not valid, or a read-only one |
| 5 | unavailable: the database, the broker or the API cannot be reached |
| 130 | interrupted (Ctrl-C) |

A traceback is shown only with ``RETRAINING_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from shared.errors import Conflict, Invalid, NotFound, Unavailable

FAILED, USAGE, NOT_FOUND, DENIED, UNAVAILABLE, INTERRUPTED = 1, 2, 3, 4, 5, 130

# What `pip install 'auto-retraining[server]'` adds to a plain install
SERVER_MODULES = frozenset(
    {
        "flask",
        "apiflask",
        "werkzeug",
        "gunicorn",
        "celery",
        "kombu",
        "redis",
        "flower",
        "tornado",
        "psycopg2",
    }
)


def needs_server_extra(module: str) -> str:
    return (
        f"this needs the server extra ({module} is not installed): "
        "pip install 'auto-retraining[server]'"
    )


class CliError(Exception):
    """A failure to report as one line, with its exit status."""

    def __init__(self, message: str, status: int = FAILED) -> None:
        super().__init__(message)
        self.status = status


def run_reporting_errors(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``run(args)``, with every failure turned into one line on stderr and its status."""
    try:
        return run(args)
    except KeyboardInterrupt:
        return fail("interrupted", INTERRUPTED)
    except CliError as exc:
        return fail(str(exc), exc.status)
    except NotFound as exc:
        return fail(str(exc), NOT_FOUND)
    except (Conflict, Invalid) as exc:
        return fail(str(exc), FAILED)
    except Unavailable as exc:
        return fail(str(exc), UNAVAILABLE)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_MODULES or os.environ.get(
            "RETRAINING_DEBUG"
        ):
            raise
        return fail(needs_server_extra(exc.name or ""), FAILED)
    except Exception as exc:
        if os.environ.get("RETRAINING_DEBUG"):
            raise
        unreachable = database_unreachable(exc)
        if unreachable is not None:
            return fail(unreachable, UNAVAILABLE)
        return fail(
            f"unexpected error: {type(exc).__name__}: {first_line(str(exc))} "
            "(RETRAINING_DEBUG=1 shows the traceback)",
            FAILED,
        )


def fail(message: str, status: int) -> int:
    print(f"retrain: {message}", file=sys.stderr)
    return status


def database_unreachable(exc: BaseException) -> str | None:
    """The line to print when ``exc`` says the database cannot be reached, else None."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, OperationalError | DBAPIError) or (
        isinstance(exc, DBAPIError)
        and not isinstance(exc, OperationalError)
        and not exc.connection_invalidated
    ):
        return None
    from shared.settings import Settings

    cause = first_line(str(getattr(exc, "orig", None) or exc))
    where = shown_database_url(Settings.from_env().database_url)
    return f"the database at {where} is unreachable: {cause}"


def shown_database_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(the configured DATABASE_URL)"


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"
