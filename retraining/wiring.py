"""The one place that picks concrete pieces by configuration: which publisher carries work.

With ``REDIS_URL`` set, Celery's (``workers.publisher``); otherwise none is needed here: the
embedded mode runs work in the process that asks (the API's thread pools, the Python API's
calling thread). The ``retrain`` CLI hands this to the HTTP API; the Python API's scheduler,
whose constructor takes no publisher, asks it for itself.
"""

from __future__ import annotations

from shared.settings import Settings
from shared.usecases.ports import Publisher


def distributed_publisher(settings: Settings) -> Publisher:
    """Celery's publisher on the settings' Redis; ``ValueError`` without one."""
    if not settings.distributed:
        raise ValueError("REDIS_URL: not set, so there is no broker to publish to")
    from workers.publisher import CeleryPublisher

    return CeleryPublisher(settings)
