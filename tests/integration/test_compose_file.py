"""docker-compose.yml, checked against the code it runs (no Docker engine on this machine).

Every service, port, environment variable and command is compared with what the product
reads: the settings classes parse the services' environment, the ``retrain`` CLI's own parser
parses their commands (MLflow's own CLI the MLflow server's), and the URLs point at services
that exist, with the credentials and ports those services are given.

It must also hold on more than one host: no volume is shared by two services (the product
keeps its files in the database and in MLflow's artifact store, which the MLflow server owns),
and MLflow, published so that workers elsewhere reach it, requires a user.
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
CORE_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "RETRAINING_HOME",
}
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


def _mounts(service: dict) -> list[tuple[str | None, str]]:
    """(source, target) of each volume: a named volume, a host path, or None (anonymous)."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((volume.get("source"), volume["target"]))
            continue
        parts = volume.split(":")
        mounts.append((parts[0], parts[1]) if len(parts) > 1 else (None, parts[0]))
    return mounts


def _named(source: str | None) -> bool:
    return source is not None and not source.startswith((".", "/", "~"))


def _mlflow_server_options(command: list[str]) -> dict:
    """``mlflow server ...`` parsed by MLflow's own CLI: an unknown option fails here."""
    import click
    from mlflow.cli import server

    assert command[:2] == ["mlflow", "server"]
    try:
        return server.make_context("mlflow server", command[2:]).params
    except click.UsageError as exc:
        pytest.fail(f"mlflow server refuses the command: {exc}", pytrace=False)


def _mlflow_variables() -> set[str]:
    import mlflow.environment_variables

    return {name for name in dir(mlflow.environment_variables) if name.startswith("MLFLOW_")}


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
    # MLflow's client reads MLFLOW_TRACKING_USERNAME/PASSWORD itself, not our code
    known = _code_variables() | _mlflow_variables()
    for name in APP_SERVICES | {"flower"}:
        unknown = set(_env(services[name])) - known
        assert not unknown, f"{name}: the code reads no {sorted(unknown)}"
        if name in APP_SERVICES:
            assert set(_env(services[name])) >= CORE_VARIABLES, name
    for name in ("postgres", "mlflow-db"):
        assert set(_env(services[name])) <= IMAGE_VARIABLES, name
    unknown = set(_env(services["mlflow"])) - _mlflow_variables()
    assert not unknown, f"mlflow: MLflow reads no {sorted(unknown)}"


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


def test_no_volume_is_shared_between_services(services):
    """What one container writes, another on another host could not read: nothing is shared."""
    users: dict[str, set[str]] = {}
    for name, service in services.items():
        for source, target in _mounts(service):
            assert source is None or _named(source), f"{name}: a host path {source} at {target}"
            if _named(source):
                users.setdefault(source, set()).add(name)
    shared = {volume: names for volume, names in users.items() if len(names) > 1}
    assert not shared, f"volumes mounted by several services: {shared}"


def test_the_products_data_directory_is_only_a_cache(services):
    """Reference data, profiles and reports are in Postgres, models in MLflow: /data may vanish."""
    for name in APP_SERVICES | {"flower"}:
        home = _env(services[name])["RETRAINING_HOME"]
        named = [source for source, target in _mounts(services[name]) if _named(source)]
        assert not named, f"{name} keeps state on a volume: {named}"
        assert home == "/data", name
    for name in APP_SERVICES:
        settings = Settings.from_env(_env(services[name]))
        # None: new experiments keep artifacts in the tracking server's store, not under /data
        assert settings.model_artifact_root is None, name


def test_mlflow_serves_artifacts_from_a_volume_only_it_mounts(services):
    command = _command(services["mlflow"])
    params = _mlflow_server_options(command)
    assert "--serve-artifacts" in command and params["serve_artifacts"] is True
    destination = params["artifacts_destination"]
    owners = [
        source
        for source, target in _mounts(services["mlflow"])
        if _named(source) and (destination + "/").startswith(target.rstrip("/") + "/")
    ]
    assert owners, f"--artifacts-destination {destination} is on no volume of the mlflow service"
    (volume,) = owners
    others = [n for n, s in services.items() if n != "mlflow" and volume in dict(_mounts(s))]
    assert not others, f"{volume} is also mounted by {others}"
    assert not params["default_artifact_root"], "artifacts must go through the server"


def test_mlflow_is_published_only_behind_its_basic_auth(raw, services):
    mlflow = services["mlflow"]
    if not _published(mlflow):
        return  # reached only inside the Compose network
    options = _mlflow_server_options(_command(mlflow))
    assert options["app_name"] == "basic-auth", "MLflow is published with no login"
    env = _env(mlflow)
    # ${...:?} in the file: Compose refuses to start without them; MLflow ships no password
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == "required-mlflow_tracking_password"
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == "required-mlflow_flask_server_secret_key"
    for name in APP_SERVICES:
        app = _env(services[name])
        # the product logs in as the admin user the server creates
        assert app["MLFLOW_TRACKING_USERNAME"] == env["MLFLOW_AUTH_ADMIN_USERNAME"], name
        assert app["MLFLOW_TRACKING_PASSWORD"] == env["MLFLOW_AUTH_ADMIN_PASSWORD"], name
    # the auth app's config, written by the image: its user store must outlive the container
    # and be readable by nobody else (not under the served artifacts either)
    config_path = env["MLFLOW_AUTH_CONFIG_PATH"]
    config = _file_written_by_the_image(raw, config_path)
    database = re.search(r"^database_uri = sqlite:///(/\S+)$", config, re.MULTILINE)
    assert database, f"{config_path}: the user store should be a SQLite file\n{config}"
    directory = str(Path(database.group(1)).parent)
    mounts = {target: source for source, target in _mounts(mlflow)}
    assert _named(mounts.get(directory)), f"the user store {directory} is not on a volume"
    assert directory != options["artifacts_destination"]
    assert "default_permission = READ" in config


def test_the_header_states_the_compose_version_the_file_needs(raw):
    header = "\n".join(
        line for line in COMPOSE.read_text().splitlines()[:5] if line.startswith("#")
    )
    found = re.search(r"Compose (\d+)\.(\d+) or later", header)
    assert found, "the first lines must state the minimum Docker Compose version"
    # dockerfile_inline appeared in Compose 2.17
    assert "dockerfile_inline" in raw["x-app-build"]
    assert (int(found.group(1)), int(found.group(2))) >= (2, 17)


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


def _file_written_by_the_image(raw: dict, path: str) -> str:
    """What the Dockerfile's ``printf FORMAT ARGS > path`` writes, as the shell would."""
    dockerfile = raw["x-app-build"]["dockerfile_inline"].replace("\\\n", " ")
    found = re.search(rf"printf\s+('[^']*'(?:\s+[^\s>&]+)*)\s*>\s*{re.escape(path)}", dockerfile)
    assert found, f"the image does not write {path}"
    format_, *arguments = shlex.split(found.group(1))
    return format_.replace("\\n", "\n") % tuple(arguments)


def _host_port(url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(url)
    return parts.hostname, parts.port
