"""MLflow tracking and model registry: log candidates, move the champion alias, load models.

Every call goes through an ``MlflowClient`` bound to this registry's tracking URI. The
process-wide ``mlflow.set_tracking_uri`` is never used, so registries with different stores can
share one process. That rules out ``mlflow.sklearn.log_model`` (fluent: it reads the global URI
and active run), so ``log_candidate`` does its steps with the client: run, logged model,
``save_model`` into a temporary directory, upload, model version.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from shared.errors import Unavailable

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel as MlflowLoggedModel
    from mlflow.models import ModelSignature
    from pandas import DataFrame

logger = logging.getLogger(__name__)

# skops is the serialization format, so loading the model needs it as much as scikit-learn.
_PINNED_PACKAGES = ("scikit-learn", "pandas", "numpy", "skops")
# Enough rows for the signature; inferring it from a 100k-row frame takes ~0.4 s.
_SIGNATURE_ROWS = 1000
# archive_existing_versions=True is only valid for MLflow's two active stages.
_STAGES = {"staging": "Staging", "production": "Production"}
_MAX_PARAM_LENGTH = 6000  # MLflow refuses longer parameter values
_PARAMS_PER_BATCH = 100  # MLflow's log_batch limit for params
_LOADED_MODELS_KEPT = 8  # champion + candidate for a few models; versions pile up over time
_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"


@dataclass(frozen=True)
class LoggedModel:
    """Where a logged candidate ended up."""

    run_id: str
    version: str  # registered model version, as a string


class ModelRegistry:
    """Candidates, versions and the champion alias of models in one MLflow store."""

    CHAMPION_ALIAS = "champion"

    def __init__(self, tracking_uri: str, artifact_root: Path | str | None) -> None:
        """Nothing is opened here; the MLflow client (and a new sqlite DB) is made on first use.

        ``artifact_root`` is a directory (resolved now, against the current directory) or a URI
        such as ``s3://bucket/prefix``; experiments created here store artifacts beneath it.
        None leaves that to the tracking server: its default artifact store (``mlflow-artifacts:``
        when it serves artifacts), which every host reaches through the server.
        """
        if not isinstance(tracking_uri, str) or not tracking_uri.strip():
            raise ValueError("tracking_uri must be a non-empty MLflow tracking URI")
        if artifact_root is not None and not str(artifact_root).strip():
            raise ValueError("artifact_root must be a directory, an artifact store URI or None")
        self.tracking_uri = tracking_uri
        self.artifact_root = (
            None if artifact_root is None else _absolute_artifact_root(artifact_root)
        )
        self._loaded: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._loaded_lock = threading.Lock()

    @cached_property
    def _client(self) -> MlflowClient:
        from mlflow import MlflowClient

        # An explicit registry URI: left out, MLflow would take the process-wide one.
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def log_candidate(
        self,
        model_name: str,
        model: Any,
        input_example: DataFrame,
        *,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, Any],
    ) -> LoggedModel:
        """Log a fitted sklearn model in a new run of "retraining/<model_name>" and register it.

        ``input_example`` holds feature columns only; its first rows and the model's predictions
        on them give the signature. ``tags`` go on the run and on the registered version (the
        registry UI shows the version's).
        """
        _check_model_name(model_name)
        metric_values = _metric_values(metrics)
        signature = _signature(model, input_example)
        trusted_types = _untrusted_skops_types(model)
        with _reachable(self.tracking_uri):
            experiment_id = self._experiment_id(model_name)
            tag_values = {k: str(v) for k, v in tags.items()}
            run_id = self._client.create_run(experiment_id, tags=tag_values).info.run_id
            try:
                logged = self._client.create_logged_model(
                    experiment_id, "model", source_run_id=run_id
                )
                self._log_run_data(run_id, logged.model_id, params, metric_values)
                self._upload_model(logged, run_id, model, signature, trusted_types)
                version = self._register(model_name, logged, run_id, tag_values)
            except BaseException:
                with suppress(Exception):  # the original error matters more than bookkeeping
                    self._client.set_terminated(run_id, "FAILED")
                raise
            self._client.set_terminated(run_id)
        # The next job of this model scores it as champion: spare it the download.
        self._remember((model_name, version), model)
        return LoggedModel(run_id=run_id, version=version)

    def promote(self, model_name: str, version: str, stage: str | None) -> None:
        """Move the champion alias to ``version``; with ``stage``, move that stage there too.

        Other versions in the stage are archived. A store without stages gets a logged warning:
        the alias is the source of truth.
        """
        _check_model_name(model_name)
        version = _check_version(version)
        canonical_stage = _canonical_stage(stage)
        with _reachable(self.tracking_uri):
            with _version_must_exist(model_name, version):
                self._client.set_registered_model_alias(model_name, self.CHAMPION_ALIAS, version)
            if canonical_stage is not None:
                self._move_stage(model_name, version, canonical_stage)

    def describe_version(
        self,
        model_name: str,
        version: str,
        tags: Mapping[str, Any],
        description: str | None = None,
    ) -> None:
        """Set tags (and the description) of a registered version: why it is or is not champion."""
        _check_model_name(model_name)
        version = _check_version(version)
        with _reachable(self.tracking_uri), _version_must_exist(model_name, version):
            for key, value in tags.items():
                text = "" if value is None else str(value)
                self._client.set_model_version_tag(model_name, version, str(key), text)
            if description is not None:
                self._client.update_model_version(model_name, version, description=description)

    def champion_state(self, model_name: str) -> tuple[str | None, str | None]:
        """(version the champion alias points to, that version's stage); Nones when absent."""
        version = self.champion_version(model_name)
        if version is None:
            return None, None
        with _reachable(self.tracking_uri):
            found = self._client.get_model_version(model_name, version)
        stage = found.current_stage
        return version, None if stage in (None, "None") else str(stage)

    def load(self, model_name: str, version: str) -> Any:
        """The registered sklearn model, shared between callers (predict with it, do not refit).

        Versions never change, so the last few loaded are kept and reused.
        """
        _check_model_name(model_name)
        key = (model_name, _check_version(version))
        with self._loaded_lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
        with _reachable(self.tracking_uri):
            model = self._load_uncached(*key)
        self._remember(key, model)
        return model

    def _remember(self, key: tuple[str, str], model: Any) -> None:
        with self._loaded_lock:
            self._loaded[key] = model
            self._loaded.move_to_end(key)
            while len(self._loaded) > _LOADED_MODELS_KEPT:
                self._loaded.popitem(last=False)

    def champion_version(self, model_name: str) -> str | None:
        """The version the champion alias points to; None if the model or the alias is absent."""
        from mlflow.exceptions import MlflowException

        _check_model_name(model_name)
        try:
            with _reachable(self.tracking_uri):
                registered = self._client.get_registered_model(model_name)
        except MlflowException as exc:
            if exc.error_code == _NOT_FOUND:
                return None
            raise
        version = registered.aliases.get(self.CHAMPION_ALIAS)
        return None if version is None else str(version)

    def _experiment_id(self, model_name: str) -> str:
        from mlflow.exceptions import MlflowException

        name = f"retraining/{model_name}"
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            location = (
                None
                if self.artifact_root is None
                else _join_location(self.artifact_root, model_name)
            )
            try:
                return self._client.create_experiment(name, artifact_location=location)
            except MlflowException as exc:
                if exc.error_code != _ALREADY_EXISTS:
                    raise
                experiment = self._client.get_experiment_by_name(name)  # another process won
        if experiment.lifecycle_stage == "deleted":
            self._client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id

    def _log_run_data(
        self, run_id: str, model_id: str, params: Mapping[str, Any], metrics: dict[str, float]
    ) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        # model_id links the metrics to the logged model too, as mlflow's log_model does.
        metric_list = [Metric(k, v, now, 0, model_id=model_id) for k, v in metrics.items()]
        param_list = [Param(str(k), str(v)[:_MAX_PARAM_LENGTH]) for k, v in params.items()]
        self._client.log_batch(run_id, metrics=metric_list, params=param_list[:_PARAMS_PER_BATCH])
        for start in range(_PARAMS_PER_BATCH, len(param_list), _PARAMS_PER_BATCH):
            self._client.log_batch(run_id, params=param_list[start : start + _PARAMS_PER_BATCH])

    def _upload_model(
        self,
        logged: MlflowLoggedModel,
        run_id: str,
        model: Any,
        signature: ModelSignature,
        trusted_types: list[str],
    ) -> None:
        import mlflow.sklearn
        from mlflow.entities import LoggedModelOutput, LoggedModelStatus
        from mlflow.models import Model

        metadata = Model(
            artifact_path=logged.artifact_location,
            run_id=run_id,
            model_uuid=logged.model_id,
            model_id=logged.model_id,
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp, "model"))
            mlflow.sklearn.save_model(
                model,
                path,
                mlflow_model=metadata,
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                signature=signature,
                # Explicit pins skip MLflow's inference, which reloads the model in a subprocess.
                pip_requirements=_pip_requirements(),
                skops_trusted_types=trusted_types,
            )
            self._client.log_model_artifacts(logged.model_id, path)
        self._client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
        self._client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])

    def _register(
        self, model_name: str, logged: MlflowLoggedModel, run_id: str, tags: dict[str, str]
    ) -> str:
        from mlflow.exceptions import MlflowException

        try:
            self._client.create_registered_model(model_name)
        except MlflowException as exc:
            if exc.error_code != _ALREADY_EXISTS:
                raise
        # Source is the artifact location, not "models:/<model_id>": MLflow's SQL registry
        # resolves that URI through the process-wide tracking URI, not this client's.
        version = self._client.create_model_version(
            model_name,
            logged.artifact_location,
            run_id=run_id,
            model_id=logged.model_id,
            tags=tags,
        )
        return str(version.version)

    def _move_stage(self, model_name: str, version: str, stage: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            with warnings.catch_warnings():
                # Stages are deprecated in MLflow but still part of this product's contract.
                warnings.simplefilter("ignore", FutureWarning)
                self._client.transition_model_version_stage(
                    model_name, version, stage, archive_existing_versions=True
                )
        except MlflowException as exc:
            logger.warning(
                "Could not move %s version %s to stage %s (%s); the %r alias was moved.",
                model_name,
                version,
                stage,
                exc.message,
                self.CHAMPION_ALIAS,
            )

    def _load_uncached(self, model_name: str, version: str) -> Any:
        import mlflow.artifacts
        import mlflow.sklearn

        # Not a "models:/" URI: MLflow resolves those through the process-wide registry URI.
        with _version_must_exist(model_name, version):
            uri = self._client.get_model_version_download_uri(model_name, version)
        # A progress bar per load would flood a worker's log; users can still turn it on.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=self.tracking_uri
            )
            # The MLmodel file carries skops_trusted_types, so tree models load as they are.
            return mlflow.sklearn.load_model(local)


