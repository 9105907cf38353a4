"""A check's Evidently page: rendered off the check's path, never lost, one threshold.

The check stores its verdict and the sample its page needs, and returns; the page is rendered
afterwards (a background thread by default, whoever ``render_page`` names otherwise), or on
first request when nobody is rendering it.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from shared import check_pages
from shared.check_pages import (
    background_idle,
    claim_key,
    input_key,
    read_page_input,
    render_stored_check,
    request_page,
    wait_for_page,
)
from shared.config import RetrainingConfig
from shared.monitoring import initialize_monitors, run_check
from shared.runtime import Runtime

pytestmark = pytest.mark.pages

MODEL = "pages"


def frames(names=("a", "b", "c", "d"), rows: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference and a current frame where the first two columns drifted."""
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({name: rng.normal(size=rows) for name in names})
    current = pd.DataFrame({name: rng.normal(size=rows) for name in names})
    for name in names[:2]:
        current[name] += 5
    return reference, current


def monitored(runtime: Runtime, reference: pd.DataFrame, drift_threshold: float = 0.3) -> None:
    config = RetrainingConfig(
        model_name=MODEL, min_samples_for_check=50, drift_threshold=drift_threshold
    )
    runtime.models.save_config(config, {"name": MODEL})
    initialize_monitors(runtime, MODEL, reference, {"accuracy": 0.9})


class Handed:
    """A renderer that only records what it was handed (renders nothing)."""

    def __init__(self) -> None:
        self.pages: list[tuple[str, str]] = []

    def __call__(self, model_name: str, check_id: str) -> None:
        self.pages.append((model_name, check_id))


def test_the_check_returns_with_its_verdict_before_its_page_exists(runtime):
    reference, current = frames()
    monitored(runtime, reference)
    handed = Handed()
    check = run_check(runtime, MODEL, current, render_page=handed)
    assert check.needs_retraining and check.drift_share == 0.5
    assert handed.pages == [(MODEL, check.check_id)]
    assert not runtime.blobs.exists(check.report_key)  # the verdict did not wait for the page
    given = read_page_input(runtime, check.report_key)
    assert given.drift_threshold == 0.3
    assert list(given.current.columns) == ["a", "b", "c", "d"]
    assert len(given.current) == 300

    assert render_stored_check(runtime, check.check_id)  # what the renderer does later
    page = runtime.blobs.get(check.report_key).decode("utf-8")
    assert "Drift verdict of record" in page
    assert "2 of 4 columns drifted (50%): a, b" in page
    assert "could not be rendered" not in page


def test_by_default_the_page_is_rendered_in_the_background_by_a_child_process(runtime):
    reference, current = frames()
    monitored(runtime, reference)
    check = run_check(runtime, MODEL, current)
    assert background_idle(120)
    page = runtime.blobs.get(check.report_key).decode("utf-8")
    assert "Drift verdict of record" in page and "could not be rendered" not in page
    claim = json.loads(runtime.blobs.get(claim_key(check.report_key)))
    assert claim["pid"] != os.getpid()  # Evidently stayed out of the checking process


def test_the_evidently_page_uses_the_models_drift_threshold(runtime):
    reference, current = frames()
    monitored(runtime, reference, drift_threshold=0.35)
    check = run_check(runtime, MODEL, current, render_page=Handed())
    page = wait_for_page(runtime, check).decode("utf-8")
    shown = set(re.findall(r"Dataset drift detection threshold is ([0-9.]+)", page))
    assert shown == {"0.35"}  # Evidently's own default would say 0.5


def test_integer_column_names_render_a_page(runtime):
    reference, current = frames(names=(0, 1, 2, 3))
    monitored(runtime, reference)
    check = run_check(runtime, MODEL, current, render_page=Handed())
    assert check.reason.startswith("data_drift: 2 of 4 columns drifted (50%): 0, 1")
    page = wait_for_page(runtime, check).decode("utf-8")
    assert "could not be rendered" not in page
    assert "Dataset drift detection threshold is 0.3" in page


