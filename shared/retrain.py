"""Run one claimed retraining job: load, validate, train, score both models, log, decide, record.

The champion changes only in the last step, in the same transaction that completes the job
(fenced on the attempt), so a job that fails anywhere leaves the model in service as it was.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shared import ledger
from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.datasets import (
    DataValidationError,
    data_fingerprint,
    feature_columns_of,
    filter_training_window,
    validate_training_frame,
)
from shared.enums import Task
from shared.errors import explain
from shared.evaluation import compute_metrics, primary_metric
from shared.jobs import RetrainingJob
from shared.model_store import ModelRecord
from shared.modeling import TrainingPipeline, fit_model
from shared.monitoring import set_reference
from shared.notifications import Notifier, notify_safely
from shared.promotion import (
    PromotionDecision,
    champion_changed,
    deadline_passed,
    decide_promotion,
    stale,
)
from shared.provenance import decision_tags, origin_tags
from shared.registry_sync import owe, settle
from shared.runtime import Runtime
from shared.significance import Evidence, paired_bootstrap
from shared.windows import TrainingPlan, candidate_to_keep, plan_for

logger = logging.getLogger("retraining.jobs")

DataLoader = Callable[[], pd.DataFrame]


class JobFenced(RuntimeError):
    """This attempt is no longer the job's current one; its result must be dropped."""


@dataclass(frozen=True)
class TrainedCandidate:
    model: Any
    task: Task
    features: list[str]
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    details: dict[str, Any]
    training_window: pd.DataFrame
    diagnostics: dict[str, Any]  # kept with the champion if it is promoted (shared.diagnostics)
    evidence: Evidence | None = None  # the paired interval, with promotion_confidence


def execute_job(
    runtime: Runtime,
    job: RetrainingJob,
    load_training_data: DataLoader,
    pipeline: TrainingPipeline,
    notifier: Notifier | None = None,
) -> RetrainingJob:
    """Run a job this process has claimed (status running); returns it finished."""
    try:
        with keep_alive(runtime, job):
            finished = _train_and_decide(runtime, job, load_training_data, pipeline)
    except JobFenced:
        logger.warning("job %s attempt %s was superseded; result dropped", job.job_id, job.attempt)
        return runtime.jobs.get(job.job_id)
    except Exception as exc:
        if isinstance(exc, DataValidationError):  # a refusal, not a crash: no traceback
            logger.warning("retraining job %s refused: %s", job.job_id, exc)
        else:
            logger.exception("retraining job %s failed", job.job_id)
        finished = runtime.jobs.fail(job.job_id, job.attempt, explain(exc))
        if finished is None:
            return runtime.jobs.get(job.job_id)
    if runtime.models.get(job.model_name).config.enable_notifications:
        error = notify_safely(notifier, finished)
        if error:
            runtime.models.record(
                job.model_name, "notification_failed", {"job_id": job.job_id, "error": error}
            )
    return finished


def _train_and_decide(
    runtime: Runtime, job: RetrainingJob, load: DataLoader, pipeline: TrainingPipeline
) -> RetrainingJob:
    record = runtime.models.get(job.model_name)
    started = time.perf_counter()
    frame = _load(load)
    logger.info(
        "job %s (%s, %s): loaded %d rows", job.job_id, job.model_name, job.trigger, len(frame)
    )
    _beat(runtime, job)
    candidate = _train(runtime, record, frame, pipeline)
    _beat(runtime, job)
    metric, higher = primary_metric(record.config, candidate.task)
    decision = decide_promotion(
        candidate.metrics,
        candidate.champion_metrics,
        metric=metric,
        higher_is_better=higher,
        min_improvement=record.config.promotion_min_improvement,
        auto_promote=record.config.auto_promote,
        evidence=candidate.evidence,
    )
    logger.info(
        "job %s: scores on the holdout: %s; champion %s",
        job.job_id,
        _scores(candidate.metrics),
        _scores(candidate.champion_metrics) if candidate.champion_metrics else "none yet",
    )
    logged = runtime.registry.log_candidate(
        record.name,
        candidate.model,
        frame[candidate.features].head(5),
        params={**_flat_params(pipeline), "primary_metric": metric, **_window_params(candidate)},
        metrics={
            **candidate.metrics,
            **{f"champion_{k}": v for k, v in (candidate.champion_metrics or {}).items()},
            **_candidate_metrics(candidate),
            **_decision_metrics(decision),
        },
        tags=origin_tags(job, candidate.details),
    )
    logger.info("job %s: logged %s version %s", job.job_id, record.name, logged.version)
    details = {
        **job.details,  # what the job started with (the check that called for it)
        **candidate.details,
        "primary_metric": metric,
        "duration_seconds": round(time.perf_counter() - started, 3),
    }
    finished = _record_outcome(runtime, job, record, candidate, logged, decision, details)
    verdict = "promoted" if decision.promote else "not promoted"
    logger.info("job %s: %s: %s", job.job_id, verdict, decision.reason)
    return finished


