"""Serving the champion: the inputs a request sends are checked against what it trained on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import Invalid

FEATURE_KINDS_ATTRIBUTE = "retraining_feature_kinds_"  # set by shared.modeling.fit_model

_ACCEPTS = {
    "number": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "text": (lambda v: isinstance(v, str), "text (a JSON string)"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
}


def check_instance_types(
    model: Any, features: Sequence[str], instances: Sequence[Mapping[str, Any]]
) -> None:
    """``Invalid("instances[i].column: expected a number, got 'abc'")`` for the first value
    whose type the model was not trained on; null is always allowed (a missing value).

    A model trained before the kinds were recorded is not checked here; scoring it reports
    what it can.
    """
    kinds: Mapping[str, str] = getattr(model, FEATURE_KINDS_ATTRIBUTE, None) or {}
    checks = [(c, *_ACCEPTS[kinds[c]]) for c in features if kinds.get(c) in _ACCEPTS]
    for index, instance in enumerate(instances):
        for column, accepts, wanted in checks:
            value = instance.get(column)
            if value is not None and not accepts(value):
                raise Invalid(
                    f"instances[{index}].{column}: expected {wanted} (the champion was "
                    f"trained on {kinds[column]} values), got {value!r}"
                )
