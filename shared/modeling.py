"""What gets trained: the estimator, its default preprocessing, and the task it solves."""

from __future__ import annotations

import logging
import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from shared.datasets import DataValidationError
from shared.enums import Task
from shared.serving import FEATURE_KINDS_ATTRIBUTE

logger = logging.getLogger(__name__)

_MAX_CLASSES_FOR_INFERENCE = 20  # more distinct whole numbers than this reads as a quantity
_MIN_CATEGORY_COUNT = 5  # rarer categories are pooled so one-off values do not become features
_MAX_CATEGORIES = 50  # per column, including the pooled "infrequent" one


class TrainingPipeline:
    """A recipe for training one model: estimator (or the default), task and split settings."""

    def __init__(
        self,
        name: str,
        framework: str = "sklearn",
        estimator: Any = None,
        task: str | Task | None = None,
        test_size: float = 0.2,
        random_state: int = 42,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if framework != "sklearn":
            raise ValueError(
                f"framework must be 'sklearn' (the only one supported); got {framework!r}"
            )
        if estimator is not None:
            _check_estimator(estimator)
        if (
            isinstance(test_size, bool)
            or not isinstance(test_size, Real)
            or not 0 < test_size <= 0.5
        ):
            raise ValueError(f"test_size must be a fraction in (0, 0.5], got {test_size!r}")
        if isinstance(random_state, bool) or not isinstance(random_state, Integral):
            raise ValueError(f"random_state must be an integer, got {random_state!r}")
        self.name = name
        self.framework = framework
        self.estimator = estimator
        self.task = None if task is None else _parse_task(task)
        self.test_size = float(test_size)
        self.random_state = int(random_state)

    def __repr__(self) -> str:
        est = "default" if self.estimator is None else type(self.estimator).__name__
        return f"TrainingPipeline(name={self.name!r}, estimator={est}, task={self.task})"

    def resolve_task(self, y: pd.Series) -> Task:
        """The configured task, else one inferred from the target's dtype and values."""
        if self.task is not None:
            return self.task
        y = pd.Series(y)
        dtype = y.dtype
        if (
            ptypes.is_bool_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
            or ptypes.is_object_dtype(dtype)
            or ptypes.is_string_dtype(dtype)
        ):
            return Task.CLASSIFICATION
        values = y.dropna()
        few = 0 < values.nunique() <= _MAX_CLASSES_FOR_INFERENCE
        if ptypes.is_integer_dtype(dtype):
            return Task.CLASSIFICATION if few else Task.REGRESSION
        if ptypes.is_float_dtype(dtype) and few and bool(np.all(np.mod(values, 1) == 0)):
            return Task.CLASSIFICATION
        return Task.REGRESSION

    def build(self, X: pd.DataFrame, task: Task | str) -> Pipeline:
        """A fresh, unfitted scikit-learn Pipeline for features ``X`` and ``task``."""
        task = Task(task)
        if self.estimator is None:
            model = _default_estimator(task, self.random_state)
        else:
            model = clone(self.estimator)  # never fit the user's own object
            _check_kind(model, task)
            if isinstance(model, Pipeline):
                return model  # the user's pipeline owns its preprocessing
        return Pipeline([("preprocess", _default_preprocessor(X)), ("model", model)])

    def describe(self) -> dict[str, Any]:
        """JSON-safe summary: name, framework, task, estimator class name and its params."""
        if self.estimator is not None:
            estimator, params = type(self.estimator).__name__, self.estimator.get_params()
        elif self.task is not None:
            default = _default_estimator(self.task, self.random_state)
            estimator, params = type(default).__name__, default.get_params()
        else:
            estimator, params = (
                "HistGradientBoosting (by task)",
                {"random_state": self.random_state},
            )
        return {
            "name": self.name,
            "framework": self.framework,
            "task": None if self.task is None else self.task.value,
            "estimator": estimator,
            "params": _json_safe(params),
            "test_size": self.test_size,
            "random_state": self.random_state,
        }


def fit_model(
    pipeline: TrainingPipeline,
    train: pd.DataFrame,
    features: list[str],
    target: str,
    task: Task | str,
) -> Pipeline:
    """Build and fit ``pipeline`` on the labelled rows of ``train``; returns the fitted Pipeline."""
    task = Task(task)
    features = list(features)
    missing = [c for c in [*features, target] if c not in train.columns]
    if missing:
        raise DataValidationError(f"columns missing from the training data: {missing}")
    labelled = train.loc[train[target].notna().to_numpy()]
    if labelled.empty:
        raise DataValidationError(f"target column '{target}' has no values (all missing)")
    X, y = labelled[features], labelled[target]
    _check_target(y, target, task)
    mixed = _mixed_type_columns(X)
    if mixed:
        raise DataValidationError(
            f"columns mixing text and non-text values (make each one type): {mixed}"
        )
    model = pipeline.build(X, task).fit(X, y)
    # What each feature held in training, kept on the model (so in MLflow with it): serving
    # names the column and the type when a request sends, say, text for a number.
    setattr(model, FEATURE_KINDS_ATTRIBUTE, feature_kinds(X))
    return model


def feature_kinds(X: pd.DataFrame) -> dict[str, str]:
    """Each column's kind of value: ``number``, ``text`` or ``boolean`` (others: not listed)."""
    kinds = {}
    for column, dtype in X.dtypes.items():
        if ptypes.is_bool_dtype(dtype):
            kinds[str(column)] = "boolean"
        elif isinstance(dtype, pd.CategoricalDtype):
            continue  # its categories may be numbers or text: no one kind to ask for
        elif ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
            kinds[str(column)] = "number"
        elif ptypes.is_object_dtype(dtype) or ptypes.is_string_dtype(dtype):
            kinds[str(column)] = "text"
    return kinds


def _default_preprocessor(X: pd.DataFrame) -> ColumnTransformer:
    """Median-impute numbers; mode-impute and one-hot encode categories; drop other dtypes."""
    if not isinstance(X, pd.DataFrame):
        raise DataValidationError(f"features must be a pandas DataFrame, got {type(X).__name__}")
    numeric, categorical, other = _columns_by_kind(X)
    if other:
        logger.warning("ignoring feature columns with unsupported dtypes: %s", other)
    if not numeric and not categorical:
        raise DataValidationError(f"no usable feature columns (unsupported dtypes: {other})")
    parts = []
    if numeric:
        parts.append(("numeric", SimpleImputer(strategy="median"), numeric))
    if categorical:
        parts.append(("categorical", _categorical_steps(X[categorical]), categorical))
    # Dense output: HistGradientBoosting does not accept sparse matrices.
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def _categorical_steps(frame: pd.DataFrame) -> Pipeline:
    # pandas' StringDtype marks gaps with pd.NA, which only a pd.NA-aware imputer sees; np.nan
    # otherwise keeps pandas objects out of the fitted model (and its serialization).
    string_dtype = any(isinstance(d, pd.StringDtype) for d in frame.dtypes)
    imputer = SimpleImputer(
        missing_values=pd.NA if string_dtype else np.nan, strategy="most_frequent"
    )
    encoder = OneHotEncoder(
        handle_unknown="ignore",
        min_frequency=_MIN_CATEGORY_COUNT,
        max_categories=_MAX_CATEGORIES,
        sparse_output=False,
    )
    return Pipeline([("impute", imputer), ("encode", encoder)])


def _columns_by_kind(X: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    numeric, categorical, other = [], [], []
    for column, dtype in X.dtypes.items():
        if ptypes.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            categorical.append(column)
        elif ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
            numeric.append(column)
        elif ptypes.is_object_dtype(dtype) or ptypes.is_string_dtype(dtype):
            categorical.append(column)
        else:
            other.append(column)
    return numeric, categorical, other


def _default_estimator(
    task: Task, random_state: int
) -> HistGradientBoostingClassifier | HistGradientBoostingRegressor:
    if task is Task.CLASSIFICATION:
        return HistGradientBoostingClassifier(random_state=random_state)
    return HistGradientBoostingRegressor(random_state=random_state)


def _check_target(y: pd.Series, target: str, task: Task) -> None:
    if task is Task.CLASSIFICATION and y.nunique() < 2:
        only = y.iloc[0].item() if isinstance(y.iloc[0], np.generic) else y.iloc[0]
        raise DataValidationError(
            f"target column '{target}' has a single class ({only!r}) in the training "
            "data; classification needs at least 2 classes"
        )
    if task is Task.REGRESSION and not ptypes.is_numeric_dtype(y.dtype):
        raise DataValidationError(
            f"target column '{target}' must be numeric for regression, got dtype {y.dtype}"
        )


def _mixed_type_columns(X: pd.DataFrame) -> list[str]:
    """Object columns holding both strings and other values, which encoders cannot sort."""
    mixed = []
    for column in X.select_dtypes(include="object").columns:
        kinds = {isinstance(v, str) for v in X[column].dropna()}
        if len(kinds) > 1:
            mixed.append(column)
    return mixed


def _check_estimator(estimator: Any) -> None:
    if isinstance(estimator, type) or not all(
        hasattr(estimator, attr) for attr in ("fit", "predict", "get_params")
    ):
        raise ValueError(
            "estimator must be a scikit-learn estimator instance (with fit, predict and "
            f"get_params), got {estimator!r}"
        )


def _check_kind(estimator: Any, task: Task) -> None:
    wrong = is_regressor(estimator) if task is Task.CLASSIFICATION else is_classifier(estimator)
    if wrong:
        raise DataValidationError(
            f"estimator {type(estimator).__name__} cannot be used for a {task.value} task"
        )


def _parse_task(task: str | Task) -> Task:
    try:
        return Task(task)
    except ValueError:
        allowed = ", ".join(t.value for t in Task)
        raise ValueError(f"task must be one of: {allowed}; got {task!r}") from None


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "get_params"):
        return type(value).__name__  # nested estimators: their params are listed flat already
    return repr(value)
