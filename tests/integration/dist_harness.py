"""The real parts for the integration tests: worker and Beat processes, a private Redis server
and a private Postgres cluster that a test may stop and restart, and audit-trail queries.

Every process runs in its own session (process group), so a test can SIGKILL a worker with
its pool children, and teardown can always stop whatever is left.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from shared.db.schema import events, jobs
from shared.settings import Settings

HERE = Path(__file__).resolve().parent
T = TypeVar("T")

# Variables a test process may have inherited that would point a child somewhere else.
_STRIPPED_ENV = re.compile(
    r"^(RETRAINING_\w+|DATABASE_URL|REDIS_URL|MLFLOW_\w+|FLOWER_BASIC_AUTH|DIST_\w+)$"
)


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    *,
    interval: float = 0.25,
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{diagnostics()}" if diagnostics else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**values: str) -> dict[str, str]:
    """This environment without what would point a child elsewhere, plus ``values``.

    The directory of ``dist_loaders`` is on the child's path, as a user's package would be.
    """
    env = {k: v for k, v in os.environ.items() if not _STRIPPED_ENV.match(k)}
    python_path = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    env.update(PYTHONPATH=os.pathsep.join(python_path), PYTHONUNBUFFERED="1", **values)
    return env


# -- processes ---------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    ready_pattern: str | None = None
    service: bool = False  # a server the others use: stopped after them

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, timeout: float) -> re.Match:
        regex = re.compile(pattern)

        def found() -> re.Match | None:
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before logging {pattern!r}:\n"
                    f"{self.tail()}"
                )
            return regex.search(self.log())

        return wait_until(found, timeout, f"{self.name} to log {pattern!r}", diagnostics=self.tail)

    def wait_ready(self, timeout: float = 60) -> Proc:
        if self.ready_pattern is not None:
            self.wait_for_log(self.ready_pattern, timeout)
        return self

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (a worker and its pool children) and reap it."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        if self.alive():
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # pool children outlive a parent that died first: the group goes in every case
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


@dataclass
class Processes:
    """Every process a test started; ``stop_all`` runs in teardown whatever the outcome."""

    log_dir: Path
    started: list[Proc] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, *, service: bool = False
    ) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log_path, service=service)
        self.started.append(proc)
        return proc

    def stop_all(self, grace: float = 5.0) -> None:
        # clients first, so that no worker is left waiting for a server that went away
        for services in (False, True):
            procs = [proc for proc in self.started if proc.service is services]
            for proc in procs:
                if proc.alive():
                    proc.signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace
            for proc in procs:
                proc.stop(grace=max(0.1, deadline - time.monotonic()))

    def tails(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.tail(60)}" for p in self.started)


def retrain_command(*arguments: str) -> list[str]:
    """The ``retrain`` console script of the interpreter running the tests."""
    script = Path(sys.executable).with_name("retrain")
    if script.exists():
        return [str(script), *arguments]
    return [sys.executable, "-m", "retraining.cli", *arguments]


# -- one deployment: database, broker, MLflow, home --------------------------------------------


@dataclass
class Stack:
    """Where one test's deployment keeps its state; ``env()`` is a process's environment."""

    home: Path
    database_url: str
    redis_url: str
    mlflow_uri: str
    processes: Processes
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        env = child_env()
        env.update(
            RETRAINING_HOME=str(self.home),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            MLFLOW_TRACKING_URI=self.mlflow_uri,
            **self.extra,
        )
        env.update(overrides)
        return env

    def settings(self, **overrides: str) -> Settings:
        return Settings.from_env(self.env(**overrides))

    def start_worker(
        self,
        name: str,
        *,
        queues: str | None = None,
        pool: str = "solo",
        concurrency: int | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> Proc:
        """A ``retrain worker`` with a node name of its own; with ``wait``, once it is ready."""
        argv = retrain_command("worker", "--pool", pool, "--hostname", f"{name}@%h")
        argv += ["--queues", queues] if queues else []
        argv += ["--concurrency", str(concurrency)] if concurrency else []
        proc = self.processes.start(name, argv, self.env(**(env or {})), cwd=self.home)
        proc.ready_pattern = rf"{re.escape(name)}@\S+ ready\."
        return proc.wait_ready() if wait else proc

    def start_beat(
        self, name: str, *, env: dict[str, str] | None = None, wait: bool = True
    ) -> Proc:
        """A ``retrain beat``; each Beat gets its own home, so its own schedule file."""
        home = self.home.parent / f"{name}-home"
        home.mkdir(parents=True, exist_ok=True)
        proc_env = self.env(RETRAINING_HOME=str(home), **(env or {}))
        proc = self.processes.start(name, retrain_command("beat"), proc_env, cwd=home)
        proc.ready_pattern = r"beat: Starting"
        return proc.wait_ready() if wait else proc


@contextlib.contextmanager
def fresh_database(server: sa.URL, prefix: str) -> Iterator[str]:
    """A new database ``<prefix>_<random>`` on the server; dropped when the block ends."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server.render_as_string(hide_password=False))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(drivername="postgresql+psycopg2", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with admin.cursor() as cursor:
            # FORCE: a worker killed by a test may have left sessions behind
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# -- private disks -----------------------------------------------------------------------------


