"""/metrics from the database: counters that only rise as work finishes (whichever process did
it), gauges of what is active, histograms over every finished row; on SQLite and Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import CHECK_BUCKETS, RequestMetrics, render_metrics
from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.enums import RetrainingTrigger
from shared.events import record_event
from shared.runtime import Runtime
from shared.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path) -> Iterator[tuple[Runtime, str]]:
    """A runtime on each database, and a model name no other test uses."""
    env = {"RETRAINING_HOME": str(tmp_path / "home")}
    if request.param == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    runtime = Runtime(Settings.from_env(env))
    name = f"m{uuid.uuid4().hex[:8]}"
    runtime.models.save_config(RetrainingConfig(model_name=name), {"name": "p"})
    yield runtime, name
    runtime.dispose()


def scrape(runtime: Runtime, model: str) -> dict[tuple[str, tuple], float]:
    """(sample name, its labels without the model) -> value, for this model's series."""
    text = render_metrics(runtime).decode()
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("model") == model:
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "model"))
                values[(sample.name, labels)] = sample.value
    return values


def finished_check(runtime: Runtime, model: str, check_id: str, needs: bool) -> None:
    runtime.checks.save(
        CheckRecord(
            check_id=check_id,
            model_name=model,
            created_at=utcnow(),
            n_rows=100,
            needs_retraining=needs,
            trigger=RetrainingTrigger.DATA_DRIFT if needs else None,
            reason="drift" if needs else "fine",
            drift_share=0.5 if needs else 0.0,
            drift={"columns": []},
            performance=None,
            report_key=None,
        )
    )


def test_check_counters_rise_monotonically_as_checks_finish(store):
    runtime, model = store
    retrain = ("retraining_checks_total", (("outcome", "retrain"),))
    fine = ("retraining_checks_total", (("outcome", "no_retrain"),))
    failed = ("retraining_checks_total", (("outcome", "failed"),))
    running = ("retraining_checks_active", (("status", "running"),))
    pending = ("retraining_checks_active", (("status", "pending"),))
    history = [scrape(runtime, model)]

    first = runtime.checks.request(model)
    history.append(scrape(runtime, model))
    assert history[-1][pending] == 1 and retrain not in history[-1]  # not counted while active
    runtime.checks.start(first.check_id)
    history.append(scrape(runtime, model))
    assert history[-1][running] == 1 and history[-1][pending] == 0
    finished_check(runtime, model, first.check_id, needs=True)
    history.append(scrape(runtime, model))
    assert history[-1][retrain] == 1 and history[-1][running] == 0

    second = runtime.checks.request(model)
    runtime.checks.start(second.check_id)
    finished_check(runtime, model, second.check_id, needs=False)
    third = runtime.checks.request(model)
    runtime.checks.fail(third.check_id, "the current data source is unreachable")
    history.append(scrape(runtime, model))
    assert (history[-1][retrain], history[-1][fine], history[-1][failed]) == (1, 1, 1)

    for key in (retrain, fine, failed):
        series = [values.get(key, 0) for values in history]
        assert series == sorted(series), (key, series)  # a counter never goes down
    count = ("retraining_check_duration_seconds_count", ())
    assert history[-1][count] == 2  # the two checks a worker ran (started, then finished)
    buckets = [
        history[-1][("retraining_check_duration_seconds_bucket", (("le", repr(float(b))),))]
        for b in CHECK_BUCKETS
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 2  # cumulative


def test_job_counters_by_status_and_trigger_and_promotions(store):
    runtime, model = store
    done = []
    for trigger, succeed in (
        (RetrainingTrigger.MANUAL, True),
        (RetrainingTrigger.DATA_DRIFT, True),
        (RetrainingTrigger.DATA_DRIFT, False),
    ):
        job, _ = runtime.jobs.create(model, trigger, "test")
        claimed = runtime.jobs.claim(job.job_id)
        active = scrape(runtime, model)
        assert active[("retraining_jobs_active", (("status", "running"),))] == 1
        if succeed:
            runtime.jobs.complete(job.job_id, claimed.attempt, metrics={"accuracy": 0.9})
        else:
            runtime.jobs.fail(job.job_id, claimed.attempt, "not enough training data")
        done.append(scrape(runtime, model))
    with runtime.engine.begin() as connection:
        record_event(connection, model, "promotion", details={})
        record_event(connection, model, "promotion_refused", details={})
    values = scrape(runtime, model)

    def jobs(status: str, trigger: str) -> float:
        return values.get(("retraining_jobs_total", (("status", status), ("trigger", trigger))), 0)

    assert jobs("completed", "manual") == 1 and jobs("completed", "data_drift") == 1
    assert jobs("failed", "data_drift") == 1
    assert values[("retraining_jobs_active", (("status", "running"),))] == 0
    assert values[("retraining_promotions_total", ())] == 1
    assert values[("retraining_promotions_refused_total", ())] == 1
    completed = ("retraining_job_duration_seconds_count", (("status", "completed"),))
    assert [scraped.get(completed, 0) for scraped in done] == [1, 2, 2]
    assert values[("retraining_job_duration_seconds_sum", (("status", "completed"),))] >= 0


def test_request_metrics_count_routes_not_paths():
    from flask import Flask

    app = Flask("t")
    metrics = RequestMetrics()
    metrics.install(app)
    app.add_url_rule("/retraining/<name>/report", "report", lambda name: name)
    client = app.test_client()
    for name in ("a", "b", "c"):
        assert client.get(f"/retraining/{name}/report").status_code == 200
    client.get("/nowhere")
    families = {f.name: f for f in metrics.total.collect()}
    samples = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["retraining_http_requests"].samples
        if s.name.endswith("_total")
    }
    assert samples == {("/retraining/<name>/report", "200"): 3, ("unmatched", "404"): 1}
