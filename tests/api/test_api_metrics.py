"""``retrain api`` with several gunicorn workers: prometheus_client's multiprocess mode, so any
worker's /metrics counts the requests all of them served, and the counts never go down."""

from __future__ import annotations

import shutil

import requests
from apitest import Server
from prometheus_client.parser import text_string_to_metric_families


def healthz_requests(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "retraining_http_requests_total" and sample.labels["route"] == "/healthz"
    )


def test_request_counts_add_up_across_gunicorn_workers(tmp_path, mlflow_template):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    metrics_dir = tmp_path / "prometheus"
    env = {
        "RETRAINING_HOME": str(home),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "MLFLOW_TRACKING_URI": "",
        "RETRAINING_API_TOKENS": "",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    server = Server(env, tmp_path / "api.log", "--workers", "3").wait_ready()
    try:
        seen = []
        for _ in range(4):
            for _ in range(10):
                assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
            seen.append(healthz_requests(server.url))
        before = len(seen)
        # wait_ready polled /healthz too: every count includes those, from whichever worker
        polls = seen[0] - 10
        assert seen == [polls + 10 * n for n in range(1, before + 1)], seen
        assert list(metrics_dir.glob("counter_*.db"))  # the workers write their counts there
    finally:
        server.stop()
    assert not (metrics_dir / "counter_999999.db").exists()  # emptied at start
