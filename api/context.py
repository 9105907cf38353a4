"""What one API process works with, created on first use (after gunicorn forks its workers).

``ApiContext`` holds the settings and opens, lazily and once per process, the runtime (the
database engine, migrated on open) and the publisher: with ``REDIS_URL``, the one the app's
factory makes (Celery's; ``retrain api`` wires it), else the in-process one, with a
dispatcher thread that plays Celery Beat (the embedded mode).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import make_url

from api.errors import Problem
from api.settings import ApiSettings
from shared.registry_sync import reconcile_registry
from shared.runtime import Runtime
from shared.settings import Settings
from shared.usecases.due_work import Ticker, start_due_work
from shared.usecases.ports import InProcessPublisher, Publisher
from shared.usecases.reconcile import reconcile_jobs

PublisherFactory = Callable[[Settings], Publisher]

logger = logging.getLogger("retraining.api")

_BROKER_CACHE_SECONDS = 2.0


class ApiContext:
    def __init__(
        self,
        settings: Settings,
        api: ApiSettings,
        publisher_factory: PublisherFactory | None = None,
    ) -> None:
        if settings.distributed and publisher_factory is None:
            raise ValueError(
                "REDIS_URL: the distributed mode needs a publisher for it (`retrain api` wires "
                "Celery's: retraining.wiring.distributed_publisher)"
            )
        self.settings = settings
        self.api = api
        self._publisher_factory = publisher_factory
        self._lock = threading.RLock()
        self._reset()
        atexit.register(self.close)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._runtime: Runtime | None = None
        self._publisher: Publisher | None = None
        self._dispatcher: Ticker | None = None
        self._broker_checked: tuple[float, bool, str | None] = (0.0, False, None)

    def _same_process(self) -> None:
        if self._pid != os.getpid():  # forked: nothing of the parent's may be reused
            self._reset()

    @property
    def distributed(self) -> bool:
        return self.settings.distributed

    @property
    def runtime(self) -> Runtime:
        self._same_process()
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = Runtime(self.settings)
        return self._runtime

    @property
    def publisher(self) -> Publisher:
        """The given publisher, or the in-process one (whose dispatcher starts with it)."""
        self._same_process()
        if self._publisher is None:
            with self._lock:
                if self._publisher is None:
                    self._publisher = self._open_publisher()
        return self._publisher

    def _open_publisher(self) -> Publisher:
        if self.distributed:
            assert self._publisher_factory is not None  # checked in __init__
            return self._publisher_factory(self.settings)
        publisher = InProcessPublisher(
            lambda: self.runtime, self.api.job_threads, self.api.check_threads
        )

        def dispatch() -> None:
            start_due_work(self.runtime, publisher)
            reconcile_jobs(self.runtime, publisher)
            reconcile_registry(self.runtime)

        self._dispatcher = Ticker(
            dispatch, self.api.dispatch_interval_seconds, name="retrain-dispatcher"
        )
        self._dispatcher.start()
        logger.info(
            "embedded mode: jobs and checks run in this process (pid %s); due work is "
            "dispatched every %.0f s",
            os.getpid(),
            self.api.dispatch_interval_seconds,
        )
        return publisher

    def start_background(self) -> None:
        """Open the runtime and, embedded, the worker threads now rather than on first use."""
        try:
            self.runtime  # noqa: B018
            self.publisher  # noqa: B018
        except Exception as exc:  # a database down at start-up is retried on first use
            logger.warning("could not open the runtime yet: %s", exc)

    # -- reachability --------------------------------------------------------------------

    def database_status(self) -> tuple[bool, str | None]:
        try:
            with self.runtime.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return True, None
        except Exception as exc:
            return False, f"{type(exc).__name__}: {_first_line(exc)}"

    def broker_status(self, fresh: bool = False) -> tuple[bool, str | None]:
        """Redis answers a PING (cached briefly); embedded mode has no broker to lose."""
        if not self.distributed:
            return True, None
        checked_at, ok, detail = self._broker_checked
        if not fresh and time.monotonic() - checked_at < _BROKER_CACHE_SECONDS:
            return ok, detail
        import redis

        client = redis.Redis.from_url(
            self.settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0
        )
        try:
            client.ping()
            ok, detail = True, None
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {_first_line(exc)}"
        finally:
            client.close()
        self._broker_checked = (time.monotonic(), ok, detail)
        return ok, detail

    def require_broker(self) -> None:
        ok, _ = self.broker_status()
        if not ok:
            raise Problem(
                503,
                "the broker (Redis) is unreachable, so no work can be queued; retry later",
                headers={"Retry-After": "5"},
            )

    def ping_workers(self, timeout: float = 1.0) -> tuple[list[str], str | None]:
        """Names of the Celery workers that answered a ping (distributed mode)."""
        try:
            replies = self.publisher.app.control.ping(timeout=timeout) or []
        except Exception as exc:
            return [], f"{type(exc).__name__}: {_first_line(exc)}"
        return sorted(name for reply in replies for name in reply), None

    def database_url(self) -> str:
        return _safe_url(self.settings.database_url)

    def broker_url(self) -> str | None:
        return _safe_url(self.settings.redis_url) if self.settings.redis_url else None

    def close(self, wait: bool = True) -> None:
        """Stop the worker threads (``wait``: for work in progress) and release the engine."""
        if self._pid != os.getpid():
            return
        with self._lock:
            if self._dispatcher is not None:
                self._dispatcher.stop(timeout=10)
                self._dispatcher = None
            if isinstance(self._publisher, InProcessPublisher):
                self._publisher.close(wait=wait)
            elif self._publisher is not None:
                self._publisher.close()
            self._publisher = None
            if self._runtime is not None:
                self._runtime.dispose()
                self._runtime = None


def context() -> ApiContext:
    return current_app.extensions["retraining"]


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]
