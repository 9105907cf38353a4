"""Evidently itself: the reference implementation of the drift check, and its HTML report.

Why keep it: the fast verdict (``shared.drift.verdict``) is tested against
:func:`detect_drift`, and a stored check's HTML page is Evidently's own report. Evidently is
imported inside functions: importing it takes seconds, and the API must not pay that.

:func:`render_html_report` is called off the check's path (``shared.check_pages``), after the
verdict has been stored. It renders :func:`detect_drift` on bounded seeded samples:
the reference sample stored in the profile (at most ``HTML_MAX_ROWS`` rows, drawn when the
profile is built) and a sample of the current data of the same bound. The page opens with the
verdict of record (the fast check's, on all rows), since Evidently's own scores on the samples
may differ near thresholds.
"""

from __future__ import annotations

import html
import logging
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.drift.columns import as_strings, column_has_values, is_numeric
from shared.drift.profile import HTML_MAX_ROWS, ReferenceProfile
from shared.drift.result import (
    ALL_MISSING_IN_CURRENT,
    ALL_MISSING_IN_REFERENCE,
    MISSING_IN_CURRENT,
    NEW_IN_CURRENT,
    NOT_NUMERIC_IN_CURRENT,
    ColumnDrift,
    DriftResult,
    issue_result,
)

log = logging.getLogger(__name__)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    html_path: Path | str | None = None,
    drift_share: float = 0.5,
) -> DriftResult:
    """Test each of `columns` for drift from `reference` to `current` with one Evidently report.

    Columns Evidently cannot test (missing or empty in current, empty in reference, no longer
    numeric) are reported with an `issue`; columns only `current` has are reported as new and do
    not count towards the share. When `html_path` is given, the report is saved there as HTML.
    `drift_share`: the share of drifted columns Evidently calls dataset drift (its default
    0.5); it changes the page's headline, not any column's verdict.
    """
    columns = _validated_columns(reference, current, columns)
    issues = {name: issue for name in columns if (issue := _column_issue(reference, current, name))}
    testable = [name for name in columns if name not in issues]
    if html_path is not None:
        html_path = Path(html_path)
        html_path.parent.mkdir(parents=True, exist_ok=True)
    measured = (
        _run_evidently(reference[testable], current[testable], html_path, drift_share)
        if testable
        else {}
    )

    results = [
        measured[name] if name in measured else issue_result(name, issues[name]) for name in columns
    ]
    results += [
        issue_result(name, NEW_IN_CURRENT)
        for name in current.columns
        if name not in columns and name not in reference.columns
    ]
    result = DriftResult.of(results, len(reference), len(current))
    if html_path is not None and not testable:
        _write_plain_html(html_path, result)
    return result


def _validated_columns(reference: Any, current: Any, columns: Any) -> list[str]:
    for label, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"{label} data must be a pandas DataFrame, not {type(frame).__name__}")
        if len(frame) == 0:
            raise ValueError(f"{label} data has no rows")
    if isinstance(columns, str):
        raise ValueError(f"columns must be a list of column names, not the string {columns!r}")
    unique = list(dict.fromkeys(columns))
    absent = [str(name) for name in unique if name not in reference.columns]
    if absent:
        raise ValueError(f"column(s) to check are missing from reference data: {', '.join(absent)}")
    return unique


def _column_issue(reference: pd.DataFrame, current: pd.DataFrame, name: str) -> str | None:
    if name not in current.columns:
        return MISSING_IN_CURRENT
    if not column_has_values(current[name]):
        return ALL_MISSING_IN_CURRENT
    if not column_has_values(reference[name]):
        return ALL_MISSING_IN_REFERENCE
    if is_numeric(reference[name]) and not is_numeric(current[name]):
        return NOT_NUMERIC_IN_CURRENT
    return None


def _run_evidently(
    reference: pd.DataFrame, current: pd.DataFrame, html_path: Path | None, drift_share: float
) -> dict[str, ColumnDrift]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numerical = [name for name in reference.columns if is_numeric(reference[name])]
    categorical = [name for name in reference.columns if name not in numerical]
    # Every column list is given, so Evidently guesses nothing (no inferred text/datetime roles).
    definition = DataDefinition(
        numerical_columns=numerical,
        categorical_columns=categorical,
        datetime_columns=[],
        text_columns=[],
        unknown_columns=[],
        list_columns=[],
    )
    # The per-column drifted/not-drifted verdict is only exported as a test result.
    preset = DataDriftPreset(columns=list(reference.columns), drift_share=drift_share)
    report = Report([preset], include_tests=True)
    # Constant columns make Evidently's correlation code emit divide-by-zero RuntimeWarnings.
    with np.errstate(divide="ignore", invalid="ignore"):
        snapshot = report.run(
            Dataset.from_pandas(_as_strings(current, categorical), data_definition=definition),
            Dataset.from_pandas(_as_strings(reference, categorical), data_definition=definition),
        )
        if html_path is not None:
            snapshot.save_html(str(html_path))  # save_html silently ignores a non-str path
    return _column_drifts(snapshot.dict(), list(reference.columns))