@contextmanager
def _reachable(tracking_uri: str) -> Iterator[None]:
    """MLflow's "the request did not get through" as the core's ``Unavailable``.

    MLflow's REST client reports a connection it could not make, after its retries
    (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``), as "API request to ... failed with exception ...".
    """
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if not str(exc.message).startswith("API request to"):
            raise
        where = _without_credentials(tracking_uri)
        detail = str(exc.message).replace(tracking_uri.rstrip("/"), where.rstrip("/"))
        raise Unavailable(f"MLflow at {where} is unreachable: {detail}") from exc


def _without_credentials(uri: str) -> str:
    parsed = urlparse(uri)
    host = (parsed.hostname or "") + (f":{parsed.port}" if parsed.port else "")
    return parsed._replace(netloc=host).geturl()


def _check_model_name(model_name: str) -> None:
    if not isinstance(model_name, str) or not model_name.strip():
        raise ValueError("model_name must be a non-empty string")
    # MLflow refuses "/" and ":"; those and "\\" or dot names would also leave artifact_root.
    if any(c in model_name for c in "/:\\") or model_name.strip(".") == "":
        raise ValueError(f"model_name {model_name!r} must not contain '/', ':' or '\\'")


def _check_version(version: str) -> str:
    text = str(version).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"version must be a registered model version such as '3', got {version!r}")
    return str(int(text))


