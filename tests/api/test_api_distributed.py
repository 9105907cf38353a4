"""The distributed mode for real: Postgres, Redis, a ``retrain worker`` and ``retrain api``.

A fresh Postgres database (tests/conftest.py's ``postgres_url``) and a random Redis database
per run; a missing service fails these tests, it never skips them.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time

import pytest
import redis
import requests
from apitest import REPO, RETRAIN, Server, run_spec_commands, stop_process, wait_for_job

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")


@pytest.fixture(scope="module")
def redis_url():
    url = f"{REDIS}/{random.randint(1, 15)}"
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is unreachable at {REDIS}: {exc}. Start it with scripts/ensure_services.sh "
            "or point TEST_REDIS_URL at one.",
            pytrace=False,
        )
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def deployment(postgres_url, redis_url, tmp_path_factory, mlflow_template):
    """A worker and an API server sharing Postgres, Redis and a data directory."""
    home = tmp_path_factory.mktemp("distributed") / "home"
    home.mkdir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    env = {
        "RETRAINING_HOME": str(home),
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "MLFLOW_TRACKING_URI": "",
        "RETRAINING_API_TOKENS": "",
        "RETRAINING_API_CHECK_WAIT_SECONDS": "20",
    }
    log = home.parent / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [RETRAIN, "worker", "--pool", "solo", "--loglevel", "INFO"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
    server = None
    try:
        server = Server(env, home.parent / "api.log")
        server.wait_ready()
        deadline = time.monotonic() + 90
        while True:  # the worker answers Celery's ping once it is up
            workers = requests.get(f"{server.url}/retraining/status", timeout=30).json()["workers"]
            if workers["alive"] >= 1:
                break
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no worker answered:\n{log.read_text()}"
            time.sleep(0.5)
        yield {"server": server, "worker": worker, "worker_log": log}
    finally:
        if server is not None:
            server.stop()
        stop_process(worker)


def test_configure_trigger_and_the_worker_completes_the_job(deployment, data_files):
    server = deployment["server"]
    results = run_spec_commands(server, data_files)
    job = wait_for_job(
        lambda url: requests.get(server.url + url, timeout=10).json(),
        f"/retraining/my_model/jobs/{results['job_id']}",
    )
    assert job["status"] == "completed", job["error"]
    assert job["promoted"] is True
    assert results["job_id"] in deployment["worker_log"].read_text()  # the worker ran it


def test_status_in_distributed_mode(deployment):
    url = f"{deployment['server'].url}/retraining/status"
    # a solo-pool worker busy with a job cannot answer a ping: ask until it is free again
    deadline = time.monotonic() + 120
    while (status := requests.get(url, timeout=30).json())["workers"]["alive"] < 1:
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["mode"] == "distributed"
    assert status["database"]["kind"] == "postgresql" and status["database"]["reachable"]
    assert status["broker"]["kind"] == "redis" and status["broker"]["reachable"]
    assert status["workers"]["kind"] == "celery" and status["workers"]["alive"] >= 1
    assert requests.get(f"{deployment['server'].url}/readyz", timeout=10).json()["ready"]


def test_a_requested_check_is_completed_by_the_worker(deployment):
    url = deployment["server"].url
    response = requests.get(f"{url}/retraining/my_model/check?wait=0", timeout=30)
    assert response.status_code == 202
    location = url + response.headers["Location"]
    deadline = time.monotonic() + 120
    while (check := requests.get(location, timeout=10).json())["status"] != "completed":
        assert check["status"] != "failed" and time.monotonic() < deadline, check
        time.sleep(0.3)
    assert check["needs_retraining"] is True and check["drift_score"] > 0
    # the verdict is stored before Evidently's page is rendered (a task after the check's on
    # the worker): it follows within seconds, 202 with Retry-After meanwhile, never 404
    while (report := requests.get(url + check["links"]["report"], timeout=30)).status_code == 202:
        assert report.headers["Retry-After"] == "2"
        assert "still being rendered" in report.json()["detail"], report.text
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert report.status_code == 200
