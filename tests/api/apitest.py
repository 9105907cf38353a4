"""Helpers of the HTTP API tests: data sources, waiting for jobs, ``retrain api`` servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

RETRAIN = str(Path(sys.executable).with_name("retrain"))
REPO = Path(__file__).resolve().parents[2]


def sources(data_files: dict[str, Path], current: str | None = "current") -> dict:
    result = {"training": {"kind": "file", "path": str(data_files["training"])}}
    if current:
        result["current"] = {"kind": "file", "path": str(data_files[current])}
    return result


def wait_for_job(get: Callable[[str], dict], url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = get(url)
        if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``retrain api`` in a subprocess, on a free port."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [RETRAIN, "api", "--port", str(self.port), *args],
            env={**os.environ, **env},
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"retrain api exited:\n{self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or still starting
                pass
            time.sleep(0.2)
        raise AssertionError(f"retrain api did not answer in {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        stop_process(self.process)
        self._out.close()


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process group it leads, then SIGKILL what is left."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)


# The specification as its user wrote it: the steering copy beside the repository when there
# is one (CI), else the copy kept in docs/.
SPEC = next(
    path
    for path in (
        REPO.parent / "shared" / "reference-usage.md",
        REPO / "docs" / "reference-usage.md",
    )
    if path.is_file() or path.parent.name == "docs"
)
CURL = "curl() { command curl -sS -w '\\n%{http_code}' \"$@\"; }\n"  # prints the status too


def spec_curl_commands() -> list[str]:
    """Every curl command of the specification, exactly as written there, in order."""
    import re
    import textwrap

    assert SPEC.is_file(), f"the specification is missing: {SPEC} (shared/ beside the repo)"
    commands = []
    for block in re.findall(r"```(?:bash|yaml)\n(.*?)```", SPEC.read_text(), re.S):
        lines = block.splitlines()
        index = 0
        while index < len(lines):
            if lines[index].lstrip().startswith("curl "):
                command = [lines[index]]
                while not _complete("\n".join(command)):
                    index += 1
                    command.append(lines[index])
                commands.append(textwrap.dedent("\n".join(command)).strip())
            index += 1
    return commands


def _complete(command: str) -> bool:
    """No line continuation pending and no quote left open (as the shell reads it)."""
    import shlex

    if command.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


def run_curl(
    command: str, port: int, env: dict[str, str], job_id: str | None = None
) -> tuple[int, str]:
    """Run a spec command with the server's port (and a real job id): (status, body)."""
    command = command.replace("localhost:8000", f"localhost:{port}")
    if job_id is not None:
        command = command.replace("{job_id}", job_id)
    done = subprocess.run(
        ["bash", "-c", CURL + command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def run_spec_commands(server: Server, data_files: dict[str, Path]) -> dict[str, object]:
    """The specification's curl commands in order, against ``server``; all must succeed.

    The model's data is named first (the spec's own configure payload names none, and keeps
    the sources configured before it).
    """
    import json

    setup = requests.post(
        f"{server.url}/retraining/configure",
        json={
            "model_name": "my_model",
            "data_sources": sources(data_files),
            "pipeline": {
                "estimator_class": "sklearn.linear_model:LogisticRegression",
                "estimator_params": {"max_iter": 1000},
            },
        },
        timeout=30,
    )
    assert setup.status_code == 201, setup.text
    commands = spec_curl_commands()
    assert len(commands) == 11, commands
    env = {"API_URL": server.url, "TOKEN": "unused-without-tokens"}
    results: dict[str, object] = {}
    job_id = None
    for command in commands:
        status, body = run_curl(command, server.port, env, job_id)
        assert 200 <= status < 300, f"{command}\n-> {status} {body}"
        first_line = command.splitlines()[0]
        results[first_line] = (status, body)
        if "my_model/trigger" in first_line:
            assert status == 202, body
            job_id = json.loads(body)["job_id"]
    results["job_id"] = job_id
    # the placeholder itself (curl reads "{job_id}" as a glob of one word): a clean 404
    literal = next(c for c in commands if "{job_id}" in c)
    status, body = run_curl(literal, server.port, env)
    assert status == 404 and json.loads(body)["status"] == 404
    return results
