"""Where state lives, read from the environment once at the edge.

| variable              | default (the embedded mode)                         |
|-----------------------|-----------------------------------------------------|
| RETRAINING_HOME       | ./.retraining                                       |
| DATABASE_URL          | sqlite:///$RETRAINING_HOME/retraining.db            |
| MLFLOW_TRACKING_URI   | sqlite:///$RETRAINING_HOME/mlflow.db                |
| RETRAINING_ARTIFACT_ROOT | see ``Settings.model_artifact_root``             |
| REDIS_URL             | unset: jobs run in-process                          |

With a database and an MLflow store that every host reaches, ``RETRAINING_HOME`` is only a
cache (``cache/``) that any process may lose: reference data, profiles and reports live in
the database (``shared.storage``), model artifacts in MLflow's artifact store.

Job supervision: ``RETRAINING_JOB_LEASE_SECONDS`` (120: a running job silent this long lost
its worker), ``RETRAINING_JOB_MAX_ATTEMPTS`` (3), ``RETRAINING_PENDING_REPUBLISH_SECONDS``
(60: a pending job nobody claimed this long is published again), ``RETRAINING_JOB_TIME_LIMIT``
(3600: a job's deadline; Celery kills a training then, and a candidate finished later is
refused as stale).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    mlflow_tracking_uri: str
    redis_url: str | None = None
    artifact_root: str | None = None  # RETRAINING_ARTIFACT_ROOT, as given
    check_reports: bool = True  # RETRAINING_CHECK_REPORTS: Evidently's page for each check
    job_lease_seconds: float = 120.0
    job_max_attempts: int = 3
    pending_republish_seconds: float = 60.0
    job_time_limit_seconds: float = 3600.0

    @property
    def model_artifact_root(self) -> str | None:
        """Where new experiments keep model artifacts; None: the tracking server's own store.

        An explicit ``RETRAINING_ARTIFACT_ROOT`` (any URI MLflow accepts, e.g. s3://bucket/x)
        wins. A tracking server (http, https) has a store every host reaches (proxied
        ``mlflow-artifacts:`` when it serves artifacts). Otherwise (a SQLite or database
        store) artifacts go to this host's ``$RETRAINING_HOME/mlartifacts``: fine for one
        host, not for workers on several.
        """
        if self.artifact_root:
            return self.artifact_root
        if self.mlflow_tracking_uri.split(":", 1)[0].lower() in ("http", "https", "databricks"):
            return None
        return str(self.home / "mlartifacts")

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def distributed(self) -> bool:
        return self.redis_url is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("RETRAINING_HOME") or ".retraining").expanduser().resolve()
        return cls(
            home=home,
            database_url=normalize_database_url(
                env.get("DATABASE_URL") or f"sqlite:///{home / 'retraining.db'}"
            ),
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}",
            redis_url=env.get("REDIS_URL") or None,
            artifact_root=env.get("RETRAINING_ARTIFACT_ROOT") or None,
            check_reports=(env.get("RETRAINING_CHECK_REPORTS") or "true").lower()
            not in ("0", "false", "no", "off"),
            job_lease_seconds=positive_number(env, "RETRAINING_JOB_LEASE_SECONDS", 120.0),
            job_max_attempts=int(positive_number(env, "RETRAINING_JOB_MAX_ATTEMPTS", 3)),
            pending_republish_seconds=positive_number(
                env, "RETRAINING_PENDING_REPUBLISH_SECONDS", 60.0
            ),
            job_time_limit_seconds=job_time_limit(env),
        )

    @property
    def heartbeat_interval_seconds(self) -> float:
        # several beats per lease, so one slow beat does not look like a lost worker
        return self.job_lease_seconds / 8

    def ensure_dirs(self) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)


def job_time_limit(env: Mapping[str, str]) -> float:
    """A job's deadline in seconds (``RETRAINING_JOB_TIME_LIMIT``): Celery's hard time limit
    of a training and the age after which its candidate is stale."""
    return positive_number(env, "RETRAINING_JOB_TIME_LIMIT", 3600)


def normalize_database_url(url: str) -> str:
    """SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; we ship psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number from the environment; ``ValueError`` naming the variable."""
    raw = env.get(name)
    if raw in (None, ""):
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name}: must be positive, got {raw!r}")
    return value
