"""The retraining core: configuration, job state, checks, training, promotion.

It knows nothing of Flask or Celery; ``api/`` and ``workers/`` are adapters over it.
"""