def _load(load: DataLoader) -> pd.DataFrame:
    try:
        frame = load()
    except Exception as exc:
        raise DataValidationError(
            f"the training data loader raised {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(
            f"the training data loader returned {type(frame).__name__}, not a pandas DataFrame"
        )
    return frame


def _train(
    runtime: Runtime, record: ModelRecord, frame: pd.DataFrame, pipeline: TrainingPipeline
) -> TrainedCandidate:
    config = record.config
    target, timestamp = config.target_column, config.timestamp_column
    validate_training_frame(frame, target, record.feature_columns, timestamp)
    window = filter_training_window(frame, timestamp, config.training_data_window_days, utcnow())
    window = window[window[target].notna()]
    if len(window) < config.min_training_samples:
        raise DataValidationError(
            f"not enough training data: {len(window)} labelled rows within the last "
            f"{config.training_data_window_days} days, min_training_samples is "
            f"{config.min_training_samples}"
        )
    task = record.task or pipeline.resolve_task(window[target])
    features = feature_columns_of(window, target, timestamp)
    champion = _load_champion(runtime, record)
    plan = plan_for(config, window, champion, record.feature_columns, task, pipeline)
    scored = {
        name: _fit_and_score(
            record.name, name, pipeline, rows, plan.holdout, features, target, task
        )
        for name, rows in plan.candidates.items()
    }
    metric, higher = primary_metric(record.config, task)
    kept = candidate_to_keep(
        {name: metrics for name, (_, metrics, _) in scored.items()},
        metric,
        higher,
        config.promotion_min_improvement,
    )
    model, metrics, predicted = scored[kept]
    champion_metrics, evidence = None, None
    if champion is not None:
        champion_features = record.feature_columns or []
        champion_metrics, champion_predicted = _score_champion(
            champion, plan.holdout, champion_features, target, task
        )
        if config.promotion_confidence is not None:  # on the predictions scored above
            evidence = paired_bootstrap(
                plan.holdout[target].to_numpy(),
                predicted,
                champion_predicted,
                task=task,
                metric=metric,
                higher_is_better=higher,
                confidence=config.promotion_confidence,
                seed=pipeline.random_state,
            )
    training_rows = plan.candidates[kept]
    details = {
        "task": str(task),
        "n_rows_loaded": len(frame),
        "n_rows_in_window": len(window),
        "n_train": len(training_rows),
        "n_holdout": len(plan.holdout),
        "features": features,
        "data_fingerprint": data_fingerprint(window),
        "holdout_fingerprint": data_fingerprint(plan.holdout),
        "window": _window_details(plan, scored, kept),
    }
    diagnostics = _diagnostics(config, model, plan.holdout, features, task, pipeline)
    details["diagnostics"] = diagnostics
    # the monitors of a replacing champion follow the data it learned from
    reference = pd.concat([training_rows, plan.holdout])
    return TrainedCandidate(
        model, task, features, metrics, champion_metrics, details, reference, diagnostics, evidence
    )


def _diagnostics(
    config: RetrainingConfig,
    model: Any,
    holdout: pd.DataFrame,
    features: list[str],
    task: Task,
    pipeline: TrainingPipeline,
) -> dict[str, Any]:
    """What the checks this model will face need to know of it (``shared.diagnostics``)."""
    from shared.diagnostics import confidence_calibration, permutation_weights

    target = config.target_column
    found: dict[str, Any] = {}
    if config.drift_weighting == "importance":
        found["importances"] = permutation_weights(
            model, holdout, features, target, pipeline.random_state
        )
    if config.estimate_performance:
        found["calibration"] = confidence_calibration(model, holdout, features, target, task)
    return found


