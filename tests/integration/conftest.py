"""Integration fixtures: real Postgres and Redis, real worker and Beat processes.

Each test module gets its own Postgres database (dropped afterwards) and its own Redis
database number on the shared server, so concurrent test runs do not see each other's jobs or
messages. The servers come from ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL`` (defaults:
``postgres@127.0.0.1:5432`` and ``127.0.0.1:6379``, what ``scripts/ensure_services.sh`` starts).
A server that does not answer fails the test; it is never skipped.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dist_harness import Processes, Stack, fresh_database
from sqlalchemy.engine import make_url

from shared.settings import normalize_database_url

DEFAULT_DATABASE_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_SERVER = "redis://127.0.0.1:6379/0"
_REDIS_CLAIM_KEY = "retraining-itest:claimed-by"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Teardown prints the processes' logs only when the test itself failed.
    report = yield
    if report.when == "call":
        item.itest_failed = report.failed
    return report


@pytest.fixture(scope="session")
def database_server():
    """The SQLAlchemy URL of the Postgres server (its ``postgres`` database), checked."""
    import psycopg2

    url = make_url(
        normalize_database_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_SERVER)
    )
    admin = url.set(drivername="postgresql", database="postgres")
    try:
        psycopg2.connect(admin.render_as_string(hide_password=False), connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"Postgres does not answer at {url.render_as_string(hide_password=True)}: "
            f"{str(exc).strip()}. Start it (scripts/ensure_services.sh) or set TEST_DATABASE_URL.",
            pytrace=False,
        )
    return admin


@pytest.fixture(scope="module")
def database_url(database_server, request) -> Iterator[str]:
    """A fresh Postgres database for this test module; dropped at its end."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:30]
    with fresh_database(database_server, f"itest_{module}") as url:
        yield url


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The Redis server's URL without a database number, checked."""
    import redis

    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_SERVER
    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis does not answer at {url}: {exc}. Start it (scripts/ensure_services.sh) or "
            "set TEST_REDIS_URL.",
            pytrace=False,
        )
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="module")
def redis_url(redis_server) -> Iterator[str]:
    """A Redis database number on the shared server that no one else is using, emptied after.

    A database is claimed with SET NX of a marker key, and only when nothing else is in it.
    """
    import redis

    token = uuid.uuid4().hex
    numbers = list(range(1, 16))
    random.shuffle(numbers)
    for number in numbers:
        client = redis.Redis.from_url(f"{redis_server}/{number}")
        if not client.set(_REDIS_CLAIM_KEY, token, nx=True, ex=3600):
            continue
        if client.dbsize() == 1:
            break
        client.delete(_REDIS_CLAIM_KEY)  # someone else's data is there: leave it alone
    else:
        pytest.fail(f"no free Redis database (1-15) on {redis_server}", pytrace=False)
    try:
        yield f"{redis_server}/{number}"
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An MLflow SQLite store migrated once; each test copies it (migrating takes seconds)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def processes(request, tmp_path) -> Iterator[Processes]:
    """Processes the test starts; all of them are stopped in teardown, whatever happened."""
    started = Processes(tmp_path / "logs")
    try:
        yield started
    finally:
        if getattr(request.node, "itest_failed", True):
            print(started.tails())
        started.stop_all()


@pytest.fixture
def make_stack(tmp_path, processes, mlflow_template):
    """``make_stack(database_url, redis_url, **env)``: one deployment's state and processes."""

    def make(database_url: str, redis_url: str, **extra: str) -> Stack:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        mlflow_db = tmp_path / "mlflow.db"
        shutil.copyfile(mlflow_template, mlflow_db)
        return Stack(home, database_url, redis_url, f"sqlite:///{mlflow_db}", processes, extra)

    return make
