"""Every error is problem+json with a detail to act on; no stack trace ever leaves."""

from __future__ import annotations

import pytest
from apitest import free_port, sources

from shared.settings import Settings

PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model_name": "m", "performance_threshold": 5}, "performance_threshold"),
        ({"model_name": "m", "drift_threshold": "0.1"}, "drift_threshold"),
        ({"model_name": "m", "min_training_samples": 0}, "min_training_samples"),
        ({"model_name": "m", "schedule_time": "25:00"}, "schedule_time"),
        ({"model_name": "m", "schedule_day_of_week": "someday"}, "schedule_day_of_week"),
        ({"model_name": "m", "schedule_timezone": "Mars/Olympus"}, "schedule_timezone"),
        ({"model_name": "m", "primary_metric": "happiness"}, "primary_metric"),
        ({"model_name": "m", "promotion_confidence": 1.0}, "promotion_confidence"),
        ({"model_name": "m", "promotion_confidence": 0.5}, "promotion_confidence"),
        (
            {"model_name": "m", "promotion_confidence": 0.95, "primary_metric": "roc_auc"},
            "promotion_confidence",
        ),
        ({"model_name": "m", "colour": "blue"}, "colour"),
        ({"model_name": "../etc"}, "model_name"),
        ({"model_name": "a..b"}, "model_name"),
        ({"performance_threshold": 0.1}, "model_name"),
        (
            {"model_name": "m", "data_sources": {"training": {"kind": "file", "path": "x.txt"}}},
            "data_sources.training.path",
        ),
        (
            {"model_name": "m", "data_sources": {"training": {"kind": "ftp", "path": "x.csv"}}},
            "data_sources.training",
        ),
        (
            {
                "model_name": "m",
                "data_sources": {"current": {"kind": "callable", "target": "os:getcwd"}},
            },
            "data_sources.current.target",
        ),
        (
            {
                "model_name": "m",
                "data_sources": {"training": {"kind": "sql", "url": "nope", "query": "SELECT 1"}},
            },
            "data_sources.training.url",
        ),
        (
            {"model_name": "m", "pipeline": {"estimator_class": "os:system"}},
            "pipeline.estimator_class",
        ),
        (
            {"model_name": "m", "pipeline": {"estimator_class": "sklearn.utils:shuffle"}},
            "pipeline.estimator_class",
        ),
        (
            {
                "model_name": "m",
                "pipeline": {
                    "estimator_class": "sklearn.linear_model:LogisticRegression",
                    "estimator_params": {"C": "lots"},
                },
            },
            "pipeline.estimator_params",
        ),
        (
            {
                "model_name": "m",
                "pipeline": {
                    "estimator_class": "sklearn.linear_model:LogisticRegression",
                    "estimator_params": {"colour": 1},
                },
            },
            "pipeline.estimator_params",
        ),
        ({"model_name": "m", "pipeline": {"task": "clustering"}}, "pipeline.task"),
    ],
)
def test_invalid_configuration_is_422_naming_the_field(client, body, field):
    out = problem(client.post("/retraining/configure", json=body), 422)
    assert out["errors"][0]["field"] == field, out
    assert out["detail"].startswith(field), out
    assert client.get("/retraining/models").get_json()["models"] == []  # nothing half-stored


def test_malformed_or_missing_json_is_400(client):
    out = problem(
        client.post("/retraining/configure", data="{not json", content_type="application/json"),
        400,
    )
    assert "not valid JSON" in out["detail"]
    problem(client.post("/retraining/configure"), 400)  # a body is required here
    out = problem(client.post("/retraining/configure", json=[1, 2]), 422)
    assert out["errors"][0] == {"field": "body", "message": "must be a JSON object"}
    out = problem(client.post("/retraining/configure", json={"model_name": "a\u0000b"}), 422)
    assert "NUL" in out["detail"]


