"""Every endpoint on the embedded default, through Flask's test client.

A model is configured over HTTP alone (its data named as files), initialized, retrained,
checked and served; the jobs and checks run on the app's own worker threads.
"""

from __future__ import annotations

import shutil
import time

import pytest
from apitest import sources, wait_for_job

from api import create_app
from api.settings import ApiSettings
from shared.settings import Settings

CHURN = {
    "model_name": "churn",
    "min_training_samples": 500,
    "auto_promote": True,
    "pipeline": {
        "estimator_class": "sklearn.linear_model:LogisticRegression",
        "estimator_params": {"max_iter": 1000},
    },
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mlflow_template, data_files):
    """An app whose model ``churn`` was configured, initialized and trained over HTTP."""
    home = tmp_path_factory.mktemp("trained") / "home"
    home.mkdir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    app = create_app(
        Settings.from_env({"RETRAINING_HOME": str(home)}),
        ApiSettings(dispatch_interval_seconds=1.0, check_wait_seconds=30.0),
    )
    client = app.test_client()
    response = client.post(
        "/retraining/configure", json={**CHURN, "data_sources": sources(data_files)}
    )
    assert response.status_code == 201, response.get_json()
    response = client.post("/retraining/churn/initialize")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["reference_source"] == "training"
    first = client.post(
        "/retraining/churn/trigger", json={"trigger_type": "manual", "reason": "first model"}
    )
    again = client.post("/retraining/churn/trigger")
    job = wait_for_job(lambda url: client.get(url).get_json(), first.headers["Location"])
    yield {
        "app": app,
        "client": client,
        "first": first,
        "again": again,
        "job": job,
        "current_file": data_files["current"],
    }
    app.extensions["retraining"].close()


def test_configure_creates_then_replaces_keeping_sources(client, data_files):
    body = {"model_name": "m1", "data_sources": sources(data_files)}
    created = client.post("/retraining/configure", json=body)
    assert created.status_code == 201
    assert created.headers["Location"] == "/retraining/m1/config"
    out = created.get_json()
    assert out["created"] is True
    assert out["config"]["performance_threshold"] == 0.05  # defaults, as RetrainingConfig
    assert set(out["data_sources"]) == {"training", "current"}

    replaced = client.post(
        "/retraining/configure",
        json={"model_name": "m1", "drift_threshold": 0.2, "schedule_enabled": True},
    )
    assert replaced.status_code == 200
    out = replaced.get_json()
    assert out["created"] is False
    assert out["config"]["drift_threshold"] == 0.2
    assert set(out["data_sources"]) == {"training", "current"}  # left out: kept
    assert out["schedule"]["enabled"] is True and out["schedule"]["next_run_at"]

    off = client.post("/retraining/configure", json={"model_name": "m1"}).get_json()
    assert off["schedule"] == {"enabled": False, "next_run_at": None}
    assert client.get("/retraining/m1/config").get_json()["model_name"] == "m1"
    assert [m["model_name"] for m in client.get("/retraining/models").get_json()["models"]] == [
        "m1"
    ]


def test_sql_source_password_is_masked(client):
    body = {
        "model_name": "sqlmodel",
        "data_sources": {
            "training": {
                "kind": "sql",
                "url": "postgresql+psycopg2://user:secret@db.example/x",
                "query": "SELECT * FROM t",
            }
        },
    }
    out = client.post("/retraining/configure", json=body).get_json()
    assert "secret" not in out["data_sources"]["training"]["url"]
    assert "***" in out["data_sources"]["training"]["url"]


