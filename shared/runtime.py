"""The parts one process works with: database, repositories, MLflow registry, file layout."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from shared.checks import CheckRepository
from shared.db.engine import create_engine_for, migrate
from shared.jobs import JobRepository
from shared.model_store import ModelRepository
from shared.settings import Settings


class Runtime:
    """Opened explicitly (never at import); the schema is migrated on open."""

    def __init__(self, settings: Settings) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.engine = create_engine_for(settings.database_url)
        migrate(self.engine)
        self.jobs = JobRepository(self.engine)
        self.models = ModelRepository(self.engine)
        self.checks = CheckRepository(self.engine)

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(Settings.from_env())

    @cached_property
    def registry(self):
        """The MLflow registry, created on first use so MLflow is imported only where needed."""
        from shared.registry import ModelRegistry

        return ModelRegistry(self.settings.mlflow_tracking_uri, self.settings.artifact_root)

    def model_dir(self, model_name: str) -> Path:
        path = self.settings.models_dir / model_name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def check_report_path(self, model_name: str, check_id: str) -> Path:
        path = self.settings.reports_dir / model_name / "checks"
        path.mkdir(parents=True, exist_ok=True)
        return path / f"{check_id}.html"

    def dispose(self) -> None:
        self.engine.dispose()
