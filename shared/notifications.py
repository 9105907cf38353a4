"""Notifiers: anything with ``notify(job)``. A notifier that raises never fails a job."""

from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

logger = logging.getLogger("retraining.notifications")


class Notifier(Protocol):
    def notify(self, job: Any) -> None: ...


@dataclass(frozen=True)
class DriftAlert:
    """Handed to notifiers when drift reaches ``drift_alert_threshold``; shaped like a job."""

    model_name: str
    reason: str
    drift_share: float
    drifted_columns: list[str]
    check_id: str
    status: str = "drift_alert"
    job_id: None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: None = None


class LogNotifier:
    """Writes one line per job outcome or alert to the ``retraining.notifications`` logger."""

    def notify(self, job: Any) -> None:
        level = logging.ERROR if str(job.status) == "failed" else logging.INFO
        logger.log(level, "%s", describe(job))


class EmailNotifier:
    """Sends one plain-text e-mail per job outcome or alert over SMTP.

    SMTP settings come from ``RETRAINING_SMTP_HOST`` (default localhost), ``_PORT`` (25),
    ``_USER``/``_PASSWORD`` (optional, with STARTTLS) and ``_FROM``.
    """

    def __init__(self, to: str, *, host: str | None = None, port: int | None = None) -> None:
        self.to = to
        self.host = host or os.environ.get("RETRAINING_SMTP_HOST", "localhost")
        self.port = port or int(os.environ.get("RETRAINING_SMTP_PORT", "25"))
        self.user = os.environ.get("RETRAINING_SMTP_USER")
        self.password = os.environ.get("RETRAINING_SMTP_PASSWORD")
        self.sender = os.environ.get("RETRAINING_SMTP_FROM", "retraining@localhost")

    def notify(self, job: Any) -> None:
        message = EmailMessage()
        message["From"], message["To"] = self.sender, self.to
        message["Subject"] = f"[retraining] {job.model_name}: {job.status}"
        message.set_content(describe(job))
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.user:
                smtp.starttls()
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


class CompositeNotifier:
    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers

    def notify(self, job: Any) -> None:
        for notifier in self.notifiers:
            notify_safely(notifier, job)


def default_notifier(notification_email: str | None) -> Notifier:
    notifiers: list[Notifier] = [LogNotifier()]
    if notification_email:
        notifiers.append(EmailNotifier(notification_email))
    return CompositeNotifier(notifiers)


def notify_safely(notifier: Notifier | None, subject: Any) -> str | None:
    """Call the notifier; return the error text instead of raising."""
    if notifier is None:
        return None
    try:
        notifier.notify(subject)
    except Exception as exc:  # a notifier must never fail the job it reports on
        logger.warning("notifier %r failed: %s", notifier, exc)
        return f"{type(exc).__name__}: {exc}"
    return None


def describe(job: Any) -> str:
    if isinstance(job, DriftAlert):
        return f"drift alert for {job.model_name}: {job.reason}"
    text = f"retraining job {job.job_id} for {job.model_name} {job.status}"
    if getattr(job, "error", None):
        return f"{text}: {job.error}"
    if getattr(job, "promotion_reason", None):
        return f"{text}; promoted={job.promoted}: {job.promotion_reason}"
    return text
