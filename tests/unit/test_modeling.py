"""The training pipeline: settings, task inference, the default model, user estimators."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from shared.datasets import DataValidationError, split_holdout
from shared.enums import Task
from shared.evaluation import compute_metrics
from shared.modeling import TrainingPipeline, fit_model

FEATURES = ["x1", "x2", "color", "flag"]


def synthetic(n: int = 800, seed: int = 0, regression: bool = False) -> pd.DataFrame:
    """Label driven by a number and a category, with gaps in both."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    signal = 2 * x1 + np.where(color == "red", 2.5, -1.0) + 0.5
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(size=n),  # noise
            "color": color.astype(object),
            "flag": rng.random(n) < 0.5,
        }
    )
    noisy = signal + rng.normal(scale=0.3, size=n)
    frame["target"] = noisy if regression else np.where(signal > 0, "pos", "neg").astype(object)
    frame.loc[frame.sample(frac=0.1, random_state=1).index, "x1"] = np.nan
    frame.loc[frame.sample(frac=0.1, random_state=2).index, "color"] = None
    return frame


def train_and_score(pipeline: TrainingPipeline, frame: pd.DataFrame, task: Task):
    train, holdout = split_holdout(frame, "target", None, task, 0.25, 0)
    model = fit_model(pipeline, train, FEATURES, "target", task)
    return model, compute_metrics(model, holdout[FEATURES], holdout["target"], task)


def test_settings_are_kept_and_task_is_normalised():
    pipeline = TrainingPipeline("churn", "sklearn", task="regression", test_size=0.3)
    assert (pipeline.name, pipeline.framework, pipeline.estimator) == ("churn", "sklearn", None)
    assert pipeline.task is Task.REGRESSION
    assert (pipeline.test_size, pipeline.random_state) == (0.3, 42)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": "m", "framework": "tensorflow"}, "framework must be 'sklearn'.*tensorflow"),
        ({"name": "m", "task": "clustering"}, "task must be one of.*clustering"),
        ({"name": "m", "test_size": 0}, "test_size"),
        ({"name": "m", "test_size": 0.6}, "test_size"),
        ({"name": "m", "random_state": "seven"}, "random_state"),
        ({"name": "m", "estimator": LogisticRegression}, "estimator instance"),
        ({"name": "m", "estimator": "rf"}, "estimator"),
    ],
)
def test_invalid_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainingPipeline(**kwargs)


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        (pd.Series([True, False, True]), Task.CLASSIFICATION),
        (pd.Series(["a", "b", "a"]), Task.CLASSIFICATION),
        (pd.Series(["a", "b"], dtype="category"), Task.CLASSIFICATION),
        (pd.Series(["a", None], dtype="string"), Task.CLASSIFICATION),
        (pd.Series([0, 1, 2, 1]), Task.CLASSIFICATION),
        (pd.Series(range(20)), Task.CLASSIFICATION),  # 20 distinct: still classes
        (pd.Series(range(21)), Task.REGRESSION),  # 21 distinct: a quantity
        (pd.Series([1, None, 0], dtype="Int64"), Task.CLASSIFICATION),
        (pd.Series([0.0, 1.0, np.nan, 1.0]), Task.CLASSIFICATION),
        (pd.Series([0.0, 1.5, 1.0]), Task.REGRESSION),
        (pd.Series(np.arange(30, dtype=float)), Task.REGRESSION),
    ],
)
def test_task_inference(y, expected):
    assert TrainingPipeline("m").resolve_task(y) is expected


def test_explicit_task_wins_over_inference():
    assert TrainingPipeline("m", task="classification").resolve_task(pd.Series([0.5, 1.5])) is (
        Task.CLASSIFICATION
    )
    assert TrainingPipeline("m", task=Task.REGRESSION).resolve_task(pd.Series([0, 1])) is (
        Task.REGRESSION
    )


def test_build_returns_a_fresh_default_pipeline_per_task():
    pipeline = TrainingPipeline("m", random_state=7)
    X = synthetic(20)[FEATURES]
    first, second = pipeline.build(X, Task.CLASSIFICATION), pipeline.build(X, "classification")
    assert first is not second and first.steps[1][1] is not second.steps[1][1]
    assert [name for name, _ in first.steps] == ["preprocess", "model"]
    model = first.named_steps["model"]
    assert isinstance(model, HistGradientBoostingClassifier) and model.random_state == 7
    assert not hasattr(model, "n_iter_")  # unfitted
    columns = {name: cols for name, _, cols in first.named_steps["preprocess"].transformers}
    assert columns == {"numeric": ["x1", "x2"], "categorical": ["color", "flag"]}
    encoder = first.named_steps["preprocess"].transformers[1][1].named_steps["encode"]
    assert encoder.handle_unknown == "ignore" and encoder.max_categories is not None
    regressor = pipeline.build(X, Task.REGRESSION).named_steps["model"]
    assert isinstance(regressor, HistGradientBoostingRegressor)


def test_default_classifier_with_gaps_and_categories_beats_chance():
    frame = synthetic()
    pipeline = TrainingPipeline("m")
    task = pipeline.resolve_task(frame["target"])
    assert task is Task.CLASSIFICATION
    model, metrics = train_and_score(pipeline, frame, task)
    majority = frame["target"].value_counts(normalize=True).max()
    assert majority < 0.65
    assert metrics["accuracy"] > 0.85 and metrics["roc_auc"] > 0.9
    assert list(model.classes_) == ["neg", "pos"]
    unseen = frame[FEATURES].head(3).assign(color="purple")  # a category never seen in training
    assert set(model.predict(unseen)) <= {"neg", "pos"}


