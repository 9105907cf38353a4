"""Strict HTTP edges, against a real ``retrain api`` (gunicorn): bodies of unknown length over
the limit, duplicate keys, content types, a prediction with a value of the wrong type, and
the configuration of schedules and webhooks over HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import time
from datetime import UTC, datetime

import pytest
import requests
from apitest import Server, sources, wait_for_job
from hooks import Hook

LIMIT = 1024 * 1024  # the default RETRAINING_API_MAX_BODY_BYTES


@pytest.fixture(scope="module")
def server(tmp_path_factory, mlflow_template):
    import shutil

    home = tmp_path_factory.mktemp("edges-home")
    shutil.copy(mlflow_template, home / "mlflow.db")
    env = {"RETRAINING_HOME": str(home), "RETRAINING_API_DISPATCH_SECONDS": "1"}
    running = Server(env, home / "api.log").wait_ready()
    yield running
    running.stop()


def chunked_post(server: Server, path: str, body: bytes, content_type="application/json"):
    """POST ``body`` with Transfer-Encoding: chunked over a raw socket: (status, JSON body)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for start in range(0, len(body), 64 * 1024):
                chunk = body[start : start + 64 * 1024]
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # the server may answer before the end
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def model_names(server: Server) -> list[str]:
    models = requests.get(f"{server.url}/retraining/models", timeout=10).json()["models"]
    return [m["model_name"] for m in models]


def test_a_chunked_body_over_the_limit_is_refused_unparsed(server):
    # valid JSON all the way (whitespace after the object): cut at the limit it would parse
    body = json.dumps({"model_name": "chunky"}).encode() + b" " * (3 * LIMIT)
    status, problem = chunked_post(server, "/retraining/configure", body)
    assert status == 413
    too_large = f"the request body is larger than the {LIMIT}-byte limit of this API"
    assert problem["detail"] == too_large
    assert "chunky" not in model_names(server)
    # one byte past the limit is enough; at the limit it is read
    status, _ = chunked_post(server, "/retraining/configure", b"{" + b" " * LIMIT + b"}")
    assert status == 413
    padded = json.dumps({"model_name": "small_chunks"}).encode()
    status, created = chunked_post(server, "/retraining/configure", padded.ljust(LIMIT))
    assert status == 201, created
    assert created["model_name"] == "small_chunks"


