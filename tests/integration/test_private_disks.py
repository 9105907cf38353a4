"""Many hosts, no shared disk: every process of the deployment on a data directory of its own.

An MLflow tracking server with ``--serve-artifacts`` on its own Postgres database, Redis, the
product's Postgres, ``retrain api``, two ``retrain worker``s and ``retrain beat``: each
product process gets a tmpfs at its ``RETRAINING_HOME`` in a mount namespace of its own (as
root on Linux; elsewhere distinct directories, which the output says). The first model is
trained on worker 1; the API initializes the monitors, a check runs on worker 1, the API
serves its report and the model report; then worker 1 stops and its disk is gone, worker 2
retrains (scoring worker 1's champion, loaded from MLflow), Beat dispatches a monitoring
check that worker 2 runs, and the API predicts. No answer is a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from dist_harness import (
    MlflowServer,
    Processes,
    child_env,
    free_port,
    fresh_database,
    on_private_disk,
    private_disk_available,
    retrain_command,
    wait_until,
)

from retraining.synthetic import make_churn_frame

pytestmark = pytest.mark.integration

MODEL = "churn"


@pytest.fixture(scope="module")
def mlflow_database(database_server) -> Iterator[str]:
    """A database of the MLflow server's own, on the shared Postgres server."""
    with fresh_database(database_server, "itest_mlflow") as url:
        yield url


