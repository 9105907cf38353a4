"""A ``TrainingPipeline`` as JSON stored with its model, so any worker can rebuild it.

A user's estimator travels as a pickle inside our own database (trusted storage), or, over
HTTP, as ``{"class": "package.module:Estimator", "params": {...}}``.
"""

from __future__ import annotations

import base64
import pickle
from typing import TYPE_CHECKING, Any

from shared.sources import resolve_callable

if TYPE_CHECKING:  # scikit-learn is imported only where a pipeline is built
    from shared.modeling import TrainingPipeline


def pipeline_to_spec(pipeline: TrainingPipeline) -> dict[str, Any]:
    spec = pipeline.describe()
    if pipeline.estimator is not None:
        spec["estimator_pickle"] = base64.b64encode(pickle.dumps(pipeline.estimator)).decode()
    return spec


def pipeline_from_spec(spec: dict[str, Any], default_name: str) -> TrainingPipeline:
    """Rebuild the pipeline; ``ValueError`` naming the field when the spec is unusable."""
    from shared.modeling import TrainingPipeline

    return TrainingPipeline(
        spec.get("name") or default_name,
        spec.get("framework", "sklearn"),
        estimator=_estimator(spec),
        task=spec.get("task"),
        test_size=spec.get("test_size", 0.2),
        random_state=spec.get("random_state", 42),
    )


def _estimator(spec: dict[str, Any]) -> Any:
    if spec.get("estimator_pickle"):
        return pickle.loads(base64.b64decode(spec["estimator_pickle"]))
    declared = spec.get("estimator_class")
    if not declared:
        return None
    params = spec.get("estimator_params") or {}
    if not isinstance(params, dict):
        raise ValueError("estimator_params: must be an object of constructor arguments")
    try:
        return resolve_callable(declared)(**params)
    except TypeError as exc:
        raise ValueError(f"estimator_params: {exc}") from exc
