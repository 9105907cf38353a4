"""Where state lives: the environment read once; the data directory is only a cache."""

from pathlib import Path

import pytest

from shared.settings import Settings


def settings_of(**env: str) -> Settings:
    return Settings.from_env({"RETRAINING_HOME": "/srv/retrain", **env})


def test_the_embedded_default_keeps_everything_under_the_data_directory():
    settings = settings_of()
    assert settings.database_url == "sqlite:////srv/retrain/retraining.db"
    assert settings.mlflow_tracking_uri == "sqlite:////srv/retrain/mlflow.db"
    assert settings.model_artifact_root == "/srv/retrain/mlartifacts"
    assert settings.cache_dir == Path("/srv/retrain/cache")
    assert not settings.distributed


@pytest.mark.parametrize("uri", ["http://mlflow:5000", "https://mlflow.example.com"])
def test_a_tracking_server_keeps_model_artifacts_in_its_own_store(uri):
    assert settings_of(MLFLOW_TRACKING_URI=uri).model_artifact_root is None


def test_an_explicit_artifact_root_wins_over_the_server_and_the_data_directory():
    for uri in ("http://mlflow:5000", "postgresql+psycopg2://db/mlflow"):
        settings = settings_of(MLFLOW_TRACKING_URI=uri, RETRAINING_ARTIFACT_ROOT="s3://b/models")
        assert settings.model_artifact_root == "s3://b/models"


def test_postgres_urls_get_the_driver_the_product_ships():
    settings = settings_of(DATABASE_URL="postgresql://u:p@db:5432/r", REDIS_URL="redis://r:6379/0")
    assert settings.database_url == "postgresql+psycopg2://u:p@db:5432/r"
    assert settings.distributed


def test_a_bad_supervision_number_is_refused_naming_the_variable():
    with pytest.raises(ValueError, match="RETRAINING_JOB_LEASE_SECONDS: must be positive"):
        settings_of(RETRAINING_JOB_LEASE_SECONDS="0")
