"""Notifiers: anything with ``notify(job)``. A notifier that raises never fails a job.

Built in: the log (drift alerts; a job's outcome is already in the job's own log), e-mail over
SMTP (``notification_email``) and a webhook (``notification_webhook_url``: a JSON POST with a
Slack-compatible ``text`` and the outcome's fields).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.config import RetrainingConfig

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


@dataclass(frozen=True)
class Notice:
    """Handed to notifiers when a model's retraining changes course without a job ending:
    automatic retraining paused (storm control), a champion rolled back. Shaped like a job."""

    model_name: str
    status: str  # retraining_paused, rollback, auto-rollback
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    job_id: None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: None = None


class LogNotifier:
    """Writes one line per job outcome or alert to the ``retraining.notifications`` logger.

    ``include_jobs=False`` (the default notifier's) logs drift alerts only: the job's own log
    (``retraining.jobs``) already says how each job ended, once.
    """

    def __init__(self, include_jobs: bool = True) -> None:
        self.include_jobs = include_jobs

    def notify(self, job: Any) -> None:
        if isinstance(job, DriftAlert | Notice):
            logger.warning("%s", describe(job))
        elif self.include_jobs:
            level = logging.WARNING if str(job.status) == "failed" else logging.INFO
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


class WebhookNotifier:
    """POSTs one JSON document per job outcome or alert: Slack's ``text``, plus the fields.

    Any 2xx answer is success; anything else (an error status, no answer within
    ``RETRAINING_WEBHOOK_TIMEOUT`` seconds, default 10) raises, and is recorded as a
    ``notification_failed`` event by whoever called it. With ``RETRAINING_WEBHOOK_SECRET``
    set, ``X-Retraining-Signature: sha256=<hex>`` is the body's HMAC-SHA256 with that secret.
    """

    def __init__(self, url: str, *, timeout: float | None = None, secret: str | None = None):
        self.url = url
        self.timeout = timeout or float(os.environ.get("RETRAINING_WEBHOOK_TIMEOUT") or 10)
        self.secret = secret if secret is not None else os.environ.get("RETRAINING_WEBHOOK_SECRET")

    def notify(self, job: Any) -> None:
        body = json.dumps(webhook_payload(job), default=str).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "auto-retraining"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Retraining-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        # urlopen raises HTTPError for 4xx and 5xx; 1xx and 3xx end up here only if unfollowed
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"webhook answered HTTP {response.status}")

    def __repr__(self) -> str:
        return f"WebhookNotifier({_host_of(self.url)!r})"


def webhook_payload(job: Any) -> dict[str, Any]:
    """Slack's ``text`` (what a person reads), then the outcome's fields for a machine."""
    payload: dict[str, Any] = {
        "text": describe(job),
        "model": job.model_name,
        "status": str(job.status),
    }
    if isinstance(job, DriftAlert):
        payload.update(
            reason=job.reason,
            drift_share=job.drift_share,
            drifted_columns=list(job.drifted_columns),
            check_id=job.check_id,
        )
        return payload
    if isinstance(job, Notice):
        payload.update(reason=job.reason, **job.details)
        return payload
    payload.update(
        job_id=job.job_id,
        trigger=str(job.trigger),
        reason=job.reason,
        metrics=_finite(getattr(job, "metrics", None)),
        champion_metrics=_finite(getattr(job, "champion_metrics", None)),
        promoted=getattr(job, "promoted", None),
        promotion_reason=getattr(job, "promotion_reason", None),
        model_version=getattr(job, "model_version", None),
        error=getattr(job, "error", None),
    )
    return payload


def _finite(metrics: dict[str, float] | None) -> dict[str, float | None] | None:
    """JSON has no NaN: an undefined metric is null."""
    if metrics is None:
        return None
    return {
        k: v if isinstance(v, int | float) and math.isfinite(v) else None
        for k, v in metrics.items()
    }


def _host_of(url: str) -> str:
    """The URL without its path: a webhook's path is often its secret (Slack's are)."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname or ''}"


class NotificationFailed(RuntimeError):
    """One or more of a composite's notifiers failed (each was still tried)."""


class CompositeNotifier:
    """Every notifier, each tried even when one before it fails; the failures are raised
    together at the end, so the caller records them (``notification_failed``)."""

    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers

    def notify(self, job: Any) -> None:
        errors = [
            f"{type(notifier).__name__}: {error}"
            for notifier in self.notifiers
            if (error := notify_safely(notifier, job)) is not None
        ]
        if errors:
            raise NotificationFailed("; ".join(errors))


def default_notifier(
    notification_email: str | None, notification_webhook_url: str | None = None
) -> Notifier:
    """Drift alerts to the log; with an address, e-mail; with a URL, the webhook."""
    notifiers: list[Notifier] = [LogNotifier(include_jobs=False)]
    if notification_email:
        notifiers.append(EmailNotifier(notification_email))
    if notification_webhook_url:
        notifiers.append(WebhookNotifier(notification_webhook_url))
    return CompositeNotifier(notifiers)


def notifier_for(config: RetrainingConfig) -> Notifier:
    """The default notifier of a model's configuration."""
    return default_notifier(config.notification_email, config.notification_webhook_url)


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
    if isinstance(job, Notice):
        return f"{job.status.replace('_', ' ')} for {job.model_name}: {job.reason}"
    text = f"retraining job {job.job_id} for {job.model_name} {job.status}"
    if getattr(job, "error", None):
        return f"{text}: {job.error}"
    if getattr(job, "promotion_reason", None):
        return f"{text}; promoted={job.promoted}: {job.promotion_reason}"
    return text
