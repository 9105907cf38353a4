"""What ``retrain`` prints for people: the facts an operator looks for are in the tables."""

from __future__ import annotations

from retraining.cli import render

CHECK = {
    "check_id": "c-1",
    "model_name": "churn",
    "status": "completed",
    "needs_retraining": True,
    "trigger": "data_drift",
    "reason": "data_drift: 2 of 3 columns drifted (67%): tenure, plan",
    "drift": {
        "columns": [
            {
                "column": "tenure",
                "method": "ks",
                "score": 0.0001,
                "threshold": 0.05,
                "drifted": True,
            },
            {
                "column": "plan",
                "method": "chisquare",
                "score": 0.01,
                "threshold": 0.05,
                "drifted": True,
            },
            {
                "column": "region",
                "method": "chisquare",
                "score": 0.6,
                "threshold": 0.05,
                "drifted": False,
            },
        ]
    },
}


def test_a_check_shows_its_verdict_and_each_column(capsys):
    render.print_check(CHECK)
    out = capsys.readouterr().out
    assert "check c-1 of churn: completed" in out
    assert "retraining needed (data_drift)" in out
    assert "2 of 3 columns drifted" in out
    rows = [line for line in out.splitlines() if "tenure" in line and "ks" in line]
    assert rows and "yes" in rows[0]


def test_a_failed_check_shows_its_error(capsys):
    render.print_check({**CHECK, "status": "failed", "error": "data file '/x.csv' does not exist"})
    out = capsys.readouterr().out
    assert "failed" in out and "data file '/x.csv' does not exist" in out


def test_status_shows_mode_database_counts_and_models(capsys):
    render.print_status(
        {
            "mode": "distributed",
            "database": {"url": "postgresql+psycopg2://u@db/r", "reachable": True},
            "broker": {"kind": "redis"},
            "workers": {"alive": 2},
            "jobs": {"pending": 1, "running": 0, "completed": 5, "failed": 1},
            "models": [
                {
                    "model_name": "churn",
                    "champion_version": "3",
                    "active_job_id": "j-9",
                    "schedule": {"enabled": True, "next_run_at": "2026-03-08T07:00:00+00:00"},
                    "monitoring": {"active": False},
                }
            ],
        },
        "the API at http://h:8000",
    )
    out = capsys.readouterr().out
    assert "distributed mode: the API at http://h:8000" in out
    assert "workers alive: 2" in out and "1 pending, 0 running, 5 completed, 1 failed" in out
    row = next(line for line in out.splitlines() if "churn" in line)
    assert "v3" in row and "j-9" in row and "2026-03-08 07:00:00Z" in row
