"""The HTTP API under gunicorn with 16 concurrent clients: job status reads and triggers.

    python -m benchmarks.api                          # about 2.5 min
    python -m benchmarks.api --modes distributed --seconds 5 --no-doc
    python -m benchmarks.api --modes embedded:4 --scenarios status,status_paced --no-doc

The distributed mode needs the Postgres and Redis servers that ``make services`` starts
(``--postgres-url``, ``--redis-url`` to point elsewhere; ``--modes embedded`` needs neither).

``retrain api --port <free port>`` is started as a user starts it (gunicorn gthread, its default
workers and 8 threads each, access log on), with a bearer token configured and sent, per mode:

* ``embedded``: no ``REDIS_URL``; SQLite under a temporary ``RETRAINING_HOME``; 1 worker
  process; triggered jobs run on the API process's own job thread.
* ``embedded:2`` (any ``MODE:N``): the same with ``--workers N``, status reads only.
* ``distributed``: ``REDIS_URL`` (a Redis database number of its own, claimed empty, flushed
  after) and Postgres (a fresh database ``bench_api_<random>``, dropped after); 2 worker
  processes; triggered jobs are queued for Celery workers (none runs here: they stay queued).

Scenarios, each measured for ``--seconds`` after a one-second warm-up, by ``--clients`` client
threads (each with its own ``requests.Session``, keep-alive) spread over ``--client-processes``
processes on the same machine:

* ``healthz``: ``GET /healthz`` (no database, no token): the framework's floor.
* ``status``: ``GET /retraining/{model}/jobs/{job_id}``, a random one of 200 completed jobs
  (three audit events each), each thread sending its next request when the last is answered.
* ``status_paced``: the same, 500 requests/s in total on a schedule; a request sent late
  (its thread still waiting for the last answer) is timed from when it was due.
* ``trigger_active``: ``POST /retraining/{model}/trigger`` for models whose job is running:
  the API answers 200 with that job and starts nothing.
* ``trigger_new``: ``POST /retraining/{model}/trigger`` for models with no job yet, each
  model once: 202, the job row created and published (distributed) or handed to the job
  thread (embedded; there the job fails at once, its training file being absent, so the API
  process also claims and fails each job while it serves).

Setup writes the rows straight into the database before the server starts. Latency is each
request's wall time at the client. CPU per request: the server's processes (gunicorn master
and workers, from /proc), the client processes, and the whole machine (/proc/stat).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import (
    POSTGRES_SERVER,
    REDIS_SERVER,
    child_env,
    command,
    emit,
    free_port,
    load_average,
    log_problems,
    machine,
    machine_markdown,
    markdown_table,
    now_text,
    percentile,
    postgres_database,
    redis_database,
    start_process,
    stop_process,
    text_table,
    update_doc,
)

MODULE = "benchmarks.api"
STATUS_JOBS = 200
ACTIVE_MODELS = 64
TARGET_RPS = 500
TARGET_P99_MS = 50.0
TRAINING_SOURCE = {"kind": "file", "path": "/nonexistent/bench-api/train.csv"}
SCENARIOS = ("healthz", "status", "status_paced", "trigger_active", "trigger_new")
LABELS = {
    "healthz": "GET /healthz (no database, no token: the floor)",
    "status": "GET job status, as fast as answered",
    "status_paced": f"GET job status, paced at {TARGET_RPS}/s in total",
    "trigger_active": "POST trigger, job active (200)",
    "trigger_new": "POST trigger, new job (202)",
}
EXPECTED = {
    "healthz": 200,
    "status": 200,
    "status_paced": 200,
    "trigger_active": 200,
    "trigger_new": 202,
}

# -- setup ---------------------------------------------------------------------------------------


def populate(runtime, new_models: int) -> dict[str, Any]:
    """Models and jobs for every scenario, written before the server starts."""
    from shared.clock import utcnow
    from shared.config import RetrainingConfig
    from shared.db.schema import models
    from shared.enums import RetrainingTrigger
    from shared.sources import validate_source

    source = {"training": validate_source("training", TRAINING_SOURCE)}
    names = {
        "status": [f"status_{i:04d}" for i in range(STATUS_JOBS)],
        "active": [f"active_{i:04d}" for i in range(ACTIVE_MODELS)],
        "new": [f"new_{i:05d}" for i in range(new_models)],
    }
    now = utcnow()
    rows = [
        {
            "name": name,
            "config": RetrainingConfig(model_name=name).to_dict(),
            "pipeline": {},
            "data_sources": source,
            "created_at": now,
            "updated_at": now,
        }
        for group in names.values()
        for name in group
    ]
    with runtime.engine.begin() as connection:
        for start in range(0, len(rows), 1000):
            connection.execute(models.insert(), rows[start : start + 1000])
    status_jobs = []
    for index, name in enumerate(names["status"]):
        job, _ = runtime.jobs.create(name, RetrainingTrigger.MANUAL, "api benchmark")
        claimed = runtime.jobs.claim(job.job_id)
        runtime.jobs.complete(
            job.job_id,
            claimed.attempt,
            metrics={"accuracy": 0.87, "f1_score": 0.84, "roc_auc": 0.91},
            champion_metrics={"accuracy": 0.85, "f1_score": 0.82, "roc_auc": 0.9},
            promoted=True,
            promotion_reason="f1_score improved by 0.02 (>= 0.01)",
            model_version=str(index + 2),
            mlflow_run_id=uuid.uuid4().hex,
            details={"rows": 5000, "train_rows": 4000, "holdout_rows": 1000, "features": 7},
        )
        status_jobs.append([name, job.job_id])
    for name in names["active"]:
        job, _ = runtime.jobs.create(name, RetrainingTrigger.MANUAL, "api benchmark")
        runtime.jobs.claim(job.job_id)  # running: a trigger answers 200 with it
    return {"status": status_jobs, "active": names["active"], "new": names["new"]}


# -- the clients -----------------------------------------------------------------------------------


def client_worker(spec: dict[str, Any]) -> None:
    """One client process: ``threads`` threads from ``start_at`` until ``stop_at`` (wall)."""
    import requests

    base, scenario = spec["base"], spec["scenario"]
    headers = {"Authorization": f"Bearer {spec['token']}"}
    reads = scenario.startswith("status") or scenario == "healthz"
    if not reads:
        headers["Content-Type"] = "application/json"
    items = spec["items"]
    cursor = itertools.count()
    cursor_lock = threading.Lock()
    results: list[list[tuple[float, float, int, float]]] = [[] for _ in range(spec["threads"])]
    # paced: each thread sends on its own schedule; a request sent late (the last one was not
    # answered in time) is timed from when it should have been sent, so a slow server's
    # queueing shows in the latency instead of lowering the rate (no coordinated omission)
    interval = spec["threads"] / spec["rate"] if spec.get("rate") else None

    def next_item():
        if scenario == "trigger_new":  # each model once
            with cursor_lock:
                index = next(cursor)
            return items[index] if index < len(items) else None
        return random.choice(items)

    def run(slot: int) -> None:
        session = requests.Session()
        out = results[slot]
        time.sleep(max(0.0, spec["start_at"] - time.time()))
        offset = time.perf_counter() + (random.uniform(0, interval) if interval else 0.0)
        sent = 0
        while time.time() < spec["stop_at"]:
            scheduled = None
            if interval:
                scheduled = offset + sent * interval
                time.sleep(max(0.0, scheduled - time.perf_counter()))
                sent += 1
            item = next_item()
            if item is None:
                break
            if scenario == "healthz":
                url, body = f"{base}/healthz", None
            elif reads:
                url, body = f"{base}/retraining/{item[0]}/jobs/{item[1]}", None
            else:
                url, body = f"{base}/retraining/{item}/trigger", b'{"reason": "api benchmark"}'
            started = time.perf_counter()
            try:
                if body is None:
                    response = session.get(url, headers=headers, timeout=30)
                else:
                    response = session.post(url, data=body, headers=headers, timeout=30)
                _ = response.content
                status = response.status_code
            except requests.RequestException:
                status = 0
            ended = time.perf_counter()
            since = started if scheduled is None else min(started, scheduled)
            out.append((time.time(), ended - since, status, ended - started))
        session.close()

    samples = []

    def sample_cpu() -> None:  # this process's CPU over the measured window only
        for moment in (spec["measure_from"], spec["stop_at"]):
            time.sleep(max(0.0, moment - time.time()))
            times = os.times()
            samples.append(times.user + times.system)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(spec["threads"])]
    threads.append(threading.Thread(target=sample_cpu))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emit({"requests": [r for out in results for r in out], "cpu_seconds": samples[1] - samples[0]})


def outputs_flat(outputs: list[dict[str, Any]]) -> list[list[Any]]:
    return [r for out in outputs for r in out["requests"]]


def process_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (alive ones), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(master: int) -> list[int]:
    """The gunicorn master and its worker processes."""
    pids = [master]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == master:
            pids.append(int(entry.name))
    return pids


def machine_busy_seconds() -> float:
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def load_clients(
    base: str,
    token: str,
    scenario: str,
    items: list[Any],
    seconds: float,
    clients: int,
    processes: int,
    pids: list[int],
    rate: float | None = None,
) -> dict[str, Any]:
    """Run the clients: one warm-up second, then ``seconds`` measured; the requests' numbers."""
    import subprocess

    warm_up = 1.0
    start_at = time.time() + 2.0  # the client processes import requests meanwhile
    per_process = [clients // processes + (i < clients % processes) for i in range(processes)]
    if scenario == "trigger_new":  # disjoint model lists: each model triggered once
        chunks = [items[i::processes] for i in range(processes)]
    else:
        chunks = [items] * processes
    children = []
    for threads, chunk in zip(per_process, chunks, strict=True):
        spec = {
            "base": base,
            "token": token,
            "scenario": scenario,
            "items": chunk,
            "threads": threads,
            "rate": rate * threads / clients if rate else None,
            "start_at": start_at,
            "measure_from": start_at + warm_up,
            "stop_at": start_at + warm_up + seconds,
        }
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", MODULE, "--worker", json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        )
    measured_from, stop_at = start_at + warm_up, start_at + warm_up + seconds
    time.sleep(max(0.0, measured_from - time.time()))
    server_before, busy_before = process_cpu_seconds(pids), machine_busy_seconds()
    time.sleep(max(0.0, stop_at - time.time()))
    server_cpu = process_cpu_seconds(pids) - server_before
    busy = machine_busy_seconds() - busy_before
    outputs = []
    for child in children:
        stdout, stderr = child.communicate(timeout=120)
        if child.returncode != 0:
            raise RuntimeError(f"client process failed:\n{stderr[-3000:]}")
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    # latency: every request due (paced) or sent in the window; rate and CPU: those answered
    # in it (the CPU was sampled over the same window)
    done = [r for out in outputs for r in out["requests"] if r[0] - r[1] >= measured_from]
    answered = sum(measured_from <= r[0] <= stop_at for r in outputs_flat(outputs))
    if not done or not answered:
        raise RuntimeError(f"{scenario}: no request finished in the measured window")
    window = seconds
    latencies = [r[1] * 1000 for r in done]
    ok = sum(r[2] == EXPECTED[scenario] for r in done)
    return {
        "requests": len(done),
        "unexpected": {
            str(code): sum(r[2] == code for r in done)
            for code in sorted({r[2] for r in done} - {EXPECTED[scenario]})
        },
        "ok": ok,
        "seconds": window,
        "rps": answered / window,
        "p50": percentile(latencies, 50),
        "p90": percentile(latencies, 90),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "service_p99": percentile([r[3] * 1000 for r in done], 99),
        # CPU over the measured window (the clients' includes their warm-up second)
        "server_cpu_ms": server_cpu / answered * 1000,
        "client_cpu_ms": sum(out["cpu_seconds"] for out in outputs) / answered * 1000,
        "machine_cpu_ms": busy / answered * 1000,
        "machine_busy_share": busy / window / len(os.sched_getaffinity(0)),
    }


# -- one mode --------------------------------------------------------------------------------------


def wait_ready(base: str, process, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"retrain api exited with {process.returncode}")
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"retrain api did not become ready in {timeout} s")


