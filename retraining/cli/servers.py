"""The servers of a deployment: ``retrain worker | beat | flower | migrate | api``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from workers.config import CHECKS_QUEUE, RETRAINING_QUEUE


def register(commands: Any) -> None:
    """Add the server subcommands to ``commands`` (argparse's subparsers)."""
    worker = commands.add_parser(
        "worker",
        help="a Celery worker (needs REDIS_URL)",
        description="A Celery worker. Any option not listed here goes to `celery worker` as "
        "it is, e.g. --autoscale 4,1, --max-tasks-per-child 10, -O fair.",
        # no abbreviations: `--q` or `--conc` must not take a Celery option for one of ours
        allow_abbrev=False,
    )
    worker.add_argument("--queues", default=f"{RETRAINING_QUEUE},{CHECKS_QUEUE}")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.add_argument("--pool", default=None, help="Celery pool: prefork (default), solo, ...")
    worker.add_argument(
        "--hostname", default=None, help="node name, e.g. worker2@%%h (several workers per host)"
    )
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(run=_worker, passes_options_through=True)

    beat = commands.add_parser("beat", help="Celery Beat: the dispatcher and reconciler")
    beat.add_argument("--loglevel", default="INFO")
    beat.set_defaults(run=_beat)

    flower = commands.add_parser("flower", help="the Flower dashboard")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1")
    flower.add_argument(
        "--read-only",
        action="store_true",
        default=os.environ.get("FLOWER_READ_ONLY", "").lower() in ("1", "true", "yes"),
        help="watch only: refuse every request that would steer workers or tasks "
        "(also FLOWER_READ_ONLY=true)",
    )
    flower.set_defaults(run=_flower)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(run=_migrate)

    api = commands.add_parser(
        "api", help="the HTTP API (gunicorn; without REDIS_URL it runs the jobs itself)"
    )
    api.add_argument("--host", default="127.0.0.1", help="without tokens: loopback only")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=None, help="default 1 embedded, 2 with Redis")
    api.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    api.add_argument(
        "--insecure", action="store_true", help="listen beyond loopback with no token configured"
    )
    api.add_argument("--log-level", default="info")
    api.set_defaults(run=_api)


def _celery(*arguments: str) -> int:
    _require_broker()
    _require_installed("celery")
    command = [sys.executable, "-m", "celery", "-A", "workers.app", *arguments]
    os.execv(sys.executable, command)
    return 0  # not reached


def _worker(args: argparse.Namespace) -> int:
    # A worker runs as many trainings at once as it has processes (prefork: one per core, and
    # often several workers per host). scikit-learn's OpenMP models would each start a thread
    # per core on top: oversubscribed, trainings ran 10-40 times slower. One thread per
    # training unless the deployment says otherwise.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return _celery(*worker_arguments(args))


def worker_arguments(args: argparse.Namespace) -> list[str]:
    """``celery -A workers.app`` arguments for ``retrain worker``: ours, then the passthrough.

    The passthrough comes last, so an option given twice (``-Q checks`` after our
    ``--queues``) takes the user's value: Celery keeps the last one.
    """
    extra = ["--concurrency", str(args.concurrency)] if args.concurrency else []
    extra += ["--pool", args.pool] if args.pool else []
    extra += ["--hostname", args.hostname] if args.hostname else []
    return [
        "worker",
        "--queues",
        args.queues,
        "--loglevel",
        args.loglevel,
        "--events",
        *extra,
        *getattr(args, "passthrough", []),
    ]


def _beat(args: argparse.Namespace) -> int:
    from shared.settings import Settings

    settings = Settings.from_env()
    settings.ensure_dirs()
    schedule_file = str(settings.home / "celerybeat-schedule")
    return _celery("beat", "--loglevel", args.loglevel, "--schedule", schedule_file)


def _flower(args: argparse.Namespace) -> int:
    """Basic auth from FLOWER_BASIC_AUTH ("user:password[,user2:password2]")."""
    extra = [f"--port={args.port}", f"--address={args.address}"]
    auth = os.environ.get("FLOWER_BASIC_AUTH")
    if auth:
        extra.append(f"--basic-auth={auth}")
    elif args.address not in ("127.0.0.1", "localhost", "::1"):
        print(
            "retrain flower: refusing to serve beyond loopback without FLOWER_BASIC_AUTH",
            file=sys.stderr,
        )
        return 2
    _require_broker()
    _require_installed("flower")
    read_only = ["--read-only"] if args.read_only else []
    command = [sys.executable, "-m", "workers.flower", *read_only, *extra]
    os.execv(sys.executable, command)
    return 0  # not reached


def _migrate(_args: argparse.Namespace) -> int:
    from shared.runtime import Runtime

    runtime = Runtime.from_env()
    print(f"schema up to date at {runtime.engine.url.render_as_string(hide_password=True)}")
    runtime.dispose()
    return 0


def _api(args: argparse.Namespace) -> int:
    from api.server import serve
    from retraining.wiring import distributed_publisher

    return serve(
        distributed_publisher,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        insecure=args.insecure,
        log_level=args.log_level,
    )


def _require_installed(module: str) -> None:
    """Before an exec: a missing package would otherwise fail in the new process, unexplained."""
    import importlib.util

    from retraining.cli.errors import CliError, needs_server_extra

    if importlib.util.find_spec(module) is None:
        raise CliError(needs_server_extra(module))


def _require_broker() -> None:
    if not os.environ.get("REDIS_URL"):
        sys.exit("retrain: REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
