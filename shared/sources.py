"""Named data sources: how any process (a worker on another host too) loads a model's data.

A source is JSON, stored with the model:

- ``{"kind": "file", "path": "/data/train.parquet"}``: CSV or Parquet, by extension;
- ``{"kind": "sql", "url": "postgresql+psycopg2://...", "query": "SELECT ..."}``;
- ``{"kind": "callable", "target": "package.module:function"}``: called with no arguments.

The Python API accepts a callable and records its import path; a lambda or a function defined
inside another function has none, so it only works where it was defined (the embedded mode).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

SOURCE_ROLES = ("training", "reference", "current")
_FILE_SUFFIXES = (".csv", ".parquet", ".pq")


class SourceError(ValueError):
    pass


def validate_source(role: str, source: Mapping[str, Any]) -> dict[str, Any]:
    """A checked copy of ``source``; ``SourceError`` naming the field otherwise."""
    field = f"data_sources.{role}"
    if role not in SOURCE_ROLES:
        raise SourceError(f"data_sources: unknown role {role!r} (one of {', '.join(SOURCE_ROLES)})")
    if not isinstance(source, Mapping):
        raise SourceError(f"{field}: must be an object with a 'kind'")
    kind = source.get("kind")
    required = {"file": ("path",), "sql": ("url", "query"), "callable": ("target",)}
    if kind not in required:
        raise SourceError(f"{field}.kind: must be 'file', 'sql' or 'callable', got {kind!r}")
    for key in required[kind]:
        if not isinstance(source.get(key), str) or not source[key].strip():
            raise SourceError(f"{field}.{key}: required for a {kind} source")
    extra = set(source) - {"kind", *required[kind]}
    if extra:
        raise SourceError(f"{field}.{sorted(extra)[0]}: unknown field for a {kind} source")
    if kind == "file" and not source["path"].lower().endswith(_FILE_SUFFIXES):
        raise SourceError(f"{field}.path: must end in .csv, .parquet or .pq")
    if kind == "callable" and ":" not in source["target"]:
        raise SourceError(f"{field}.target: must look like 'package.module:function'")
    return dict(source)


def load_source(source: Mapping[str, Any]) -> pd.DataFrame:
    """Load the frame a source names."""
    kind = source["kind"]
    if kind == "file":
        path = Path(source["path"]).expanduser()
        if not path.exists():
            raise SourceError(f"data file {str(path)!r} does not exist")
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    if kind == "sql":
        import sqlalchemy as sa

        engine = sa.create_engine(source["url"])
        try:
            with engine.connect() as connection:
                return pd.read_sql_query(sa.text(source["query"]), connection)
        finally:
            engine.dispose()
    return resolve_callable(source["target"])()


def resolve_callable(target: str) -> Callable[[], Any]:
    module_name, _, qualname = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SourceError(f"cannot import {target!r}: {exc}") from exc
    if not callable(obj):
        raise SourceError(f"{target!r} is not callable")
    return obj


def callable_source(function: Callable[[], Any]) -> dict[str, Any] | None:
    """The import path of ``function`` as a source, or None when it has none."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    target = f"{module}:{qualname}"
    try:
        if resolve_callable(target) is not function:
            return None
    except SourceError:
        return None
    return {"kind": "callable", "target": target}


def require_importable(role: str, function: Callable[[], Any]) -> dict[str, Any]:
    """The callable's source, or a clear error for the distributed mode."""
    source = callable_source(function)
    if source is None:
        name = getattr(function, "__qualname__", repr(function))
        raise SourceError(
            f"{role} data loader {name!r} cannot be imported by a worker (a lambda, a nested "
            "function or one defined in __main__): define it at module level in an importable "
            "module, or name a file or SQL source"
        )
    return source
