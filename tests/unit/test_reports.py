"""The model's HTML report: every job by id, the charts' figures (dates, promotions, drift
heat map), the latest verdict and links to every check's page, no raw HTML from user text."""

import json
import re

import pytest

from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.enums import RetrainingTrigger, Task
from shared.reports import asset_text, render_html, report_data, write_model_report

EVIL = "<script>alert('x')</script>"


@pytest.fixture
def history(runtime):
    """A model with two completed retrainings (one promoted), one failure and a check."""
    runtime.models.save_config(RetrainingConfig(model_name="churn"), {"name": "p"})
    ids = []
    for accuracy, promoted in ((0.80, True), (0.86, True), (0.84, False)):
        job, _ = runtime.jobs.create("churn", RetrainingTrigger.DATA_DRIFT, f"drift {EVIL}")
        claimed = runtime.jobs.claim(job.job_id)
        runtime.jobs.complete(
            job.job_id,
            claimed.attempt,
            metrics={"accuracy": accuracy, "f1_score": accuracy - 0.02},
            champion_metrics=None if not ids else {"accuracy": 0.8},
            promoted=promoted,
            promotion_reason="better by the margin" if promoted else "not better by the margin",
            model_version=str(len(ids) + 1),
        )
        ids.append(job.job_id)
    job, _ = runtime.jobs.create("churn", RetrainingTrigger.MANUAL, "by hand")
    claimed = runtime.jobs.claim(job.job_id)
    runtime.jobs.fail(job.job_id, claimed.attempt, "not enough training data: 12 labelled rows")
    ids.append(job.job_id)
    runtime.models.set_champion(
        "churn",
        version="2",
        run_id="r2",
        metrics={"accuracy": 0.86},
        task=Task.CLASSIFICATION,
        feature_columns=["a"],
        details={},
    )
    runtime.checks.save(
        CheckRecord(
            check_id=runtime.checks.new_id(),
            model_name="churn",
            created_at=utcnow(),
            n_rows=400,
            needs_retraining=True,
            trigger=RetrainingTrigger.DATA_DRIFT,
            reason="1 of 2 columns drifted",
            drift_share=0.5,
            drift={
                "columns": [
                    {
                        "column": "tenure",
                        "method": "K-S p_value",
                        "score": 0.001,
                        "threshold": 0.05,
                        "drifted": True,
                        "issue": None,
                    },
                    {
                        "column": "plan",
                        "method": "chi-square p_value",
                        "score": 0.6,
                        "threshold": 0.05,
                        "drifted": False,
                        "issue": None,
                    },
                ]
            },
            performance=None,
            report_key=None,
        )
    )
    return ids


def test_the_report_is_a_file_naming_every_job_newest_first(runtime, history):
    path = write_model_report(runtime, "churn")
    assert path.exists() and path.suffix == ".html"
    assert path.is_relative_to(runtime.settings.cache_dir)  # this host's copy of the blob
    assert runtime.blobs.get(f"models/churn/reports/{path.name}") == path.read_bytes()
    html = path.read_text(encoding="utf-8")
    positions = [html.index(job_id) for job_id in history]
    assert positions == sorted(positions, reverse=True)  # newest first


def charts_of(html: str) -> dict:
    """The figures the page hands to plotly.js (its JSON data block)."""
    block = re.search(r'<script type="application/json" id="report-charts">(.*?)</script>', html)
    return json.loads(block.group(1))


DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def test_the_metric_is_plotted_by_date_with_promotions_and_refusals_marked(runtime, history):
    figure = charts_of(render_html(report_data(runtime, "churn")))["metric-over-time"]
    line, promoted, refused = figure["data"]
    assert figure["layout"]["xaxis"]["type"] == "date"
    assert len(line["x"]) == 3 and all(DATE.match(x) for x in line["x"])  # not the failed job
    assert line["y"] == [0.80, 0.86, 0.84]  # oldest first
    assert promoted["name"] == "promoted" and promoted["y"] == [0.80, 0.86]
    assert promoted["marker"]["symbol"] == "triangle-up"
    assert refused["name"].startswith("refused") and refused["y"] == [0.84]
    assert "not better by the margin" in refused["text"][0]


def test_champion_against_challenger_for_each_compared_job(runtime, history):
    figure = charts_of(render_html(report_data(runtime, "churn")))["champion-vs-challenger"]
    challenger, champion = figure["data"]
    assert challenger["y"] == [0.86, 0.84] and champion["y"] == [0.8, 0.8]  # the first had none
    labels = figure["layout"]["xaxis"]["ticktext"]
    assert [label.split("<br>")[1] for label in labels] == [i[:8] for i in history[1:3]]