def _load_champion(runtime: Runtime, record: ModelRecord) -> Any:
    if record.champion_version is None:
        return None
    return runtime.registry.load(record.name, record.champion_version)


def _score_champion(
    champion: Any, holdout: pd.DataFrame, features: list[str], target: str, task: Task
) -> tuple[dict[str, float], np.ndarray]:
    """The champion's holdout metrics and predictions (the gate pairs them with the new one's)."""
    predicted = np.asarray(champion.predict(holdout[features]))
    metrics = compute_metrics(
        champion, holdout[features], holdout[target], task, predicted=predicted
    )
    return metrics, predicted


def _fit_and_score(
    model_name: str,
    candidate: str,
    pipeline: TrainingPipeline,
    rows: pd.DataFrame,
    holdout: pd.DataFrame,
    features: list[str],
    target: str,
    task: Task,
) -> tuple[Any, dict[str, float], np.ndarray]:
    """The fitted model, its holdout metrics and its holdout predictions (for the gate)."""
    started = time.perf_counter()
    model = fit_model(pipeline, rows, features, target, task)
    logger.info(
        "%s: fitted a %s model on the %s (%d rows, %d features) in %.1f s; holdout %d rows",
        model_name,
        task,
        candidate.replace("_", " "),
        len(rows),
        len(features),
        time.perf_counter() - started,
        len(holdout),
    )
    predicted = np.asarray(model.predict(holdout[features]))
    metrics = compute_metrics(model, holdout[features], holdout[target], task, predicted=predicted)
    return model, metrics, predicted


def _window_details(
    plan: TrainingPlan, scored: dict[str, tuple[Any, dict, np.ndarray]], kept: str
) -> dict[str, Any]:
    return {
        "kept": kept,
        "change_point": plan.change_point.to_dict() if plan.change_point else None,
        "change_too_recent": plan.change_too_recent,
        "candidates": {
            name: {"rows": len(plan.candidates[name]), "metrics": metrics}
            for name, (_, metrics, _) in scored.items()
        },
        "notes": plan.notes,
    }


def _window_params(candidate: TrainedCandidate) -> dict[str, Any]:
    window = candidate.details["window"]
    change = window["change_point"]
    params = {"window_kept": window["kept"], "window_change_point_row": None}
    if change is not None:
        params.update(window_change_point_row=change["row"], window_change_point_at=change["at"])
    return params


def _candidate_metrics(candidate: TrainedCandidate) -> dict[str, float]:
    """Each candidate window's holdout metrics, e.g. ``candidate_after_change_accuracy``."""
    return {
        f"candidate_{name}_{metric}": value
        for name, scored in candidate.details["window"]["candidates"].items()
        for metric, value in scored["metrics"].items()
    }


def _decision_metrics(decision: PromotionDecision) -> dict[str, float]:
    """The comparison as MLflow metrics: the improvement and, when gated, its interval."""
    values = {"promotion_improvement": decision.improvement}
    if decision.interval is not None:
        values["promotion_interval_low"], values["promotion_interval_high"] = decision.interval
    # a zero champion metric makes the relative improvement infinite: no number to chart
    return {k: v for k, v in values.items() if v is not None and math.isfinite(v)}


def _scores(metrics: dict[str, float]) -> str:
    return ", ".join(
        f"{name} {value:.4g}" if isinstance(value, int | float) else f"{name} {value}"
        for name, value in metrics.items()
    )


def _flat_params(pipeline: TrainingPipeline) -> dict[str, Any]:
    """MLflow params are flat strings: the estimator's own parameters get a prefix."""
    spec = pipeline.describe()
    estimator_params = spec.pop("params", {}) or {}
    return {**spec, **{f"estimator.{k}": v for k, v in estimator_params.items()}}


