"""File sources beyond the local disk: URLs that pandas reads through fsspec or by itself.

A worker on another host has no shared disk, so a source may name ``s3://``, ``https://``...
Validation (at configure time, maybe on a host without s3fs) checks only the protocol and the
suffix; loading says which package and extra a missing protocol needs. No test leaves this
machine: HTTP is a local server thread, object storage is fsspec's ``memory://``.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from shared.sources import SourceError, load_source, url_protocol, validate_source


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.5, 2.5, 3.5], "kind": ["a", "b", "a"], "target": [0, 1, 0]})


@pytest.fixture
def served(tmp_path, frame) -> Iterator[tuple[str, list[str]]]:
    """A CSV and a Parquet file on a local HTTP server: its base URL and the paths requested."""
    directory = tmp_path / "served"
    directory.mkdir()
    frame.to_csv(directory / "train.csv", index=False)
    frame.to_parquet(directory / "train.parquet")
    requested: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

        def log_message(self, *args) -> None:  # keep pytest's output clean
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def memory_dir() -> Iterator[str]:
    """A fresh folder on fsspec's in-process ``memory://`` filesystem, removed afterwards."""
    root = f"memory://sources-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _file(path: str) -> dict[str, str]:
    return {"kind": "file", "path": path}


def _load(path: str) -> pd.DataFrame:
    return load_source(validate_source("training", _file(path)))


@pytest.mark.parametrize("name", ["train.csv", "train.parquet"])
def test_csv_and_parquet_over_http(served, frame, name):
    base, requested = served
    loaded = _load(f"{base}/{name}")
    pd.testing.assert_frame_equal(loaded, frame)
    assert requested == [f"/{name}"]  # read from the server, not from anything local


def test_a_query_string_is_sent_but_does_not_decide_the_format(served, frame):
    base, requested = served
    loaded = _load(f"{base}/train.parquet?version=2&sig=abc")
    pd.testing.assert_frame_equal(loaded, frame)
    assert requested == ["/train.parquet?version=2&sig=abc"]
    with pytest.raises(SourceError, match=r"^data_sources\.current\.path: the URL's path"):
        validate_source("current", _file(f"{base}/download?file=train.csv"))


def test_a_missing_url_is_a_source_error_without_the_query(memory_dir):
    with pytest.raises(SourceError, match="does not exist") as caught:
        _load(f"{memory_dir}/gone.csv?token=secret")
    assert f"{memory_dir}/gone.csv" in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("name", ["train.csv", "train.parquet", "train.PQ"])
def test_fsspec_memory_filesystem(memory_dir, frame, name):
    url = f"{memory_dir}/{name}"
    with fsspec.open(url, "wb") as handle:
        if name.endswith(".csv"):
            frame.to_csv(handle, index=False)
        else:
            frame.to_parquet(handle)
    pd.testing.assert_frame_equal(_load(url), frame)


def test_an_unknown_protocol_is_refused_at_validation_naming_the_field():
    with pytest.raises(SourceError) as caught:
        validate_source("reference", _file("nosuchfs://bucket/train.csv"))
    message = str(caught.value)
    assert message.startswith("data_sources.reference.path: unknown URL protocol 'nosuchfs'")


@pytest.mark.parametrize(
    ("url", "package", "extra"),
    [
        ("s3://bucket/train.parquet", "s3fs", "s3"),
        ("gs://bucket/train.csv", "gcsfs", "gcs"),
        ("abfss://container@account.dfs.core.windows.net/train.parquet", "adlfs", "azure"),
    ],
)
def test_object_stores_validate_everywhere_and_name_the_extra_at_load(url, package, extra):
    # this test is about the message for a missing package: it must be missing here
    assert importlib.util.find_spec(package) is None, f"{package} is installed in this venv"
    assert validate_source("training", _file(url)) == _file(url)  # the API's host needs nothing
    protocol = url_protocol(url)
    with pytest.raises(SourceError) as caught:
        load_source(_file(url))
    assert str(caught.value) == (
        f"reading {protocol}:// URLs needs the {package} package: "
        f"pip install 'auto-retraining[{extra}]'"
    )


def test_another_fsspec_protocol_names_the_package_fsspec_names():
    assert importlib.util.find_spec("ocifs") is None
    validate_source("training", _file("oci://bucket@namespace/train.csv"))
    with pytest.raises(SourceError, match=r"^reading oci:// URLs needs the ocifs package"):
        load_source(_file("oci://bucket@namespace/train.csv"))


def test_local_files_load_as_before(tmp_path, frame):
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.to_parquet(tmp_path / "train.pq")
    pd.testing.assert_frame_equal(_load(str(tmp_path / "train.csv")), frame)
    pd.testing.assert_frame_equal(_load(str(tmp_path / "train.pq")), frame)


def test_a_missing_local_file_fails_at_load_not_at_validation(tmp_path):
    source = validate_source("training", _file(str(tmp_path / "later.parquet")))
    with pytest.raises(SourceError, match=r"data file '.*later\.parquet' does not exist"):
        load_source(source)


@pytest.mark.parametrize("path", ["/data/train.txt", "/data/train.csv.gz", "s3://bucket/train"])
def test_a_path_or_url_without_a_data_suffix_is_refused(path):
    with pytest.raises(SourceError, match=r"^data_sources\.training\.path: .*must end in \.csv"):
        validate_source("training", _file(path))


@pytest.mark.parametrize("path", ["C:/data/train.csv", r"C:\data\train.csv", "c://data/x.pq"])
def test_a_windows_drive_is_a_local_path_not_a_protocol(path):
    assert url_protocol(path) is None
    validate_source("training", _file(path))
    with pytest.raises(SourceError, match="does not exist"):
        load_source(_file(path))


def test_url_protocol():
    assert url_protocol("s3://bucket/key.csv") == "s3"
    assert url_protocol("https://host/x.csv?y=1") == "https"
    assert url_protocol(str(Path("/data/x.csv"))) is None
    assert url_protocol("relative/dir:name/x.csv") is None
