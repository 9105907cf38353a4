"""The MLflow registry: logging candidates, the champion alias and stages, loading models.

One sqlite tracking DB serves the whole module (creating one runs MLflow's migrations, ~2 s).
The module works in an empty directory, so any MLflow call that fell back to the process-wide
default store (./mlflow.db, ./mlruns) would leave a file there.
"""

import shutil
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shared.registry import LoggedModel, ModelRegistry

NUMERIC = ["x1", "x2"]
REPO_ROOT = Path(__file__).resolve().parents[2]


def features(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.integers(0, 10, size=n),
            "color": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    frame.loc[::17, "x1"] = np.nan
    label = ((frame["x1"].fillna(0) + (frame["color"] == "red")) > 0.4).astype(int)
    return frame, label


def preprocessing() -> ColumnTransformer:
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    return ColumnTransformer([("num", numeric, NUMERIC), ("cat", categorical, ["color"])])


def tree_model(X: pd.DataFrame, y: pd.Series) -> Pipeline:
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0)
    return Pipeline([("prep", preprocessing()), ("model", model)]).fit(X, y)


def linear_model(X: pd.DataFrame, y: pd.Series) -> Pipeline:
    return Pipeline([("prep", preprocessing()), ("model", LogisticRegression())]).fit(X, y)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """An empty current directory for the module, so a leak to MLflow's defaults shows."""
    root = tmp_path_factory.mktemp("registry")
    cwd = root / "cwd"
    cwd.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        yield root


@pytest.fixture(scope="module")
def empty_db(workdir) -> Path:
    """A freshly migrated, empty tracking DB, created once through a registry and kept aside."""
    db = workdir / "empty.db"
    ModelRegistry(f"sqlite:///{db}", workdir / "unused").champion_version("nothing")
    return db


def registry_on_copy(empty_db: Path, name: str) -> ModelRegistry:
    db = empty_db.with_name(f"{name}.db")
    shutil.copy(empty_db, db)
    return ModelRegistry(f"sqlite:///{db}", empty_db.parent / f"{name}-artifacts")


@pytest.fixture(scope="module")
def registry(empty_db) -> ModelRegistry:
    return registry_on_copy(empty_db, "main")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return features()


@pytest.fixture(scope="module")
def models(data) -> dict[str, Pipeline]:
    X, y = data
    return {"tree": tree_model(X, y), "linear": linear_model(X, y)}


@pytest.fixture(scope="module")
def logged(registry, models, data) -> dict[str, LoggedModel]:
    X, _ = data
    return {
        kind: registry.log_candidate(
            f"{kind}-model",
            model,
            X,
            params={"max_iter": 15, "kind": kind},
            metrics={"accuracy": 0.91, "f1_score": 0.9},
            tags={"trigger": "manual", "job_id": "42"},
        )
        for kind, model in models.items()
    }


def client_of(registry: ModelRegistry):
    """A separate MLflow client on the registry's store, to check what really landed there."""
    from mlflow import MlflowClient

    return MlflowClient(registry.tracking_uri, registry_uri=registry.tracking_uri)


def model_files(registry: ModelRegistry, name: str, version: str) -> Path:
    source = client_of(registry).get_model_version(name, version).source
    return Path(source.removeprefix("file://"))


