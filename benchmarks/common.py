"""What every benchmark shares: the machine's description, peak memory, worker subprocesses,
tables, and the benchmark's own section of ``docs/benchmarks.md``."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
MB = 1024 * 1024

_DOC_HEADER = """# Benchmarks

Measured with `python -m benchmarks.<name>` from the repository root (after `make install`).
Each benchmark rewrites only its own section below: the machine, the date, the exact command,
the load average around the run (this machine is shared: a load average well above its core
count means other work ran at the same time and the timings are pessimistic), its table, and
whether the issue's target is met. Benchmarks measure; nothing in them is a timed assertion.
"""


def machine() -> dict[str, Any]:
    """The machine and the versions that matter to the numbers."""
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    versions = {}
    for package in (
        "pandas",
        "numpy",
        "scipy",
        "evidently",
        "scikit-learn",
        "mlflow",
        "sqlalchemy",
        "psycopg2-binary",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": model.group(1).strip() if model else platform.processor(),
        "memory_gb": round(int(total.group(1)) / 1024 / 1024, 1) if total else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def command(module: str) -> str:
    return shlex.join(["python", "-m", module, *sys.argv[1:]])


def machine_markdown(info: dict[str, Any], started: str, loads: tuple[str, str], cmd: str) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    return (
        f"- Command: `{cmd}`\n"
        f"- Date: {started}\n"
        f"- Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gb']} GB memory, "
        f"{info['platform']}\n"
        f"- Python {info['python']}; {versions}\n"
        f"- Load average (1 / 5 / 15 min) before: {loads[0]}; after: {loads[1]}\n"
    )


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def update_doc(name: str, markdown: str, path: Path = DOC) -> Path:
    """Replace this benchmark's section (between its markers) or append it."""
    start, end = f"<!-- benchmark:{name} -->", f"<!-- /benchmark:{name} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else _DOC_HEADER
    section = f"{start}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def rss_bytes() -> int:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def max_rss_bytes() -> int:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc), for a clean baseline."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: a higher baseline
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Resident memory while the block runs: its peak, and that peak above the start.

    A side thread samples /proc/self/statm every `interval` seconds. ``peak`` is the process's
    whole resident memory (libraries and input data included); ``added`` what the block added.
    Call :func:`release_free_memory` first so the start is not inflated by freed pages.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.before = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        self.before = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def added(self) -> int:
        return self.peak - self.before


def run_worker(module: str, spec: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run ``python -m module --worker SPEC`` in a fresh process; its last stdout line is JSON."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", module, "--worker", json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"worker {spec} failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
        )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def emit(result: dict[str, Any]) -> None:
    """A worker's answer: one JSON line, last on stdout."""
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value / MB:,.0f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


# -- shared by the benchmarks that start services (queue, api) ---------------------------------

POSTGRES_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
REDIS_SERVER = "redis://127.0.0.1:6379"
_REDIS_CLAIM_KEY = "retraining-bench:claimed-by"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class postgres_database:
    """A fresh database ``<prefix>_<random>`` on the server for the block; dropped after it.

    ``server``: a SQLAlchemy URL of the server's ``postgres`` database. ``with`` gives the
    new database's SQLAlchemy URL.
    """

    def __init__(self, prefix: str, server: str = POSTGRES_SERVER) -> None:
        import uuid

        from sqlalchemy.engine import make_url

        self.admin = make_url(server).set(drivername="postgresql", database="postgres")
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.url = make_url(server).set(drivername="postgresql+psycopg2", database=self.name)

    def _execute(self, sql: str) -> None:
        import psycopg2

        connection = psycopg2.connect(self.admin.render_as_string(hide_password=False))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()

    def __enter__(self) -> str:
        self._execute(f'CREATE DATABASE "{self.name}"')
        return self.url.render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        # FORCE: a process stopped by the benchmark may have left sessions behind
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class redis_database:
    """A Redis database number (1-15) nobody else uses, for the block; emptied before and after.

    Claimed like the integration tests do: SET NX of a marker key, kept only when the marker
    is alone in it (someone else's data is never flushed). ``with`` gives its URL.
    """

    def __init__(self, server: str = REDIS_SERVER) -> None:
        self.server = server.rstrip("/")
        self.client = None

    def __enter__(self) -> str:
        import random
        import uuid

        import redis

        token = uuid.uuid4().hex
        numbers = list(range(1, 16))
        random.shuffle(numbers)
        for number in numbers:
            client = redis.Redis.from_url(f"{self.server}/{number}")
            if client.set(_REDIS_CLAIM_KEY, token, nx=True, ex=3600) and client.dbsize() == 1:
                client.flushdb()
                client.set(_REDIS_CLAIM_KEY, token, ex=3600)
                self.client = client
                return f"{self.server}/{number}"
            if client.get(_REDIS_CLAIM_KEY) == token.encode():
                client.delete(_REDIS_CLAIM_KEY)  # someone else's data is there: leave it
            client.close()
        raise RuntimeError(f"no free Redis database (1-15) on {self.server}")

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.flushdb()
            self.client.close()


def start_process(argv: Sequence[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """A child in its own session (so its pool children can be stopped with it), logging to a
    file; stop it with :func:`stop_process`."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        list(argv), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_file = log  # type: ignore[attr-defined]
    return process


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL of the process group it leads if it lingers."""
    import signal

    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    log = getattr(process, "log_file", None)
    if log is not None:
        log.close()


def child_env(**values: str) -> dict[str, str]:
    """This environment without the product's variables, plus ``values``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not re.match(r"^(RETRAINING_\w+|DATABASE_URL|REDIS_URL|MLFLOW_\w+)$", key)
    }
    return {**env, "PYTHONWARNINGS": "ignore", **values}


def log_problems(path: Path, limit: int = 5, ignore: str | None = None) -> tuple[int, list[str]]:
    """Lines of a process's log that report an error or a traceback (but not those matching
    the regular expression ``ignore``: errors the benchmark causes on purpose): how many, and
    the first few."""
    if not path.exists():
        return 0, []
    lines = path.read_text(errors="replace").splitlines()
    found = [
        line
        for line in lines
        if re.search(r"Traceback|\bERROR\b|\bCRITICAL\b", line)
        and not (ignore and re.search(ignore, line))
    ]
    return len(found), found[:limit]


class mlflow_server:
    """``mlflow server --serve-artifacts`` on a fresh Postgres database, for the block.

    What a deployment of several hosts uses as its tracking URI; ``with`` gives its URL.
    """

    def __init__(self, log_dir: Path, server: str = POSTGRES_SERVER) -> None:
        self.log_dir = log_dir
        self.database = postgres_database("bench_mlflow", server)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        import urllib.request

        backend = self.database.__enter__()
        port = free_port()
        mlflow = Path(sys.executable).with_name("mlflow")
        argv = [str(mlflow), "server", "--backend-store-uri", backend, "--serve-artifacts"]
        argv += ["--artifacts-destination", str(self.log_dir / "mlflow-artifacts")]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        # MLflow's own job runner (GenAI features the product never uses) adds seven processes
        env = child_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        self.process = start_process(argv, self.log_dir / "mlflow-server.log", env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    return url
            except OSError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"no MLflow server: see {self.log_dir}") from exc
                time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.database.__exit__()