def _record_outcome(
    runtime: Runtime,
    job: RetrainingJob,
    record: ModelRecord,
    candidate: TrainedCandidate,
    logged,
    decision: PromotionDecision,
    details: dict[str, Any],
) -> RetrainingJob:
    monitors = None
    if decision.promote:
        monitors = _monitors_following(runtime, record, candidate)
    with runtime.engine.begin() as connection:
        decision = _still_current(runtime, job, record, decision, connection)
        finished = runtime.jobs.complete(
            job.job_id,
            job.attempt,
            connection=connection,
            metrics=candidate.metrics,
            champion_metrics=candidate.champion_metrics,
            promoted=decision.promote,
            promotion_reason=decision.reason,
            model_version=logged.version,
            mlflow_run_id=logged.run_id,
            details={
                **details,
                "improvement": decision.improvement,
                "promotion": decision.to_dict(),
            },
        )
        if finished is None:
            raise JobFenced(job.job_id)
        comparison = _comparison(record, candidate, logged, decision, monitors)
        if decision.promote:
            runtime.models.set_champion(
                record.name,
                version=logged.version,
                run_id=logged.run_id,
                metrics=candidate.metrics,
                task=candidate.task,
                feature_columns=candidate.features,
                details=comparison,
                monitors=monitors,
                diagnostics=candidate.diagnostics,
                job_id=job.job_id,
                connection=connection,
            )
        else:
            runtime.models.record(
                record.name,
                "promotion_refused",
                comparison,
                job_id=job.job_id,
                connection=connection,
            )
        ledger.record_job_outcome(
            connection, job, record, candidate, logged, decision, details, monitors
        )
        tags, description = decision_tags(job, decision, record.champion_version)
        owe(
            connection,
            record.name,
            logged.version,
            promote=decision.promote,
            tags=tags,
            description=description,
            job_id=job.job_id,
        )
    # MLflow follows the database; if it fails now, the row owed above stays for the reconciler
    settle(runtime, record.name, repairing=False)
    return finished


def _still_current(
    runtime: Runtime,
    job: RetrainingJob,
    record: ModelRecord,
    decision: PromotionDecision,
    connection,
) -> PromotionDecision:
    """The decision, or refused as stale: past the job's deadline, or the champion is no
    longer the one the candidate was compared with. A current champion stays held (its row
    locked by this transaction's write) until the promotion commits: compare-and-swap."""
    if not decision.promote:
        return decision
    late = deadline_passed(job.start_time, runtime.settings.job_time_limit_seconds, utcnow())
    if late:
        return stale(decision, late)
    if runtime.models.hold_champion(record.name, record.champion_version, connection):
        return decision
    now = runtime.models.champion_of(record.name, connection=connection)
    return stale(decision, champion_changed(record.champion_version, now) or "champion changed")


def _comparison(
    record: ModelRecord,
    candidate: TrainedCandidate,
    logged,
    decision: PromotionDecision,
    monitors: tuple[str, dict[str, float]] | None,
) -> dict[str, Any]:
    """What the audit trail keeps of a promotion or a refusal."""
    comparison = {
        "version": logged.version,
        "metrics": candidate.metrics,
        "champion_version": record.champion_version,
        "champion_metrics": candidate.champion_metrics,
        "reason": decision.reason,
        "decision": decision.to_dict(),
    }
    if monitors is not None:
        comparison["reference_key"] = monitors[0]
    return comparison


@contextlib.contextmanager
def keep_alive(runtime: Runtime, job: RetrainingJob) -> Iterator[None]:
    """Heartbeat the job from a side thread while the block runs (training can take long)."""
    stop = threading.Event()
    interval = runtime.settings.heartbeat_interval_seconds

    def beat() -> None:
        while not stop.wait(interval):
            try:
                runtime.jobs.heartbeat(job.job_id, job.attempt)
            except Exception:  # a missed beat is survivable; the lease is several beats long
                logger.warning("heartbeat of job %s failed", job.job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job.job_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _monitors_following(
    runtime: Runtime, record: ModelRecord, candidate: TrainedCandidate
) -> tuple[str, dict[str, float]] | None:
    """A promoted model's monitors: its training window as reference, its holdout as baseline.

    Otherwise drift against the old reference would keep firing after the model has adapted.
    The first champion keeps the monitors the user set.
    """
    if not record.monitors_initialized or record.champion_version is None:
        return None
    key = set_reference(runtime, record, candidate.training_window, candidate.features)
    old = record.baseline_metrics or {}
    baseline = {k: candidate.metrics.get(k, v) for k, v in old.items()} or candidate.metrics
    return key, baseline


def _beat(runtime: Runtime, job: RetrainingJob) -> None:
    if not runtime.jobs.heartbeat(job.job_id, job.attempt):
        raise JobFenced(job.job_id)