def test_importing_the_module_does_not_import_mlflow():
    code = "import sys, shared.registry; print('mlflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_log_candidate_records_run_and_registers_first_version(registry, logged):
    client = client_of(registry)
    for kind, result in logged.items():
        assert result.version == "1"
        run = client.get_run(result.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params == {"max_iter": "15", "kind": kind}
        assert run.data.metrics == {"accuracy": 0.91, "f1_score": 0.9}
        assert run.data.tags["trigger"] == "manual"
        assert run.data.tags["job_id"] == "42"
        experiment = client.get_experiment(run.info.experiment_id)
        assert experiment.name == f"retraining/{kind}-model"
        assert experiment.artifact_location == str(Path(registry.artifact_root, f"{kind}-model"))
        version = client.get_model_version(f"{kind}-model", "1")
        assert version.run_id == result.run_id
        assert version.status == "READY"


def test_tree_model_is_stored_as_skops_with_its_trusted_types(registry, logged):
    files = model_files(registry, "tree-model", logged["tree"].version)
    assert files.is_relative_to(registry.artifact_root)
    assert (files / "model.skops").is_file()
    flavor = yaml.safe_load((files / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops"
    predictor = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
    assert predictor in flavor["skops_trusted_types"]
    requirements = (files / "requirements.txt").read_text().split()
    for package in ("scikit-learn", "pandas", "numpy", "skops"):
        assert f"{package}=={installed_version(package)}" in requirements


def test_signature_comes_from_the_input_example(registry, logged):
    files = model_files(registry, "linear-model", logged["linear"].version)
    signature = yaml.safe_load((files / "MLmodel").read_text())["signature"]
    assert [column["name"] for column in yaml.safe_load(signature["inputs"])] == [
        "x1",
        "x2",
        "color",
    ]


@pytest.mark.parametrize("kind", ["tree", "linear"])
def test_loaded_model_predicts_like_the_original(registry, logged, models, data, kind):
    X, _ = data
    elsewhere = ModelRegistry(registry.tracking_uri, registry.artifact_root)  # nothing cached
    loaded = elsewhere.load(f"{kind}-model", logged[kind].version)
    assert loaded is not models[kind]
    np.testing.assert_array_equal(loaded.predict(X), models[kind].predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), models[kind].predict_proba(X))


def test_load_reuses_a_loaded_version(registry, logged):
    elsewhere = ModelRegistry(registry.tracking_uri, registry.artifact_root)
    first = elsewhere.load("tree-model", logged["tree"].version)
    assert elsewhere.load("tree-model", int(logged["tree"].version)) is first


def test_the_registry_that_logged_a_model_serves_it_without_a_download(registry, logged, models):
    # the next job of the model scores it as champion; the process that trained it has it
    assert registry.load("tree-model", logged["tree"].version) is models["tree"]


def test_promote_moves_alias_and_stage_between_versions(registry, models, data):
    X, _ = data
    client = client_of(registry)
    name = "promoted-model"
    log = dict(params={}, metrics={"accuracy": 0.8}, tags={})
    v1 = registry.log_candidate(name, models["linear"], X, **log).version
    v2 = registry.log_candidate(name, models["linear"], X, **log).version
    assert (v1, v2) == ("1", "2")
    assert registry.champion_version(name) is None

    registry.promote(name, v1, stage="Production")
    assert registry.champion_version(name) == "1"
    assert client.get_model_version(name, "1").current_stage == "Production"

    registry.promote(name, v2, stage="production")
    assert registry.champion_version(name) == "2"
    assert client.get_model_version(name, "2").current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"

    registry.promote(name, v1, stage=None)
    assert registry.champion_version(name) == "1"
    assert client.get_model_version(name, "2").current_stage == "Production"


def test_promote_keeps_the_alias_when_the_store_refuses_stages(
    registry, logged, monkeypatch, caplog
):
    from mlflow.exceptions import MlflowException

    def refuse(*args, **kwargs):
        raise MlflowException("stages are not supported by this registry")

    monkeypatch.setattr("mlflow.MlflowClient.transition_model_version_stage", refuse)
    registry.promote("tree-model", logged["tree"].version, stage="Staging")
    assert registry.champion_version("tree-model") == logged["tree"].version
    assert "stages are not supported" in caplog.text


def test_a_candidate_that_fails_to_upload_leaves_a_failed_run_and_no_version(
    registry, models, data, monkeypatch
):
    import mlflow.sklearn

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    X, _ = data
    monkeypatch.setattr(mlflow.sklearn, "save_model", broken_save)
    with pytest.raises(OSError, match="disk full"):
        registry.log_candidate("failing-model", models["linear"], X, params={}, metrics={}, tags={})
    client = client_of(registry)
    experiment = client.get_experiment_by_name("retraining/failing-model")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions("name='failing-model'") == []


def test_a_deleted_experiment_is_restored_for_the_next_candidate(registry, models, data):
    X, _ = data
    client = client_of(registry)
    log = dict(params={}, metrics={}, tags={})
    first = registry.log_candidate("restored-model", models["linear"], X, **log)
    client.delete_experiment(client.get_run(first.run_id).info.experiment_id)

    second = registry.log_candidate("restored-model", models["linear"], X, **log)
    experiment = client.get_experiment(client.get_run(second.run_id).info.experiment_id)
    assert experiment.lifecycle_stage == "active"
    assert experiment.name == "retraining/restored-model"
    assert second.version == "2"


def test_champion_version_is_none_for_an_unknown_model(registry):
    assert registry.champion_version("never-logged") is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.promote("tree-model", "99", stage=None), "no registered version 99"),
        (lambda r: r.promote("never-logged", "1", stage=None), "no registered version 1"),
        (lambda r: r.promote("tree-model", "1", stage="Archived"), "stage must be"),
        (lambda r: r.promote("tree-model", "latest", stage=None), "version must be"),
        (lambda r: r.load("tree-model", "99"), "no registered version 99"),
        (lambda r: r.champion_version("a/b"), "model_name"),
        (lambda r: r.champion_version(" "), "model_name"),
    ],
)
def test_bad_names_versions_and_stages_raise_value_error(registry, logged, call, message):
    with pytest.raises(ValueError, match=message):
        call(registry)


@pytest.mark.parametrize(
    ("name", "example", "metrics", "message"),
    [
        ("bad:name", "frame", {}, "model_name"),
        ("ok-model", "frame", {"accuracy": "high"}, "metric 'accuracy'"),
        ("ok-model", "empty", {}, "input_example"),
    ],
)
def test_invalid_candidates_are_refused_before_any_run(
    registry, models, data, name, example, metrics, message
):
    X, _ = data
    frame = X if example == "frame" else X.iloc[:0]
    with pytest.raises(ValueError, match=message):
        registry.log_candidate(name, models["linear"], frame, params={}, metrics=metrics, tags={})
    assert client_of(registry).get_experiment_by_name("retraining/ok-model") is None


def test_registries_on_different_stores_stay_apart(registry, empty_db, models, data, logged):
    import mlflow
    from mlflow.exceptions import MlflowException

    X, _ = data
    global_uri = mlflow.get_tracking_uri()
    other = registry_on_copy(empty_db, "other")
    result = other.log_candidate("tree-model", models["tree"], X, params={}, metrics={}, tags={})
    other.promote("tree-model", result.version, stage="Production")

    assert result.version == "1"
    assert other.champion_version("tree-model") == "1"
    assert model_files(other, "tree-model", "1").is_relative_to(other.artifact_root)
    with pytest.raises(MlflowException):
        client_of(other).get_run(logged["tree"].run_id)
    assert client_of(other).get_experiment_by_name("retraining/linear-model") is None
    np.testing.assert_array_equal(
        other.load("tree-model", "1").predict(X), models["tree"].predict(X)
    )
    assert mlflow.get_tracking_uri() == global_uri
    assert list(Path.cwd().iterdir()) == []
