"""Initialize a model's monitors from its own data sources (the HTTP API's and the CLI's way;
the Python API hands its frame to ``shared.monitoring.initialize_monitors`` directly)."""

from __future__ import annotations

from shared.errors import Conflict, Invalid, explain
from shared.monitoring import initialize_monitors
from shared.runtime import Runtime
from shared.sources import reference_role, source_loader


class ReferenceUnusable(Conflict):
    """The reference data could not be loaded, or cannot serve as a reference."""


def initialize_from_sources(
    runtime: Runtime, model_name: str, baseline_metrics: dict[str, float] | None = None
) -> tuple[str, dict[str, float]]:
    """Load the reference (the reference source, else the training source) and set the
    monitors; returns the role it came from and the baseline used."""

    record = runtime.models.get(model_name)
    role = reference_role(record)
    try:
        reference = source_loader(record, role)()
    except Exception as exc:  # the user's data: a missing file, a bad query, a broken loader
        raise ReferenceUnusable(f"the {role} data could not be loaded: {explain(exc)}") from exc
    try:
        baseline = initialize_monitors(runtime, model_name, reference, baseline_metrics)
    except ValueError as exc:  # Invalid, or a frame the profile cannot hold
        if str(exc).startswith("baseline_metrics"):
            raise Invalid(str(exc)) from exc
        raise ReferenceUnusable(f"the {role} data cannot be used: {exc}") from exc
    return role, baseline
