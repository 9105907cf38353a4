"""``/assets/...``: the scripts and styles of the API's pages, from the packages that ship them
(plotly.js from plotly, Swagger UI from flask-swagger-ui's copy of its dist), never a CDN."""

from __future__ import annotations

import importlib.util
import mimetypes
from pathlib import Path

from apiflask import APIBlueprint
from flask import send_file

from api.auth import Access
from api.errors import Problem
from api.openapi import hidden, operation
from shared.reports import asset_path

bp = APIBlueprint("assets", __name__)

ASSETS_URL = "/assets"
SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
_OURS = Path(__file__).resolve().parents[1] / "assets"
_MAX_AGE = 24 * 3600


def swagger_ui_dir() -> Path:
    """The Swagger UI dist folder flask-swagger-ui ships (its file is found, not imported)."""
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the flask-swagger-ui package (Swagger UI's files) is missing")
    return Path(spec.origin).parent / "dist"


def _file(name: str) -> Path:
    if name in ("plotly.min.js", "report.js"):
        return asset_path(name)
    if name == "docs.js":
        return _OURS / name
    if name.startswith("swagger-ui/") and name.split("/", 1)[1] in SWAGGER_UI_FILES:
        return swagger_ui_dir() / name.split("/", 1)[1]
    raise FileNotFoundError(name)


@bp.get(f"{ASSETS_URL}/<path:name>")
@hidden
@operation(tag="system", access=Access.PUBLIC, responses={})
def asset(name: str):
    """A script or style of the API's pages"""
    try:
        path = _file(name)
    except FileNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise Problem(404, f"no asset {name!r}")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return send_file(path, mimetype=media_type, max_age=_MAX_AGE, conditional=True)
