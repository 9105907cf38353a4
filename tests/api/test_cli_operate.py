"""``retrain`` as an operator runs it: every command on the local state (a fresh
RETRAINING_HOME, the job run in the CLI's own process) and the main ones against a real
``retrain api``; errors are one line on stderr with their exit status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from apitest import RETRAIN, Server, free_port, sources

from shared.config import RetrainingConfig
from shared.runtime import Runtime
from shared.settings import Settings
from shared.usecases.models import configure_model
from shared.usecases.monitors import initialize_from_sources

_SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "RETRAINING_API_URL")


def retrain(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [RETRAIN, *args],
        env={**os.environ, **{name: "" for name in _SERVICE_VARIABLES}, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert done.returncode == 0, f"retrain {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def as_json(*args: str, env: dict[str, str]):
    return json.loads(retrain(*args, "--json", env=env).stdout)


def one_line_error(done: subprocess.CompletedProcess, status: int, *words: str) -> str:
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line: no traceback
    line = lines[0]
    assert line.startswith("retrain: ")
    for word in words:
        assert word in line, line
    return line


@pytest.fixture(scope="module")
def home(tmp_path_factory, mlflow_template, data_files) -> Path:
    """A data directory with one model, ``churn``, whose data sources are files."""
    home = tmp_path_factory.mktemp("cli-home")
    shutil.copy(mlflow_template, home / "mlflow.db")
    runtime = Runtime(Settings.from_env({"RETRAINING_HOME": str(home)}))
    try:
        config = RetrainingConfig(
            model_name="churn",
            min_training_samples=100,
            schedule_enabled=True,
            schedule_cron="0 2 * * 0",
        )
        configure_model(runtime, config, sources=sources(data_files))
        configure_model(runtime, RetrainingConfig(model_name="no_sources"))
    finally:
        runtime.dispose()
    return home


@pytest.fixture(scope="module")
def env(home) -> dict[str, str]:
    return {"RETRAINING_HOME": str(home)}


def test_version():
    done = retrain("--version", env={})
    assert done.stdout.startswith("retrain 0.1.0 (auto-retraining)")


def test_the_loop_on_the_local_state(env, home):
    models = as_json("models", env=env)
    assert {m["model_name"] for m in models} == {"churn", "no_sources"}
    churn = next(m for m in models if m["model_name"] == "churn")
    assert churn["schedule"]["enabled"] and churn["champion_version"] is None

    # the embedded default: the job runs in the CLI's own process, with the model's sources
    job = as_json("trigger", "churn", "--reason", "first model", env=env)
    assert (job["status"], job["promoted"], job["reason"]) == ("completed", True, "first model")
    assert job["model_version"] == "1" and job["metrics"]["accuracy"] > 0.5

    (listed,) = as_json("jobs", "churn", env=env)
    assert listed["job_id"] == job["job_id"]
    table = retrain("jobs", "churn", env=env).stdout
    assert job["job_id"] in table and "completed (promoted)" in table

    detail = as_json("job", job["job_id"], env=env)
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("job_status") == 3 and "promotion" in kinds
    shown = retrain("job", job["job_id"], env=env).stdout
    assert "scores on the same holdout" in shown and "first model of this name" in shown

    runtime = Runtime(Settings.from_env(env))
    try:
        initialize_from_sources(runtime, "churn", None)
    finally:
        runtime.dispose()
    check = as_json("check", "churn", env=env)
    # the current data is drifted and labelled: the champion's score fell too
    assert (check["status"], check["needs_retraining"]) == ("completed", True)
    assert check["trigger"] in ("concept_drift", "data_drift")
    assert check["drift"]["drifted_columns"]  # the columns the table lists

    report = as_json("report", "churn", env=env)
    page = Path(report["path"]).read_text()
    assert "Retraining report: churn" in page and job["job_id"] in page

    status = as_json("status", env=env)
    assert status["mode"] == "embedded"
    assert status["jobs"]["completed"] == 1
    churn_status = next(m for m in status["models"] if m["model_name"] == "churn")
    assert churn_status["champion_version"] == "1" and churn_status["active_job_id"] is None
    assert "embedded mode" in retrain("status", env=env).stdout


def test_local_errors_are_one_line_with_their_status(env):
    one_line_error(retrain("trigger", "nosuch", env=env, check=False), 3, "no model named 'nosuch'")
    one_line_error(retrain("jobs", "nosuch", env=env, check=False), 3, "'nosuch'")
    one_line_error(retrain("job", str(uuid.uuid4()), env=env, check=False), 3, "no job")
    one_line_error(
        retrain("trigger", "no_sources", env=env, check=False), 1, "no_sources", "training"
    )
    one_line_error(retrain("check", "no_sources", env=env, check=False), 1, "not initialized")


@pytest.mark.parametrize("command", [("migrate",), ("status",), ("trigger", "churn")])
def test_a_database_that_is_down_is_one_line(env, command):
    down = {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/retraining"}
    one_line_error(
        retrain(*command, env=down, check=False),
        5,
        "the database at postgresql+psycopg2://postgres@127.0.0.1:",
        "is unreachable",
    )


# -- against a running API --------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory, mlflow_template, data_files):
    home = tmp_path_factory.mktemp("cli-api-home")
    shutil.copy(mlflow_template, home / "mlflow.db")
    server_env = {
        "RETRAINING_HOME": str(home),
        "RETRAINING_API_TOKENS": "cli-token,ro:viewer-token",
        "RETRAINING_API_DISPATCH_SECONDS": "1",
        **{name: "" for name in _SERVICE_VARIABLES},
    }
    server = Server(server_env, home / "api.log").wait_ready()
    headers = {"Authorization": "Bearer cli-token"}
    body = {
        "model_name": "served",
        "min_training_samples": 100,
        "data_sources": sources(data_files),
    }
    configured = requests.post(
        f"{server.url}/retraining/configure", json=body, headers=headers, timeout=30
    )
    assert configured.status_code == 201, configured.text
    initialized = requests.post(
        f"{server.url}/retraining/served/initialize", headers=headers, timeout=60
    )
    assert initialized.status_code == 200, initialized.text
    yield server
    server.stop()


def test_the_main_commands_through_the_api(api, tmp_path):
    # the local state here is empty and unused: --api reads the server's
    env = {"RETRAINING_HOME": str(tmp_path / "unused"), "RETRAINING_API_TOKEN": "cli-token"}
    at = ("--api", api.url)
    (model,) = as_json("models", *at, env=env)
    assert model["model_name"] == "served"

    job = as_json("trigger", "served", "--reason", "from the cli", "--wait", *at, env=env)
    assert (job["status"], job["reason"], job["promoted"]) == ("completed", "from the cli", True)
    (listed,) = as_json("jobs", "served", *at, env=env)
    assert listed["job_id"] == job["job_id"]
    detail = as_json("job", job["job_id"], *at, env=env)  # found without naming its model
    assert detail["model_name"] == "served" and detail["events"]

    check = as_json("check", "served", *at, env=env)
    assert check["status"] == "completed" and check["needs_retraining"] is True

    output = tmp_path / "served.html"
    report = as_json("report", "served", "--output", str(output), *at, env=env)
    assert Path(report["path"]) == output and job["job_id"] in output.read_text()
    assert '<script src="/assets' not in output.read_text()  # plotly.js inline: opens offline
    assert "Plotly.newPlot" in output.read_text()

    status = as_json("status", *at, env=env)
    assert status["mode"] == "embedded" and status["jobs"]["completed"] == 1
    assert not (tmp_path / "unused").exists()  # nothing local was opened

    # a read-only token reads, and is refused a trigger
    viewer = {**env, "RETRAINING_API_TOKEN": "viewer-token"}
    assert as_json("models", *at, env=viewer)
    one_line_error(retrain("trigger", "served", *at, env=viewer, check=False), 4, "read-only")


def test_api_errors_are_one_line_with_their_status(api, tmp_path):
    env = {"RETRAINING_HOME": str(tmp_path), "RETRAINING_API_TOKEN": "cli-token"}
    at = ("--api", api.url)
    one_line_error(retrain("jobs", "nosuch", *at, env=env, check=False), 3, "nosuch")
    bad = {**env, "RETRAINING_API_TOKEN": "wrong"}
    one_line_error(retrain("models", *at, env=bad, check=False), 4, "not valid")
    none = {**env, "RETRAINING_API_TOKEN": ""}
    one_line_error(
        retrain("status", *at, env=none, check=False), 4, "bearer token", "RETRAINING_API_TOKEN"
    )
    nowhere = ("--api", f"http://127.0.0.1:{free_port()}")
    one_line_error(retrain("models", *nowhere, env=env, check=False), 5, "is unreachable")
