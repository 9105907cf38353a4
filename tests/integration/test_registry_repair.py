"""MLflow stops right after the database promotion, then comes back: the alias follows.

A real ``mlflow server`` (SQLite backend, served artifacts) sits behind a TCP relay in this
process, which workers reach as their ``MLFLOW_TRACKING_URI``. When the first request to move
the ``champion`` alias arrives (the first MLflow call after the promotion's commit), the relay
SIGKILLs the server and drops the connection. The job must still be ``completed, promoted``
with no error and no ERROR in the worker's log; the registry change stays owed while MLflow is
down (Beat's reconciler tries each period), and once the server is back (restarted on the same
store) the next reconcile moves the alias, the stage and the version's tags, with an event.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
from dataclasses import replace

import pytest
import sqlalchemy as sa
from dist_harness import MlflowServer, configure_models, event_rows, wait_until

from shared.db.schema import registry_pending
from shared.enums import JobStatus, RetrainingTrigger
from shared.runtime import Runtime
from shared.usecases.retraining import submit_retraining
from workers.publisher import CeleryPublisher

pytestmark = pytest.mark.integration

MODEL = "registry_repair"
PERIOD = 2  # Beat's dispatcher and reconciler period, seconds
ALIAS_MOVE = b"POST /api/2.0/mlflow/registered-models/alias"


class Relay:
    """A TCP relay to the MLflow server that can stop it when a request line is seen."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.trip_on: bytes | None = None
        self.on_trip = lambda: None
        self.tripped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            client.close()  # the server is down: the client sees its connection dropped
            return
        upstream.settimeout(None)
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream, inspect=True)

    def _pump(self, source: socket.socket, sink: socket.socket, inspect: bool = False) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if inspect and self.trip_on is not None and self.trip_on in data:
                    self.trip_on = None
                    self.tripped.set()
                    self.on_trip()
                    break
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


def test_the_alias_is_repaired_after_mlflow_fails_right_after_the_promotion(
    make_stack, database_url, redis_url, processes, mlflow_template, tmp_path
):
    store = tmp_path / "mlflow-server.db"
    shutil.copyfile(mlflow_template, store)
    server = MlflowServer(processes, f"sqlite:///{store}", tmp_path / "mlflow-artifacts").start()
    relay = Relay(server.port)
    stack = replace(
        make_stack(
            database_url,
            redis_url,
            RETRAINING_DISPATCH_INTERVAL=str(PERIOD),
            # retry at once (a keep-alive connection the server just closed), but not for
            # minutes: the outage is the test
            MLFLOW_HTTP_REQUEST_MAX_RETRIES="2",
            MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="0",
            MLFLOW_HTTP_REQUEST_BACKOFF_JITTER="0",
            MLFLOW_HTTP_REQUEST_TIMEOUT="10",
        ),
        mlflow_uri=relay.url,
    )
    settings = stack.settings()
    configure_models(settings, [MODEL], promotion_stage="Production")
    worker = stack.start_worker("w1")
    stack.start_beat("beat")
    relay.trip_on = ALIAS_MOVE
    relay.on_trip = server.proc.kill  # SIGKILL: the server is gone mid-request

    runtime = Runtime(settings)
    publisher = CeleryPublisher(settings)
    try:
        job, _ = submit_retraining(runtime, publisher, MODEL, RetrainingTrigger.MANUAL, "t")
        wait_until(
            lambda: job.refresh().status.is_terminal,
            180,
            "the job to finish",
            diagnostics=worker.tail,
        )
        assert job.status is JobStatus.COMPLETED and job.promoted is True and job.error is None
        assert runtime.models.get(MODEL).champion_version == job.model_version
        # the job is completed at the commit; MLflow is told right after, and is gone
        worker.wait_for_log("a repair is pending", 60)
        assert relay.tripped.is_set() and not server.proc.alive()
        log = worker.log()
        assert not re.search(r"ERROR.*retraining job .* failed", log), worker.tail(80)
        (failed,) = event_rows(runtime.engine, MODEL, "registry_sync_failed")
        assert failed["job_id"] == job.job_id

        # while MLflow is down, each reconcile tries and the change stays owed
        wait_until(
            lambda: _owed(runtime) and _owed(runtime)[0]["attempts"] >= 3,
            60,
            "the reconciler to try the owed change while MLflow is down",
            diagnostics=worker.tail,
        )
        assert not event_rows(runtime.engine, MODEL, "registry_repaired")

        back = MlflowServer(processes, server.backend_uri, server.artifacts).start()
        reconciles_before = _reconciles(worker.log())
        relay.upstream_port = back.port
        direct = Runtime(replace(settings, mlflow_tracking_uri=back.url))
        try:
            wait_until(
                lambda: event_rows(runtime.engine, MODEL, "registry_repaired"),
                60,
                "the reconciler to repair the registry",
                diagnostics=worker.tail,
            )
            assert direct.registry.champion_state(MODEL) == (job.model_version, "Production")
            version = direct.registry._client.get_model_version(MODEL, job.model_version)
            assert version.tags["decision"] == "promoted"
            assert version.tags["job_id"] == job.job_id
            assert version.description.startswith(f"Promoted to champion by job {job.job_id}")
        finally:
            direct.dispose()
        (repaired,) = event_rows(runtime.engine, MODEL, "registry_repaired")
        assert repaired["job_id"] == job.job_id
        assert repaired["details"]["champion_moved_to"] == job.model_version
        assert _owed(runtime) == []
        # within one reconcile period: the first reconcile to start after the server was back
        # (or the one already running then) did it
        wait_until(
            lambda: _first_repairing(worker.log()) is not None, 30, "the reconcile's log line"
        )
        assert _first_repairing(worker.log()) <= reconciles_before + 2, worker.tail(60)
    finally:
        publisher.close()
        runtime.dispose()
        relay.close()


def _owed(runtime: Runtime) -> list[dict]:
    with runtime.engine.connect() as connection:
        rows = connection.execute(sa.select(registry_pending)).mappings().all()
    return [dict(row) for row in rows]


_RECONCILED = re.compile(r"retraining\.reconcile\[[^\]]+\] succeeded[^\n]*")


def _reconciles(log: str) -> int:
    return len(_RECONCILED.findall(log))


def _first_repairing(log: str) -> int | None:
    """The 1-based number of the first reconcile whose result names a repaired model."""
    for number, line in enumerate(_RECONCILED.findall(log), start=1):
        if f"'registry_repaired': ['{MODEL}']" in line:
            return number
    return None
