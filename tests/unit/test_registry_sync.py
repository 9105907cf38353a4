"""The MLflow registry follows the database: a failed alias move is a warning and a pending
repair (never a job's error), applied by the next job of the model or by the reconciler; the
reconciler also puts back an alias or stage that differs from the database's champion.

Real scikit-learn and MLflow (SQLite); MLflow's failure is an ``Unavailable`` raised by the
registry's alias move in this process (tests/integration/test_registry_repair.py stops a
real tracking server instead).
"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from jobtest import NAME, configure, run

from retraining.synthetic import make_churn_frame
from shared.db.schema import registry_pending
from shared.enums import Status
from shared.errors import Unavailable
from shared.events import list_events
from shared.registry_sync import reconcile_registry, settle
from shared.runtime import Runtime


def pending(runtime: Runtime) -> list[dict]:
    with runtime.engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(registry_pending)).mappings()]


def kinds(runtime: Runtime, kind: str) -> list[dict]:
    return list_events(runtime.engine, model_name=NAME, kind=kind)


class MlflowDown:
    """The registry's alias move fails as an unreachable tracking server makes it fail."""

    def __init__(self, runtime: Runtime, monkeypatch) -> None:
        self.calls = 0

        def promote(*args, **kwargs):
            self.calls += 1
            raise Unavailable("MLflow at http://mlflow:5000 is unreachable: connection refused")

        monkeypatch.setattr(runtime.registry, "promote", promote)


def test_a_failed_alias_move_is_a_warning_and_a_pending_repair_that_the_reconciler_applies(
    ml_runtime, monkeypatch, caplog
):
    configure(ml_runtime, promotion_stage="Production")
    down = MlflowDown(ml_runtime, monkeypatch)

    with caplog.at_level(logging.WARNING):
        job = run(ml_runtime, make_churn_frame(300, seed=1))

    # the job's outcome is the database's: completed, promoted, no error
    assert job.status is Status.COMPLETED and job.promoted is True and job.error is None
    assert down.calls == 1
    assert ml_runtime.models.get(NAME).champion_version == job.model_version
    assert ml_runtime.registry.champion_version(NAME) is None  # MLflow missed it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("a repair is pending" in r.getMessage() for r in caplog.records)
    (owed,) = pending(ml_runtime)
    assert (owed["version"], owed["promote"], owed["attempts"]) == (job.model_version, True, 1)
    assert "unreachable" in owed["last_error"]
    (failed,) = kinds(ml_runtime, "registry_sync_failed")
    assert failed["job_id"] == job.job_id

    # still down: the reconciler tries, the row stays, no second event
    report = reconcile_registry(ml_runtime)
    assert report.unavailable and report.failed == [NAME]
    assert pending(ml_runtime)[0]["attempts"] == 2
    assert len(kinds(ml_runtime, "registry_sync_failed")) == 1

    monkeypatch.undo()  # MLflow is back
    report = reconcile_registry(ml_runtime)
    assert report.repaired == [NAME]
    assert ml_runtime.registry.champion_state(NAME) == (job.model_version, "Production")
    assert pending(ml_runtime) == []
    (repaired,) = kinds(ml_runtime, "registry_repaired")
    assert repaired["job_id"] == job.job_id
    assert repaired["details"]["champion_moved_to"] == job.model_version
    # the version's decision tags came with the repair
    version = ml_runtime.registry._client.get_model_version(NAME, job.model_version)
    assert version.tags["decision"] == "promoted"
    assert version.tags["job_id"] == job.job_id
    assert "Promoted to champion by job" in version.description

    assert reconcile_registry(ml_runtime).repaired == []  # in step: nothing more to do


def test_the_next_job_of_the_model_settles_what_an_earlier_one_owed(ml_runtime, monkeypatch):
    configure(ml_runtime, promotion_min_improvement=10.0)  # the second job is refused
    MlflowDown(ml_runtime, monkeypatch)
    first = run(ml_runtime, make_churn_frame(300, seed=1))
    monkeypatch.undo()

    refused = run(ml_runtime, make_churn_frame(300, seed=2))

    assert refused.promoted is False
    assert ml_runtime.registry.champion_version(NAME) == first.model_version
    assert pending(ml_runtime) == []
    tags = ml_runtime.registry._client.get_model_version(NAME, refused.model_version).tags
    assert tags["decision"] == "refused" and "not better by the margin" in tags["decision_reason"]


def test_the_reconciler_puts_back_an_alias_and_a_stage_moved_behind_its_back(ml_runtime):
    configure(ml_runtime, promotion_stage="Staging")
    first = run(ml_runtime, make_churn_frame(300, seed=1))
    second = run(ml_runtime, make_churn_frame(400, seed=2, drift=1.0))
    assert second.promoted is True, second.promotion_reason
    ml_runtime.registry.promote(NAME, first.model_version, None)  # by hand, in the MLflow UI

    report = reconcile_registry(ml_runtime)

    assert report.repaired == [NAME]
    assert ml_runtime.registry.champion_state(NAME) == (second.model_version, "Staging")
    (event,) = kinds(ml_runtime, "registry_repaired")
    assert event["details"]["alias_was"] == first.model_version
    assert event["details"]["champion_moved_to"] == second.model_version


def test_a_process_killed_between_the_commit_and_the_alias_leaves_a_change_the_reconciler_makes(
    ml_runtime, monkeypatch
):
    configure(ml_runtime)
    # the worker dies right after the commit: nothing tells MLflow
    monkeypatch.setattr("shared.retrain.settle", lambda *args, **kwargs: None)
    job = run(ml_runtime, make_churn_frame(300, seed=1))
    assert job.promoted is True
    assert ml_runtime.registry.champion_version(NAME) is None
    assert [row["attempts"] for row in pending(ml_runtime)] == [0]

    report = reconcile_registry(ml_runtime)

    assert report.repaired == [NAME]
    assert ml_runtime.registry.champion_version(NAME) == job.model_version
    (event,) = kinds(ml_runtime, "registry_repaired")
    assert event["details"]["failed_attempts"] == 0 and event["job_id"] == job.job_id


def test_settle_with_nothing_owed_asks_mlflow_nothing(ml_runtime, monkeypatch):
    configure(ml_runtime)
    monkeypatch.setattr(ml_runtime.registry, "promote", pytest.fail)
    report = settle(ml_runtime, NAME)
    assert (report.applied, report.failed) == ([], [])
