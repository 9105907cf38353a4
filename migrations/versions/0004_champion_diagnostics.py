"""What a champion tells about itself (importances, confidence calibration), kept with it.

Revision ID: decisions
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "decisions"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("retraining_models", sa.Column("champion_diagnostics", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("retraining_models") as batch:
        batch.drop_column("champion_diagnostics")
