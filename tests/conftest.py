"""Fixtures shared by the whole suite: a private data directory per test, and Postgres.

Every test that touches state gets its own ``RETRAINING_HOME`` (SQLite job store, MLflow
store, reports), so no test sees another's rows. Creating an MLflow store runs its migrations
(seconds), so ``make_home`` starts each data directory from a copy of one empty store made
once per session. Postgres tests share one database created for this pytest session and
dropped at its end.
"""

from __future__ import annotations

import os

# One thread per fit, as `retrain worker` sets it: the machine runs tests, workers and servers
# at once, and OpenMP threads spinning against each other turn seconds of training into minutes.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared.check_pages import background_idle
from shared.runtime import Runtime
from shared.settings import Settings, normalize_database_url

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/retraining_test"


@pytest.fixture
def settings(tmp_path, request) -> Settings:
    """Embedded-mode settings (SQLite, MLflow on SQLite) under this test's own directory.

    A check's Evidently page is a child process rendering for seconds: only tests marked
    ``pages`` get one.
    """
    pages = request.node.get_closest_marker("pages") is not None
    return Settings.from_env(
        {"RETRAINING_HOME": str(tmp_path / "home"), "RETRAINING_CHECK_REPORTS": str(pages)}
    )


@pytest.fixture
def runtime(settings) -> Iterator[Runtime]:
    """A migrated job/model store on this test's SQLite database."""
    runtime = Runtime(settings)
    yield runtime
    background_idle()  # a check's page rendering in the background: done before the next test
    runtime.dispose()


@pytest.fixture
def ml_runtime(tmp_path, make_home) -> Iterator[Runtime]:
    """A runtime whose MLflow store is ready (a copy of the session's empty one)."""
    runtime = Runtime(make_home(tmp_path / "home"))
    yield runtime
    runtime.dispose()


@pytest.fixture(scope="session")
def mlflow_store_template(tmp_path_factory) -> Path:
    """An initialized, empty MLflow tracking store (SQLite) to copy into data directories."""
    from shared.registry import ModelRegistry

    directory = tmp_path_factory.mktemp("mlflow_template")
    registry = ModelRegistry(f"sqlite:///{directory / 'mlflow.db'}", directory / "artifacts")
    assert registry.champion_version("nothing") is None  # creates the tables
    return directory / "mlflow.db"


@pytest.fixture(scope="session")
def make_home(mlflow_store_template) -> Callable[..., Settings]:
    """``make_home(directory, **env)``: settings for a data directory with a ready MLflow store.

    ``env`` adds variables such as ``DATABASE_URL``; usable from fixtures of any scope. Checks
    store no Evidently page (a child process rendering for seconds, beside the suite) unless
    ``RETRAINING_CHECK_REPORTS="true"`` is given.
    """

    def make(directory: Path, **env: str) -> Settings:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(mlflow_store_template, directory / "mlflow.db")
        return Settings.from_env(
            {"RETRAINING_HOME": str(directory), "RETRAINING_CHECK_REPORTS": "false", **env}
        )

    return make


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named Postgres database for this session; dropped at the end.

    The server comes from ``TEST_DATABASE_URL`` (default: ``postgres@127.0.0.1:5432``). An
    unreachable server fails the test: CI must not pass with a service missing.
    """
    import psycopg2

    base = make_url(
        normalize_database_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)
    )
    name = f"{base.database or 'retraining_test'}_{uuid.uuid4().hex[:10]}"
    admin_dsn = base.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    try:
        admin = psycopg2.connect(admin_dsn, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        problem = " ".join(str(exc).split())
    else:
        problem = None
    if problem is not None:
        pytest.fail(
            f"Postgres is unreachable at {base.render_as_string(hide_password=True)} "
            f"({problem}). Start it with scripts/ensure_services.sh, or point "
            "TEST_DATABASE_URL at a server this user can create databases on.",
            pytrace=False,
        )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cursor:
            # FORCE: engines a failed test left open must not keep the database alive
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
