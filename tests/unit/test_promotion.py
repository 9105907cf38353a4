"""The promotion rule: at least ``promotion_min_improvement`` better on the same holdout, and a
worse model never."""

import math

import pytest

from shared.promotion import decide_promotion


def decide(new, old, *, metric="accuracy", higher=True, margin=0.02, auto=True):
    return decide_promotion(
        {metric: new},
        None if old is None else {metric: old},
        metric=metric,
        higher_is_better=higher,
        min_improvement=margin,
        auto_promote=auto,
    )


@pytest.mark.parametrize("auto", [True, False])
@pytest.mark.parametrize("champion", [None, {}])
def test_the_first_model_of_a_name_becomes_champion(auto, champion):
    decision = decide_promotion(
        {"accuracy": 0.5},
        champion,
        metric="accuracy",
        higher_is_better=True,
        min_improvement=0.5,
        auto_promote=auto,
    )
    assert decision.promote
    assert decision.improvement is None
    assert "first model" in decision.reason


@pytest.mark.parametrize(
    ("old", "new", "higher", "metric"),
    [
        (0.8, 0.816, True, "accuracy"),  # 0.01999999999999988 in floats: exactly 2% all the same
        (0.5, 0.51, True, "accuracy"),
        (0.85, 0.867, True, "f1_score"),
        (1.0, 0.98, False, "rmse"),
        (2.5, 2.45, False, "mae"),
    ],
)
def test_an_improvement_exactly_at_the_margin_promotes(old, new, higher, metric):
    decision = decide(new, old, metric=metric, higher=higher, margin=0.02)
    assert decision.promote, decision.reason
    assert decision.improvement == pytest.approx(0.02)
    assert decision.reason.startswith("better by the margin")


@pytest.mark.parametrize(
    ("old", "new", "higher", "metric"),
    [
        (0.8, 0.8159, True, "accuracy"),
        (0.5, 0.5099, True, "accuracy"),
        (1.0, 0.9801, False, "rmse"),
    ],
)
def test_an_improvement_just_below_the_margin_does_not_promote(old, new, higher, metric):
    decision = decide(new, old, metric=metric, higher=higher, margin=0.02)
    assert not decision.promote
    assert decision.reason.startswith("not better by the margin")
    assert 0 < decision.improvement < 0.02


@pytest.mark.parametrize(
    ("old", "new", "higher", "metric"),
    [
        (0.8, 0.7999, True, "accuracy"),
        (0.8, 0.5, True, "accuracy"),
        (1.0, 1.0001, False, "rmse"),
        (0.0, 0.1, False, "rmse"),  # a perfect champion: any error is infinitely worse
    ],
)
def test_a_worse_model_is_never_promoted_even_with_no_margin(old, new, higher, metric):
    decision = decide(new, old, metric=metric, higher=higher, margin=0.0, auto=True)
    assert not decision.promote
    assert decision.improvement < 0


def test_an_equal_model_meets_a_zero_margin():
    assert decide(0.8, 0.8, margin=0.0).promote
    assert not decide(0.8, 0.8, margin=0.01).promote


def test_a_better_model_waits_for_a_person_when_auto_promote_is_off():
    decision = decide(0.9, 0.8, margin=0.02, auto=False)
    assert not decision.promote
    assert "auto_promote is off" in decision.reason
    assert decision.improvement == pytest.approx(0.125)


def test_the_reason_shows_both_values_and_the_margin():
    reason = decide(0.9, 0.8, margin=0.02).reason
    assert "accuracy 0.9 vs champion 0.8" in reason
    assert "+12.50% relative, +2.00% required" in reason


def test_a_missing_or_undefined_metric_never_promotes():
    no_new = decide_promotion(
        {"f1_score": 0.9},
        {"accuracy": 0.5},
        metric="accuracy",
        higher_is_better=True,
        min_improvement=0.0,
        auto_promote=True,
    )
    assert not no_new.promote and "new model has no accuracy" in no_new.reason
    no_old = decide_promotion(
        {"accuracy": 0.9},
        {"f1_score": 0.5},
        metric="accuracy",
        higher_is_better=True,
        min_improvement=0.0,
        auto_promote=True,
    )
    assert not no_old.promote and "champion has no accuracy" in no_old.reason
    assert not decide(math.nan, 0.5, margin=0.0).promote
    assert not decide(0.9, math.nan, margin=0.0).promote