def private_disk_available() -> bool:
    """Whether this process may give a child a mount namespace of its own (root on Linux)."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        return False
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def on_private_disk(home: Path, argv: list[str]) -> list[str]:
    """``argv`` run with a fresh tmpfs at ``home`` that no other process sees.

    The mount lives in the child's own mount namespace (unshare makes mounts private), so it
    vanishes with the process: what it wrote there is gone, as with a host that disappears.
    """
    home.mkdir(parents=True, exist_ok=True)
    script = 'mount -t tmpfs none "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(home), *argv]


# -- an MLflow tracking server -----------------------------------------------------------------


class MlflowServer:
    """``mlflow server --serve-artifacts`` on its own database: the store every host shares."""

    def __init__(self, processes: Processes, backend_uri: str, artifacts: Path) -> None:
        self.processes = processes
        self.backend_uri = backend_uri
        self.artifacts = artifacts
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> MlflowServer:
        mlflow = Path(sys.executable).with_name("mlflow")
        argv = [str(mlflow), "server", "--backend-store-uri", self.backend_uri]
        argv += ["--serve-artifacts", "--artifacts-destination", str(self.artifacts)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.proc = self.processes.start(
            "mlflow-server",
            argv,
            # MLflow's job runner (GenAI features) would add seven processes the tests never use
            child_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
            self.artifacts.parent,
            service=True,
        )
        wait_until(self.healthy, timeout, "the MLflow server to answer", diagnostics=self.proc.tail)
        return self

    def healthy(self) -> bool:
        import requests

        assert self.proc is not None and self.proc.alive(), self.proc and self.proc.tail()
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False


# -- a private Redis server --------------------------------------------------------------------


class RedisServer:
    """A throwaway ``redis-server`` (no persistence) this test may stop and start again."""

    def __init__(self, processes: Processes, port: int) -> None:
        self.processes = processes
        self.port = port
        self.proc: Proc | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is not installed: the Redis outage test needs it")
        self.starts += 1
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--daemonize", "no"]
        self.proc = self.processes.start(
            f"redis-{self.port}-{self.starts}",
            argv,
            dict(os.environ),
            self.processes.log_dir,
            service=True,
        )
        wait_until(self.ping, 15, f"redis-server on port {self.port} to answer")

    def stop(self) -> None:
        """Shut down; the queued messages (no persistence) are gone with it."""
        assert self.proc is not None
        self.proc.stop(grace=5)
        wait_until(lambda: not self.ping(), 10, f"redis on {self.port} to stop answering")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False


# -- a private Postgres cluster ----------------------------------------------------------------


class PostgresCluster:
    """A throwaway cluster (initdb, trust auth) on its own port, which a test may restart.

    As root the cluster belongs to the ``postgres`` user (the server refuses to run as root).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.bindir = _postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="itest-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return self.url(name)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", action
        )

    def _run(self, program: str, *arguments: str) -> None:
        argv = [str(self.bindir / program), *arguments]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise AssertionError(
                f"{program} {' '.join(arguments)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log[-2000:]}"
            )


