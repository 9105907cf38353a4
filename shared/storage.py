"""Write-once blobs every process can read: reference data, drift profiles, reports.

They live in the database, the one store every process of a deployment already reaches, in
tables of their own so the hot tables (jobs, checks, models) stay small: a header row per
blob, and its bytes in chunks of at most ``CHUNK_BYTES`` so a large reference never has to
be one huge value on the server. A key is written once and never changes meaning, so a local
copy (the cache under ``RETRAINING_HOME/cache``) is valid for ever, and any host may lose
its cache at any time: the next read fetches the blob again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from shared.clock import utcnow
from shared.db.engine import transaction
from shared.db.schema import blob_chunks, blobs
from shared.errors import NotFound

CHUNK_BYTES = 4 * 1024 * 1024
GZIP = "gzip"
IDENTITY = "identity"
# Keys are relative paths of safe segments: they name cache files too.
_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class BlobNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__(f"no stored blob {key!r}")
        self.key = key


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int  # bytes as written, before compression
    sha256: str
    media_type: str
    created_at: datetime


class BlobStore:
    """Blobs in the database, read through a cache directory of this host."""

    def __init__(self, engine: Engine, cache_dir: Path) -> None:
        self.engine = engine
        self.cache_dir = cache_dir

    def put(
        self,
        key: str,
        data: bytes,
        *,
        media_type: str,
        compress: bool = False,
        connection: Connection | None = None,
    ) -> bool:
        """Store ``data`` under ``key``; False when the key was taken (the first write wins)."""
        check_key(key)
        stored = gzip.compress(data, compresslevel=6, mtime=0) if compress else data
        header = {
            "key": key,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "media_type": media_type,
            "encoding": GZIP if compress else IDENTITY,
            "n_chunks": max(1, -(-len(stored) // CHUNK_BYTES)),
            "created_at": utcnow(),
        }
        chunks = [
            {"key": key, "seq": seq, "data": stored[seq * CHUNK_BYTES : (seq + 1) * CHUNK_BYTES]}
            for seq in range(header["n_chunks"])
        ]
        try:
            with transaction(self.engine, connection) as conn, conn.begin_nested():
                conn.execute(blobs.insert().values(**header))
                conn.execute(blob_chunks.insert(), chunks)
        except IntegrityError:
            return False
        return True

    def exists(self, key: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(sa.select(blobs.c.key).where(blobs.c.key == key)).first()
        return found is not None

    def info(self, key: str) -> BlobInfo:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(blobs).where(blobs.c.key == key)).mappings()
            row = row.first()
        if row is None:
            raise BlobNotFound(key)
        return BlobInfo(key, row["size"], row["sha256"], row["media_type"], row["created_at"])

    def get(self, key: str) -> bytes:
        """The blob's bytes, from this host's cache when it has them."""
        cached = self._cache_path(key)
        if cached.is_file():
            return cached.read_bytes()
        return self._fetch(key, cached)

    def local_path(self, key: str) -> Path:
        """A file of this host holding the blob (for readers that want a path)."""
        cached = self._cache_path(key)
        if not cached.is_file():
            self._fetch(key, cached)
        return cached

    def _fetch(self, key: str, cached: Path) -> bytes:
        with self.engine.connect() as connection:
            header = connection.execute(
                sa.select(blobs.c.sha256, blobs.c.encoding).where(blobs.c.key == key)
            ).first()
            if header is None:
                raise BlobNotFound(key)
            parts = connection.execute(
                sa.select(blob_chunks.c.data)
                .where(blob_chunks.c.key == key)
                .order_by(blob_chunks.c.seq)
            ).scalars()
            stored = b"".join(parts)
        data = gzip.decompress(stored) if header.encoding == GZIP else stored
        if hashlib.sha256(data).hexdigest() != header.sha256:
            raise OSError(f"blob {key!r} does not match its checksum: the store is damaged")
        _write_atomically(cached, data)
        return data

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / "blobs" / check_key(key)


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key) or {".", ".."} & set(key.split("/")):
        raise ValueError(f"blob key {key!r} is not a relative path of safe names")
    return key


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers of the cache see the whole file or none (several processes share one cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
