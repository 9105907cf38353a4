"""``retrain api``: gunicorn (gthread workers) serving ``create_app()``.

Without tokens it listens on loopback only and says that authentication is off; asked to
listen elsewhere without tokens it refuses unless ``insecure`` is given. Each worker opens its
database engine after the fork, and (embedded mode) starts its job threads and dispatcher.
The workers share their request metrics through prometheus_client's multiprocess mode, in
``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory unless set; emptied at start).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from api.context import PublisherFactory
from api.settings import ApiSettings
from shared.settings import Settings

logger = logging.getLogger("retraining.api")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    publisher_factory: PublisherFactory | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    threads: int = 8,
    insecure: bool = False,
    log_level: str = "info",
) -> int:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        api_settings = ApiSettings.from_env()
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"retrain api: {exc}", file=sys.stderr)
        return 2
    if not api_settings.auth_enabled:
        if not is_loopback(host) and not insecure:
            print(
                f"retrain api: refusing to listen on {host} without authentication: set "
                "RETRAINING_API_TOKENS (or RETRAINING_API_TOKENS_FILE), or pass --insecure",
                file=sys.stderr,
            )
            return 2
        logger.warning(
            "authentication is OFF (no RETRAINING_API_TOKENS / RETRAINING_API_TOKENS_FILE): "
            "anyone who can reach %s:%s can use the API%s",
            host,
            port,
            "" if is_loopback(host) else " (--insecure)",
        )
    else:
        read_only = sum(t.read_only for t in api_settings.tokens)
        logger.info(
            "bearer-token authentication on: %d token(s), %d read-only; reads %s",
            len(api_settings.tokens),
            read_only,
            "open" if api_settings.open_reads else "need a token",
        )
    # A request must not wait minutes for an MLflow server that is down (MLflow's default is
    # 7 retries with backoff): fail fast with 503 and let the client retry.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    mode = "distributed (Celery workers via REDIS_URL)" if settings.distributed else "embedded"
    if workers is None:
        workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if settings.distributed else 1))
    logger.info("retrain api on http://%s:%s: %s mode, %d worker(s)", host, port, mode, workers)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    metrics_dir = _multiprocess_metrics_dir()
    _Server(
        {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": 120,
            "graceful_timeout": 30,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": log_level,
            "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
            "child_exit": _child_exit,
            "control_socket_disable": True,  # gunicorn >= 25: no shared socket under ~
        },
        publisher_factory,
    ).run()
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _multiprocess_metrics_dir() -> Path | None:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` before any worker imports prometheus_client (it reads
    the variable at import); returns the directory when it was made here (removed at exit)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # counts of an earlier run would add up
            stale.unlink()
        return None
    made = Path(tempfile.mkdtemp(prefix="retrain-api-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(made)
    return made


def _post_worker_init(worker: Any) -> None:
    worker.wsgi.extensions["retraining"].start_background()


def _worker_exit(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None:
        app.extensions["retraining"].close(wait=False)


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # its live gauges go; its counts stay


class _Server(BaseApplication):
    def __init__(self, options: dict[str, Any], publisher_factory: PublisherFactory | None) -> None:
        self.options = options
        self.publisher_factory = publisher_factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # older gunicorn lacks some settings
                self.cfg.set(key, value)

    def load(self):
        from api.app import create_app

        return create_app(publisher_factory=self.publisher_factory)
