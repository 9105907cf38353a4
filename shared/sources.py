"""Named data sources: how any process (a worker on another host too) loads a model's data.

A source is JSON, stored with the model:

- ``{"kind": "file", "path": "/data/train.parquet"}``: CSV or Parquet, by extension; the path
  is a local file or any URL pandas reads through fsspec (``s3://``, ``gs://``, ``https://``...);
- ``{"kind": "sql", "url": "postgresql+psycopg2://...", "query": "SELECT ..."}``;
- ``{"kind": "callable", "target": "package.module:function"}``: called with no arguments.

The Python API accepts a callable and records its import path; a lambda or a function defined
inside another function has none, so it only works where it was defined (the embedded mode).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd

from shared.errors import Conflict, Invalid
from shared.parquet import read_parquet

if TYPE_CHECKING:
    from shared.model_store import ModelRecord

SOURCE_ROLES = ("training", "reference", "current")
_FILE_SUFFIXES = (".csv", ".parquet", ".pq")

# pandas reads these itself (urllib), with no fsspec implementation to install.
_NATIVE_PROTOCOLS = frozenset({"http", "https", "ftp", "file"})
# protocol -> (the package that reads it, our extra that installs it). fsspec's own error names
# the package but not the extra; abfss is registered by adlfs itself, so fsspec alone does not
# know it.
_EXTRAS = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
}
# What pandas takes for a URL (RFC 3986 scheme); one letter is a Windows drive (C:/data/x.csv).
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")


class SourceError(Invalid):
    """A data source that is not valid, or whose data cannot be loaded."""


class MissingSource(Conflict):
    """The model has no source for what is asked: configure ``data_sources`` first."""


def model_source(record: ModelRecord, role: str) -> dict[str, Any]:
    """The model's source for ``role``; ``MissingSource`` saying what to configure."""
    source = record.data_sources.get(role)
    if source is None:
        raise MissingSource(
            f"model {record.name!r} has no {role} data source: configure data_sources.{role}"
        )
    return source


def source_loader(record: ModelRecord, role: str) -> Callable[[], pd.DataFrame]:
    source = model_source(record, role)
    return lambda: load_source(source)


def reference_role(record: ModelRecord) -> str:
    """Where the reference data comes from: the reference source, else the training source."""
    if "reference" in record.data_sources:
        return "reference"
    if "training" in record.data_sources:
        return "training"
    raise MissingSource(
        f"model {record.name!r} has no reference data: configure data_sources.reference "
        "(or data_sources.training, the reference when there is no other)"
    )


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
    if kind == "file":
        _check_file_path(f"{field}.path", source["path"])
    if kind == "callable" and ":" not in source["target"]:
        raise SourceError(f"{field}.target: must look like 'package.module:function'")
    return dict(source)


def load_source(source: Mapping[str, Any]) -> pd.DataFrame:
    """Load the frame a source names."""
    kind = source["kind"]
    if kind == "file":
        return _load_file(source["path"])
    if kind == "sql":
        import sqlalchemy as sa

        engine = sa.create_engine(source["url"])
        try:
            with engine.connect() as connection:
                return pd.read_sql_query(sa.text(source["query"]), connection)
        finally:
            engine.dispose()
    return resolve_callable(source["target"])()


def url_protocol(path: str) -> str | None:
    """The URL protocol of a file source's path (``s3``, ``https``...); None for a local path."""
    match = _URL.match(path)
    return match.group(1) if match else None


def _check_file_path(field: str, path: str) -> None:
    # Only what holds on any host: the API may validate on one that lacks s3fs or the file.
    protocol = url_protocol(path)
    if not _file_suffix(path).endswith(_FILE_SUFFIXES):
        where = "the URL's path (before any ?query) " if protocol else ""
        raise SourceError(f"{field}: {where}must end in .csv, .parquet or .pq")
    if protocol is not None and not _known_protocol(protocol):
        raise SourceError(
            f"{field}: unknown URL protocol {protocol!r}: use a local path or a URL that fsspec "
            "reads (s3://, gs://, az://, https://, ...)"
        )


def _file_suffix(path: str) -> str:
    """The lower-cased path part that names the format: without a URL's query or fragment."""
    if url_protocol(path) is None:
        return path.lower()
    parts = urlsplit(path)
    # netloc too: fsspec reads memory://train.csv as the path /train.csv
    return f"{parts.netloc}{parts.path}".lower()


def _known_protocol(protocol: str) -> bool:
    from fsspec.registry import known_implementations, registry

    return (
        protocol in _NATIVE_PROTOCOLS
        or protocol in _EXTRAS
        or protocol in known_implementations
        or protocol in registry
    )


def _load_file(path: str) -> pd.DataFrame:
    protocol = url_protocol(path)
    if protocol is None:
        local = Path(path).expanduser()
        if not local.exists():
            raise SourceError(f"data file {str(local)!r} does not exist")
        target: str | Path = local
    else:
        _require_filesystem(protocol)
        target = path
    try:
        if _file_suffix(path).endswith(".csv"):
            return pd.read_csv(target)
        if isinstance(target, Path):
            return read_parquet(target)
        return pd.read_parquet(target)
    except FileNotFoundError as exc:
        if protocol is None:
            raise
        # the query is left out: it may carry a signature or a token
        shown = urlsplit(path)._replace(query="", fragment="").geturl()
        raise SourceError(f"data file {shown!r} does not exist") from exc


def _require_filesystem(protocol: str) -> None:
    """A clear error, before pandas is called, when the package for ``protocol`` is missing."""
    if protocol in _NATIVE_PROTOCOLS:
        return
    if protocol in _EXTRAS:
        package, extra = _EXTRAS[protocol]
        if importlib.util.find_spec(package) is None:
            raise SourceError(
                f"reading {protocol}:// URLs needs the {package} package: "
                f"pip install 'auto-retraining[{extra}]'"
            )
        return
    import fsspec
    from fsspec.registry import known_implementations

    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as exc:
        module = known_implementations.get(protocol, {}).get("class", "").partition(".")[0]
        needs = f"the {module} package: pip install {module}" if module else "a package"
        raise SourceError(f"reading {protocol}:// URLs needs {needs} ({exc})") from exc
    except ValueError as exc:  # accepted where it was validated, unknown to this host's fsspec
        raise SourceError(f"cannot read {protocol}:// URLs: {exc}") from exc


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
