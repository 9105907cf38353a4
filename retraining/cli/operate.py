"""Operating models from a terminal: ``retrain models | status | trigger | jobs | job | check |
report | promotions | rollback | resume``, on this machine's state or, with ``--api URL``, on
a running HTTP API.

Every command goes through an operator with one interface: ``local.LocalOperator`` (the
core's use cases, in this process) or ``remote.ApiOperator`` (the HTTP API's endpoints). To
add a command: a ``_name(args, operator)`` function and one ``add_command`` line in
``register``; it gets ``--api`` and ``--json`` for free.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import retraining.cli.render as render
from retraining.cli.errors import FAILED, CliError

API_URL_VARIABLE = "RETRAINING_API_URL"
Command = Callable[[argparse.Namespace, Any], int]


def register(commands: Any) -> None:
    """Add the operating subcommands to ``commands`` (argparse's subparsers)."""
    add_command(commands, "models", _models, "list the configured models")
    add_command(commands, "status", _status, "the system at a glance: database, jobs, models")

    trigger = add_command(commands, "trigger", _trigger, "start a retraining of MODEL")
    trigger.add_argument("model", metavar="MODEL")
    trigger.add_argument("--reason", default="", help="why (recorded with the job)")
    trigger.add_argument(
        "--wait", action="store_true", help="wait for a queued job to end (embedded: always)"
    )
    trigger.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")

    jobs = add_command(commands, "jobs", _jobs, "MODEL's retraining jobs, newest first")
    jobs.add_argument("model", metavar="MODEL")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--status", choices=("pending", "running", "completed", "failed"))

    job = add_command(commands, "job", _job, "one job: its scores, decision and audit trail")
    job.add_argument("job_id", metavar="ID")
    job.add_argument("--model", default=None, help="the job's model (saves a search over the API)")

    check = add_command(commands, "check", _check, "check MODEL's current data for drift")
    check.add_argument("model", metavar="MODEL")
    check.add_argument("--timeout", type=float, default=900, help="seconds to wait at most")

    promotions = add_command(
        commands, "promotions", _promotions, "MODEL's promotion ledger, newest first"
    )
    promotions.add_argument("model", metavar="MODEL")
    promotions.add_argument("--limit", type=int, default=20)

    rollback = add_command(
        commands, "rollback", _rollback, "make an earlier champion of MODEL the champion again"
    )
    rollback.add_argument("model", metavar="MODEL")
    rollback.add_argument(
        "--to",
        dest="to_version",
        default=None,
        metavar="VERSION",
        help="the version to restore (default: the champion before the current one)",
    )
    rollback.add_argument("--reason", default="", help="why (recorded in the ledger)")

    resume = add_command(
        commands, "resume", _resume, "resume MODEL's automatic retraining paused by storm control"
    )
    resume.add_argument("model", metavar="MODEL")

    report = add_command(commands, "report", _report, "write MODEL's HTML report")
    report.add_argument("model", metavar="MODEL")
    report.add_argument("--output", type=Path, default=None, help="where to write it")
    report.add_argument("--open", action="store_true", help="open it in a browser")


def add_command(commands: Any, name: str, run: Command, help: str) -> argparse.ArgumentParser:
    """A subcommand that operates on models: ``run(args, operator)``, with ``--api``/``--json``."""
    parser = commands.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
    parser.add_argument(
        "--api",
        metavar="URL",
        default=os.environ.get(API_URL_VARIABLE) or None,
        help=f"a running `retrain api` (also {API_URL_VARIABLE}); token: RETRAINING_API_TOKEN",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(run=lambda args: _with_operator(run, args))
    return parser


def _with_operator(run: Command, args: argparse.Namespace) -> int:
    if args.api:
        from retraining.cli.remote import ApiOperator

        operator: Any = ApiOperator(args.api)
    else:
        from retraining.cli.local import LocalOperator

        # MLflow sets its own log level when it is imported (mid-job): its INFO lines about
        # creating tables would land between the spinner and the result
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        operator = LocalOperator()
    try:
        return run(args, operator)
    finally:
        operator.close()


# -- the commands ---------------------------------------------------------------------------


def _models(args: argparse.Namespace, operator: Any) -> int:
    models = operator.models()
    if args.json:
        render.print_json(models)
    elif models:
        render.console().print(render.models_table(models))
    else:
        render.console().print(f"no models in {operator.where} yet")
    return 0


def _status(args: argparse.Namespace, operator: Any) -> int:
    status = operator.status()
    if args.json:
        render.print_json(status)
    else:
        render.print_status(status, operator.where)
    return 0


def _trigger(args: argparse.Namespace, operator: Any) -> int:
    doing = f"retraining {args.model} in this process" if operator.runs_here else "queueing"
    with progress(doing, follow_jobs=operator.runs_here):
        job = operator.trigger(args.model, args.reason)
    if not job.get("created", True) and not args.json:
        render.console().print(f"{args.model} already has job {job['job_id']} ({job['status']})")
    if args.wait and job["status"] not in ("completed", "failed"):
        with progress(f"waiting for job {job['job_id']} of {args.model}"):
            job = operator.wait_job(job, args.timeout)
    if args.json:
        render.print_json(job)
    elif job["status"] in ("completed", "failed"):
        render.print_job(job)
    else:
        render.console().print(
            f"job {job['job_id']} of {args.model} is {job['status']}: "
            f"follow it with `retrain job {job['job_id']}`"
        )
    return _job_status(job)


def _jobs(args: argparse.Namespace, operator: Any) -> int:
    if args.limit < 1:
        raise CliError("--limit: must be at least 1", 2)
    jobs = operator.jobs(args.model, args.limit, args.status)
    if args.json:
        render.print_json(jobs)
    elif jobs:
        render.console().print(render.jobs_table(args.model, jobs))
    else:
        render.console().print(f"{args.model} has no jobs yet: `retrain trigger {args.model}`")
    return 0


def _job(args: argparse.Namespace, operator: Any) -> int:
    job = operator.job(args.job_id, args.model)
    if args.json:
        render.print_json(job)
    else:
        render.print_job(job)
    return 0


def _check(args: argparse.Namespace, operator: Any) -> int:
    doing = f"checking {args.model} in this process" if operator.runs_here else "requesting"
    with progress(doing):
        check = operator.check(args.model)
    if check["status"] not in ("completed", "failed"):
        with progress(f"waiting for check {check['check_id']} of {args.model}"):
            check = operator.wait_check(check, args.timeout)
    if args.json:
        render.print_json(check)
    else:
        render.print_check(check)
    return FAILED if check["status"] == "failed" else 0


def _report(args: argparse.Namespace, operator: Any) -> int:
    with progress(f"writing the report of {args.model}"):
        path = operator.report(args.model, args.output)
    if args.json:
        render.print_json({"model_name": args.model, "path": str(path)})
    else:
        render.console().print(f"report of {args.model}: {path}")
    if args.open:
        import webbrowser

        webbrowser.open(Path(path).resolve().as_uri())
    return 0


def _promotions(args: argparse.Namespace, operator: Any) -> int:
    if args.limit < 1:
        raise CliError("--limit: must be at least 1", 2)
    entries = operator.promotions(args.model, args.limit)
    if args.json:
        render.print_json(entries)
    elif entries:
        render.console().print(render.promotions_table(args.model, entries))
    else:
        render.console().print(f"{args.model} has no promotions yet")
    return 0


def _rollback(args: argparse.Namespace, operator: Any) -> int:
    with progress(f"rolling back {args.model}"):
        entry = operator.rollback(args.model, args.to_version, args.reason, _actor())
    if args.json:
        render.print_json(entry)
    else:
        render.console().print(
            f"{args.model}: version {entry['to_version']} is the champion again "
            f"(was {entry['from_version']}): {entry['reason']}"
        )
    return 0


def _resume(args: argparse.Namespace, operator: Any) -> int:
    state = operator.resume(args.model, _actor())
    if args.json:
        render.print_json(state)
    else:
        render.console().print(f"automatic retraining of {args.model} runs again")
    return 0


def _actor() -> str:
    """Who is at the terminal, for the ledger."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a container without one)
        return "cli"


def _job_status(job: dict[str, Any]) -> int:
    return FAILED if job["status"] == "failed" else 0


# -- progress -------------------------------------------------------------------------------


@contextlib.contextmanager
def progress(doing: str, *, follow_jobs: bool = False) -> Iterator[None]:
    """A spinner on stderr while the block runs; with ``follow_jobs``, the job's own log lines
    (rows loaded, fit, scores, version, decision) replace its text as they come."""
    from rich.console import Console

    status = Console(stderr=True).status(f"{doing} ...")
    handler = _StatusHandler(lambda message: status.update(f"{doing}: {message}"))
    jobs_log = logging.getLogger("retraining.jobs")
    quiet = _quiet_logs()
    with status, quiet:
        if follow_jobs:
            jobs_log.addHandler(handler)
        try:
            yield
        finally:
            jobs_log.removeHandler(handler)


class _StatusHandler(logging.Handler):
    def __init__(self, show: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._show = show

    def emit(self, record: logging.LogRecord) -> None:
        self._show(record.getMessage())


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The job's outcome is printed as a table: its log lines only feed the spinner, and the
    libraries' INFO chatter (MLflow, Alembic) stays out of the terminal."""
    saved = {}
    for name, level in (
        ("retraining", logging.INFO),
        ("mlflow", logging.ERROR),
        ("alembic", logging.WARNING),
    ):
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.propagate)
        logger.setLevel(level)
        logger.propagate = False
    try:
        yield
    finally:
        for name, (level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
