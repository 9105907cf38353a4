"""Write-once blobs in the database, read through a per-host cache that may vanish."""

import shutil

import pytest
import sqlalchemy as sa

import shared.storage as storage
from shared.db.schema import blob_chunks, blobs
from shared.storage import BlobNotFound, BlobStore


@pytest.fixture
def store(runtime) -> BlobStore:
    return runtime.blobs


def test_a_blob_comes_back_as_written_from_another_host(runtime, store, tmp_path):
    assert store.put("models/m/a.bin", b"\x00\x01payload", media_type="application/x-test")
    other_host = BlobStore(runtime.engine, tmp_path / "other-cache")

    assert other_host.get("models/m/a.bin") == b"\x00\x01payload"
    info = other_host.info("models/m/a.bin")
    assert (info.size, info.media_type) == (9, "application/x-test")


def test_the_first_write_wins_and_later_ones_change_nothing(store):
    assert store.put("k/one", b"first", media_type="text/plain") is True
    assert store.put("k/one", b"second", media_type="text/plain") is False
    assert store.get("k/one") == b"first"


def test_large_blobs_are_split_into_chunks_and_joined_in_order(runtime, store, monkeypatch):
    monkeypatch.setattr(storage, "CHUNK_BYTES", 1000)
    data = bytes(range(256)) * 20  # 5,120 bytes: 6 chunks

    store.put("big", data, media_type="application/octet-stream")

    with runtime.engine.connect() as connection:
        sizes = connection.execute(
            sa.select(sa.func.length(blob_chunks.c.data))
            .where(blob_chunks.c.key == "big")
            .order_by(blob_chunks.c.seq)
        ).scalars()
        assert list(sizes) == [1000] * 5 + [120]
    shutil.rmtree(store.cache_dir)
    assert store.get("big") == data


def test_compressed_blobs_are_stored_smaller_and_read_back_whole(runtime, store):
    page = ("<tr><td>same row</td></tr>" * 5000).encode()

    store.put("report.html", page, media_type="text/html", compress=True)

    with runtime.engine.connect() as connection:
        stored = connection.execute(
            sa.select(sa.func.length(blob_chunks.c.data)).where(blob_chunks.c.key == "report.html")
        ).scalar_one()
    assert stored < len(page) / 20
    assert store.info("report.html").size == len(page)
    assert store.get("report.html") == page


def test_the_cache_is_a_copy_that_may_be_lost_at_any_time(store):
    store.put("models/m/ref.parquet", b"reference bytes", media_type="application/x-test")
    path = store.local_path("models/m/ref.parquet")
    assert path.read_bytes() == b"reference bytes"
    assert path.is_relative_to(store.cache_dir)

    shutil.rmtree(store.cache_dir)

    assert store.get("models/m/ref.parquet") == b"reference bytes"
    assert store.local_path("models/m/ref.parquet").read_bytes() == b"reference bytes"


def test_a_missing_blob_is_named(store):
    assert not store.exists("nothing/here")
    with pytest.raises(BlobNotFound, match="no stored blob 'nothing/here'"):
        store.get("nothing/here")
    with pytest.raises(BlobNotFound):
        store.info("nothing/here")


def test_a_damaged_blob_is_refused_not_served(runtime, store):
    store.put("k", b"original", media_type="text/plain")
    with runtime.engine.begin() as connection:
        connection.execute(blob_chunks.update().where(blob_chunks.c.key == "k").values(data=b"x"))

    with pytest.raises(OSError, match="does not match its checksum"):
        store.get("k")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a b", "a/\\b"])
def test_keys_that_are_not_safe_relative_paths_are_refused(store, key):
    with pytest.raises(ValueError, match="not a relative path of safe names"):
        store.put(key, b"x", media_type="text/plain")


def test_blobs_stay_out_of_the_hot_tables(runtime, store):
    store.put("k", b"bytes", media_type="text/plain")
    inspector = sa.inspect(runtime.engine)
    hot = {
        column["name"]: column["type"]
        for table in ("retraining_models", "retraining_checks", "retraining_jobs")
        for column in inspector.get_columns(table)
    }
    assert not [name for name, kind in hot.items() if isinstance(kind, sa.LargeBinary)]
    assert {"reference_key", "report_key"} <= set(hot)
    with runtime.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(blobs)).scalar() == 1