def test_trigger_queues_a_job_and_names_the_active_one(trained):
    first, again, job = trained["first"], trained["again"], trained["job"]
    assert first.status_code == 202
    assert first.headers["Location"] == f"/retraining/churn/jobs/{first.get_json()['job_id']}"
    assert first.get_json()["created"] is True
    # triggered while the first was pending or running: that job, not a new one
    assert again.status_code == 200
    assert again.get_json()["created"] is False
    assert again.get_json()["job_id"] == first.get_json()["job_id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert job["status"] == "completed", job["error"]
    assert job["promoted"] is True
    assert job["model_version"] == "1"
    assert job["metrics"]["accuracy"] > 0.7
    transitions = [(e["from_status"], e["to_status"]) for e in job["events"]]
    assert transitions[:3] == [(None, "pending"), ("pending", "running"), ("running", "completed")]


def test_job_history_filters_and_pages(trained):
    client = trained["client"]
    job_id = trained["job"]["job_id"]
    jobs = client.get("/retraining/churn/jobs").get_json()
    assert jobs["jobs"][-1]["job_id"] == job_id
    assert client.get("/retraining/churn/jobs?status=completed&trigger=manual").get_json()["jobs"][
        -1
    ]["job_id"] == (job_id)
    assert client.get("/retraining/churn/jobs?trigger=data_drift").get_json()["jobs"] == []
    page = client.get("/retraining/churn/jobs?limit=1&offset=0").get_json()
    assert len(page["jobs"]) == 1 and "next" in page["links"]
    bad = client.get("/retraining/churn/jobs?limit=0")
    assert bad.status_code == 422
    assert bad.get_json()["errors"][0]["field"] == "query.limit"
    unknown = client.get("/retraining/churn/jobs/3f0c8d0e-0000-4000-8000-000000000000")
    assert unknown.status_code == 404
    assert unknown.content_type == "application/problem+json"
    assert client.get("/retraining/churn/jobs/not-a-uuid").status_code == 404


def test_job_of_another_model_is_not_found(trained, data_files):
    client = trained["client"]
    client.post("/retraining/configure", json={"model_name": "other"})
    response = client.get(f"/retraining/other/jobs/{trained['job']['job_id']}")
    assert response.status_code == 404
    assert "has no job" in response.get_json()["detail"]


def test_check_answers_with_the_result_when_it_is_quick(trained):
    client = trained["client"]
    response = client.get("/retraining/churn/check?wait=30")
    assert response.status_code == 200, response.get_json()
    check = response.get_json()
    assert check["status"] == "completed"
    assert check["needs_retraining"] is True
    assert check["trigger"] in ("concept_drift", "data_drift")
    assert check["drift_score"] >= 0.1
    assert {c["column"] for c in check["columns"]} >= {"tenure", "monthly_spend", "plan"}
    assert check["drifted_columns"]
    assert check["duration_seconds"] > 0
    # the check answered with its verdict; Evidently's page is rendered after it, and while
    # it renders the answer is 202 with Retry-After, never 404
    deadline = time.monotonic() + 120
    while (report := client.get(check["links"]["report"])).status_code == 202:
        assert report.headers["Retry-After"] == "2"
        assert report.content_type == "application/problem+json"
        assert "still being rendered" in report.get_json()["detail"]
        browser = client.get(check["links"]["report"], headers={"Accept": "text/html"})
        if browser.status_code == 202:  # a browser gets a page that reloads itself
            assert browser.headers["Retry-After"] == "2"
            assert b"http-equiv='refresh'" in browser.data
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert report.status_code == 200 and report.content_type.startswith("text/html")
    assert b"<html" in report.data[:2000].lower()
    assert b"Dataset drift detection threshold is 0.1" in report.data  # the model's threshold
    # a check never retrains by itself
    assert len(client.get("/retraining/churn/jobs").get_json()["jobs"]) == 1


def test_check_answers_202_then_the_check_can_be_polled(trained):
    client = trained["client"]
    response = client.get("/retraining/churn/check?wait=0")
    assert response.status_code == 202
    assert response.get_json()["status"] in ("pending", "running")
    assert response.get_json()["needs_retraining"] is None
    location = response.headers["Location"]
    assert location == f"/retraining/churn/checks/{response.get_json()['check_id']}"
    again = client.get("/retraining/churn/check?wait=0")  # asked again: the same check
    assert again.get_json()["check_id"] == response.get_json()["check_id"]
    deadline = time.monotonic() + 60
    while (polled := client.get(location).get_json())["status"] != "completed":
        assert time.monotonic() < deadline and polled["status"] != "failed", polled
        time.sleep(0.2)
    assert polled["needs_retraining"] is True
    listed = client.get("/retraining/churn/checks").get_json()["checks"]
    assert polled["check_id"] in [c["check_id"] for c in listed]
    first = client.get("/retraining/churn/checks?limit=1").get_json()
    assert first["links"]["next"] == "/retraining/churn/checks?limit=1&offset=1"
    second = client.get(first["links"]["next"]).get_json()["checks"]
    assert [c["check_id"] for c in first["checks"] + second] == [c["check_id"] for c in listed[:2]]
    assert client.get("/retraining/churn/checks/nope/report").status_code == 404


def test_report_html_links_the_stored_checks_and_json_on_request(trained):
    client = trained["client"]
    client.get("/retraining/churn/check?wait=30")
    html = client.get("/retraining/churn/report")
    assert html.status_code == 200 and html.content_type.startswith("text/html")
    text = html.get_data(as_text=True)
    assert trained["job"]["job_id"] in text
    assert "/retraining/churn/checks/" in text and '/report">Evidently report' in text
    assert "file://" not in text
    data = client.get("/retraining/churn/report", headers={"Accept": "application/json"})
    assert data.content_type == "application/json"
    body = data.get_json()
    assert body["champion_version"] == "1"
    assert body["job_counts"]["completed"] >= 1
    assert body["latest_check"]["links"]["report"].endswith("/report")


def test_status_and_metrics(trained):
    client = trained["client"]
    status = client.get("/retraining/status").get_json()
    assert status["mode"] == "embedded"
    assert status["database"]["reachable"] and status["broker"]["reachable"]
    assert status["workers"]["kind"] == "in-process" and status["workers"]["alive"] == 1
    churn = next(m for m in status["models"] if m["model_name"] == "churn")
    assert churn["champion_version"] == "1" and churn["monitors_initialized"]
    assert status["jobs"]["completed"] >= 1
    metrics = client.get("/metrics")
    assert metrics.content_type.startswith("text/plain")
    text = metrics.get_data(as_text=True)
    assert 'retraining_jobs_total{model="churn",status="completed",trigger="manual"} 1.0' in text
    assert 'retraining_job_duration_seconds_count{model="churn",status="completed"} 1.0' in text
    assert 'retraining_promotions_total{model="churn"} 1.0' in text
    assert 'retraining_jobs_active{model="churn",status="running"}' in text
    assert 'retraining_http_requests_total{method="GET",route="/retraining/status"' in text
    assert 'retraining_drift_score{model="churn"}' in text
    assert "retraining_check_duration_seconds_bucket" in text
    assert 'retraining_champion_info{model="churn",version="1"} 1.0' in text


def test_health_probes(trained):
    client = trained["client"]
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["ready"] is True


def test_serving_feeds_monitoring_and_follows_promotion(make_app, data_files):
    client = make_app(check_wait_seconds=30.0).test_client()
    body = {**CHURN, "model_name": "served", "min_samples_for_check": 100}
    body["data_sources"] = sources(data_files, current=None)
    assert client.post("/retraining/configure", json=body).status_code == 201
    assert client.post("/models/served/predict", json={"instances": [{}]}).status_code == 409
    client.post("/retraining/served/initialize")
    # no current source and no prediction yet: nothing to check
    assert client.get("/retraining/served/check").status_code == 409
    job = wait_for_job(
        lambda url: client.get(url).get_json(),
        client.post("/retraining/served/trigger").headers["Location"],
    )
    assert job["status"] == "completed", job["error"]

    import pandas as pd

    frame = pd.read_csv(data_files["current"]).head(120)
    instances = frame.drop(columns="target").astype(object).where(frame.notna(), None)
    served = client.post(
        "/models/served/predict", json={"instances": instances.to_dict(orient="records")}
    )
    assert served.status_code == 200, served.get_json()
    out = served.get_json()
    assert out["model_version"] == "1" and len(out["predictions"]) == 120
    assert {p["prediction"] for p in out["predictions"]} <= {0, 1}
    ids = [p["prediction_id"] for p in out["predictions"]]

    unknown = client.post(
        "/models/served/feedback",
        json={
            "outcomes": [
                {"prediction_id": ids[0], "outcome": 1},
                {"prediction_id": "x", "outcome": 0},
            ]
        },
    )
    assert unknown.status_code == 404  # all or nothing
    outcomes = [
        {"prediction_id": i, "outcome": int(y)} for i, y in zip(ids, frame["target"], strict=True)
    ]
    recorded = client.post("/models/served/feedback", json={"outcomes": outcomes})
    assert recorded.get_json() == {"model_name": "served", "recorded": 120}

    check = client.get("/retraining/served/check?wait=30").get_json()
    assert check["status"] == "completed", check
    assert check["n_rows"] == 120  # the served predictions were the current data
    assert check["performance"]["concept"] is not None  # their outcomes were used

    missing = client.post("/models/served/predict", json={"instances": [{"tenure": 3}]})
    assert missing.status_code == 422 and missing.get_json()["errors"][0]["field"] == (
        "instances[0]"
    )

    # a promotion moves the champion: the next prediction uses it
    client.post("/retraining/configure", json={**body, "promotion_min_improvement": 0.0})
    second = wait_for_job(
        lambda url: client.get(url).get_json(),
        client.post("/retraining/served/trigger").headers["Location"],
    )
    assert second["promoted"] is True, second["promotion_reason"]
    again = client.post(
        "/models/served/predict", json={"instances": instances.head(2).to_dict(orient="records")}
    )
    assert again.get_json()["model_version"] == "2"


def test_trigger_every_model_or_the_named_ones(trained):
    client = trained["client"]
    unknown = client.post("/retraining/trigger", json={"models": ["churn", "nope"]})
    assert unknown.status_code == 404 and "nope" in unknown.get_json()["detail"]
    response = client.post("/retraining/trigger")  # the CI example: no body at all
    assert response.status_code in (200, 202)
    outcomes = {r["model_name"]: r["outcome"] for r in response.get_json()["results"]}
    assert outcomes["churn"] in ("queued", "already_active")
    assert outcomes["other"] == "skipped"  # no training source
    job = wait_for_job(
        lambda url: client.get(url).get_json(),
        f"/retraining/churn/jobs/{response.get_json()['results'][0]['job']['job_id']}",
    )
    assert job["status"] == "completed"


def test_monitoring_runs_checks_and_retrains_when_needed(trained):
    client = trained["client"]
    before = len(client.get("/retraining/churn/checks?limit=500").get_json()["checks"])
    started = client.post(
        "/retraining/churn/start-monitoring", json={"check_interval_seconds": 3600}
    )
    assert started.status_code == 200
    state = started.get_json()
    assert state["monitoring"]["active"] is True and state["runner"] == "in-process"
    assert state["monitoring"]["check_interval_seconds"] == 3600
    deadline = time.monotonic() + 60
    while True:  # the dispatcher thread runs the due check; drifted data: it retrains
        jobs = client.get("/retraining/churn/jobs").get_json()["jobs"]
        drift_jobs = [j for j in jobs if j["trigger"] in ("data_drift", "concept_drift")]
        if drift_jobs:
            break
        assert time.monotonic() < deadline, "monitoring did not retrain"
        time.sleep(0.5)
    after = client.get("/retraining/churn/checks?limit=500").get_json()["checks"]
    assert len(after) > before
    status = client.get("/retraining/status").get_json()
    churn = next(m for m in status["models"] if m["model_name"] == "churn")
    assert churn["monitoring"]["active"] is True
    stopped = client.post("/retraining/churn/stop-monitoring").get_json()
    assert stopped["monitoring"] == {
        "active": False,
        "check_interval_seconds": None,
        "next_run_at": None,
    }
    wait_for_job(lambda url: client.get(url).get_json(), drift_jobs[0]["links"]["self"])


def test_initialize_takes_a_given_baseline(client, data_files):
    client.post(
        "/retraining/configure", json={"model_name": "based", "data_sources": sources(data_files)}
    )
    baseline = {"accuracy": 0.85, "f1_score": 0.83}
    response = client.post("/retraining/based/initialize", json={"baseline_metrics": baseline})
    assert response.status_code == 200
    assert response.get_json()["baseline_metrics"] == baseline
    model = client.get("/retraining/based/config").get_json()
    assert model["monitors_initialized"] is True and model["baseline_metrics"] == baseline
    bad = client.post("/retraining/based/initialize", json={"baseline_metrics": {"a": "x"}})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "baseline_metrics.a"


def test_a_check_page_whose_renderer_was_lost_is_rendered_on_request(trained, monkeypatch):
    """The check's process handed its page over and died (or the task was lost): the page's
    first request starts it, answers 202 with Retry-After meanwhile, never 404."""
    import pandas as pd

    from shared import check_pages
    from shared.monitoring import run_check

    client = trained["client"]
    runtime = trained["app"].extensions["retraining"].runtime
    current = pd.read_csv(trained["current_file"])
    lost = run_check(runtime, "churn", current, render_page=lambda model, check: None)
    url = f"/retraining/churn/checks/{lost.check_id}/report"
    first = client.get(url)
    assert first.status_code == 202 and first.headers["Retry-After"] == "2"  # left to its renderer
    assert not check_pages._background().has(lost.report_key)
    monkeypatch.setattr(check_pages, "QUEUED_GRACE_SECONDS", 0.0)  # ... which never came
    deadline = time.monotonic() + 120
    while (page := client.get(url)).status_code == 202:
        assert page.headers["Retry-After"] == "2"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert page.status_code == 200
    assert b"Drift verdict of record" in page.data
