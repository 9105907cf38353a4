"""``retrain --api URL``: the same commands through a running HTTP API.

The token is read from ``RETRAINING_API_TOKEN`` (sent as ``Authorization: Bearer``). Only the
standard library is used, so a plain install can drive a remote deployment.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from retraining.cli.errors import DENIED, FAILED, NOT_FOUND, UNAVAILABLE, CliError, first_line

TOKEN_VARIABLE = "RETRAINING_API_TOKEN"
_POLL_SECONDS = 1.0
_CHECK_WAIT = 30  # the API's longest wait for a check before it answers 202


class ApiOperator:
    """Models, jobs and checks of the deployment behind ``url``."""

    runs_here = False

    def __init__(self, url: str, token: str | None = None, timeout: float = 60) -> None:
        if not url.startswith(("http://", "https://")):
            raise CliError(f"--api: {url!r} is not an http(s) URL", 2)
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_VARIABLE) or None
        self.timeout = timeout

    @property
    def where(self) -> str:
        return f"the API at {self.url}"

    def close(self) -> None:
        pass

    # -- reads ---------------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        return self._json("GET", "/retraining/models")["models"]

    def status(self) -> dict[str, Any]:
        return self._json("GET", "/retraining/status")

    def jobs(self, model: str, limit: int, status: str | None) -> list[dict[str, Any]]:
        query = {"limit": limit, **({"status": status} if status else {})}
        return self._json("GET", f"{_model(model)}/jobs?{urllib.parse.urlencode(query)}")["jobs"]

    def job(self, job_id: str, model: str | None = None) -> dict[str, Any]:
        path = f"/jobs/{urllib.parse.quote(job_id, safe='')}"
        if model is not None:
            return self._json("GET", _model(model) + path)
        # jobs are addressed under their model: ask each model until one has it
        for name in (m["model_name"] for m in self.models()):
            try:
                return self._json("GET", _model(name) + path)
            except CliError as exc:
                if exc.status != NOT_FOUND:
                    raise
        raise CliError(f"no job {job_id!r} in any model", NOT_FOUND)

    # -- work ----------------------------------------------------------------------------

    def trigger(self, model: str, reason: str) -> dict[str, Any]:
        body = {"trigger_type": "manual", **({"reason": reason} if reason else {})}
        return self._json("POST", f"{_model(model)}/trigger", body)

    def wait_job(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        path = f"{_model(job['model_name'])}/jobs/{job['job_id']}"
        return self._poll(path, timeout, "job")

    def check(self, model: str) -> dict[str, Any]:
        return self._json("GET", f"{_model(model)}/check?wait={_CHECK_WAIT}")

    def wait_check(self, check: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self._poll(
            f"{_model(check['model_name'])}/checks/{check['check_id']}", timeout, "check"
        )

    def promotions(self, model: str, limit: int) -> list[dict[str, Any]]:
        return self._json("GET", f"{_model(model)}/promotions?limit={int(limit)}")["promotions"]

    def rollback(
        self, model: str, to_version: str | None, reason: str, actor: str
    ) -> dict[str, Any]:
        body = {"reason": reason, "actor": actor}
        if to_version is not None:
            body["to_version"] = to_version
        return self._json("POST", f"{_model(model)}/rollback", body)

    def resume(self, model: str, actor: str) -> dict[str, Any]:
        return self._json("POST", f"{_model(model)}/resume", {"actor": actor})

    def report(self, model: str, output: Path | None) -> Path:
        _, page = self._request("GET", f"{_model(model)}/report", accept="text/html")
        path = output or Path(f"{model}-report.html")
        path.write_bytes(self._inline_scripts(page))
        return path.resolve()

    def _inline_scripts(self, page: bytes) -> bytes:
        """The page with the API's scripts (plotly.js, ...) inline: the file opens offline."""

        def inline(match: re.Match[bytes]) -> bytes:
            _, script = self._request("GET", match.group(1).decode(), accept="*/*")
            return b"<script>" + script + b"</script>"

        return re.sub(rb'<script src="(/assets/[\w./-]+\.js)"></script>', inline, page)

    # -- HTTP ----------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        _, data = self._request(method, path, body)
        return json.loads(data)

    def _poll(self, path: str, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            item = self._json("GET", path)
            if item["status"] in ("completed", "failed"):
                return item
            if time.monotonic() > deadline:
                raise CliError(
                    f"the {what} is still {item['status']} after {timeout:.0f} s "
                    f"(see {self.url}/retraining/status)"
                )
            time.sleep(_POLL_SECONDS)

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> tuple[int, bytes]:
        headers = {"Accept": accept}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"the API at {self.url} is unreachable: {reason}", UNAVAILABLE) from None

    def _refusal(self, exc: urllib.error.HTTPError) -> CliError:
        """The API's problem document as one line, with the exit status of its kind."""
        try:
            detail = json.loads(exc.read()).get("detail") or exc.reason
        except (ValueError, AttributeError):
            detail = exc.reason
        detail = first_line(str(detail))
        if exc.code in (401, 403):
            hint = "" if self.token else f" (set {TOKEN_VARIABLE})"
            return CliError(f"the API refused the request: {detail}{hint}", DENIED)
        if exc.code == 404:
            return CliError(detail, NOT_FOUND)
        if exc.code == 503:
            return CliError(f"the API at {self.url} is unavailable: {detail}", UNAVAILABLE)
        return CliError(detail if exc.code < 500 else f"the API failed: {detail}", FAILED)


def _model(name: str) -> str:
    return f"/retraining/{urllib.parse.quote(name, safe='')}"
