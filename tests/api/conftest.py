"""Fixtures of the HTTP API tests: data files, private data directories, apps and servers.

MLflow creates its SQLite store in ~13 s; every data directory here starts from a copy of
one store created once per session, so each test pays that only once.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from api import create_app
from api.settings import ApiSettings
from retraining.synthetic import make_churn_frame
from retraining.wiring import distributed_publisher
from shared.settings import Settings


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An initialized, empty MLflow store to copy into each data directory."""
    from shared.registry import ModelRegistry

    directory = tmp_path_factory.mktemp("mlflow-template")
    registry = ModelRegistry(f"sqlite:///{directory / 'mlflow.db'}", directory / "artifacts")
    assert registry.champion_version("nothing") is None  # creates the tables
    return directory / "mlflow.db"


@pytest.fixture
def new_home(tmp_path, mlflow_template) -> Callable[[str], Path]:
    def make(name: str = "home") -> Path:
        home = tmp_path / name
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(mlflow_template, home / "mlflow.db")
        return home

    return make


@pytest.fixture(scope="session")
def data_files(tmp_path_factory) -> dict[str, Path]:
    """Training data (Parquet) and drifted current data (CSV), as a user would have them."""
    directory = tmp_path_factory.mktemp("data")
    paths = {
        "training": directory / "training.parquet",
        "current": directory / "current.csv",
        "stable": directory / "stable.csv",
    }
    make_churn_frame(1200, seed=1).drop(columns="timestamp").to_parquet(paths["training"])
    make_churn_frame(300, seed=2, drift=0.9).drop(columns="timestamp").to_csv(
        paths["current"], index=False
    )
    make_churn_frame(300, seed=3).drop(columns="timestamp").to_csv(paths["stable"], index=False)
    return paths


@pytest.fixture
def make_app(new_home) -> Iterator[Callable[..., object]]:
    """``make_app(**api_settings)``: an app on a fresh data directory, closed afterwards."""
    apps = []

    def make(settings: Settings | None = None, **api_options):
        if settings is None:
            home = new_home(f"home{len(apps)}")
            settings = Settings.from_env({"RETRAINING_HOME": str(home)})
        options = {"dispatch_interval_seconds": 1.0, **api_options}
        app = create_app(settings, ApiSettings(**options), distributed_publisher)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["retraining"].close()


@pytest.fixture
def client(make_app):
    return make_app().test_client()
