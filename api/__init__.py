"""The HTTP API (Flask/APIFlask): validates requests, reads state, enqueues work.

It never trains a model nor runs a drift report inside a request, and importing it imports
neither Evidently nor MLflow (only serving a prediction loads the champion through MLflow).
"""

from api.app import create_app

__all__ = ["create_app"]
