"""Probe source types, suppliers and multi-still probes (issue 21).

Every evidence item records where it came from and who supplied it
(``media_items.source_type``, ``supplied_by``: governance/probe_sources.py); the lead
face of a probe fused from several stills or sightings of one person records its parts
(``faces.fused_parts``). Rows from before this revision keep None: "not recorded".

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_items") as batch:
        batch.add_column(sa.Column("source_type", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("supplied_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("faces") as batch:
        batch.add_column(sa.Column("fused_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faces") as batch:
        batch.drop_column("fused_parts")
    with op.batch_alter_table("media_items") as batch:
        batch.drop_column("supplied_by")
        batch.drop_column("source_type")
