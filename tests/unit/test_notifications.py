"""Notifiers: the built-in ones, and the rule that a notifier never fails the job it reports."""

import logging
import smtplib

import pandas as pd
import pytest

from retraining.scheduler import RetrainingConfig, RetrainingScheduler
from shared.enums import JobStatus, RetrainingTrigger
from shared.events import list_events
from shared.notifications import (
    CompositeNotifier,
    DriftAlert,
    EmailNotifier,
    LogNotifier,
    WebhookNotifier,
    default_notifier,
    describe,
    notify_safely,
)
from training.pipeline import TrainingPipeline


class Recorder:
    def __init__(self):
        self.seen = []

    def notify(self, job):
        self.seen.append(job)


class Broken:
    def notify(self, job):
        raise RuntimeError("pager service down")


def failed_job(runtime, error="the training data loader raised OSError: disk gone"):
    job, _ = runtime.jobs.create("churn", RetrainingTrigger.MANUAL, "")
    claimed = runtime.jobs.claim(job.job_id)
    return runtime.jobs.fail(job.job_id, claimed.attempt, error)


def completed_job(runtime):
    job, _ = runtime.jobs.create("churn", RetrainingTrigger.DATA_DRIFT, "")
    claimed = runtime.jobs.claim(job.job_id)
    return runtime.jobs.complete(
        job.job_id, claimed.attempt, promoted=True, promotion_reason="better by the margin"
    )


def test_notify_safely_returns_the_error_instead_of_raising(caplog):
    assert notify_safely(None, object()) is None
    assert notify_safely(Recorder(), object()) is None
    with caplog.at_level(logging.WARNING, logger="retraining.notifications"):
        assert notify_safely(Broken(), object()) == "RuntimeError: pager service down"
    assert "pager service down" in caplog.text


def test_the_log_notifier_logs_failures_as_warnings(runtime, caplog):
    with caplog.at_level(logging.INFO, logger="retraining.notifications"):
        LogNotifier().notify(failed_job(runtime))
        LogNotifier().notify(completed_job(runtime))
    failed, completed = caplog.records
    assert failed.levelno == logging.WARNING  # a refused job is not a crash of the process
    assert "failed: the training data loader raised OSError: disk gone" in failed.getMessage()
    assert completed.levelno == logging.INFO
    assert "completed; promoted=True: better by the margin" in completed.getMessage()


def test_a_drift_alert_is_described_by_its_reason():
    alert = DriftAlert("churn", "4 of 7 columns drifted", 0.57, ["a", "b", "c", "d"], "check-1")
    assert describe(alert) == "drift alert for churn: 4 of 7 columns drifted"
    assert (alert.status, alert.job_id, alert.error) == ("drift_alert", None, None)


def test_a_composite_notifier_reaches_everyone_after_one_fails_and_reports_it(runtime):
    recorder = Recorder()
    job = completed_job(runtime)
    # the failure comes back to the caller, who records it; everyone after it still got it
    error = notify_safely(CompositeNotifier([Broken(), recorder]), job)
    assert recorder.seen == [job]
    assert error == "NotificationFailed: Broken: RuntimeError: pager service down"


def test_the_default_log_notifier_logs_drift_alerts_but_not_jobs(runtime, caplog):
    # a job's outcome is in the job's own log already: logged once, not again here
    with caplog.at_level(logging.INFO, logger="retraining.notifications"):
        default_notifier(None).notify(failed_job(runtime))
        default_notifier(None).notify(DriftAlert("churn", "4 of 7 drifted", 0.57, ["a"], "c-1"))
    (alert,) = caplog.records
    assert alert.levelno == logging.WARNING
    assert alert.getMessage() == "drift alert for churn: 4 of 7 drifted"


def test_the_default_notifier_emails_only_when_an_address_is_set():
    assert [type(n) for n in default_notifier(None).notifiers] == [LogNotifier]
    with_email = default_notifier("ops@example.com").notifiers
    assert [type(n) for n in with_email] == [LogNotifier, EmailNotifier]
    assert with_email[1].to == "ops@example.com"
    with_both = default_notifier("ops@example.com", "https://hooks.example.com/x").notifiers
    assert [type(n) for n in with_both] == [LogNotifier, EmailNotifier, WebhookNotifier]
    assert with_both[2].url == "https://hooks.example.com/x"


class FakeSMTP:
    sent: list = []
    calls: list = []

    def __init__(self, host, port, timeout):
        self.calls.append(("connect", host, port))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        self.calls.append(("starttls",))

    def login(self, user, password):
        self.calls.append(("login", user, password))

    def send_message(self, message):
        self.sent.append(message)


def test_the_email_notifier_sends_one_message_per_job(runtime, monkeypatch):
    FakeSMTP.sent, FakeSMTP.calls = [], []
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setenv("RETRAINING_SMTP_USER", "bot")
    monkeypatch.setenv("RETRAINING_SMTP_PASSWORD", "secret")
    monkeypatch.setenv("RETRAINING_SMTP_FROM", "retraining@example.com")
    job = failed_job(runtime)
    EmailNotifier("ops@example.com", host="mail.example.com", port=587).notify(job)
    (message,) = FakeSMTP.sent
    assert message["To"] == "ops@example.com"
    assert message["From"] == "retraining@example.com"
    assert message["Subject"] == "[retraining] churn: failed"
    assert job.job_id in message.get_content()
    assert "disk gone" in message.get_content()
    assert FakeSMTP.calls == [
        ("connect", "mail.example.com", 587),
        ("starttls",),
        ("login", "bot", "secret"),
    ]


def _broken_loader() -> pd.DataFrame:
    raise OSError("disk gone")


@pytest.fixture
def failing_scheduler(settings):
    """A scheduler whose jobs fail fast (no training, no MLflow)."""
    schedulers = []

    def make(**kwargs):
        config = RetrainingConfig(model_name="churn", **kwargs.pop("config", {}))
        scheduler = RetrainingScheduler(
            config, _broken_loader, TrainingPipeline("churn"), settings=settings, **kwargs
        )
        schedulers.append(scheduler)
        return scheduler

    yield make
    for scheduler in schedulers:
        scheduler.close()


def test_the_handler_receives_the_finished_job(failing_scheduler):
    recorder = Recorder()
    scheduler = failing_scheduler(notification_handler=recorder)
    job = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "try")
    (notified,) = recorder.seen
    assert notified.job_id == job.job_id
    assert notified.status == "failed" and "disk gone" in notified.error


def test_a_handler_assigned_after_construction_is_used(failing_scheduler):
    scheduler = failing_scheduler()
    scheduler.notification_handler = recorder = Recorder()  # as the specification does
    scheduler.trigger_retraining()
    assert len(recorder.seen) == 1


def test_a_notifier_that_raises_does_not_change_the_job_and_is_recorded(failing_scheduler):
    scheduler = failing_scheduler(notification_handler=Broken())
    job = scheduler.trigger_retraining()
    assert job.status == JobStatus.FAILED
    assert "disk gone" in job.error and "pager" not in job.error
    (event,) = list_events(scheduler.runtime.engine, kind="notification_failed")
    assert event["details"]["error"] == "RuntimeError: pager service down"
    assert event["details"]["job_id"] == job.job_id


def test_no_notification_when_notifications_are_off(failing_scheduler):
    recorder = Recorder()
    scheduler = failing_scheduler(
        config={"enable_notifications": False}, notification_handler=recorder
    )
    scheduler.trigger_retraining()
    assert recorder.seen == []
