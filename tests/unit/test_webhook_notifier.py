"""The webhook notifier against real HTTP servers on loopback: one that records each POST,
one that fails. A failing webhook is recorded as an event and never fails the job."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pandas as pd
import pytest
from hooks import Hook

from retraining.scheduler import RetrainingConfig, RetrainingScheduler
from shared.enums import JobStatus, RetrainingTrigger
from shared.events import list_events
from shared.notifications import DriftAlert, WebhookNotifier
from training.pipeline import TrainingPipeline


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook(200)
    yield server
    server.close()


@pytest.fixture
def failing_hook() -> Iterator[Hook]:
    server = Hook(500)
    yield server
    server.close()


def completed_job(runtime):
    job, _ = runtime.jobs.create("churn", RetrainingTrigger.DATA_DRIFT, "5 of 7 columns drifted")
    claimed = runtime.jobs.claim(job.job_id)
    return runtime.jobs.complete(
        job.job_id,
        claimed.attempt,
        metrics={"accuracy": 0.86, "roc_auc": float("nan")},
        champion_metrics={"accuracy": 0.8},
        promoted=True,
        promotion_reason="better by the margin",
        model_version="3",
    )


def test_a_job_is_posted_as_slack_compatible_json(runtime, hook, monkeypatch):
    monkeypatch.setenv("RETRAINING_WEBHOOK_SECRET", "s3cret")
    job = completed_job(runtime)
    WebhookNotifier(hook.url).notify(job)
    ((headers, body),) = hook.received
    assert headers["Content-Type"] == "application/json"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Retraining-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["text"].startswith(f"retraining job {job.job_id} for churn completed")
    assert payload["model"] == "churn"
    assert payload["status"] == "completed"
    assert payload["trigger"] == "data_drift"
    assert payload["reason"] == "5 of 7 columns drifted"
    assert payload["metrics"] == {"accuracy": 0.86, "roc_auc": None}  # JSON has no NaN
    assert payload["champion_metrics"] == {"accuracy": 0.8}
    assert (payload["promoted"], payload["model_version"]) == (True, "3")


def test_a_drift_alert_is_posted_with_its_columns(hook):
    alert = DriftAlert("churn", "4 of 7 columns drifted", 0.57, ["tenure", "plan"], "check-1")
    WebhookNotifier(hook.url, secret="").notify(alert)
    ((headers, _),) = hook.received
    assert "X-Retraining-Signature" not in headers
    (payload,) = hook.payloads()
    assert payload["text"] == "drift alert for churn: 4 of 7 columns drifted"
    assert payload["status"] == "drift_alert"
    assert (payload["drift_share"], payload["drifted_columns"]) == (0.57, ["tenure", "plan"])


def test_an_error_status_raises(runtime, failing_hook):
    with pytest.raises(OSError, match="500"):
        WebhookNotifier(failing_hook.url).notify(completed_job(runtime))


def _broken_loader() -> pd.DataFrame:
    raise OSError("disk gone")


def scheduler_with_webhook(settings, url: str) -> RetrainingScheduler:
    config = RetrainingConfig(model_name="churn", notification_webhook_url=url)
    return RetrainingScheduler(config, _broken_loader, TrainingPipeline("churn"), settings=settings)


def test_a_model_configured_with_a_webhook_posts_each_finished_job(settings, hook):
    scheduler = scheduler_with_webhook(settings, hook.url)
    try:
        job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "try it")
    finally:
        scheduler.close()
    (payload,) = hook.payloads()
    assert (payload["job_id"], payload["status"], payload["trigger"]) == (
        job.job_id,
        "failed",
        "manual",
    )
    assert payload["reason"] == "try it"
    assert "disk gone" in payload["error"]


def test_a_failing_webhook_is_recorded_and_never_fails_the_job(settings, failing_hook):
    scheduler = scheduler_with_webhook(settings, failing_hook.url)
    try:
        job = scheduler.trigger_retraining()
        events = list_events(scheduler.runtime.engine, kind="notification_failed")
    finally:
        scheduler.close()
    assert len(failing_hook.received) == 1  # it was tried
    assert job.status == JobStatus.FAILED and "disk gone" in job.error  # its own error only
    (event,) = events
    assert event["details"]["job_id"] == job.job_id
    assert "WebhookNotifier" in event["details"]["error"]
    assert "500" in event["details"]["error"]


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "hooks.example.com", "https://"])
def test_a_webhook_url_that_is_not_http_is_refused_naming_the_field(url):
    with pytest.raises(ValueError, match=r"notification_webhook_url: .* is not an http"):
        RetrainingConfig(notification_webhook_url=url)
