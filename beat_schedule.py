"""Celery Beat's schedule, where the product's layout names it; it lives in ``workers.beat``."""

from workers.beat import beat_schedule

__all__ = ["beat_schedule"]
