"""Upgrading an installation whose references and reports were files of its data directory."""

import uuid
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from shared.db.engine import MIGRATIONS_DIR, create_engine_for, migrate
from shared.runtime import Runtime


def upgrade_to(engine: sa.Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_local_references_and_reports_move_into_the_database(settings, tmp_path):
    old_home = tmp_path / "old-home"
    (old_home / "models" / "churn").mkdir(parents=True)
    (old_home / "reports" / "churn" / "checks").mkdir(parents=True)
    reference = pd.DataFrame({"income": [1.0, 2.0, 3.0], "plan": ["a", "b", "a"]})
    reference_path = old_home / "models" / "churn" / "reference.parquet"
    reference.to_parquet(reference_path, index=False)
    check_id, lost_check = str(uuid.uuid4()), str(uuid.uuid4())
    report_path = old_home / "reports" / "churn" / "checks" / f"{check_id}.html"
    report_path.write_text("<html>drift page</html>", encoding="utf-8")
    engine = create_engine_for(settings.database_url)
    settings.ensure_dirs()
    upgrade_to(engine, "0002")
    now = datetime.now(UTC).isoformat()
    with engine.begin() as connection:
        for name, path in (("churn", reference_path), ("gone", old_home / "missing.parquet")):
            connection.execute(
                sa.text(
                    "INSERT INTO retraining_models (name, config, reference_path, data_sources, "
                    "created_at, updated_at) VALUES (:n, '{}', :p, '{}', :t, :t)"
                ),
                {"n": name, "p": str(path), "t": now},
            )
        for id_, path in ((check_id, report_path), (lost_check, old_home / "lost.html")):
            connection.execute(
                sa.text(
                    "INSERT INTO retraining_checks (id, model_name, created_at, n_rows, "
                    "needs_retraining, reason, report_path, status) "
                    "VALUES (:id, 'churn', :t, 3, false, 'ok', :p, 'completed')"
                ),
                {"id": id_, "t": now, "p": str(path)},
            )

    migrate(engine)  # what the next process to open the database does
    engine.dispose()

    runtime = Runtime(settings)
    try:
        with runtime.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT name, reference_key FROM retraining_models"))
            keys = {name: key for name, key in rows}
        assert keys["gone"] is None  # its file was lost before the upgrade: initialize again
        pd.testing.assert_frame_equal(runtime.references.frame(keys["churn"]), reference)
        moved = runtime.checks.get(check_id)
        assert runtime.blobs.get(moved.report_key) == b"<html>drift page</html>"
        assert runtime.checks.get(lost_check).report_key is None
        columns = {c["name"] for c in sa.inspect(runtime.engine).get_columns("retraining_models")}
        assert "reference_path" not in columns
    finally:
        runtime.dispose()
