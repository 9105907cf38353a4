"""Bearer tokens: none, wrong, read-only, full; open reads; a file of token digests."""

from __future__ import annotations

import hashlib
import logging

import pytest

from api.settings import ApiSettings

FULL, READ_ONLY = "full-token-123", "read-token-456"


@pytest.fixture
def secured(make_app):
    settings = ApiSettings.from_env({"RETRAINING_API_TOKENS": f"{FULL}, ro:{READ_ONLY}"})
    return make_app(tokens=settings.tokens).test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_401_with_www_authenticate(secured):
    for response in (
        secured.get("/retraining/status"),
        secured.get("/retraining/m/jobs"),
        secured.post("/retraining/configure", json={"model_name": "m"}),
        secured.post("/retraining/trigger"),
        secured.get("/metrics"),
    ):
        assert response.status_code == 401
        assert response.content_type == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_token_is_401(secured):
    for header in (bearer("guess"), {"Authorization": f"Basic {FULL}"}, bearer("")):
        response = secured.get("/retraining/status", headers=header)
        assert response.status_code == 401
    assert (
        "invalid_token"
        in secured.get("/retraining/status", headers=bearer("guess")).headers["WWW-Authenticate"]
    )


def test_read_only_token_reads_but_cannot_change(secured):
    ok = secured.post("/retraining/configure", json={"model_name": "m"}, headers=bearer(FULL))
    assert ok.status_code == 201
    assert secured.get("/retraining/m/jobs", headers=bearer(READ_ONLY)).status_code == 200
    assert secured.get("/retraining/status", headers=bearer(READ_ONLY)).status_code == 200
    # a check starts work but changes no model: a read-only token may ask for one
    assert secured.get("/retraining/m/check", headers=bearer(READ_ONLY)).status_code == 409
    for response in (
        secured.post("/retraining/configure", json={"model_name": "m"}, headers=bearer(READ_ONLY)),
        secured.post("/retraining/m/trigger", headers=bearer(READ_ONLY)),
        secured.post("/retraining/m/stop-monitoring", headers=bearer(READ_ONLY)),
        secured.post("/models/m/predict", json={"instances": [{}]}, headers=bearer(READ_ONLY)),
    ):
        assert response.status_code == 403
        assert "insufficient_scope" in response.headers["WWW-Authenticate"]


def test_public_endpoints_need_no_token(secured):
    for url in ("/healthz", "/readyz", "/openapi.json", "/docs", "/assets/plotly.min.js"):
        assert secured.get(url).status_code == 200, url


def test_open_reads(make_app):
    tokens = ApiSettings.from_env({"RETRAINING_API_TOKENS": FULL}).tokens
    client = make_app(tokens=tokens, open_reads=True).test_client()
    assert client.get("/retraining/status").status_code == 200
    assert client.get("/retraining/models").status_code == 200
    assert client.post("/retraining/configure", json={"model_name": "m"}).status_code == 401
    assert client.get("/retraining/m/check").status_code == 401  # starts work: never open


def test_token_file_of_sha256_digests(make_app, tmp_path):
    path = tmp_path / "tokens"
    path.write_text(
        "# operators\n"
        f"{hashlib.sha256(FULL.encode()).hexdigest()}\n"
        f"ro:{hashlib.sha256(READ_ONLY.encode()).hexdigest()}\n"
    )
    tokens = ApiSettings.from_env({"RETRAINING_API_TOKENS_FILE": str(path)}).tokens
    client = make_app(tokens=tokens).test_client()
    configure = {"model_name": "m"}
    assert (
        client.post("/retraining/configure", json=configure, headers=bearer(FULL)).status_code
        == 201
    )
    assert client.get("/retraining/models", headers=bearer(READ_ONLY)).status_code == 200
    assert (
        client.post("/retraining/configure", json=configure, headers=bearer(READ_ONLY)).status_code
        == 403
    )


def test_bad_token_settings_are_refused_without_echoing_them(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("plain-secret-not-a-digest\n")
    with pytest.raises(ValueError) as caught:
        ApiSettings.from_env({"RETRAINING_API_TOKENS_FILE": str(path)})
    assert "line 1" in str(caught.value) and "plain-secret" not in str(caught.value)
    with pytest.raises(ValueError):
        ApiSettings.from_env({"RETRAINING_API_TOKENS": "ro:"})


def test_tokens_are_never_logged(secured, caplog):
    caplog.set_level(logging.DEBUG)
    secured.get("/retraining/status", headers=bearer("wrong-secret-789"))
    secured.get("/retraining/status", headers=bearer(FULL))
    secured.post("/retraining/configure", json={"model_name": "x"}, headers=bearer(READ_ONLY))
    assert FULL not in caplog.text and READ_ONLY not in caplog.text
    assert "wrong-secret-789" not in caplog.text
    assert FULL not in repr(ApiSettings.from_env({"RETRAINING_API_TOKENS": FULL}))
