"""Celery workers: turn queued messages into calls of the core (``shared.usecases``)."""