def measure_mode(
    mode: str,
    home: Path,
    args,
    database_url: str,
    redis_url: str | None,
    workers: int | None,
    scenarios: list[str],
):
    from shared.runtime import Runtime
    from shared.settings import Settings

    settings = Settings(
        home=home,
        database_url=database_url,
        mlflow_tracking_uri=f"sqlite:///{home}/mlflow.db",
        redis_url=redis_url,
    )
    runtime = Runtime(settings)
    try:
        items = populate(runtime, args.new_models)
    finally:
        runtime.dispose()
    token = uuid.uuid4().hex
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(
        RETRAINING_HOME=str(home),
        DATABASE_URL=database_url,
        MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
        RETRAINING_API_TOKENS=token,
        # the running jobs of the `active` models must stay running: no lease expiry
        RETRAINING_JOB_LEASE_SECONDS="3600",
        RETRAINING_PENDING_REPUBLISH_SECONDS="3600",
        **({"REDIS_URL": redis_url} if redis_url else {}),
    )
    log = home / f"api-{mode}.log"
    argv = [sys.executable, "-m", "retraining.cli", "api", "--port", str(port)]
    if workers:
        argv += ["--workers", str(workers)]
    if args.api_threads:
        argv += ["--threads", str(args.api_threads)]
    server = start_process(argv, log, env)
    results = {}
    try:
        wait_ready(base, server)
        pids = server_pids(server.pid)
        for scenario in scenarios:
            scenario_items = {
                "healthz": ["-"],
                "status": items["status"],
                "status_paced": items["status"],
                "trigger_active": items["active"],
                "trigger_new": items["new"],
            }[scenario]
            results[scenario] = load_clients(
                base,
                token,
                scenario,
                scenario_items,
                args.seconds,
                args.clients,
                args.client_processes,
                pids,
                rate=TARGET_RPS if scenario == "status_paced" else None,
            )
            r = results[scenario]
            print(
                f"{mode}{f' --workers {workers}' if workers else ''} {scenario}: "
                f"{r['rps']:.0f} req/s, p99 {r['p99']:.1f} ms, "
                f"{r['requests']} requests, unexpected {r['unexpected']}",
                flush=True,
            )
        processes = len(pids) - 1
    except BaseException:
        print(f"--- retrain api's log ({log}), last lines:", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
        raise
    finally:
        stop_process(server)
    # the new-job triggers' jobs fail on purpose (no training file): their notification is
    # logged at ERROR by design
    problems, first = log_problems(log, ignore=r"retraining\.notifications: .*bench-api/train\.csv")
    if problems:
        print(f"{mode}: {problems} error line(s) in retrain api's log:", *first, sep="\n  ")
    return {
        "log_problems": problems,
        "mode": mode,
        "default_workers": workers is None,
        "workers": processes,
        "threads": args.api_threads or 8,
        "results": results,
    }


HEADERS = [
    "mode (gunicorn)",
    "request",
    "requests timed",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "other statuses",
    "CPU ms per request: server / clients / machine",
]


def table_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for run in runs:
        for scenario in [name for name in SCENARIOS if name in run["results"]]:
            r = run["results"][scenario]
            rows.append(
                [
                    f"{run['mode']} ({run['workers']} x {run['threads']} threads)",
                    LABELS[scenario],
                    f"{r['requests']:,}",
                    f"{r['rps']:.0f}",
                    f"{r['p50']:.1f}",
                    f"{r['p90']:.1f}",
                    f"{r['p99']:.1f}",
                    f"{r['max']:.0f}",
                    ", ".join(f"{n} x {code}" for code, n in r["unexpected"].items()) or "none",
                    f"{r['server_cpu_ms']:.2f} / {r['client_cpu_ms']:.2f} / "
                    f"{r['machine_cpu_ms']:.2f}",
                ]
            )
    return rows


def verdict_lines(runs: list[dict[str, Any]], clients: int) -> list[str]:
    lines = []
    for run in runs:
        if not {"status", "status_paced"} <= set(run["results"]):
            continue
        top, paced = run["results"]["status"], run["results"]["status_paced"]
        clean = not top["unexpected"] and not paced["unexpected"]
        rps_met = top["rps"] >= TARGET_RPS and clean
        p99_met = paced["p99"] < TARGET_P99_MS and paced["rps"] >= TARGET_RPS * 0.98 and clean
        setup = (
            f"{run['mode']}, `retrain api` as started by default ({run['workers']} worker "
            "process(es))"
            if run["default_workers"]
            else f"{run['mode']} with `retrain api --workers {run['workers']}`"
        )
        lines.append(
            f"- {setup}: at most {top['rps']:.0f} status reads/s from {clients} clients "
            f"(p99 {top['p99']:.1f} ms at that saturation); paced at {TARGET_RPS}/s "
            f"({paced['rps']:.0f}/s achieved), p99 {paced['p99']:.1f} ms. Target >= "
            f"{TARGET_RPS} req/s {'met' if rps_met else 'NOT met'}; p99 < "
            f"{TARGET_P99_MS:.0f} ms at {TARGET_RPS}/s {'met' if p99_met else 'NOT met'}: "
            f"{'met' if rps_met and p99_met else 'NOT met'}. The whole machine was "
            f"{top['machine_busy_share']:.0%} busy at saturation and "
            f"{paced['machine_busy_share']:.0%} paced (server, clients and other tenants)."
        )
    return lines


def cause_lines(runs: list[dict[str, Any]]) -> list[str]:
    lines = ["Where a request's time goes (CPU per request, ms):", ""]
    cpus = len(os.sched_getaffinity(0))
    for run in runs:
        results = run["results"]
        if "status" not in results:
            continue
        status = results["status"]
        floor = results.get("healthz")
        setup = f"{run['mode']}, {run['workers']} worker process(es)"
        text = (
            f"- {setup}: a status read took {status['server_cpu_ms']:.2f} ms of the server's "
            "CPU (gunicorn, Flask, the token check, three queries: the model, the job, its "
            "events"
            + (
                ", each over its own pre-pinged pool checkout"
                if run["mode"] == "distributed"
                else ""
            )
            + ")"
        )
        if floor:
            text += f", where `/healthz` took {floor['server_cpu_ms']:.2f} ms"
        text += (
            f"; the clients {status['client_cpu_ms']:.2f} ms; the whole machine "
            f"{status['machine_cpu_ms']:.2f} ms."
        )
        if run["workers"] == 1:
            text += (
                " One worker process: its threads share one GIL, so the server uses one core "
                f"at most: about {1000 / status['server_cpu_ms']:.0f} reads/s at this cost."
            )
        else:
            text += (
                f" {run['workers']} worker processes can use every core, shared with the "
                f"clients{' and Postgres' if run['mode'] == 'distributed' else ''}: about "
                f"{cpus * 1000 / status['machine_cpu_ms']:.0f} reads/s when the machine's "
                f"{cpus} CPUs are all busy at this cost."
            )
        lines.append(text)
    lines += [
        "",
        f"Cause. The machine has {cpus} CPUs and the load generator runs on it: Python clients "
        "cost about a millisecond of CPU per request, a third of what the machine spends on "
        "a read or more, and other tenants' work (the load averages above) takes its share. "
        "`retrain api` starts one gunicorn worker process in the embedded mode, so reads are "
        "bound to one core by the GIL; with `--workers 2` (the `embedded:2` rows, not the "
        "default) they use both. In the distributed mode each read costs more CPU in all: "
        "three pre-pinged checkouts, psycopg2 round trips and a Postgres backend, against "
        "SQLite in-process. Above saturation the 16 closed-loop clients queue, so the p99 "
        "there is mostly waiting for a thread (Little's law: 16 clients / throughput); the "
        "paced row shows the latency at the target rate when the server can sustain it, and "
        "a growing queue when it cannot. Trigger with a job active reads the model twice "
        "(route and `submit_retraining`), tries the INSERT that the one-active-job index "
        "refuses, then reads the active job. Trigger of a new job in the embedded mode "
        "shares the process and SQLite's single writer with the job thread that claims and "
        "fails each job, hence its long tail.",
        "",
        "Proposals (not changed here): `docs/api.md` already allows `retrain api --workers "
        "2` in the embedded mode (job threads are per worker process); it could recommend "
        "it where reads matter, as the `embedded:2` rows suggest. The repositories could "
        "read a job and its events over one checkout, and `submit_retraining` could reuse "
        "the route's model read.",
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=MODULE, description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--modes",
        default="embedded,embedded:2,distributed",
        help="embedded / distributed: retrain api's default workers, every scenario; "
        "MODE:N: --workers N, the status reads only",
    )
    parser.add_argument("--seconds", type=float, default=6, help="measured seconds per scenario")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--new-models", type=int, default=6000, help="models for new-job triggers")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--api-threads", type=int, help="retrain api --threads (default: its own)")
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER)
    parser.add_argument("--redis-url", default=REDIS_SERVER, help="server, no database number")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        client_worker(json.loads(args.worker))
        return

    info, started, load_before = machine(), now_text(), load_average()
    print(f"api benchmark, {started}, load average {load_before}", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        for spec in args.modes.split(","):
            mode, _, count = spec.partition(":")
            workers = int(count) if count else None
            scenarios = [name for name in args.scenarios.split(",") if name in SCENARIOS]
            if workers:  # a variant: the reads only
                scenarios = [name for name in scenarios if name.startswith("status")]
            home = Path(tmp) / spec.replace(":", "-")
            home.mkdir()
            if mode == "embedded":
                url = f"sqlite:///{home}/retraining.db"
                runs.append(measure_mode(mode, home, args, url, None, workers, scenarios))
            elif mode == "distributed":
                with (
                    postgres_database("bench_api", args.postgres_url) as url,
                    redis_database(args.redis_url) as redis_url,
                ):
                    runs.append(measure_mode(mode, home, args, url, redis_url, workers, scenarios))
            else:
                raise SystemExit(f"unknown mode {mode!r}")
    loads = (load_before, load_average())
    print()
    print(text_table(HEADERS, table_rows(runs)))
    print()
    print("\n".join(verdict_lines(runs, args.clients)))
    print()
    print("\n".join(cause_lines(runs)))
    if args.no_doc:
        return
    body = "\n".join(
        [
            "## api: job status reads and triggers under gunicorn",
            "",
            machine_markdown(info, started, loads, command(MODULE)),
            "`retrain api --port <free port>` as a user starts it (gunicorn gthread, default "
            "workers, 8 threads each, access log on), a bearer token configured and sent. "
            "Embedded: SQLite under a temporary `RETRAINING_HOME`, 1 worker process by "
            "default (`embedded:2`: `--workers 2`, reads only). Distributed: Postgres (a fresh "
            "database) and Redis (a database of its own), 2 worker processes by default; no "
            "Celery worker runs, so triggered jobs stay queued. "
            f"{args.clients} client threads (one `requests.Session` each, keep-alive) in "
            f"{args.client_processes} processes on the same machine; {args.seconds:.0f} s "
            "measured per row after a 1 s warm-up. `/healthz`: no database, no token (the "
            "framework's floor). Status: `GET /retraining/{model}/jobs/{job_id}` of a random "
            f"one of {STATUS_JOBS} completed jobs (3 audit events each), each client sending "
            "its next request when the last is answered, then paced at "
            f"{TARGET_RPS} requests/s in total (a request sent late is timed from when it was "
            "due, so a server that cannot keep up shows a growing latency). Trigger, job "
            "active: `POST /retraining/{model}/trigger` for models whose job is running: the "
            "API answers 200 with that job (the documented behaviour: a second trigger while a "
            "job is pending or running returns it and starts nothing). Trigger, new job: "
            "each model triggered once, 202 (distributed: the job row committed, then "
            "published to Redis; embedded: the row, then the API process's own job thread "
            "claims the job and fails it at once, its training file being absent, while the "
            "requests are served). CPU per request: the gunicorn processes, the client "
            "processes, and the whole machine (every process, other tenants' included). "
            "The benchmark itself keeps the CPUs busy, so the load average after it is "
            "mostly its own; the one before it is the machine's.",
            "",
            markdown_table(HEADERS, table_rows(runs)),
            "",
            f"Target (issue 5): at least {TARGET_RPS} status reads per second with p99 under "
            f"{TARGET_P99_MS:.0f} ms on this machine.",
            "",
            *verdict_lines(runs, args.clients),
            "",
            *cause_lines(runs),
        ]
    )
    print(f"\nwritten to {update_doc('api', body)}")


if __name__ == "__main__":
    main(sys.argv[1:])
