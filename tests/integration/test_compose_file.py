"""docker-compose.yml, checked against the code it runs (no Docker engine on this machine).

Every service, port, environment variable and command is compared with what the product
reads: the settings classes parse the services' environment, the ``retrain`` CLI's own parser
parses their commands, and the URLs point at services that exist, with the credentials and
ports those services are given.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from retraining.cli import _parser as retrain_parser
from shared.settings import Settings
from workers.app import create_celery
from workers.config import WorkerConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "docker-compose.yml"

SERVICES = {"postgres", "redis", "mlflow-db", "mlflow", "api", "worker", "beat", "flower"}
APP_SERVICES = {"api", "worker", "beat"}  # the product's processes that use every setting
CORE_VARIABLES = {"DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "RETRAINING_HOME"}
# What the official images read (postgres: POSTGRES_*; the others take none from us).
IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(value: str) -> str:
    """Compose's variable substitution with nothing set: defaults, and a marker for required."""

    def replace(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if operator in (":-", "-"):
            return argument
        if operator in (":?", "?"):
            return f"required-{name.lower()}"
        return ""

    return _INTERPOLATION.sub(replace, value).replace("$$", "$")


def _resolved(node):
    if isinstance(node, str):
        return _interpolate(node)
    if isinstance(node, list):
        return [_resolved(item) for item in node]
    if isinstance(node, dict):
        return {key: _resolved(value) for key, value in node.items()}
    return node


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(raw) -> dict:
    return _resolved(raw["services"])


def _env(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def _command(service: dict) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _published(service: dict) -> set[str]:
    return {str(port) for port in service.get("ports", [])}


def _code_variables() -> set[str]:
    """Every upper-case name quoted in the product's code: a superset of what it reads."""
    names: set[str] = set()
    for folder in ("shared", "workers", "api", "retraining"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            names.update(re.findall(r"[\"']([A-Z][A-Z0-9_]{3,})[\"']", path.read_text()))
    return names


def test_the_whole_stack_is_there(services):
    assert set(services) == SERVICES


def test_every_service_has_a_health_check(services):
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        assert test, f"{name} has no health check"
        assert test[0] in ("CMD", "CMD-SHELL"), name


def test_depends_on_waits_for_healthy_services_that_exist(services):
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert rule == {"condition": "service_healthy"}, (name, dependency)
            assert services[dependency].get("healthcheck"), dependency
    for name in APP_SERVICES | {"flower"}:
        assert "redis" in services[name]["depends_on"], name
    for name in ("api", "worker"):
        assert {"postgres", "mlflow"} <= set(services[name]["depends_on"]), name


def test_redis_keeps_every_message(services):
    command = " ".join(_command(services["redis"]))
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


def test_retrain_commands_parse_with_the_cli(services):
    parsed = {}
    for name in ("api", "worker", "beat", "flower"):
        command = _command(services[name])
        assert command[0] == "retrain", name
        parsed[name] = retrain_parser().parse_args(command[1:])  # exits on an unknown option
        assert parsed[name].command == name
    assert parsed["api"].host == "0.0.0.0" and parsed["api"].port == 8000
    assert parsed["flower"].address == "0.0.0.0" and parsed["flower"].port == 5555
    assert parsed["worker"].hostname is None  # the container's name: unique per replica


def test_published_ports(services):
    assert _published(services["api"]) == {"8000:8000"}
    assert _published(services["flower"]) == {"5555:5555"}
    assert _published(services["mlflow"]) == {"5000:5000"}
    for name in ("postgres", "redis", "mlflow-db", "worker", "beat"):
        assert not _published(services[name]), f"{name} needs no host port"


def test_worker_scales(services):
    worker = services["worker"]
    for key in ("container_name", "hostname", "ports"):
        assert key not in worker, f"worker: {key} would break --scale worker=N"
    healthcheck = " ".join(worker["healthcheck"]["test"])
    assert "celery -A workers.app inspect ping" in healthcheck
    assert "celery@$HOSTNAME" in healthcheck  # the default node name of each replica


def test_environment_names_are_read_by_the_code(services):
    known = _code_variables()
    for name in APP_SERVICES | {"flower"}:
        unknown = set(_env(services[name])) - known
        assert not unknown, f"{name}: the code reads no {sorted(unknown)}"
        if name in APP_SERVICES:
            assert set(_env(services[name])) >= CORE_VARIABLES, name
    for name in ("postgres", "mlflow-db"):
        assert set(_env(services[name])) <= IMAGE_VARIABLES, name


def test_settings_read_from_the_app_environment(services):
    postgres = _env(services["postgres"])
    for name in APP_SERVICES:
        env = _env(services[name])
        settings = Settings.from_env(env)
        url = urlsplit(settings.database_url)
        assert settings.database_url.startswith("postgresql+psycopg2://"), name
        assert (url.hostname, url.port) == ("postgres", 5432), name
        assert url.username == postgres["POSTGRES_USER"], name
        assert url.password == postgres["POSTGRES_PASSWORD"], name
        assert url.path == f"/{postgres['POSTGRES_DB']}", name
        assert settings.distributed and _host_port(settings.redis_url) == ("redis", 6379), name
        assert _host_port(settings.mlflow_tracking_uri) == ("mlflow", 5000), name
        assert str(settings.home) == env["RETRAINING_HOME"], name
        config = WorkerConfig.from_env(env)
        app = create_celery(settings, config)
        assert app.conf.broker_url == env["REDIS_URL"], name
        app.close()


def test_models_and_artifacts_are_shared(services):
    """Workers write artifacts under RETRAINING_HOME; the API and MLflow read them there."""
    home = _env(services["worker"])["RETRAINING_HOME"]
    mounts = {}
    for name in ("api", "worker", "mlflow"):
        mounts[name] = {
            volume.split(":")[0]: volume.split(":")[1] for volume in services[name]["volumes"]
        }
    assert mounts["api"].get("retraining-data") == home
    assert mounts["worker"].get("retraining-data") == home
    assert mounts["mlflow"].get("retraining-data") == home


def test_mlflow_server_has_its_own_database(services):
    command = _command(services["mlflow"])
    assert command[:2] == ["mlflow", "server"]
    store = urlsplit(command[command.index("--backend-store-uri") + 1])
    mlflow_db = _env(services["mlflow-db"])
    assert store.scheme == "postgresql+psycopg2" and store.hostname == "mlflow-db"
    assert store.username == mlflow_db["POSTGRES_USER"]
    assert store.password == mlflow_db["POSTGRES_PASSWORD"]
    assert store.path == f"/{mlflow_db['POSTGRES_DB']}"
    assert "--serve-artifacts" in command
    assert command[command.index("--port") + 1] == "5000"
    assert command[command.index("--artifacts-destination") + 1].startswith("/data")
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    assert "mlflow" in allowed and "mlflow:*" in allowed, "other containers call it mlflow"


def test_dashboards_and_api_need_credentials(services):
    flower = _env(services["flower"])
    assert flower["FLOWER_BASIC_AUTH"] == "required-flower_basic_auth"  # ${...:?} in the file
    api = _env(services["api"])
    # `retrain api` refuses to listen beyond loopback without tokens (or --insecure)
    assert api["RETRAINING_API_TOKENS"] == "required-retraining_api_tokens"
    assert "--insecure" not in _command(services["api"])


def test_named_volumes_are_declared(raw, services):
    declared = set(raw.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"


def test_image_build_copies_what_the_package_needs(raw):
    import tomllib

    dockerfile = raw["x-app-build"]["dockerfile_inline"]
    copied: set[str] = set()
    for line in dockerfile.splitlines():
        words = line.split()
        if words[:1] == ["COPY"]:
            copied.update(words[1:-1])
    for source in copied:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    needed = packages | {f"{module}.py" for module in setuptools["py-modules"]}
    needed |= {"pyproject.toml", project["project"]["readme"]}
    assert needed <= copied, f"the image lacks {sorted(needed - copied)}"
    for name in ("mlflow", "api", "worker", "beat", "flower"):
        assert raw["services"][name]["image"] == "auto-retraining:latest", name


def _host_port(url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(url)
    return parts.hostname, parts.port
