"""The contract: OpenAPI 3.1 for every endpoint, an offline docs page, a lean import, and a
bounded schemathesis run (no 5xx; every response as documented)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from api.settings import ApiSettings
from shared.settings import Settings

TOKEN = "contract-test-token"
# bounded for the suite; raise it for a deeper run: RETRAINING_SCHEMATHESIS_EXAMPLES=200
EXAMPLES = int(os.environ.get("RETRAINING_SCHEMATHESIS_EXAMPLES", "20"))
SPEC_ENDPOINTS = {
    ("post", "/retraining/configure"),
    ("post", "/retraining/{model_name}/initialize"),
    ("post", "/retraining/{model_name}/trigger"),
    ("get", "/retraining/{model_name}/check"),
    ("get", "/retraining/{model_name}/jobs"),
    ("get", "/retraining/{model_name}/jobs/{job_id}"),
    ("get", "/retraining/status"),
    ("post", "/retraining/{model_name}/start-monitoring"),
    ("post", "/retraining/{model_name}/stop-monitoring"),
    ("get", "/retraining/{model_name}/report"),
    ("post", "/retraining/trigger"),
    ("post", "/models/{model_name}/predict"),
    ("post", "/models/{model_name}/feedback"),
    ("get", "/retraining/{model_name}/checks/{check_id}"),
    ("get", "/retraining/{model_name}/checks/{check_id}/report"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}


HEAVY = ("sklearn", "mlflow", "evidently", "scipy")


@pytest.mark.parametrize(
    ("statement", "also_absent"),
    [
        ("import api; api.create_app()", ("celery",)),  # the embedded API needs no Celery
        ("import workers.tasks", ()),
    ],
)
def test_importing_a_door_loads_no_heavy_library(statement, also_absent, tmp_path):
    # they are imported where a job or a check first runs, not at start-up
    code = (
        f"import sys; {statement}; print(sorted(set({HEAVY + also_absent!r}) & set(sys.modules)))"
    )
    env = {**os.environ, "RETRAINING_HOME": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0"}
    if "workers" not in statement:
        env.pop("REDIS_URL")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


_CHECK_WITHOUT_A_CHAMPION = """
import sys
import numpy as np, pandas as pd
from api import create_app
from api.settings import ApiSettings
from shared.settings import Settings

home = sys.argv[1]
rng = np.random.default_rng(0)
frame = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(list("abc"), 400)})
frame.to_parquet(f"{home}/data.parquet")
source = {"kind": "file", "path": f"{home}/data.parquet"}
app = create_app(Settings.from_env({"RETRAINING_HOME": home}), ApiSettings(check_wait_seconds=30))
client = app.test_client()
sources = {"training": source, "current": source}
client.post("/retraining/configure", json={"model_name": "m", "data_sources": sources})
assert client.post("/retraining/m/initialize").status_code == 200
check = client.get("/retraining/m/check?wait=30").get_json()
print(check["status"], check["needs_retraining"], sorted(set(sys.argv[2:]) & set(sys.modules)))
"""


def test_a_check_without_a_champion_loads_no_model_library(tmp_path):
    # a check's first call in the API pays only for what it uses (scipy's distances, say)
    env = {**os.environ, "RETRAINING_CHECK_REPORTS": "false"}
    env.pop("REDIS_URL", None)
    script = [sys.executable, "-c", _CHECK_WITHOUT_A_CHAMPION, str(tmp_path), *HEAVY[:3]]
    out = subprocess.run(script, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "completed False []", out.stdout


def test_openapi_31_describes_every_endpoint(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    operations = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert operations >= SPEC_ENDPOINTS
    configure = spec["paths"]["/retraining/configure"]["post"]
    schema_ref = configure["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    # the validating model is the documented one: every RetrainingConfig field is there
    from shared.config import RetrainingConfig

    assert set(RetrainingConfig.__dataclass_fields__) <= set(body["properties"])
    assert body["additionalProperties"] is False
    trigger = spec["paths"]["/retraining/{model_name}/trigger"]["post"]["responses"]
    assert {"200", "202", "404", "409", "422", "503"} <= set(trigger)
    assert "Location" in trigger["202"]["headers"]
    check = spec["paths"]["/retraining/{model_name}/check"]["get"]["responses"]
    assert {"200", "202"} <= set(check)
    assert "application/problem+json" in check["404"]["content"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_docs_page_is_swagger_ui_from_local_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    assert "https://" not in page and "http://" not in page  # no other host
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)
    assert {
        "/assets/swagger-ui/swagger-ui-bundle.js",
        "/assets/swagger-ui/swagger-ui.css",
        "/assets/docs.js",
    } <= set(assets)
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content_length > 100 and "max-age" in asset.headers["Cache-Control"]
    assert 'data-spec-url="/openapi.json"' in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    script = client.get("/assets/docs.js").get_data(as_text=True)
    assert "persistAuthorization: true" in script  # the bearer token under "Authorize"
    assert client.get("/assets/../api/app.py").status_code == 404
    assert client.get("/assets/swagger-ui/LICENSE").status_code == 404  # only what pages use


def _contract_app():
    """An app (with a token) on its own data directory, made at collection time."""
    home = Path(tempfile.mkdtemp(prefix="contract-")) / "home"
    tokens = ApiSettings.from_env({"RETRAINING_API_TOKENS": TOKEN}).tokens
    return create_app(
        Settings.from_env({"RETRAINING_HOME": str(home)}),
        ApiSettings(tokens=tokens, check_wait_seconds=0.0, dispatch_interval_seconds=1.0),
    )


CONTRACT_APP = _contract_app()
schema = schemathesis.openapi.from_wsgi("/openapi.json", CONTRACT_APP)


@pytest.fixture(scope="module", autouse=True)
def _close_contract_app():
    yield
    CONTRACT_APP.extensions["retraining"].close()
    shutil.rmtree(Path(CONTRACT_APP.extensions["retraining"].settings.home).parent)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_no_server_error_and_conformance(case):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            negative_data_rejected,
        ],
    )


def negative_data_rejected(ctx, response, case):
    """Schemathesis' check, counting 413 (a body over the size cap) as a rejection too."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)