def test_a_page_just_handed_over_is_left_to_its_renderer(runtime):
    reference, current = frames()
    monitored(runtime, reference)
    check = run_check(runtime, MODEL, current, render_page=Handed())
    assert request_page(runtime, check) is None  # still rendering, elsewhere
    assert not check_pages._background().has(check.report_key)


def test_a_page_nobody_renders_is_started_by_its_first_request(runtime, monkeypatch):
    reference, current = frames()
    monitored(runtime, reference)
    check = run_check(runtime, MODEL, current, render_page=Handed())  # a lost task
    monkeypatch.setattr(check_pages, "QUEUED_GRACE_SECONDS", 0.0)
    assert request_page(runtime, check) is None  # 202 now, rendering in the background
    assert background_idle(120)
    page = request_page(runtime, check)
    assert page is not None and b"Drift verdict of record" in page


def test_a_live_claim_of_another_host_is_waited_for_then_overridden(runtime, monkeypatch):
    reference, current = frames()
    monitored(runtime, reference)
    check = run_check(runtime, MODEL, current, render_page=Handed())
    monkeypatch.setattr(check_pages, "QUEUED_GRACE_SECONDS", 0.0)
    claim = {"host": "another-host", "pid": 1, "at": "now"}
    runtime.blobs.put(
        claim_key(check.report_key), json.dumps(claim).encode(), media_type="application/json"
    )
    assert request_page(runtime, check) is None
    assert not check_pages._background().has(check.report_key)  # not started twice
    page = wait_for_page(runtime, check, timeout=0.5)  # the claimer never finishes
    assert b"Drift verdict of record" in page


def test_a_claim_of_a_process_that_exited_is_not_waited_for(runtime, monkeypatch):
    reference, current = frames()
    monitored(runtime, reference)
    check = run_check(runtime, MODEL, current, render_page=Handed())
    dead = {"host": check_pages.socket.gethostname(), "pid": 2**22 + 12345, "at": "then"}
    runtime.blobs.put(
        claim_key(check.report_key), json.dumps(dead).encode(), media_type="application/json"
    )
    monkeypatch.setattr(check_pages, "RENDER_LEASE_SECONDS", 3600.0)
    assert not check_pages._claim_is_live(runtime, check.report_key)
    page = wait_for_page(runtime, check, timeout=3600)  # would hang on a live claim
    assert b"Drift verdict of record" in page


def test_a_check_stored_without_its_sample_still_gets_a_page_saying_why(runtime):
    reference, current = frames()
    monitored(runtime, reference)
    check = run_check(runtime, MODEL, current, render_page=Handed())
    # as a check of an earlier release: its page was to be rendered in the call
    with runtime.engine.begin() as connection:
        from shared.db.schema import blob_chunks, blobs

        key = input_key(check.report_key)
        connection.execute(blob_chunks.delete().where(blob_chunks.c.key == key))
        connection.execute(blobs.delete().where(blobs.c.key == key))
    (runtime.settings.cache_dir / "blobs" / key).unlink(missing_ok=True)
    page = wait_for_page(runtime, check).decode("utf-8")
    assert "was not stored with this check" in page
    assert "2 of 4 columns drifted (50%): a, b" in page


def test_no_page_is_handed_over_when_check_reports_are_off(tmp_path):
    from shared.settings import Settings

    home = str(tmp_path / "home")
    runtime = Runtime(Settings.from_env({"RETRAINING_HOME": home, "RETRAINING_CHECK_REPORTS": "0"}))
    try:
        reference, current = frames()
        monitored(runtime, reference)
        handed = Handed()
        check = run_check(runtime, MODEL, current, render_page=handed)
        assert check.report_key is None and handed.pages == []
    finally:
        runtime.dispose()
