"""Templates and searches record their engine description (detector, embedder, sizes,
alignments, jitters: faces/engine_description.py), not only the model.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild): SQLite cannot rebuild a table other tables
    # reference while foreign keys are enforced. Nullable: rows written before this
    # revision were made by an engine nobody recorded, and no value is invented for them.
    op.add_column("templates", sa.Column("engine", sa.String(length=300), nullable=True))
    op.add_column("searches", sa.Column("engine", sa.String(length=300), nullable=True))


def downgrade() -> None:
    op.drop_column("searches", "engine")
    op.drop_column("templates", "engine")