def test_unknown_things_are_404(client):
    assert (
        "no model named 'ghost'" in problem(client.post("/retraining/ghost/trigger"), 404)["detail"]
    )
    for url in (
        "/retraining/ghost/check",
        "/retraining/ghost/jobs",
        "/retraining/ghost/report",
        "/retraining/ghost/config",
        "/retraining/ghost/checks/3f0c8d0e-0000-4000-8000-000000000000",
        "/retraining/a..b/jobs",
        "/nowhere",
    ):
        problem(client.get(url), 404)
    problem(client.post("/retraining/ghost/initialize"), 404)
    problem(client.post("/retraining/ghost/start-monitoring"), 404)
    problem(client.post("/models/ghost/predict", json={"instances": [{"a": 1}]}), 404)
    problem(
        client.post(
            "/models/ghost/feedback", json={"outcomes": [{"prediction_id": "x", "outcome": 1}]}
        ),
        404,
    )


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/retraining/status")
    problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_state_conflicts_are_409_saying_what_to_do(client, data_files, tmp_path):
    client.post("/retraining/configure", json={"model_name": "bare"})
    assert (
        "data_sources.reference"
        in problem(client.post("/retraining/bare/initialize"), 409)["detail"]
    )
    assert (
        "data_sources.training" in problem(client.post("/retraining/bare/trigger"), 409)["detail"]
    )
    assert "initialize" in problem(client.get("/retraining/bare/check"), 409)["detail"]
    assert "initialize" in problem(client.post("/retraining/bare/start-monitoring"), 409)["detail"]
    assert (
        "no champion"
        in problem(client.post("/models/bare/predict", json={"instances": [{"a": 1}]}), 409)[
            "detail"
        ]
    )
    missing = {"training": {"kind": "file", "path": str(tmp_path / "gone.csv")}}
    client.post("/retraining/configure", json={"model_name": "gone", "data_sources": missing})
    assert "does not exist" in problem(client.post("/retraining/gone/initialize"), 409)["detail"]


def test_a_failed_check_is_reported_not_raised(make_app, data_files, tmp_path):
    client = make_app(check_wait_seconds=20.0).test_client()
    body = {"model_name": "m", "data_sources": sources(data_files)}
    client.post("/retraining/configure", json=body)
    client.post("/retraining/m/initialize")
    (tmp_path / "later.csv").write_text("a,b\n1,2\n")
    body["data_sources"] = {"current": {"kind": "file", "path": str(tmp_path / "later.csv")}}
    client.post("/retraining/configure", json=body)
    (tmp_path / "later.csv").unlink()  # the current data went away
    check = client.get("/retraining/m/check").get_json()
    assert check["status"] == "failed" and "does not exist" in check["error"]


def test_body_over_the_cap_is_413(make_app):
    client = make_app(max_body_bytes=1024).test_client()
    out = problem(client.post("/retraining/configure", json={"model_name": "m" * 2000}), 413)
    assert "1024-byte limit" in out["detail"]


