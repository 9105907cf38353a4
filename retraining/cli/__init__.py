"""``retrain``: run the servers of a deployment, and operate its models from a terminal.

Servers (``servers.py``)::

    retrain worker [--queues retraining,checks] [--concurrency N] [--hostname NAME] [celery options]
    retrain beat | flower [--port 5555] | migrate
    retrain api [--host 127.0.0.1] [--port 8000] [--workers N] [--threads N] [--insecure]

Operating (``operate.py``), on this machine's state by default, or on a running API with
``--api URL`` (token in ``RETRAINING_API_TOKEN``)::

    retrain models | status
    retrain trigger MODEL [--reason R] [--wait]
    retrain jobs MODEL | job ID | check MODEL | report MODEL [--open]

Before deploying (``backtest.py``)::

    retrain backtest HISTORY --window-rows N --initial-rows N [--config JSON] [--html PATH]

A new subcommand is a ``register(commands)`` in a module of this package, listed in
``_MODULES``; an operating one uses ``operate.add_command`` to get ``--api`` and ``--json``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from retraining.cli import backtest, operate, servers
from retraining.cli.errors import run_reporting_errors
from retraining.cli.servers import worker_arguments

__all__ = ["main", "worker_arguments"]

_MODULES = (servers, operate, backtest)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "passes_options_through", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.passthrough = unknown
    return run_reporting_errors(args.run, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrain",
        description="Run the parts of an automated-retraining deployment, and operate its models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _MODULES:
        module.register(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{version('auto-retraining')} (auto-retraining)"
    except PackageNotFoundError:  # a bare checkout
        return "unknown (auto-retraining, not installed)"


if __name__ == "__main__":
    sys.exit(main())