def test_default_regressor_with_gaps_and_categories_fits_well():
    frame = synthetic(regression=True)
    pipeline = TrainingPipeline("m")
    task = pipeline.resolve_task(frame["target"])
    assert task is Task.REGRESSION
    _, metrics = train_and_score(pipeline, frame, task)
    assert metrics["r2"] > 0.8


def test_pandas_nullable_dtypes_with_na_are_handled():
    frame = synthetic(300).astype({"color": "string", "flag": "boolean"})
    frame.loc[[0, 1], "flag"] = pd.NA
    assert frame["color"].isna().sum() > 0
    _, metrics = train_and_score(TrainingPipeline("m"), frame, Task.CLASSIFICATION)
    assert metrics["accuracy"] > 0.8


def test_user_estimator_is_cloned_and_wrapped_with_default_preprocessing():
    user = LogisticRegression(C=0.5, max_iter=500)
    pipeline = TrainingPipeline("m", estimator=user)
    model, metrics = train_and_score(pipeline, synthetic(), Task.CLASSIFICATION)
    assert [name for name, _ in model.steps] == ["preprocess", "model"]
    fitted = model.named_steps["model"]
    assert fitted is not user and fitted.C == 0.5 and hasattr(fitted, "coef_")
    assert not hasattr(user, "coef_")  # the user's object was never fitted
    assert pipeline.estimator is user
    assert metrics["accuracy"] > 0.8


def test_user_pipeline_is_cloned_as_is():
    user = make_pipeline(StandardScaler(), LinearRegression())
    pipeline = TrainingPipeline("m", estimator=user)
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    y = 2 * X["a"] + X["b"]
    model = fit_model(pipeline, X.assign(y=y), ["a", "b"], "y", Task.REGRESSION)
    assert isinstance(model, Pipeline) and model is not user
    assert [name for name, _ in model.steps] == ["standardscaler", "linearregression"]
    assert not hasattr(user.named_steps["linearregression"], "coef_")
    assert np.allclose(model.predict(X), y)


def test_estimator_of_the_wrong_kind_is_refused():
    pipeline = TrainingPipeline("m", estimator=clone(LinearRegression()))
    with pytest.raises(DataValidationError, match="LinearRegression cannot be used for a class"):
        pipeline.build(synthetic(20)[FEATURES], Task.CLASSIFICATION)


def test_single_class_target_is_a_validation_error():
    frame = synthetic(50).assign(target="pos")
    frame.loc[0, "target"] = np.nan  # unlabelled rows do not count as a class
    with pytest.raises(DataValidationError, match="'target' has a single class \\('pos'\\)"):
        fit_model(TrainingPipeline("m"), frame, FEATURES, "target", Task.CLASSIFICATION)


@pytest.mark.parametrize(
    ("change", "task", "message"),
    [
        (lambda f: f.drop(columns="x2"), Task.CLASSIFICATION, r"missing.*\['x2'\]"),
        (lambda f: f.assign(target=np.nan), Task.CLASSIFICATION, "no values"),
        (lambda f: f, Task.REGRESSION, "must be numeric for regression"),
        (lambda f: f.assign(color=[1, "a"] * (len(f) // 2)), Task.CLASSIFICATION, "'color'"),
    ],
)
def test_fit_model_refuses_unusable_training_data(change, task, message):
    frame = change(synthetic(40))
    with pytest.raises(DataValidationError, match=message):
        fit_model(TrainingPipeline("m"), frame, FEATURES, "target", task)


def test_unsupported_feature_dtypes_are_dropped_unless_nothing_is_left():
    frame = synthetic(200).assign(seen=pd.Timestamp("2024-01-01"))
    model = fit_model(
        TrainingPipeline("m"), frame, [*FEATURES, "seen"], "target", Task.CLASSIFICATION
    )
    parts = model.named_steps["preprocess"].transformers_
    used = [c for _, step, cols in parts if step != "drop" for c in cols]
    assert "seen" not in used and set(FEATURES) <= set(used)
    assert model.predict(frame[[*FEATURES, "seen"]].head(2)).shape == (2,)
    with pytest.raises(DataValidationError, match="no usable feature columns"):
        fit_model(TrainingPipeline("m"), frame, ["seen"], "target", Task.CLASSIFICATION)


def test_describe_is_json_safe_and_names_the_estimator():
    default = TrainingPipeline("m").describe()
    assert default["estimator"].startswith("HistGradientBoosting") and default["task"] is None
    classifier = TrainingPipeline("m", task="classification", random_state=3).describe()
    assert classifier["estimator"] == "HistGradientBoostingClassifier"
    assert classifier["params"]["random_state"] == 3 and classifier["task"] == "classification"
    user = TrainingPipeline("m", estimator=LogisticRegression(C=0.5)).describe()
    assert user["estimator"] == "LogisticRegression" and user["params"]["C"] == 0.5
    wrapped = TrainingPipeline("m", estimator=make_pipeline(StandardScaler(), LinearRegression()))
    described = wrapped.describe()
    assert described["estimator"] == "Pipeline"
    assert described["params"]["steps"] == [
        ["standardscaler", "StandardScaler"],
        ["linearregression", "LinearRegression"],
    ]
    for summary in (default, classifier, user, described):
        assert json.loads(json.dumps(summary, allow_nan=False)) == summary
        assert summary["name"] == "m" and summary["framework"] == "sklearn"