def test_unreachable_database_is_503(make_app, tmp_path):
    settings = Settings.from_env(
        {
            "RETRAINING_HOME": str(tmp_path / "h"),
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing",
        }
    )
    client = make_app(settings).test_client()
    response = client.post("/retraining/configure", json={"model_name": "m"})
    out = problem(response, 503)
    assert out["detail"] == "the database is unreachable; retry later"
    assert response.headers["Retry-After"]
    assert problem(client.get("/retraining/status"), 503)["database"]["reachable"] is False
    problem(client.get("/readyz"), 503)
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_unreachable_redis_is_503(make_app, tmp_path, data_files):
    settings = Settings.from_env(
        {"RETRAINING_HOME": str(tmp_path / "h"), "REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    client = make_app(settings).test_client()
    client.post(
        "/retraining/configure", json={"model_name": "m", "data_sources": sources(data_files)}
    )
    out = problem(client.post("/retraining/m/trigger"), 503)
    assert "broker" in out["detail"]
    assert client.get("/retraining/m/jobs").get_json()["jobs"] == []  # no job left behind
    ready = problem(client.get("/readyz"), 503)
    assert ready["broker"]["reachable"] is False and ready["database"]["reachable"] is True
    status = client.get("/retraining/status").get_json()
    assert status["broker"]["reachable"] is False and status["workers"]["alive"] == 0


def test_unreachable_mlflow_is_503_naming_it(make_app, tmp_path, monkeypatch):
    from shared.enums import Task

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    closed = free_port()  # nothing listens there
    settings = Settings.from_env(
        {
            "RETRAINING_HOME": str(tmp_path / "h"),
            "MLFLOW_TRACKING_URI": f"http://user:secret@127.0.0.1:{closed}",
        }
    )
    app = make_app(settings)
    client = app.test_client()
    client.post("/retraining/configure", json={"model_name": "m"})
    app.extensions["retraining"].runtime.models.set_champion(
        "m",
        version="1",
        run_id="r",
        metrics={"accuracy": 0.9},
        task=Task.CLASSIFICATION,
        feature_columns=["x"],
        details={},
    )

    response = client.post("/models/m/predict", json={"instances": [{"x": 1.0}]})

    out = problem(response, 503)
    assert f"MLflow at http://127.0.0.1:{closed} is unreachable" in out["detail"]
    assert "secret" not in out["detail"]
    assert response.headers["Retry-After"]


def test_unexpected_errors_are_500_without_a_trace(client, monkeypatch, caplog):
    import api.routes.reports as reports

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    client.post("/retraining/configure", json={"model_name": "m"})
    monkeypatch.setattr(reports, "report_data", explode)
    out = problem(client.get("/retraining/m/report"), 500)
    assert "secret internals" not in out["detail"] and out["reference"] in out["detail"]
    assert "secret internals" in caplog.text  # the log has it, under that reference


def test_url_file_sources_are_accepted_and_unknown_protocols_refused(client):
    signed = "https://data.example.com/churn/train.csv?X-Amz-Signature=abc"
    created = client.post(
        "/retraining/configure",
        json={"model_name": "m", "data_sources": {"training": {"kind": "file", "path": signed}}},
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["data_sources"]["training"]["path"] == signed
    refused = client.post(
        "/retraining/configure",
        json={
            "model_name": "m",
            "data_sources": {"training": {"kind": "file", "path": "nosuch://b/train.csv"}},
        },
    )
    assert problem(refused, 422)["errors"][0]["field"] == "data_sources.training.path"


# -- the configuration: one declaration (RetrainingConfig), one message through every door --


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("performance_threshold", 5),  # out of bounds
        ("performance_threshold", -0.5),
        ("drift_alert_threshold", 1.0001),
        ("min_training_samples", 0),
        ("min_samples_for_check", 1_000_000_001),
        ("schedule_interval_days", 3661),
        ("training_data_window_days", 36_601),
        ("training_data_window_days", 200_000),
        ("promotion_min_improvement", 1000.5),
        ("drift_threshold", "0.1"),  # wrong JSON type
        ("performance_threshold", True),
        ("min_training_samples", 10.5),
        ("schedule_interval_days", "7"),
        ("auto_promote", 1),
        ("target_column", None),
        ("schedule_time", "25:00"),  # patterns, choices and the special rules
        ("schedule_time", "02:00\n"),
        ("schedule_day_of_week", "someday"),
        ("schedule_timezone", "Mars/Olympus"),
        ("promotion_stage", "Prod"),
        ("primary_metric", "happiness"),
        ("notification_email", "nobody"),
        ("target_column", "x" * 257),
        ("timestamp_column", "target"),
        ("model_name", "a..b"),
        ("model_name", 7),
    ],
)
def test_a_refused_config_value_has_the_cores_message_over_http(client, field, value):
    from shared.config import RetrainingConfig

    body = {"model_name": "m", field: value}
    with pytest.raises(ValueError) as core:
        RetrainingConfig(**body)
    out = problem(client.post("/retraining/configure", json=body), 422)
    assert out["detail"] == str(core.value)
    assert out["errors"] == [
        {"field": field, "message": str(core.value).removeprefix(f"{field}: ")}
    ]


def test_every_refused_config_field_is_listed_with_the_cores_message(client):
    from shared.config import check_value

    body = {"model_name": "m", "performance_threshold": 2, "schedule_interval_days": 0.5}
    out = problem(client.post("/retraining/configure", json=body), 422)
    expected = []
    for name in ("performance_threshold", "schedule_interval_days"):
        with pytest.raises(ValueError) as core:
            check_value(name, body[name])
        expected.append({"field": name, "message": str(core.value).split(": ", 1)[1]})
    assert out["errors"] == expected


def test_a_config_the_core_accepts_is_accepted_over_http(client):
    from shared.config import RetrainingConfig

    fields = {
        "training_data_window_days": 36_600,
        "schedule_interval_days": 3660,
        "min_training_samples": 1_000_000_000,
        "promotion_min_improvement": 1000,
        "performance_threshold": 1,
        "schedule_day_of_week": " Sunday ",
        "schedule_timezone": "Europe/Paris",
    }
    response = client.post("/retraining/configure", json={"model_name": "edge", **fields})
    assert response.status_code == 201, response.get_json()
    expected = RetrainingConfig(model_name="edge", **fields).to_dict()
    assert response.get_json()["config"] == expected
    assert client.get("/retraining/edge/config").get_json()["config"] == expected


def test_the_documented_config_is_the_cores(client):
    from shared.config import CONFIG_FIELDS

    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    request, response = schemas["ConfigureRequest"], schemas["RetrainingConfigOut"]
    assert "model_name" in request["required"]
    assert set(response["required"]) == set(CONFIG_FIELDS)
    for name, spec in CONFIG_FIELDS.items():
        documented = request["properties"][name]
        assert documented["description"] == spec.rules.description, name
        assert response["properties"][name]["description"] == spec.rules.description, name
        if name != "model_name":
            assert documented["default"] == spec.default, name
        if spec.rules.minimum is not None:
            bounded = documented.get("anyOf", [documented])[0]  # an optional number: anyOf
            assert (bounded["minimum"], bounded["maximum"]) == (
                spec.rules.minimum,
                spec.rules.maximum,
            ), name
        if spec.rules.max_length is not None:
            branches = documented.get("anyOf", [documented])
            assert branches[0]["maxLength"] == spec.rules.max_length, name
        if spec.rules.allowed() is not None:
            branches = documented.get("anyOf", [documented])
            assert tuple(branches[0]["enum"]) == spec.rules.allowed(), name
