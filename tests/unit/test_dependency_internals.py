"""The libraries whose private parts the product uses: those parts are still there and still
behave as the product expects, and each library has an upper bound in pyproject.toml. When a
release changes one, the test says which library and which part, so the bound moves only
after a look. Also: a plain install (no ``[server]`` extra) runs the embedded default."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

# (distribution, module, attribute, where the product uses it)
INTERNALS = [
    ("apiflask", "apiflask.scaffold", "_annotate", "api/validation.py, api/openapi.py"),
    ("flower", "flower.views", "BaseHandler", "workers/flower.py (read-only Flower)"),
    ("flower", "flower.api", "BaseApiHandler", "workers/flower.py (read-only Flower)"),
    ("celery", "celery.bin.celery", "main", "workers/flower.py (runs Flower)"),
]
SERVER_ONLY = ("flask", "apiflask", "gunicorn", "celery", "redis", "flower", "psycopg2-binary")


def requirement(name: str) -> Requirement:
    every = PYPROJECT["dependencies"] + [
        spec for specs in PYPROJECT["optional-dependencies"].values() for spec in specs
    ]
    return next(r for r in map(Requirement, every) if r.name.lower() == name)


def internal(distribution: str, module: str, attribute: str, where: str):
    found = getattr(importlib.import_module(module), attribute, None)
    if found is None:
        pytest.fail(
            f"{distribution} {version(distribution)} has no {module}.{attribute} any more; "
            f"{where} uses it: adapt it, then move the upper bound in pyproject.toml"
        )
    return found


@pytest.mark.parametrize(("distribution", "module", "attribute", "where"), INTERNALS)
def test_each_library_whose_internals_are_used_has_an_upper_bound_it_satisfies(
    distribution, module, attribute, where
):
    specifier = requirement(distribution).specifier
    assert any(s.operator in ("<", "<=", "==", "~=") for s in specifier), (
        f"{distribution} needs an upper bound in pyproject.toml: {where} uses {module}.{attribute}"
    )
    assert specifier.contains(version(distribution), prereleases=True), (
        f"{distribution} {version(distribution)} is outside {specifier}"
    )
    internal(distribution, module, attribute, where)


def test_apiflask_annotate_still_stores_what_its_spec_reads():
    annotate = internal("apiflask", "apiflask.scaffold", "_annotate", "api/validation.py")

    def view():
        return None

    annotate(view, body=dict, content_type="application/json", tags=["t"], hide=True)
    spec = getattr(view, "_spec", None)
    assert isinstance(spec, dict) and spec.get("body") is dict, (
        f"apiflask {version('apiflask')}: _annotate no longer keeps its keywords in "
        "view._spec; api/validation.py and api/openapi.py describe bodies and tags through it"
    )
    assert (spec["content_type"], spec["tags"], spec["hide"]) == ("application/json", ["t"], True)


@pytest.mark.parametrize("module", ["flower.views", "flower.api"])
def test_flower_handlers_are_tornado_handlers_with_prepare(module):
    import tornado.web

    attribute = "BaseHandler" if module == "flower.views" else "BaseApiHandler"
    handler = internal("flower", module, attribute, "workers/flower.py")
    assert issubclass(handler, tornado.web.RequestHandler) and callable(handler.prepare), (
        f"flower {version('flower')}: {module}.{attribute} is no longer a tornado handler whose "
        "prepare() workers/flower.py can wrap to refuse writes"
    )


def test_the_plain_install_needs_none_of_the_server_packages():
    base = {Requirement(spec).name.lower() for spec in PYPROJECT["dependencies"]}
    assert not base & set(SERVER_ONLY), base & set(SERVER_ONLY)
    server = {
        Requirement(spec).name.lower() for spec in PYPROJECT["optional-dependencies"]["server"]
    }
    assert set(SERVER_ONLY) <= server
    dev = PYPROJECT["optional-dependencies"]["dev"]
    assert any(spec.startswith("auto-retraining[server") for spec in dev)  # make test: all


_BLOCKED = [
    "flask",
    "apiflask",
    "werkzeug",
    "gunicorn",
    "celery",
    "kombu",
    "redis",
    "flower",
    "tornado",
    "psycopg2",
    "docker",
    "graphene",
    "matplotlib",
]
_PLAIN_IMPORTS = f"""
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {_BLOCKED!r}:
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
sys.meta_path.insert(0, Blocker())
import mlflow.sklearn, skops.io, croniter, rich
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as Registry
from retraining.scheduler import RetrainingConfig, RetrainingScheduler, RetrainingTrigger
from training.pipeline import TrainingPipeline
import shared.registry, shared.reports, shared.retrain, shared.usecases.checks
from retraining.cli import main
from retraining.cli import local, remote, operate
print("plain imports ok")
print("retrain api:", main(["api"]))
"""


def test_the_python_api_and_the_cli_import_without_the_server_packages():
    """What the embedded default imports, with the server-only packages made unimportable
    (the full check is a fresh venv: README, "Install")."""
    done = subprocess.run(
        [sys.executable, "-c", _PLAIN_IMPORTS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "plain imports ok" in done.stdout
    # the servers say what to install, in one line
    assert "retrain api: 1" in done.stdout
    assert done.stderr.strip() == (
        "retrain: this needs the server extra (apiflask is not installed): "
        "pip install 'auto-retraining[server]'"
    )
