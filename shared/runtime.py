"""The parts one process works with: database, repositories, blob store, MLflow registry."""

from __future__ import annotations

from functools import cached_property

from shared.checks import CheckRepository
from shared.db.engine import create_engine_for, migrate_once
from shared.drift import ReferenceStore
from shared.jobs import JobRepository
from shared.model_store import ModelRepository
from shared.settings import Settings
from shared.storage import BlobStore


class Runtime:
    """Opened explicitly (never at import); the schema is migrated on the first open."""

    def __init__(self, settings: Settings) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.engine = create_engine_for(settings.database_url)
        migrate_once(self.engine)
        self.jobs = JobRepository(self.engine)
        self.models = ModelRepository(self.engine)
        self.checks = CheckRepository(self.engine)
        self.blobs = BlobStore(self.engine, settings.cache_dir)
        self.references = ReferenceStore(self.blobs)

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(Settings.from_env())

    @cached_property
    def registry(self):
        """The MLflow registry, created on first use so MLflow is imported only where needed."""
        from shared.registry import ModelRegistry

        return ModelRegistry(self.settings.mlflow_tracking_uri, self.settings.model_artifact_root)

    def dispose(self) -> None:
        self.engine.dispose()