class Api:
    """An HTTP client of ``retrain api`` that fails the test on any 5xx."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[tuple[str, str, int]] = []

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, self.url + path, timeout=60, **kwargs)
        self.seen.append((method, path, response.status_code))
        assert response.status_code < 500, (
            f"{method} {path}: {response.status_code}: {response.text}"
        )
        return response

    def job(self, job_id: str, timeout: float = 180) -> dict:
        path = f"/retraining/{MODEL}/jobs/{job_id}"
        return wait_until(
            lambda: (
                (job := self.call("GET", path).json())["status"] in ("completed", "failed") and job
            ),
            timeout,
            f"job {job_id} to end",
        )

    def page(self, path: str, timeout: float = 120) -> requests.Response:
        """A page that may still be rendering (202 or 503 with Retry-After, never 404) until it
        is not."""

        def ready() -> requests.Response | None:
            response = self.call("GET", path)
            if response.status_code == 200:
                return response
            assert response.status_code in (202, 503), (response.status_code, response.text)
            assert "Retry-After" in response.headers, (response.status_code, response.text)
            return None

        return wait_until(ready, timeout, f"{path} to be served")


def test_every_process_on_a_disk_of_its_own(
    tmp_path, database_url, redis_url, mlflow_database, capsys
):
    processes = Processes(tmp_path / "logs")
    private = private_disk_available()
    with capsys.disabled():
        print(
            "\n[private disks] each process gets a tmpfs in its own mount namespace"
            if private
            else "\n[private disks] unshare/mount not allowed here (not root?): each process "
            "gets a distinct directory instead, which does not prove that nothing is shared"
        )
    engine = sa.create_engine(database_url)
    old_world = make_churn_frame(3000, seed=7)
    old_world.to_sql("training_rows", engine, index=False)
    make_churn_frame(800, seed=8, drift=1.0).drop(columns=["target"]).to_sql(
        "current_rows", engine, index=False
    )
    try:
        server = MlflowServer(processes, mlflow_database, tmp_path / "mlflow-host").start()

        def start(name: str, *argv: str, ready: str) -> tuple[Path, object]:
            home = tmp_path / f"{name}-home"
            command = retrain_command(*argv)
            command = on_private_disk(home, command) if private else command
            home.mkdir(parents=True, exist_ok=True)
            env = child_env(
                RETRAINING_HOME=str(home),
                DATABASE_URL=database_url,
                REDIS_URL=redis_url,
                MLFLOW_TRACKING_URI=server.url,
                RETRAINING_DISPATCH_INTERVAL="2",
                RETRAINING_API_CHECK_WAIT_SECONDS="30",
            )
            proc = processes.start(name, command, env, cwd=tmp_path)
            proc.wait_for_log(ready, 120)
            return home, proc

        port = free_port()
        api_home, _ = start("api", "api", "--port", str(port), ready=r"Booting worker")
        api = Api(f"http://127.0.0.1:{port}")
        wait_until(lambda: _answers(api.url), 60, "the API to answer")
        worker1_home, worker1 = start(
            "worker1", "worker", "--pool", "solo", "--hostname", "w1@%h", ready=r"w1@\S+ ready\."
        )
        start("beat", "beat", ready=r"beat: Starting")

        sql = {"kind": "sql", "url": database_url}
        api.call(
            "POST",
            "/retraining/configure",
            json={
                "model_name": MODEL,
                "min_training_samples": 500,
                "timestamp_column": "timestamp",
                "auto_promote": True,
                "promotion_min_improvement": 0.0,
                "data_sources": {
                    "training": {**sql, "query": "SELECT * FROM training_rows"},
                    "current": {**sql, "query": "SELECT * FROM current_rows"},
                },
            },
        ).raise_for_status()

        # the first model, trained on worker 1
        first = api.job(_trigger(api, "first model"))
        assert first["status"] == "completed", first["error"]
        assert first["promoted"] is True
        worker1.wait_for_log(first["job_id"], 30)

        api.call("POST", f"/retraining/{MODEL}/initialize").raise_for_status()
        check = api.call("GET", f"/retraining/{MODEL}/check").json()
        assert check["status"] == "completed", check
        assert check["needs_retraining"] is True  # the current rows come from a drifted world
        # the verdict came back first; worker 1 renders Evidently's page after it, as a
        # low-priority task of the checks queue, and the API host serves it from the database
        worker1.wait_for_log(r"render_check_page\[[^\]]+\] succeeded[^\n]*'stored'", 120)
        report = api.page(check["links"]["report"])
        assert "Drift verdict of record" in report.text
        assert "Dataset drift detection threshold is 0.1" in report.text
        model_report = api.page(f"/retraining/{MODEL}/report")
        assert first["job_id"] in model_report.text

        # worker 1's host goes away, its disk with it
        worker1.stop()
        if private:
            assert list(worker1_home.iterdir()) == [], "worker 1 wrote outside its own disk"
            assert list(api_home.iterdir()) == [], "the API wrote outside its own disk"
        _, worker2 = start(
            "worker2", "worker", "--pool", "solo", "--hostname", "w2@%h", ready=r"w2@\S+ ready"
        )

        # the world changed: worker 2 retrains and scores worker 1's champion on its holdout
        new_world = make_churn_frame(3000, seed=9, drift=1.0)
        new_world.to_sql("training_rows", engine, index=False, if_exists="replace")
        second = api.job(_trigger(api, "after the market change"))
        assert second["status"] == "completed", second["error"]
        assert second["champion_metrics"] is not None  # worker 1's model, loaded from MLflow
        worker2.wait_for_log(second["job_id"], 30)

        # Beat dispatches a monitoring check; worker 2 runs it
        api.call("POST", f"/retraining/{MODEL}/start-monitoring", json={}).raise_for_status()
        wait_until(
            lambda: len(api.call("GET", f"/retraining/{MODEL}/checks").json()["checks"]) >= 2,
            120,
            "Beat's monitoring check to complete",
        )

        features = old_world.drop(columns=["target", "timestamp"]).dropna().head(3)
        prediction = api.call(
            "POST", f"/models/{MODEL}/predict", json={"instances": features.to_dict("records")}
        )
        assert prediction.status_code == 200, prediction.text
        assert len(prediction.json()["predictions"]) == 3
        assert not [seen for seen in api.seen if seen[2] >= 500]
    except BaseException:
        print(processes.tails())
        raise
    finally:
        processes.stop_all()
        engine.dispose()


def _trigger(api: Api, reason: str) -> str:
    response = api.call(
        "POST", f"/retraining/{MODEL}/trigger", json={"trigger_type": "manual", "reason": reason}
    )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
