"""``retrain api`` as a user runs it, and the specification's curl commands as written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import requests
from apitest import RETRAIN, Server, free_port, run_curl, run_spec_commands, spec_curl_commands
from apitest import wait_for_job as wait_for

_SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "RETRAINING_API_TOKENS")


@pytest.fixture
def embedded_env(tmp_path, mlflow_template) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    return {
        "RETRAINING_HOME": str(home),
        "RETRAINING_API_DISPATCH_SECONDS": "1",
        "RETRAINING_API_CHECK_WAIT_SECONDS": "20",
        **{name: "" for name in _SERVICE_VARIABLES},
    }


@pytest.fixture
def server(embedded_env, tmp_path):
    running = Server(embedded_env, tmp_path / "api.log")
    try:
        yield running.wait_ready()
    finally:
        running.stop()


def test_spec_curl_commands_work_as_written_embedded(server, data_files):
    results = run_spec_commands(server, data_files)
    job = wait_for(
        lambda url: requests.get(server.url + url, timeout=10).json(),
        f"/retraining/my_model/jobs/{results['job_id']}",
    )
    assert job["status"] == "completed", job["error"]
    status = requests.get(f"{server.url}/retraining/status", timeout=10).json()
    assert status["mode"] == "embedded"
    report = requests.get(f"{server.url}/retraining/my_model/report", timeout=10)
    assert results["job_id"] in report.text
    log = server.log.read_text()
    assert "authentication is OFF" in log


def test_ci_example_with_a_token(embedded_env, tmp_path):
    env = {**embedded_env, "RETRAINING_API_TOKENS": "ci-secret-token"}
    running = Server(env, tmp_path / "api.log")
    try:
        running.wait_ready()
        command = next(c for c in spec_curl_commands() if "$API_URL" in c)
        ok, body = run_curl(
            command, running.port, {"API_URL": running.url, "TOKEN": "ci-secret-token"}
        )
        assert ok == 200 and json.loads(body) == {"queued": 0, "results": []}
        denied, _ = run_curl(command, running.port, {"API_URL": running.url, "TOKEN": "wrong"})
        assert denied == 401
        assert "ci-secret-token" not in running.log.read_text()
    finally:
        running.stop()
    assert "bearer-token authentication on" in running.log.read_text()


def test_refuses_to_listen_beyond_loopback_without_tokens(embedded_env):
    done = subprocess.run(
        [RETRAIN, "api", "--host", "0.0.0.0", "--port", str(free_port())],
        env={**os.environ, **embedded_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in done.stderr
    assert "--insecure" in done.stderr


def test_insecure_listens_beyond_loopback_and_says_so(embedded_env, tmp_path):
    running = Server(embedded_env, tmp_path / "api.log", "--host", "0.0.0.0", "--insecure")
    try:
        running.wait_ready()
    finally:
        running.stop()
    log = running.log.read_text()
    assert "authentication is OFF" in log and "(--insecure)" in log