def test_drift_share_over_time_and_a_heat_map_of_columns_across_checks(runtime, history):
    runtime.checks.save(
        CheckRecord(
            check_id=runtime.checks.new_id(),
            model_name="churn",
            created_at=utcnow(),
            n_rows=300,
            needs_retraining=False,
            trigger=None,
            reason="no drift",
            drift_share=0.0,
            drift={"columns": [column("plan", False), column("region", False)]},
            performance=None,
            report_key=None,
        )
    )
    charts = charts_of(render_html(report_data(runtime, "churn")))
    drift = charts["drift-over-time"]
    assert drift["data"][0]["y"] == [0.5, 0.0]
    assert all(DATE.match(x) for x in drift["data"][0]["x"])
    assert drift["layout"]["shapes"][0]["y0"] == 0.1  # the model's drift_threshold
    heat = charts["drift-heatmap"]["data"][0]
    assert heat["type"] == "heatmap"
    assert heat["y"] == ["tenure", "plan", "region"]
    assert heat["z"] == [[1, None], [0, 0], [None, 0]]  # a column a check did not test: blank
    assert charts["drift-heatmap"]["layout"]["xaxis"]["ticktext"] == drift["data"][0]["x"]


def test_the_latest_verdict_and_every_stored_check_report_are_linked(runtime, history):
    older = runtime.checks.list("churn")[0]
    runtime.blobs.put("checks/old.html", b"<html>old</html>", media_type="text/html")
    runtime.checks.save(
        CheckRecord(
            check_id=runtime.checks.new_id(),
            model_name="churn",
            created_at=utcnow(),
            n_rows=300,
            needs_retraining=False,
            trigger=None,
            reason="nothing drifted",
            drift_share=0.0,
            drift={"columns": [column("plan", False)]},
            performance=None,
            report_key="checks/new.html",
        )
    )
    runtime.blobs.put("checks/new.html", b"<html>new</html>", media_type="text/html")
    data = report_data(runtime, "churn")
    links = {older.check_id: "/old/report", data["checks"][0]["check_id"]: "/new/report"}
    html = render_html(data, check_links=links, asset_base="/assets")
    verdict = re.search(r'<div class="verdict fine" id="latest-verdict">(.*?)</div>', html, re.S)
    assert "No retraining needed" in verdict.group(1) and "/new/report" in verdict.group(1)
    table = re.search(r'<table id="checks">(.*?)</table>', html, re.S).group(1)
    assert table.count("<a href=") == 2 and "/old/report" in table
    written = write_model_report(runtime, "churn").read_text(encoding="utf-8")
    assert runtime.blobs.local_path("checks/new.html").as_uri() in written


def test_plotly_is_inline_in_the_file_and_served_by_the_api(runtime, history):
    written = write_model_report(runtime, "churn").read_text(encoding="utf-8")
    assert "<script src" not in written and '<link rel="stylesheet"' not in written
    assert asset_text("plotly.min.js")[:200] in written  # plotly.js from the plotly package
    served = render_html(report_data(runtime, "churn"), asset_base="/assets")
    assert '<script src="/assets/plotly.min.js"></script>' in served
    assert '<script src="/assets/report.js"></script>' in served
    assert len(served) < 100_000  # the library is not repeated in every page


def test_tables_stay_within_the_page(runtime, history):
    html = render_html(report_data(runtime, "churn"), asset_base="/assets")
    assert ".table-wrap{max-width:100%;overflow-x:auto}" in html
    for table in ("latest-columns", "checks", "jobs"):
        assert f'<div class="table-wrap"><table id="{table}">' in html


def column(name: str, drifted: bool) -> dict:
    return {
        "column": name,
        "method": "K-S p_value",
        "score": 0.01 if drifted else 0.5,
        "threshold": 0.05,
        "drifted": drifted,
        "issue": None,
    }


def test_the_report_shows_champion_counts_check_and_errors(runtime, history):
    html = write_model_report(runtime, "churn").read_text(encoding="utf-8")
    assert "version 2\n(accuracy=0.86)" in html
    assert "<tr><th>completed</th><td>3</td></tr>" in html
    assert "<tr><th>failed</th><td>1</td></tr>" in html
    assert "<tr><th>data_drift</th><td>3</td></tr>" in html
    assert "not enough training data: 12 labelled rows" in html
    assert "1 of 2 columns drifted" in html
    assert '<tr class="drifted"><td>tenure</td>' in html


def test_user_text_is_escaped(runtime, history):
    html = write_model_report(runtime, "churn").read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_a_model_without_jobs_gets_a_report_saying_so(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="fresh"), {"name": "p"})
    data = report_data(runtime, "fresh")
    assert data["jobs"] == [] and data["latest_check"] is None
    html = render_html(data)
    assert "No job yet." in html and "No check yet." in html
    assert "No completed retraining yet." in html and "No drift measured yet." in html
    assert charts_of(html) == {} and "<script src" not in html and "Plotly" not in html


def test_a_regression_report_plots_rmse(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="price"), {"name": "p"})
    runtime.models.set_champion(
        "price",
        version="1",
        run_id="r",
        metrics={"rmse": 3.0},
        task=Task.REGRESSION,
        feature_columns=["a"],
        details={},
    )
    job, _ = runtime.jobs.create("price", RetrainingTrigger.MANUAL, "")
    claimed = runtime.jobs.claim(job.job_id)
    runtime.jobs.complete(job.job_id, claimed.attempt, metrics={"rmse": 3.0}, promoted=True)
    data = report_data(runtime, "price")
    assert data["primary_metric"] == "rmse"
    figure = charts_of(render_html(data))["metric-over-time"]
    assert figure["data"][0]["y"] == [3.0] and figure["layout"]["yaxis"]["title"]["text"] == "rmse"
