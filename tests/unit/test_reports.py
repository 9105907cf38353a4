"""The model's HTML report: every job by id, the metric plot, the latest check, no raw HTML
from user-supplied text."""

import re

import pytest

from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.enums import RetrainingTrigger, Task
from shared.reports import render_html, report_data, write_model_report

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


def test_the_report_plots_completed_jobs_and_marks_promotions(runtime, history):
    html = render_html(report_data(runtime, "churn"))
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert svg.count("<circle") == 3  # the failed job has no metric to plot
    assert svg.count("fill='#1b5e20'") == 2  # promoted models are green
    assert "0.86" in svg and "0.8" in svg
    assert "<h2>accuracy over retrainings</h2>" in html


def test_the_report_shows_champion_counts_check_and_errors(runtime, history):
    html = write_model_report(runtime, "churn").read_text(encoding="utf-8")
    assert "Champion: version 2 (accuracy=0.86)" in html
    assert "<tr><th>completed</th><td>3</td></tr>" in html
    assert "<tr><th>failed</th><td>1</td></tr>" in html
    assert "<tr><th>data_drift</th><td>3</td></tr>" in html
    assert "not enough training data: 12 labelled rows" in html
    assert "1 of 2 columns drifted" in html
    assert "<tr class='drifted'><td>tenure</td>" in html


def test_user_text_is_escaped(runtime, history):
    html = write_model_report(runtime, "churn").read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;" in html
    assert "<script" not in html


def test_a_model_without_jobs_gets_a_report_saying_so(runtime):
    runtime.models.save_config(RetrainingConfig(model_name="fresh"), {"name": "p"})
    data = report_data(runtime, "fresh")
    assert data["jobs"] == [] and data["latest_check"] is None
    html = render_html(data)
    assert "No job yet." in html and "No check yet." in html
    assert "No completed retraining yet." in html and "<svg" not in html


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
    assert "<svg" in render_html(data)
