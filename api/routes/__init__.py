"""The endpoints, one module per area; each handler validates, reads state, and enqueues."""

from __future__ import annotations

from flask import Flask


def register_routes(app: Flask) -> None:
    from api.routes import assets, checks, models, promotions, reports, serving, system

    for module in (models, checks, promotions, reports, serving, system, assets):
        app.register_blueprint(module.bp)
