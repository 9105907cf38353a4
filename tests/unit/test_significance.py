"""The significance gate: a paired bootstrap interval of the relative improvement on the shared
holdout, whose lower bound must clear ``promotion_min_improvement``; off unless configured."""

from __future__ import annotations

import numpy as np
import pytest
from jobtest import NAME, configure, run
from sklearn import metrics as skm

from retraining.synthetic import make_churn_frame
from shared.config import RetrainingConfig
from shared.enums import Task
from shared.evaluation import relative_drop
from shared.events import list_events
from shared.promotion import decide_promotion
from shared.significance import Evidence, _ConfusionScorer, _ErrorScorer, paired_bootstrap


def noisy_pair(n: int, new_accuracy: float, old_accuracy: float, seed: int = 1, classes: int = 2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    new = np.where(rng.random(n) < new_accuracy, y, (y + 1) % classes)
    old = np.where(rng.random(n) < old_accuracy, y, (y + 1) % classes)
    return y, new, old


# -- the resampled metrics are the metrics ------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1_score"])
def test_a_resample_that_is_the_holdout_scores_as_scikit_learn_does(metric, classes):
    y, new, old = noisy_pair(500, 0.8, 0.7, classes=classes)
    scorer = _ConfusionScorer(y, new, old, metric)
    counts = (scorer.p * scorer.n)[None, :]  # the holdout itself, each row once
    got_new, got_old = scorer.score(counts)
    average = {"average": "binary", "pos_label": 1} if classes == 2 else {"average": "weighted"}
    score = {
        "accuracy": lambda t, p: skm.accuracy_score(t, p),
        "precision": lambda t, p: skm.precision_score(t, p, zero_division=0, **average),
        "recall": lambda t, p: skm.recall_score(t, p, zero_division=0, **average),
        "f1_score": lambda t, p: skm.f1_score(t, p, zero_division=0, **average),
    }[metric]
    assert got_new[0] == pytest.approx(score(y, new))
    assert got_old[0] == pytest.approx(score(y, old))


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_a_resample_that_is_the_holdout_scores_regression_as_scikit_learn_does(metric):
    rng = np.random.default_rng(2)
    y = rng.normal(size=400)
    new, old = y + rng.normal(scale=0.3, size=400), y + rng.normal(scale=0.5, size=400)
    got_new, got_old = _ErrorScorer(y, new, old, metric).score(np.arange(400)[None, :])
    score = {
        "rmse": skm.root_mean_squared_error,
        "mae": skm.mean_absolute_error,
        "r2": skm.r2_score,
    }[metric]
    assert got_new[0] == pytest.approx(score(y, new))
    assert got_old[0] == pytest.approx(score(y, old))


def test_the_interval_surrounds_the_point_improvement_and_is_seeded():
    y, new, old = noisy_pair(20_000, 0.85, 0.84)
    point = -relative_drop(skm.accuracy_score(y, old), skm.accuracy_score(y, new), True)
    kwargs = dict(task=Task.CLASSIFICATION, metric="accuracy", higher_is_better=True)
    evidence = paired_bootstrap(y, new, old, confidence=0.95, seed=7, **kwargs)
    low, high = evidence.interval
    assert low < point < high
    assert evidence.n_rows == 20_000 and "paired bootstrap" in evidence.method
    assert paired_bootstrap(y, new, old, confidence=0.95, seed=7, **kwargs) == evidence
    wider = paired_bootstrap(y, new, old, confidence=0.99, seed=7, **kwargs).interval
    assert wider[0] < low and wider[1] > high


def test_pairing_sees_a_small_consistent_gain_that_unpaired_noise_would_hide():
    # the candidate is the champion plus 60 more right answers out of 20,000: +0.4% relative
    y, old, _ = noisy_pair(20_000, 0.75, 0.75, seed=3)
    new = old.copy()
    wrong = np.flatnonzero(old != y)[:60]
    new[wrong] = y[wrong]
    evidence = paired_bootstrap(
        y,
        new,
        old,
        task=Task.CLASSIFICATION,
        metric="accuracy",
        higher_is_better=True,
        confidence=0.95,
    )
    assert evidence.interval[0] > 0  # never worse on any resample of the same rows


def test_lower_is_better_metrics_count_a_smaller_error_as_improvement():
    rng = np.random.default_rng(4)
    y = rng.normal(size=5000)
    new, old = y + rng.normal(scale=0.5, size=5000), y + rng.normal(scale=1.0, size=5000)
    evidence = paired_bootstrap(
        y,
        new,
        old,
        task=Task.REGRESSION,
        metric="rmse",
        higher_is_better=False,
        confidence=0.95,
    )
    assert 0.4 < evidence.interval[0] < evidence.interval[1] < 0.6


def test_metrics_without_a_resampled_form_are_refused_naming_the_option():
    y, new, old = noisy_pair(100, 0.8, 0.7)
    with pytest.raises(ValueError, match="promotion_confidence: roc_auc"):
        paired_bootstrap(
            y,
            new,
            old,
            task=Task.CLASSIFICATION,
            metric="roc_auc",
            higher_is_better=True,
            confidence=0.95,
        )


# -- the rule at its edges ------------------------------------------------------------------


def gated(evidence: Evidence, margin: float, new: float = 0.86, old: float = 0.84):
    return decide_promotion(
        {"accuracy": new},
        {"accuracy": old},
        metric="accuracy",
        higher_is_better=True,
        min_improvement=margin,
        auto_promote=True,
        evidence=evidence,
    )


def real_evidence() -> Evidence:
    y, new, old = noisy_pair(20_000, 0.86, 0.84, seed=5)
    return paired_bootstrap(
        y,
        new,
        old,
        task=Task.CLASSIFICATION,
        metric="accuracy",
        higher_is_better=True,
        confidence=0.95,
    )


def test_an_improvement_whose_interval_clears_the_margin_just_inside_is_promoted():
    evidence = real_evidence()
    low = evidence.interval[0]
    decision = gated(evidence, margin=low - 1e-6)
    assert decision.promote, decision.reason
    assert decision.interval == evidence.interval and decision.confidence == 0.95
    assert (decision.candidate_value, decision.champion_value) == (0.86, 0.84)
    assert decision.method == evidence.method
    assert "clears the margin" in decision.reason


@pytest.mark.parametrize("above", [0.0, 1e-6])
def test_an_improvement_whose_interval_reaches_the_margin_only_just_outside_is_refused(above):
    evidence = real_evidence()
    low = evidence.interval[0]
    decision = gated(evidence, margin=low + above)
    assert not decision.promote
    assert decision.reason.startswith("not significant: ")
    assert "lower bound" in decision.reason and "95% interval" in decision.reason
    assert decision.to_dict()["interval"] == list(evidence.interval)


def test_the_margin_is_still_checked_first():
    decision = gated(Evidence((0.5, 0.6), 0.95, "m", 10, 10), margin=0.1, new=0.85, old=0.84)
    assert not decision.promote and decision.reason.startswith("not better by the margin")


def test_without_evidence_todays_rule_holds():
    decision = decide_promotion(
        {"accuracy": 0.86},
        {"accuracy": 0.84},
        metric="accuracy",
        higher_is_better=True,
        min_improvement=0.01,
        auto_promote=True,
    )
    assert decision.promote and decision.interval is None and decision.method == "relative margin"


# -- the option --------------------------------------------------------------------------------


def test_the_option_is_off_by_default():
    assert RetrainingConfig().promotion_confidence is None


@pytest.mark.parametrize("value", [0.5, 1.0, 0.3, 1.5, -1.0, True, "0.95", float("nan")])
def test_a_confidence_outside_the_open_interval_is_refused_naming_the_field(value):
    with pytest.raises(ValueError, match=r"^promotion_confidence: "):
        RetrainingConfig(promotion_confidence=value)


def test_a_confidence_inside_is_kept():
    assert RetrainingConfig(promotion_confidence=0.95).promotion_confidence == 0.95
    assert RetrainingConfig(promotion_confidence=0.5000001).promotion_confidence == 0.5000001


def test_a_primary_metric_the_bootstrap_cannot_resample_is_refused_with_the_gate():
    with pytest.raises(ValueError, match=r"^promotion_confidence: .*roc_auc"):
        RetrainingConfig(promotion_confidence=0.95, primary_metric="roc_auc")
    assert RetrainingConfig(primary_metric="roc_auc").promotion_confidence is None


# -- through a job ----------------------------------------------------------------------------


def test_a_job_records_both_estimates_the_interval_and_the_method_everywhere(ml_runtime):
    configure(ml_runtime, promotion_confidence=0.95)
    first = run(ml_runtime, make_churn_frame(300, seed=1))
    assert first.details["promotion"]["interval"] is None  # nothing to compare the first with

    job = run(ml_runtime, make_churn_frame(300, seed=2))  # the same world: no real gain

    decision = job.details["promotion"]
    low, high = decision["interval"]
    assert low < high and decision["confidence"] == 0.95
    assert decision["method"].startswith("paired bootstrap, 2000 resamples of ")
    assert decision["candidate_value"] == job.metrics["accuracy"]
    assert decision["champion_value"] == job.champion_metrics["accuracy"]
    assert job.promoted is (low > 0.0)
    if not job.promoted:
        assert job.promotion_reason.startswith(("not significant", "not better by the margin"))
    kind = "promotion" if job.promoted else "promotion_refused"
    (event,) = [
        e
        for e in list_events(ml_runtime.engine, model_name=NAME, kind=kind)
        if e["job_id"] == job.job_id
    ]
    assert event["details"]["decision"]["interval"] == [low, high]
    client = ml_runtime.registry._client
    run_metrics = client.get_run(job.mlflow_run_id).data.metrics
    assert (run_metrics["promotion_interval_low"], run_metrics["promotion_interval_high"]) == (
        low,
        high,
    )
    tags = client.get_model_version(NAME, job.model_version).tags
    assert tags["improvement_interval"].endswith("at 0.95")
    assert tags["decision_method"] == decision["method"]
    assert tags["holdout_fingerprint"] == job.details["holdout_fingerprint"]


def test_a_clear_gain_passes_the_gate_and_a_tie_does_not(ml_runtime):
    configure(ml_runtime, promotion_confidence=0.95)
    run(ml_runtime, make_churn_frame(400, seed=1))
    clear = run(ml_runtime, make_churn_frame(600, seed=2, drift=1.0))  # a changed world
    assert clear.promoted is True, clear.promotion_reason
    assert clear.details["promotion"]["interval"][0] > 0.0
    # the same data again: the candidate is no better than the champion trained on it
    tie = run(ml_runtime, make_churn_frame(600, seed=2, drift=1.0))
    assert tie.promoted is False
    assert ml_runtime.models.get(NAME).champion_version == clear.model_version