def _postgres_bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        bindir = subprocess.run([found, "--bindir"], capture_output=True, text=True).stdout
        if (Path(bindir.strip()) / "initdb").exists():
            return Path(bindir.strip())
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        raise AssertionError(
            "no PostgreSQL server binaries (initdb, pg_ctl) found: the Postgres restart test "
            "starts its own cluster and needs them (Debian: apt-get install postgresql)"
        )
    return candidates[0].parent


# -- models --------------------------------------------------------------------------------


def model_config(name: str, **overrides: Any):
    from retraining.scheduler import RetrainingConfig

    values = {
        "model_name": name,
        "min_training_samples": 500,
        "timestamp_column": "timestamp",
        "auto_promote": True,
        **overrides,
    }
    return RetrainingConfig(**values)


def configure_models(settings: Settings, names: Iterable[str], **overrides: Any) -> None:
    """Configure models through the Python API in the distributed mode, as a user would: the
    training loader is recorded by its import path, ``dist_loaders:training_data``.
    """
    import dist_loaders

    from retraining.scheduler import RetrainingScheduler
    from training.pipeline import TrainingPipeline

    for name in names:
        scheduler = RetrainingScheduler(
            model_config(name, **overrides),
            dist_loaders.training_data,
            TrainingPipeline(name),
            settings=settings,
        )
        scheduler.close()


# -- the audit trail -------------------------------------------------------------------------


def job_rows(engine: sa.Engine, model_names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    query = sa.select(jobs).order_by(jobs.c.created_at)
    if model_names is not None:
        query = query.where(jobs.c.model_name.in_(list(model_names)))
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def event_rows(
    engine: sa.Engine, model_name: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    query = sa.select(events).order_by(events.c.id)
    if model_name is not None:
        query = query.where(events.c.model_name == model_name)
    if kind is not None:
        query = query.where(events.c.kind == kind)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


@dataclass(frozen=True)
class RunningInterval:
    job_id: str
    attempt: int
    started_at: Any
    ended_at: Any  # None while still running


def running_intervals(engine: sa.Engine, model_name: str) -> tuple[list[RunningInterval], int]:
    """Each span a job of the model spent ``running`` (from the audit trail), and the most
    jobs that were running at once, replaying the transitions in the order they were written.
    """
    open_spans: dict[str, tuple[int, Any]] = {}
    spans: list[RunningInterval] = []
    most_at_once = 0
    for event in event_rows(engine, model_name, "job_status"):
        attempt = (event["details"] or {}).get("attempt", 0)
        if event["to_status"] == "running":
            open_spans[event["job_id"]] = (attempt, event["at"])
            most_at_once = max(most_at_once, len(open_spans))
        elif event["from_status"] == "running":
            started_attempt, started_at = open_spans.pop(event["job_id"])
            spans.append(RunningInterval(event["job_id"], started_attempt, started_at, event["at"]))
    spans.extend(RunningInterval(j, a, s, None) for j, (a, s) in open_spans.items())
    return sorted(spans, key=lambda span: span.started_at), most_at_once


def assert_never_two_running(engine: sa.Engine, model_name: str) -> list[RunningInterval]:
    """No model ever had two running jobs: by replay, and by the spans' wall-clock times."""
    spans, most_at_once = running_intervals(engine, model_name)
    assert most_at_once <= 1, f"{model_name}: {most_at_once} jobs were running at once"
    for before, after in itertools.pairwise(spans):
        assert before.ended_at is not None and before.ended_at <= after.started_at, (
            f"{model_name}: running spans overlap: {before} and {after}"
        )
    return spans