def _as_strings(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for name in categorical:
        frame[name] = as_strings(frame[name])
    return frame


def _column_drifts(snapshot: dict[str, Any], expected: list[str]) -> dict[str, ColumnDrift]:
    """Read each ValueDrift metric (column, method, threshold, score) and its test's status."""
    failed = {
        test["metric_config"]["metric_id"]: test["status"] == "FAIL" for test in snapshot["tests"]
    }
    drifts = {}
    for metric in snapshot["metrics"]:
        config = metric.get("config", {})
        if not config.get("type", "").endswith(":ValueDrift") or metric["id"] not in failed:
            continue
        score = float(metric["value"])
        drifts[config["column"]] = ColumnDrift(
            column=config["column"],
            method=config.get("method"),
            score=score if math.isfinite(score) else None,
            threshold=None if config.get("threshold") is None else float(config["threshold"]),
            drifted=failed[metric["id"]] and not math.isnan(score),  # NaN is no evidence
        )
    lost = [name for name in expected if name not in drifts]
    if lost:
        raise RuntimeError(f"Evidently returned no drift test for column(s): {', '.join(lost)}")
    return drifts


def _write_plain_html(path: Path, result: DriftResult) -> None:
    # No column could go to Evidently, so there is no Evidently report to save; say why instead.
    items = "".join(
        f"<li>{html.escape(str(item.column))}: {html.escape(item.issue or '')}</li>"
        for item in result.columns
    )
    body = f"<p>{html.escape(result.summary())}</p><ul>{items}</ul>"
    path.write_text(f"<!DOCTYPE html>\n<html><body>{body}</body></html>\n", encoding="utf-8")


# --- a stored check's page, off the decision's path ----------------------------------------------


def render_html_report(
    profile: ReferenceProfile | None,
    current: pd.DataFrame | None,
    result: DriftResult,
    *,
    drift_share: float = 0.5,
    max_rows: int = HTML_MAX_ROWS,
) -> str:
    """Evidently's report as one HTML page, on bounded seeded samples, headed by the verdict.

    ``drift_share``: the share of drifted columns Evidently's page calls dataset drift (the
    model's ``drift_threshold``, so the page and the verdict name one threshold). Column
    names are given to Evidently as strings: its page breaks on others.
    """
    try:
        if profile is None or current is None:
            raise ValueError(
                "what Evidently's page needs (the reference profile and the current sample) "
                "was not stored with this check"
            )
        current = bounded_sample(current, max_rows, profile.seed)
        reference = profile.reference_sample()
        if reference is None:
            raise ValueError("the profile keeps no reference rows")
        columns = [str(name) for name in profile.column_names if name in reference.columns]
        reference = _string_names(reference)
        current = _string_names(current)
        with tempfile.TemporaryDirectory() as directory, np.errstate(all="ignore"):
            path = Path(directory, "report.html")
            detect_drift(reference, current, columns, html_path=path, drift_share=drift_share)
            page = path.read_text(encoding="utf-8")
        note = (
            f"Evidently's report below was computed on seeded samples of {len(reference):,} "
            f"reference and {len(current):,} current rows with Evidently's default tests and "
            f"thresholds, and the model's drift_threshold ({drift_share:g}) as its dataset "
            "drift share; near thresholds, or where the model's drift options chose other "
            "tests or thresholds, its verdicts can differ from the verdict of record."
        )
    except Exception as exc:  # the verdict is recorded already: say why there are no charts
        log.warning("Evidently's drift report could not be rendered", exc_info=True)
        page = "<!DOCTYPE html>\n<html><body></body></html>\n"
        note = f"Evidently's report could not be rendered: {html.escape(str(exc) or repr(exc))}"
    match = re.search(r"<body[^>]*>", page)
    at = match.end() if match else 0
    return page[:at] + _verdict_html(result, note) + page[at:]


def bounded_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows of ``frame``, drawn with ``seed`` (all of them, in order, if fewer)."""
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    # Generator.choice draws few of many without permuting them all (pandas' sample does)
    chosen = np.random.default_rng(seed).choice(len(frame), size=rows, replace=False)
    return frame.take(chosen).reset_index(drop=True)


def _string_names(frame: pd.DataFrame) -> pd.DataFrame:
    if all(isinstance(name, str) for name in frame.columns):
        return frame
    renamed = frame.copy(deep=False)
    renamed.columns = [str(name) for name in frame.columns]
    return renamed


def _verdict_html(result: DriftResult, note: str) -> str:
    rows = "".join(
        "<tr{cls}><td>{column}</td><td>{method}</td><td>{score}</td><td>{threshold}</td>"
        "<td>{drifted}</td><td>{issue}</td></tr>".format(
            cls=' style="background:#fdecea"' if item.drifted else "",
            column=html.escape(str(item.column)),
            method=html.escape(item.method or ""),
            score="" if item.score is None else f"{item.score:.4g}",
            threshold="" if item.threshold is None else f"{item.threshold:g}",
            drifted="yes" if item.drifted else "no",
            issue=html.escape(item.issue or ""),
        )
        for item in result.columns
    )
    return (
        '<section id="drift-verdict" style="font-family:sans-serif;margin:1rem 2rem">'
        "<h2>Drift verdict of record</h2>"
        f"<p>{html.escape(result.summary())}, on all {result.n_reference:,} reference and "
        f"{result.n_current:,} current rows (Evidently 0.7.23's tests, computed by "
        f"shared.drift, with each column's method and threshold below).</p><p>{note}</p>"
        '<table border="1" cellpadding="4" style="border-collapse:collapse">'
        "<tr><th>column</th><th>method</th><th>score</th><th>threshold</th><th>drifted</th>"
        f"<th>issue</th></tr>{rows}</table></section>"
    )
