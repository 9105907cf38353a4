"""Celery Beat's schedule: one dispatcher and one reconciler, both every minute by default.

Per-model schedules and monitoring intervals live in the database, so they change at run time
without restarting Beat: the dispatcher asks the database what is due (``shared.dispatch``).
"""

from __future__ import annotations

from typing import Any

from workers.config import DISPATCH_DUE, RECONCILE


def beat_schedule(interval_seconds: float = 60.0) -> dict[str, dict[str, Any]]:
    return {
        "dispatch-due-work": {
            "task": DISPATCH_DUE,
            "schedule": interval_seconds,
            "options": {"expires": interval_seconds},
        },
        "reconcile-jobs": {
            "task": RECONCILE,
            "schedule": interval_seconds,
            "options": {"expires": interval_seconds},
        },
    }
