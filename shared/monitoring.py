"""Monitors: set a model's baseline, then decide whether current data calls for retraining.

Data drift is decided by ``shared.drift`` (Evidently's default per-column tests, computed
once per column from a reference profile built when the monitors are set). A check returns
once its verdict is stored: Evidently's own HTML page for it is rendered off the check's path
(``shared.check_pages``), from a sample stored with the check.

Decision order when several findings agree: performance degradation (from the caller's
metrics), then concept drift (the champion scored on labelled current data), then data drift.
Every check is stored with all its findings, whatever the verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shared.check_pages import page_key, render_in_background, store_page_input
from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.datasets import feature_columns_of
from shared.diagnostics import estimated_accuracy, weighted_drift_share
from shared.drift import (
    DriftOptions,
    DriftResult,
    ReferenceProfile,
    detect_drift_fast,
    profile_key,
)
from shared.enums import RetrainingTrigger, Status, Task
from shared.errors import Conflict, Invalid
from shared.evaluation import compute_metrics, primary_metric
from shared.model_store import ModelRecord
from shared.notifications import DriftAlert, Notifier, notify_safely
from shared.performance import PerformanceResult, check_performance
from shared.policy import held_because
from shared.runtime import Runtime

logger = logging.getLogger("retraining.monitoring")


class MonitorsNotInitialized(Conflict):
    """A check needs the reference data and the baseline: initialize the monitors first."""


def monitors_required(record: ModelRecord) -> None:
    if not record.monitors_initialized:
        raise MonitorsNotInitialized(
            f"monitors of {record.name!r} are not initialized: initialize them first "
            f"(initialize_monitors() in Python, POST /retraining/{record.name}/initialize)"
        )


@dataclass(frozen=True)
class Finding:
    trigger: RetrainingTrigger
    fired: bool
    summary: str


def initialize_monitors(
    runtime: Runtime,
    model_name: str,
    reference_data: pd.DataFrame,
    baseline_metrics: dict[str, float] | None,
) -> dict[str, float]:
    """Store the reference data and the baseline; returns the baseline used."""
    if not isinstance(reference_data, pd.DataFrame) or reference_data.empty:
        raise Invalid("reference_data: must be a non-empty pandas DataFrame")
    record = runtime.models.get(model_name)
    if baseline_metrics is not None:
        _require_numbers(baseline_metrics, "baseline_metrics")
    # Without one, the champion's holdout metrics: scoring it on the reference would flatter
    # it whenever the reference overlaps its training data.
    baseline = dict(baseline_metrics or record.champion_metrics or {})
    key = set_reference(runtime, record, reference_data, record.feature_columns)
    runtime.models.set_monitors(model_name, key, baseline)
    return baseline


def set_reference(
    runtime: Runtime, record: ModelRecord, frame: pd.DataFrame, features: list[str] | None
) -> str:
    """Store ``frame`` as a reference of the model, profiled for ``features`` (the champion's;
    None: the frame's own feature columns); returns its key. The monitors' and promotion's."""
    wanted = features or feature_columns_of(
        frame, record.config.target_column, record.config.timestamp_column
    )
    columns = [column for column in wanted if column in frame.columns]
    return runtime.references.store(record.name, frame, columns, features=features)


def run_check(
    runtime: Runtime,
    model_name: str,
    current: pd.DataFrame,
    current_metrics: dict[str, float] | None = None,
    notifier: Notifier | None = None,
    check_id: str | None = None,
    render_page: Callable[[str, str], None] | None = None,
) -> CheckRecord:
    """Run every applicable check on ``current`` and store the result.

    ``check_id``: a requested check's id, so the result completes that row. ``render_page``
    (model name, check id) is handed the check's Evidently page once the verdict is stored
    (by default, this process's background thread); it must not render in the caller's way.
    """
    if not isinstance(current, pd.DataFrame):
        raise Invalid("current_data: must be a pandas DataFrame")
    if current_metrics is not None:
        _require_numbers(current_metrics, "current_metrics")
    record = runtime.models.get(model_name)
    monitors_required(record)
    config = record.config
    check_id = check_id or runtime.checks.new_id()
    if len(current) < config.min_samples_for_check:
        reason = (
            f"not enough data to check: {len(current)} rows, "
            f"min_samples_for_check is {config.min_samples_for_check}"
        )
        return runtime.checks.save(_record(record, check_id, len(current), reason=reason))

    measured = _measure(runtime, record, current, current_metrics)
    trigger, reason = _verdict(
        measured.findings(config.drift_threshold),
        lambda finding: held_because(
            runtime, record, finding.trigger, measured.share, measured.concept_levels
        ),
    )
    check = _record(
        record,
        check_id,
        len(current),
        needs_retraining=trigger is not None,
        trigger=trigger,
        reason=reason,
        drift_share=measured.share,
        drift={**measured.drift.to_dict(), **measured.share_details},
        performance=measured.performance_details(),
        report_key=check_report_key(model_name, check_id)
        if runtime.settings.check_reports
        else None,
    )
    stored = runtime.checks.save(check)
    if stored.status is not Status.COMPLETED:  # failed meanwhile (timed out): it stays so
        return stored
    if measured.share >= config.drift_alert_threshold and config.enable_notifications:
        _alert(runtime, notifier, stored)
    if runtime.settings.check_reports:
        _hand_over_page(runtime, record, measured.profile, current, stored, render_page)
    return stored


@dataclass(frozen=True)
class _Measured:
    """Everything a check measured on the current data, before anything is decided."""

    performance: PerformanceResult | None  # the caller's metrics against the baseline
    concept: PerformanceResult | None  # the champion on labelled current rows
    estimated: PerformanceResult | None  # the champion's estimated accuracy, without labels
    drift: DriftResult
    profile: ReferenceProfile
    share: float  # the drift share decided on (importance-weighted when asked for)
    share_details: dict[str, Any]

    def findings(self, drift_threshold: float) -> list[Finding]:
        """In the order a trigger is chosen: performance, concept drift, data drift."""
        candidates = (
            _finding(RetrainingTrigger.PERFORMANCE_DEGRADATION, self.performance),
            _finding(RetrainingTrigger.CONCEPT_DRIFT, self.concept),
            _finding(RetrainingTrigger.PERFORMANCE_DEGRADATION, self.estimated, "estimated "),
            _drift_finding(self.drift, self.share, drift_threshold),
        )
        return [finding for finding in candidates if finding is not None]

    @property
    def concept_levels(self) -> dict[str, float]:
        if not self.concept:
            return {}
        judged = self.concept.judged_on
        return {d.metric: d.current for d in self.concept.drops if not judged or d.metric in judged}

    def performance_details(self) -> dict[str, Any]:
        return {
            "current": self.performance.to_dict() if self.performance else None,
            "concept": self.concept.to_dict() if self.concept else None,
            "estimated": self.estimated.to_dict() if self.estimated else None,
        }


def _measure(
    runtime: Runtime,
    record: ModelRecord,
    current: pd.DataFrame,
    current_metrics: dict[str, float] | None,
) -> _Measured:
    baseline = record.baseline_metrics or record.champion_metrics or {}
    concept = _concept_drift(runtime, record, baseline, current)
    profile = runtime.references.profile(record.reference_key, record.feature_columns)
    options = DriftOptions.from_config(record.config)
    calibration = None
    if options.calibrated:  # stored with the profile: built once, by whichever host first
        calibration = runtime.references.calibration(record.reference_key, record.feature_columns)
    drift = detect_drift_fast(
        profile,
        current,
        columns=_profiled_features(record, profile),
        options=options,
        calibration=calibration,
    )
    share, share_details = _decision_share(record, drift)
    return _Measured(
        performance=_performance(record, baseline, current_metrics),
        concept=concept,
        estimated=None if concept else _estimated(runtime, record, baseline, current),
        drift=drift,
        profile=profile,
        share=share,
        share_details=share_details,
    )


def check_report_key(model_name: str, check_id: str) -> str:
    return page_key(model_name, check_id)


def _performance(
    record: ModelRecord, baseline: dict[str, float], current_metrics: dict[str, float] | None
) -> PerformanceResult | None:
    if not current_metrics or not baseline:
        return None
    return check_performance(baseline, current_metrics, record.config.performance_threshold)


def _concept_drift(
    runtime: Runtime, record: ModelRecord, baseline: dict[str, float], current: pd.DataFrame
) -> PerformanceResult | None:
    if not baseline or record.config.target_column not in current.columns:
        return None
    labelled = current[current[record.config.target_column].notna()]
    if len(labelled) < record.config.min_samples_for_check:
        return None
    scored = _champion_metrics_on(runtime, record, labelled)
    if scored is None:
        return None
    # Judged on the metric promotion is judged on: the others (recall of a rare class, say)
    # swing with a window's few positives and would call retraining on noise.
    metric, higher = primary_metric(record.config, record.task or Task.CLASSIFICATION)
    judged = (metric,) if metric in baseline and metric in scored else None
    return check_performance(
        baseline, scored, record.config.performance_threshold, {metric: higher}, judged
    )


def _estimated(
    runtime: Runtime, record: ModelRecord, baseline: dict[str, float], current: pd.DataFrame
) -> PerformanceResult | None:
    """The champion's accuracy estimated from its confidence, while labels are too few."""
    calibration = (record.champion_diagnostics or {}).get("calibration")
    if not record.config.estimate_performance or not calibration or "accuracy" not in baseline:
        return None
    features = record.feature_columns or []
    if record.champion_version is None or any(c not in current.columns for c in features):
        return None
    model = runtime.registry.load(record.name, record.champion_version)
    estimate = estimated_accuracy(model, current, features, calibration)
    return check_performance(
        {"accuracy": baseline["accuracy"]},
        {"accuracy": estimate},
        record.config.performance_threshold,
    )


def _decision_share(record: ModelRecord, drift: DriftResult) -> tuple[float, dict[str, Any]]:
    """The share of drift decided on: weighted by the champion's importances when asked."""
    if record.config.drift_weighting != "importance":
        return drift.drift_share, {}
    weights = (record.champion_diagnostics or {}).get("importances") or {}
    columns = [item.to_dict() for item in drift.columns]
    weighted = weighted_drift_share(columns, weights) if weights else None
    if weighted is None:
        note = "unweighted: the champion has no importances for these columns yet"
        return drift.drift_share, {"weighting": note}
    return weighted, {
        "weighting": "by the champion's permutation importance",
        "unweighted_share": drift.drift_share,
        "weighted_share": weighted,
    }


def _champion_metrics_on(
    runtime: Runtime, record: ModelRecord, frame: pd.DataFrame
) -> dict[str, float] | None:
    """The champion's metrics on labelled data; None without a champion, labels or features."""
    target = record.config.target_column
    if record.champion_version is None or target not in frame.columns:
        return None
    features = record.feature_columns or []
    if any(column not in frame.columns for column in features):
        return None
    model = runtime.registry.load(record.name, record.champion_version)
    return compute_metrics(model, frame[features], frame[target], record.task)


def _profiled_features(record: ModelRecord, profile: ReferenceProfile) -> list[str]:
    # the reference defines what can be compared; current's extra columns are reported as new
    wanted = record.feature_columns or profile.column_names
    return [column for column in wanted if column in profile.column_names]


def _hand_over_page(
    runtime: Runtime,
    record: ModelRecord,
    profile: ReferenceProfile,
    current: pd.DataFrame,
    check: CheckRecord,
    render_page: Callable[[str, str], None] | None,
) -> None:
    """Store what the check's page needs, and hand the page to a renderer; a failure here
    never fails the stored check, and the page is rendered on first request instead."""
    try:
        used = profile_key(record.reference_key, record.feature_columns)
        store_page_input(
            runtime, check.report_key, current, profile, used, record.config.drift_threshold
        )
    except Exception:
        logger.warning(
            "the sample for page %s could not be stored", check.report_key, exc_info=True
        )
    try:
        if render_page is None:
            render_in_background(runtime, check.model_name, check.check_id)
        else:
            render_page(check.model_name, check.check_id)
    except Exception:
        logger.warning(
            "page %s was not handed to a renderer: rendered on first request",
            check.report_key,
            exc_info=True,
        )


def _verdict(
    findings: list[Finding], held: Callable[[Finding], str | None]
) -> tuple[RetrainingTrigger | None, str]:
    """The first finding that fired (in the order given) and is not held back
    (``shared.policy``), and a reason naming every finding that fired, or all of them when
    none did, and why any was held."""
    fired = [finding for finding in findings if finding.fired]
    summary = "; ".join(f"{f.trigger}: {f.summary}" for f in (fired or findings))
    if not fired:
        return None, f"no retraining needed ({summary or 'nothing to do'})"
    holds = []
    for finding in fired:
        why = held(finding)
        if why is None:
            notes = "".join(f"; {trigger} suppressed: {text}" for trigger, text in holds)
            return finding.trigger, summary + notes
        holds.append((finding.trigger, why))
    reasons = "; ".join(f"{trigger}: {text}" for trigger, text in holds)
    return None, f"suppressed: {reasons} (found: {summary})"


def _finding(
    trigger: RetrainingTrigger, result: PerformanceResult | None, prefix: str = ""
) -> Finding | None:
    if result is None or not result.drops:
        return None
    return Finding(trigger, result.is_degraded, prefix + result.summary())


def _drift_finding(drift: DriftResult, share: float, threshold: float) -> Finding:
    fired = share >= threshold
    verdict = "at or above" if fired else "below"
    weighted = "" if share == drift.drift_share else " (weighted by importance)"
    return Finding(
        RetrainingTrigger.DATA_DRIFT,
        fired,
        f"{drift.summary()}; drift share{weighted} {share:.2f} {verdict} the "
        f"{threshold:.2f} threshold",
    )


def _alert(runtime: Runtime, notifier: Notifier | None, check: CheckRecord) -> None:
    drifted = (check.drift or {}).get("drifted_columns") or []
    alert = DriftAlert(
        model_name=check.model_name,
        reason=check.reason,
        drift_share=check.drift_share,
        drifted_columns=drifted,
        check_id=check.check_id,
    )
    error = notify_safely(notifier, alert)
    runtime.models.record(
        check.model_name,
        "drift_alert",
        {"check_id": check.check_id, "drift_share": check.drift_share, "notifier_error": error},
    )


def _record(record: ModelRecord, check_id: str, n_rows: int, **fields: Any) -> CheckRecord:
    return CheckRecord(
        check_id=check_id,
        model_name=record.name,
        created_at=utcnow(),
        n_rows=n_rows,
        needs_retraining=fields.get("needs_retraining", False),
        trigger=fields.get("trigger"),
        reason=fields["reason"],
        drift_share=fields.get("drift_share"),
        drift=fields.get("drift"),
        performance=fields.get("performance"),
        report_key=fields.get("report_key"),
    )


def _require_numbers(metrics: dict[str, Any], field: str) -> None:
    if not isinstance(metrics, dict):
        raise Invalid(f"{field}: must be a dict of metric name to number")
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{field}: {name} must be a number, got {value!r}")
