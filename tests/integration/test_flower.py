"""``retrain flower``: basic auth from the environment, and the read-only option."""

from __future__ import annotations

import pytest
import requests
from dist_harness import free_port, retrain_command, wait_until

pytestmark = pytest.mark.integration

AUTH = ("watcher", "s3cret")


def start_flower(stack, *, read_only: bool):
    port = free_port()
    argv = retrain_command("flower", "--port", str(port))
    argv += ["--read-only"] if read_only else []
    env = stack.env(FLOWER_BASIC_AUTH=":".join(AUTH))
    proc = stack.processes.start(f"flower-{port}", argv, env, cwd=stack.home)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{base}/healthcheck", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(answers, 60, "flower to answer", diagnostics=proc.tail)
    return base


def shutdown_request(base: str, auth) -> int:
    return requests.post(
        f"{base}/api/worker/shutdown/nobody@nowhere", auth=auth, timeout=5
    ).status_code


def test_flower_requires_its_basic_auth_and_read_only_refuses_control(
    make_stack, database_url, redis_url
):
    stack = make_stack(database_url, redis_url)
    steerable = start_flower(stack, read_only=False)
    watch_only = start_flower(stack, read_only=True)

    assert requests.get(f"{steerable}/workers", timeout=5).status_code == 401
    assert requests.get(f"{steerable}/workers", auth=AUTH, timeout=5).status_code == 200
    # the control API answers (an unknown worker is a 404, not a refusal) ...
    assert shutdown_request(steerable, AUTH) == 404
    # ... until Flower is read-only: pages still load, control is refused
    assert requests.get(f"{watch_only}/workers", auth=AUTH, timeout=5).status_code == 200
    assert shutdown_request(watch_only, AUTH) == 403
