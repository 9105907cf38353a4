"""The HTTP API's own settings, read from the environment once per app.

| variable                             | default | meaning                                    |
|--------------------------------------|---------|--------------------------------------------|
| RETRAINING_API_TOKENS                | unset   | bearer tokens, comma-separated; a ``ro:``  |
|                                      |         | prefix marks a read-only one               |
| RETRAINING_API_TOKENS_FILE           | unset   | SHA-256 hex digests of tokens, one a line  |
|                                      |         | (``ro:`` prefix: read-only; ``#`` comment) |
| RETRAINING_API_OPEN_READS            | false   | reads need no token even with tokens set   |
| RETRAINING_API_MAX_BODY_BYTES        | 1048576 | larger request bodies are refused (413)    |
| RETRAINING_API_CHECK_WAIT_SECONDS    | 5       | GET /check waits this long, then 202       |
| RETRAINING_API_CHECK_TIMEOUT_SECONDS | 900     | a check unfinished this long has failed    |
| RETRAINING_API_DISPATCH_SECONDS      | 30      | embedded: the dispatcher thread's period   |
| RETRAINING_API_JOB_THREADS           | 1       | embedded: retrainings run at once          |
| RETRAINING_API_CHECK_THREADS         | 2       | embedded: checks run at once               |
| RETRAINING_API_ESTIMATOR_MODULES     | sklearn | module prefixes ``estimator_class`` may    |
|                                      |         | name                                       |
| RETRAINING_API_CALLABLE_MODULES      | unset   | module prefixes a callable source may name |
|                                      |         | (unset: callable sources refused via HTTP) |
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

READ_ONLY_PREFIX = "ro:"
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class TokenDigest:
    """A token's SHA-256 digest (the token itself is never kept) and what it may do."""

    digest: bytes = field(repr=False)
    read_only: bool = False


@dataclass(frozen=True)
class ApiSettings:
    tokens: tuple[TokenDigest, ...] = ()
    open_reads: bool = False
    max_body_bytes: int = 1_048_576
    check_wait_seconds: float = 5.0
    check_timeout_seconds: float = 900.0
    dispatch_interval_seconds: float = 30.0
    job_threads: int = 1
    check_threads: int = 2
    estimator_modules: tuple[str, ...] = ("sklearn",)
    callable_modules: tuple[str, ...] = ()

    @property
    def auth_enabled(self) -> bool:
        return bool(self.tokens)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if environ is None else environ
        tokens = _plain_tokens(env.get("RETRAINING_API_TOKENS", ""))
        if env.get("RETRAINING_API_TOKENS_FILE"):
            tokens += _token_file(Path(env["RETRAINING_API_TOKENS_FILE"]))
        return cls(
            tokens=tuple(tokens),
            open_reads=_flag(env, "RETRAINING_API_OPEN_READS"),
            max_body_bytes=int(_positive(env, "RETRAINING_API_MAX_BODY_BYTES", 1_048_576)),
            check_wait_seconds=_non_negative(env, "RETRAINING_API_CHECK_WAIT_SECONDS", 5.0),
            check_timeout_seconds=_positive(env, "RETRAINING_API_CHECK_TIMEOUT_SECONDS", 900.0),
            dispatch_interval_seconds=_positive(env, "RETRAINING_API_DISPATCH_SECONDS", 30.0),
            job_threads=int(_positive(env, "RETRAINING_API_JOB_THREADS", 1)),
            check_threads=int(_positive(env, "RETRAINING_API_CHECK_THREADS", 2)),
            estimator_modules=_prefixes(env.get("RETRAINING_API_ESTIMATOR_MODULES", "sklearn")),
            callable_modules=_prefixes(env.get("RETRAINING_API_CALLABLE_MODULES", "")),
        )


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _plain_tokens(raw: str) -> list[TokenDigest]:
    tokens = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        read_only = item.startswith(READ_ONLY_PREFIX)
        token = item[len(READ_ONLY_PREFIX) :] if read_only else item
        if not token:
            raise ValueError("RETRAINING_API_TOKENS: an entry is empty after its 'ro:' prefix")
        tokens.append(TokenDigest(digest(token), read_only))
    return tokens


def _token_file(path: Path) -> list[TokenDigest]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"RETRAINING_API_TOKENS_FILE: cannot read {str(path)!r}: {exc}") from exc
    tokens = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        read_only = line.startswith(READ_ONLY_PREFIX)
        hexdigest = line[len(READ_ONLY_PREFIX) :] if read_only else line
        if not _HEX_DIGEST.match(hexdigest):
            raise ValueError(
                f"RETRAINING_API_TOKENS_FILE: line {number} is not a SHA-256 hex digest "
                "(64 hex characters, optionally prefixed by 'ro:')"
            )
        tokens.append(TokenDigest(bytes.fromhex(hexdigest), read_only))
    return tokens


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}: must be true or false, got {raw!r}")


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _non_negative(env, name, default)
    if value <= 0:
        raise ValueError(f"{name}: must be positive, got {env.get(name)!r}")
    return value


def _non_negative(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: must be a number, got {raw!r}") from None
    if not value >= 0:
        raise ValueError(f"{name}: must be zero or more, got {raw!r}")
    return value


def _prefixes(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())
