"""The promotion ledger, rollback and resume through the HTTP API (Flask's test client, the
embedded default) and through ``retrain`` (local state, and ``--api`` against a real
``retrain api``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apitest import Server, sources, wait_for_job
from test_cli_operate import as_json, one_line_error, retrain

from api.settings import ApiSettings
from shared.enums import RetrainingTrigger
from shared.settings import Settings

FULL, READ_ONLY = "full-token-for-tests", "read-only-token-for-tests"
CHURN = {
    "model_name": "churn",
    "min_training_samples": 500,
    "auto_promote": True,
    "promotion_min_improvement": 0.0,
    "pipeline": {
        "estimator_class": "sklearn.linear_model:LogisticRegression",
        "estimator_params": {"max_iter": 1000},
    },
}


@pytest.fixture(scope="module")
def flipped_training(data_files, tmp_path_factory) -> Path:
    """The training data with the opposite labels: its model is a poor first champion."""
    import pandas as pd

    frame = pd.read_parquet(data_files["training"])
    path = tmp_path_factory.mktemp("flipped") / "flipped.parquet"
    frame.assign(target=1 - frame["target"]).to_parquet(path)
    return path


def train_two(client, data_files, flipped_training) -> tuple[dict, dict]:
    """v1 on the flipped data, then v2 (better) on the real data; both promoted."""
    jobs = []
    for path in (flipped_training, data_files["training"]):
        source = {**sources(data_files), "training": {"kind": "file", "path": str(path)}}
        response = client.post("/retraining/configure", json={**CHURN, "data_sources": source})
        assert response.status_code in (200, 201), response.get_json()
        if not jobs:
            assert client.post("/retraining/churn/initialize").status_code == 200
        started = client.post("/retraining/churn/trigger", json={"reason": "test"})
        job = wait_for_job(lambda url: client.get(url).get_json(), started.headers["Location"])
        assert job["status"] == "completed" and job["promoted"], job
        jobs.append(job)
    return jobs[0], jobs[1]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_ledger_rollback_and_resume_over_http(make_app, data_files, flipped_training):
    tokens = ApiSettings.from_env({"RETRAINING_API_TOKENS": f"{FULL},ro:{READ_ONLY}"}).tokens
    app = make_app(tokens=tokens)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {FULL}"
    first, second = train_two(client, data_files, flipped_training)

    page = client.get("/retraining/churn/promotions?limit=1").get_json()
    [newest] = page["promotions"]
    assert newest["kind"] == "promoted" and newest["job_id"] == second["job_id"]
    assert (newest["from_version"], newest["to_version"]) == ("1", "2")
    assert newest["metrics"] == second["metrics"]
    assert newest["from_metrics"] == second["champion_metrics"]
    assert newest["data_fingerprint"] and newest["holdout_fingerprint"]
    assert newest["links"]["job"] == f"/retraining/churn/jobs/{second['job_id']}"
    assert page["links"]["next"] == "/retraining/churn/promotions?limit=1&offset=1"
    older = client.get(page["links"]["next"]).get_json()["promotions"]
    assert [e["job_id"] for e in older] == [first["job_id"]] and older[0]["from_version"] is None

    # a write: a read-only token may not roll back
    denied = client.post("/retraining/churn/rollback", headers=auth(READ_ONLY))
    assert denied.status_code == 403
    bad = client.post("/retraining/churn/rollback", json={"to_version": "v1"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "to_version"
    never = client.post("/retraining/churn/rollback", json={"to_version": "9"})
    assert never.status_code == 422 and "never its champion" in never.get_json()["detail"]

    # refused while a retraining of the model is active
    runtime = app.extensions["retraining"].runtime
    job, _ = runtime.jobs.create("churn", RetrainingTrigger.MANUAL, "in the way")
    busy = client.post("/retraining/churn/rollback", json={"reason": "too early"})
    assert busy.status_code == 409, busy.get_json()
    assert busy.content_type == "application/problem+json"
    assert job.job_id in busy.get_json()["detail"]
    runtime.jobs.fail(job.job_id, None, "removed by the test")

    done = client.post("/retraining/churn/rollback", json={"reason": "bad outputs"})
    assert done.status_code == 200, done.get_json()
    entry = done.get_json()
    assert (entry["kind"], entry["from_version"], entry["to_version"]) == ("rollback", "2", "1")
    assert entry["actor"] == "api" and entry["reason"] == "bad outputs"
    config = client.get("/retraining/churn/config").get_json()
    assert config["champion_version"] == "1"
    assert runtime.registry.champion_version("churn") == "1"
    assert client.get("/retraining/churn/promotions").get_json()["promotions"][0] == entry

    state = client.post("/retraining/churn/resume", json={"actor": "ops"})
    assert state.status_code == 200 and state.get_json()["paused"] is False
    assert client.get("/retraining/churn/breaker").get_json()["consecutive_refusals"] == 0


def test_rollback_through_the_cli_locally_and_over_the_api(
    tmp_path, mlflow_template, data_files, flipped_training, make_app
):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    settings = Settings.from_env({"RETRAINING_HOME": str(home)})
    app = make_app(settings)
    train_two(app.test_client(), data_files, flipped_training)
    app.extensions["retraining"].close()
    env = {"RETRAINING_HOME": str(home)}

    entries = as_json("promotions", "churn", env=env)
    assert [e["kind"] for e in entries] == ["promoted", "promoted"]
    assert "promotion ledger of churn" in retrain("promotions", "churn", env=env).stdout

    # locally, on this machine's state
    entry = as_json("rollback", "churn", "--reason", "from the terminal", env=env)
    assert (entry["from_version"], entry["to_version"]) == ("2", "1")
    assert entry["actor"].startswith("cli") and entry["reason"] == "from the terminal"
    one_line_error(
        retrain("rollback", "churn", "--to", "1", env=env, check=False), 1, "already the champion"
    )
    shown = retrain("rollback", "churn", "--to", "2", env=env).stdout
    assert "version 2 is the champion again (was 1)" in shown

    # over a running API, with the same commands
    server = Server(env, tmp_path / "api.log").wait_ready()
    try:
        remote = {**env, "RETRAINING_API_URL": server.url}
        entry = as_json("rollback", "churn", "--to", "1", "--reason", "remote", env=remote)
        assert (entry["from_version"], entry["to_version"], entry["reason"]) == ("2", "1", "remote")
        listed = as_json("promotions", "churn", "--limit", "2", env=remote)
        assert [e["kind"] for e in listed] == ["rollback", "rollback"]
        assert as_json("resume", "churn", env=remote)["paused"] is False
        one_line_error(
            retrain("rollback", "churn", "--to", "9", env=remote, check=False),
            1,
            "never its champion",
        )
    finally:
        server.stop()
    assert len(as_json("promotions", "churn", env=env)) == 5
