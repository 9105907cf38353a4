"""Data drift between reference and current data, from Evidently's per-column drift tests.

Evidently is imported inside functions: importing it takes seconds, and the API must not pay that.
"""

import html
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MISSING_IN_CURRENT = "missing from current data"
ALL_MISSING_IN_CURRENT = "all values missing in current data"
NOT_NUMERIC_IN_CURRENT = "non-numeric values in current data"
ALL_MISSING_IN_REFERENCE = "all values missing in reference data"
NEW_IN_CURRENT = "new column in current data"

# A feature that vanished or changed type has drifted; one with no reference values cannot drift.
_DRIFTING_ISSUES = frozenset({MISSING_IN_CURRENT, ALL_MISSING_IN_CURRENT, NOT_NUMERIC_IN_CURRENT})


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: Evidently's drift test, or a schema/data-quality issue."""

    column: str
    method: str | None  # Evidently's stat test name, e.g. "K-S p_value"
    score: float | None  # the stat test's value (p-value or distance)
    threshold: float | None
    drifted: bool
    issue: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftResult:
    """Per-column drift verdicts and the share of checked columns that drifted."""

    columns: tuple[ColumnDrift, ...]
    drift_share: float  # drifted columns / checked columns (0.0 when no columns)
    n_reference: int
    n_current: int

    @property
    def drifted_columns(self) -> list[str]:
        return [result.column for result in self.columns if result.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [result.to_dict() for result in self.columns],
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
        }

    def summary(self) -> str:
        """E.g. "3 of 10 columns drifted (30%): a, b, c"."""
        drifted = self.drifted_columns
        text = f"{len(drifted)} of {len(_checked(self.columns))} columns drifted "
        text += f"({self.drift_share:.0%})"
        return f"{text}: {', '.join(drifted)}" if drifted else text


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    html_path: Path | str | None = None,
) -> DriftResult:
    """Test each of `columns` for drift from `reference` to `current` with one Evidently report.

    Columns Evidently cannot test (missing or empty in current, empty in reference, no longer
    numeric) are reported with an `issue`; columns only `current` has are reported as new and do
    not count towards the share. When `html_path` is given, the report is saved there as HTML.
    """
    columns = _validated_columns(reference, current, columns)
    issues = {name: issue for name in columns if (issue := _column_issue(reference, current, name))}
    testable = [name for name in columns if name not in issues]
    if html_path is not None:
        html_path = Path(html_path)
        html_path.parent.mkdir(parents=True, exist_ok=True)
    measured = _run_evidently(reference[testable], current[testable], html_path) if testable else {}

    results = [
        measured[name] if name in measured else _issue(name, issues[name]) for name in columns
    ]
    results += [
        _issue(name, NEW_IN_CURRENT)
        for name in current.columns
        if name not in columns and name not in reference.columns
    ]
    checked = _checked(results)
    share = sum(result.drifted for result in checked) / len(checked) if checked else 0.0
    result = DriftResult(tuple(results), share, len(reference), len(current))
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


def column_has_values(series: pd.Series) -> bool:
    present = series.dropna()
    if is_numeric(present):
        # Evidently drops infinities along with NaN, so an all-inf column is empty to it too.
        present = present[np.isfinite(present.astype(float))]
    return not present.empty


def is_numeric(series: pd.Series) -> bool:
    # Booleans are categories: Evidently's numeric tests crash on them (numpy bool subtract).
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _issue(name: str, issue: str) -> ColumnDrift:
    return ColumnDrift(name, None, None, None, drifted=issue in _DRIFTING_ISSUES, issue=issue)


def _checked(results: Any) -> list[ColumnDrift]:
    return [result for result in results if result.issue != NEW_IN_CURRENT]


def _run_evidently(
    reference: pd.DataFrame, current: pd.DataFrame, html_path: Path | None
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
    report = Report([DataDriftPreset(columns=list(reference.columns))], include_tests=True)
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
    # Evidently sorts category values, which raises TypeError on mixed types such as 1 and "a".
    frame = frame.copy()
    for name in categorical:
        values = frame[name].astype(object)
        frame[name] = values.where(values.isna(), values.astype(str))
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
