"""The Flask application: ``create_app()``; gunicorn serves it with ``retrain api``."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from apiflask import APIFlask
from flask import Response

from api.auth import Access, authorize_request
from api.context import ApiContext, PublisherFactory
from api.errors import register_error_handlers
from api.metrics import RequestMetrics
from api.openapi import complete_spec
from api.routes import register_routes
from api.settings import ApiSettings
from shared.settings import Settings

logger = logging.getLogger("retraining.api")

TITLE = "Automated model retraining"


def create_app(
    settings: Settings | None = None,
    api_settings: ApiSettings | None = None,
    publisher_factory: PublisherFactory | None = None,
):
    """The app; nothing is opened until the first request (or ``start_background``).

    ``publisher_factory`` makes what carries work to the workers, used with ``REDIS_URL``
    (the embedded mode runs the work in this process).
    """
    settings = settings or Settings.from_env()
    api_settings = api_settings or ApiSettings.from_env()
    app = APIFlask(
        "api",
        title=TITLE,
        version=_version(),
        spec_path="/openapi.json",
        docs_path=None,
        json_errors=False,
        static_folder=None,
    )
    app.config.update(
        MAX_CONTENT_LENGTH=api_settings.max_body_bytes,
        OPENAPI_VERSION="3.1.0",
        AUTO_200_RESPONSE=False,
        AUTO_404_RESPONSE=False,
        AUTO_VALIDATION_ERROR_RESPONSE=False,
        AUTO_AUTH_ERROR_RESPONSE=False,
        AUTO_SERVERS=False,
        INFO={"license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
    )
    app.json.sort_keys = False
    app.extensions["retraining"] = ApiContext(settings, api_settings, publisher_factory)
    register_error_handlers(app)
    register_routes(app)
    app.view_functions["openapi.spec"]._access = Access.PUBLIC  # type: ignore[attr-defined]
    app.spec_processor(lambda spec: complete_spec(app, spec))
    app.before_request(lambda: authorize_request(api_settings))
    app.after_request(_common_headers)
    app.extensions["retraining_requests"] = metrics = RequestMetrics()
    metrics.install(app)
    return app


def _common_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _version() -> str:
    try:
        return version("auto-retraining")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"
