"""Reference data and check reports move from local files into write-once database blobs.

Until now a model's reference data and each check's drift report were files under the data
directory of the process that wrote them, and the rows kept their paths. This revision
creates the blob tables, copies every such file this host can read into them (the blob key
replaces the path), and drops the path columns. Before this revision every process of a
deployment had to share that disk, so the migrating process sees the files. A file that is
gone is reported and left out: its model needs ``initialize`` again, its check keeps no page.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import gzip
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from shared.db.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# As shared.storage writes them; kept here so this revision never changes with that module.
_CHUNK_BYTES = 4 * 1024 * 1024
_blobs = sa.table(
    "retraining_blobs",
    sa.column("key"),
    sa.column("size"),
    sa.column("sha256"),
    sa.column("media_type"),
    sa.column("encoding"),
    sa.column("n_chunks"),
    sa.column("created_at", UTCDateTime),
)
_chunks = sa.table("retraining_blob_chunks", sa.column("key"), sa.column("seq"), sa.column("data"))


def upgrade() -> None:
    op.create_table(
        "retraining_blobs",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("n_chunks", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "retraining_blob_chunks",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.add_column("retraining_models", sa.Column("reference_key", sa.String(512)))
    op.add_column("retraining_checks", sa.Column("report_key", sa.String(512)))
    _move_references()
    _move_check_reports()
    with op.batch_alter_table("retraining_models") as batch:
        batch.drop_column("reference_path")
    with op.batch_alter_table("retraining_checks") as batch:
        batch.drop_column("report_path")


def downgrade() -> None:
    # The blobs cannot be turned back into files on every host: a downgrade forgets them.
    op.add_column("retraining_checks", sa.Column("report_path", sa.String(1024)))
    op.add_column("retraining_models", sa.Column("reference_path", sa.String(1024)))
    with op.batch_alter_table("retraining_checks") as batch:
        batch.drop_column("report_key")
    with op.batch_alter_table("retraining_models") as batch:
        batch.drop_column("reference_key")
    op.drop_table("retraining_blob_chunks")
    op.drop_table("retraining_blobs")


def _move_references() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT name, reference_path FROM retraining_models WHERE reference_path IS NOT NULL"
        )
    ).all()
    for name, path in rows:
        key = f"models/{name}/references/{Path(path).stem}-migrated.parquet"
        if _copy_file(connection, path, key, "application/vnd.apache.parquet", compress=False):
            connection.execute(
                sa.text("UPDATE retraining_models SET reference_key = :key WHERE name = :name"),
                {"key": key, "name": name},
            )


def _move_check_reports() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, model_name, report_path FROM retraining_checks "
            "WHERE report_path IS NOT NULL"
        )
    ).all()
    for check_id, model_name, path in rows:
        key = f"models/{model_name}/checks/{check_id}.html"
        if _copy_file(connection, path, key, "text/html", compress=True):
            connection.execute(
                sa.text("UPDATE retraining_checks SET report_key = :key WHERE id = :id"),
                {"key": key, "id": check_id},
            )


def _copy_file(connection, path: str, key: str, media_type: str, *, compress: bool) -> bool:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        log.warning("not moved into the database (%s): %s", exc.strerror or exc, path)
        return False
    stored = gzip.compress(data, mtime=0) if compress else data
    n_chunks = max(1, -(-len(stored) // _CHUNK_BYTES))
    connection.execute(
        _blobs.insert().values(
            key=key,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            media_type=media_type,
            encoding="gzip" if compress else "identity",
            n_chunks=n_chunks,
            created_at=datetime.now(UTC),
        )
    )
    connection.execute(
        _chunks.insert(),
        [
            {"key": key, "seq": seq, "data": stored[seq * _CHUNK_BYTES : (seq + 1) * _CHUNK_BYTES]}
            for seq in range(n_chunks)
        ],
    )
    return True