def test_a_declared_length_over_the_limit_is_refused(server):
    response = requests.post(
        f"{server.url}/retraining/configure",
        data=b"{" + b" " * LIMIT + b"}",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_key_given_twice_is_a_400(server):
    response = requests.post(
        f"{server.url}/retraining/configure",
        data='{"model_name": "twice", "drift_threshold": 0.1, "drift_threshold": 0.9}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["title"] == "Malformed JSON"
    assert "'drift_threshold' twice" in problem["detail"]
    assert "twice" not in model_names(server)
    nested = requests.post(
        f"{server.url}/retraining/configure",
        json={"model_name": "nested"},  # valid, then a nested duplicate below
        timeout=10,
    )
    assert nested.status_code == 201
    nested = requests.post(
        f"{server.url}/retraining/configure",
        data='{"model_name": "nested", "data_sources": {"training": '
        '{"kind": "file", "path": "/a.csv", "path": "/b.csv"}}}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert nested.status_code == 400 and "'path' twice" in nested.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        ({"Content-Type": "text/plain"}, "'text/plain'"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "'application/x-www-form"),
        ({"Content-Type": ""}, "no Content-Type"),
    ],
)
def test_a_body_not_declared_as_json_is_a_415(server, headers, shown):
    response = requests.post(
        f"{server.url}/retraining/configure",
        data=b'{"model_name": "plain"}',
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 415, response.text
    problem = response.json()
    assert problem["detail"].startswith("the request body must be JSON: send 'Content-Type: ")
    assert shown in problem["detail"]
    assert "plain" not in model_names(server)


def test_json_with_a_charset_or_a_json_suffix_is_accepted_and_no_body_needs_no_type(server):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = requests.post(
            f"{server.url}/retraining/configure",
            data=b'{"model_name": "typed"}',
            headers={"Content-Type": content_type},
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text
    # the specification's initialize: a POST with no body and no Content-Type
    response = requests.post(f"{server.url}/retraining/typed/start-monitoring", timeout=10)
    assert response.status_code == 409  # no monitors yet: the body was not the problem


def test_the_schedule_and_the_webhook_are_configured_over_http(server):
    response = requests.post(
        f"{server.url}/retraining/configure",
        json={
            "model_name": "cron_model",
            "schedule_enabled": True,
            "schedule_cron": "0 2 * * 0",
            "schedule_timezone": "America/New_York",
            "notification_webhook_url": "https://hooks.example.com/services/x",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    model = response.json()
    assert model["config"]["schedule_cron"] == "0 2 * * 0"
    assert model["config"]["notification_webhook_url"] == "https://hooks.example.com/services/x"
    next_run = datetime.fromisoformat(model["schedule"]["next_run_at"].replace("Z", "+00:00"))
    from zoneinfo import ZoneInfo

    local = next_run.astimezone(ZoneInfo("America/New_York"))
    assert (local.strftime("%A"), local.hour in (2, 3), local.minute) == ("Sunday", True, 0)
    assert next_run > datetime.now(UTC)
    for field, value, words in [
        ("schedule_cron", "0 2 * *", "is not a cron expression of five fields"),
        ("schedule_interval_hours", 5, "must divide a day evenly"),
        ("notification_webhook_url", "ftp://x/y", "is not an http(s) URL"),
    ]:
        bad = requests.post(
            f"{server.url}/retraining/configure",
            json={"model_name": "cron_model", field: value},
            timeout=10,
        )
        assert bad.status_code == 422, bad.text
        (error,) = bad.json()["errors"]
        assert error["field"] == field and words in error["message"]


def test_a_prediction_with_the_wrong_type_names_the_column_and_the_type(server, data_files):
    hook = Hook(200)  # the model's webhook, configured over HTTP, hears of the job
    try:
        configured = requests.post(
            f"{server.url}/retraining/configure",
            json={
                "model_name": "served",
                "min_training_samples": 100,
                "notification_webhook_url": hook.url,
                "data_sources": sources(data_files, current=None),
            },
            timeout=30,
        )
        assert configured.status_code == 201, configured.text
        trigger = requests.post(f"{server.url}/retraining/served/trigger", timeout=30)
        assert trigger.status_code == 202, trigger.text
        job = wait_for_job(
            lambda url: requests.get(server.url + url, timeout=10).json(),
            trigger.headers["Location"],
        )
        assert job["status"] == "completed", job
        # the notification follows the job's completion: give it a moment
        deadline = time.monotonic() + 30
        while not hook.received and time.monotonic() < deadline:
            time.sleep(0.2)
        (payload,) = hook.payloads()
    finally:
        hook.close()
    assert (payload["job_id"], payload["status"], payload["model"]) == (
        job["job_id"],
        "completed",
        "served",
    )
    assert payload["metrics"]["accuracy"] == job["metrics"]["accuracy"]
    good = {"tenure": 3.0, "monthly_spend": 50.0, "support_calls": 1, "usage_hours": 20.0}
    good |= {"discount": 0.1, "plan": "basic", "region": "west"}
    ok = requests.post(
        f"{server.url}/models/served/predict", json={"instances": [good]}, timeout=60
    )
    assert ok.status_code == 200, ok.text
    for column, value, wanted in [
        ("tenure", "three years", "expected a number"),
        ("plan", 3, "expected text"),
    ]:
        bad = requests.post(
            f"{server.url}/models/served/predict",
            json={"instances": [good, {**good, column: value}]},
            timeout=60,
        )
        assert bad.status_code == 422, bad.text
        (error,) = bad.json()["errors"]
        assert error["field"] == f"instances[1].{column}"
        assert error["message"].startswith(wanted)
        assert repr(value) in error["message"]