def _canonical_stage(stage: str | None) -> str | None:
    if stage is None:
        return None
    canonical = _STAGES.get(str(stage).strip().lower())
    if canonical is None:
        raise ValueError(f"stage must be 'Staging', 'Production' or None, got {stage!r}")
    return canonical


def _metric_values(metrics: Mapping[str, float]) -> dict[str, float]:
    values = {}
    for name, value in metrics.items():
        try:
            values[str(name)] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {name!r} must be a number, got {value!r}") from None
    return values


def _signature(model: Any, input_example: DataFrame) -> ModelSignature:
    import pandas as pd
    from mlflow.models import infer_signature

    if not isinstance(input_example, pd.DataFrame) or input_example.empty:
        raise ValueError("input_example must be a non-empty DataFrame of feature columns")
    sample = input_example.head(_SIGNATURE_ROWS)
    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values is advice for serving.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        return infer_signature(sample, model.predict(sample))


def _untrusted_skops_types(model: Any) -> list[str]:
    """The types in ``model`` that skops refuses to load unless told to trust them."""
    import skops.io

    # Asking skops about its own dump is exact. Walking the estimators is not: the types it
    # refuses are internals such as TreePredictor, Tree and numpy.dtype. They come from a model
    # this process fitted, so trusting them adds no risk.
    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def _pip_requirements() -> list[str]:
    return [f"{name}=={installed_version(name)}" for name in _PINNED_PACKAGES]


@contextmanager
def _version_must_exist(model_name: str, version: str) -> Iterator[None]:
    """Turn MLflow's "not found" for a model or version into a ValueError a person can read."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if exc.error_code != _NOT_FOUND:
            raise
        raise ValueError(f"model {model_name!r} has no registered version {version}") from exc


def _is_uri(location: str) -> bool:
    return len(urlparse(location).scheme) > 1  # one letter is a Windows drive


def _absolute_artifact_root(artifact_root: Path | str) -> str:
    text = str(artifact_root)
    if isinstance(artifact_root, str) and _is_uri(text):
        return text.rstrip("/")
    # Absolute, so artifacts do not move with the working directory of later processes.
    return str(Path(text).expanduser().resolve())


def _join_location(artifact_root: str, model_name: str) -> str:
    if _is_uri(artifact_root):
        return f"{artifact_root}/{model_name}"
    return str(Path(artifact_root, model_name))
