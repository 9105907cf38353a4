"""Performance degradation: a relative drop of a baseline metric *above* the threshold fires."""

import pytest

from shared.performance import check_performance


@pytest.mark.parametrize(
    ("metric", "baseline", "current"),
    [
        ("accuracy", 0.8, 0.76),  # (0.8 - 0.76) / 0.8 is 0.05000000000000004 in floats
        ("accuracy", 0.85, 0.8075),
        ("f1_score", 1.0, 0.95),
        ("rmse", 2.0, 2.1),  # lower is better: a rise of 5% is a drop of 5%
        ("mae", 0.3, 0.315),
    ],
)
def test_a_drop_exactly_at_the_threshold_does_not_fire(metric, baseline, current):
    result = check_performance({metric: baseline}, {metric: current}, threshold=0.05)
    assert result.drops[0].drop == pytest.approx(0.05)
    assert not result.is_degraded
    assert result.degraded == ()
    assert "within the 5.0% threshold" in result.summary()


@pytest.mark.parametrize(
    ("metric", "baseline", "current"),
    [("accuracy", 0.8, 0.7599), ("rmse", 2.0, 2.1002), ("f1_score", 0.83, 0.75)],
)
def test_a_drop_just_above_the_threshold_fires(metric, baseline, current):
    result = check_performance({metric: baseline}, {metric: current}, threshold=0.05)
    assert result.is_degraded
    assert [d.metric for d in result.degraded] == [metric]
    assert "dropped more than the 5.0% threshold" in result.summary()


def test_the_specifications_example_fires_on_both_metrics():
    result = check_performance(
        {"accuracy": 0.85, "f1_score": 0.83}, {"accuracy": 0.78, "f1_score": 0.75}, 0.05
    )
    assert [d.metric for d in result.degraded] == ["accuracy", "f1_score"]
    assert result.drops[0].drop == pytest.approx((0.85 - 0.78) / 0.85)


def test_ten_percent_below_fires_and_names_the_metrics():
    baseline = {"accuracy": 0.9, "f1_score": 0.8}
    current = {name: value * 0.9 for name, value in baseline.items()}
    result = check_performance(baseline, current, 0.05)
    assert result.is_degraded
    assert "accuracy 0.9 -> 0.81 (-10.0%)" in result.summary()
    assert result.to_dict()["degraded"] == ["accuracy", "f1_score"]


def test_a_better_model_never_fires_whatever_the_direction():
    result = check_performance(
        {"accuracy": 0.8, "rmse": 2.0}, {"accuracy": 0.95, "rmse": 1.0}, threshold=0.0
    )
    assert not result.is_degraded
    assert [round(d.drop, 4) for d in result.drops] == [-0.1875, -0.5]


def test_one_degraded_metric_among_several_is_enough():
    result = check_performance(
        {"accuracy": 0.8, "recall": 0.7}, {"accuracy": 0.8, "recall": 0.6}, threshold=0.05
    )
    assert [d.metric for d in result.degraded] == ["recall"]


def test_threshold_zero_fires_on_any_drop_and_not_on_none():
    assert check_performance({"accuracy": 0.8}, {"accuracy": 0.7999}, 0.0).is_degraded
    assert not check_performance({"accuracy": 0.8}, {"accuracy": 0.8}, 0.0).is_degraded


def test_only_metrics_in_both_are_compared():
    result = check_performance(
        {"accuracy": 0.8, "f1_score": 0.8},
        {"accuracy": 0.8, "roc_auc": 0.1, "f1_score": None},
        0.05,
    )
    assert [d.metric for d in result.drops] == ["accuracy"]
    nothing = check_performance({"accuracy": 0.8}, {"roc_auc": 0.5}, 0.05)
    assert not nothing.is_degraded
    assert nothing.summary() == "no metric in common with the baseline"


def test_an_unknown_metric_is_higher_is_better_unless_told_otherwise():
    assert check_performance({"profit": 100.0}, {"profit": 80.0}, 0.05).is_degraded
    told = check_performance(
        {"cost": 100.0}, {"cost": 80.0}, 0.05, higher_is_better={"cost": False}
    )
    assert not told.is_degraded
    assert check_performance({"cost": 100.0}, {"cost": 120.0}, 0.05, {"cost": False}).is_degraded


def test_a_zero_baseline_that_gets_worse_fires():
    assert check_performance({"mae": 0.0}, {"mae": 0.1}, 0.5).is_degraded
    assert not check_performance({"mae": 0.0}, {"mae": 0.0}, 0.0).is_degraded
