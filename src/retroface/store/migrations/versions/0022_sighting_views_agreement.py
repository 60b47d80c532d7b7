"""A sighting's views' agreement (its fused template's length before re-normalising).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 15:20:00

Why: a sighting's template is the re-normalised mean of its best views, which scores
higher against everyone than its views do; a search raises the sighting's bar by how
little the views agree (faces/open_set.py ``fusion_scale``). Sightings stored before
this revision have none and are held to a low agreement (faces/probe_fusion.py
``UNRECORDED_AGREEMENT``) until their footage is ingested again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("views_agreement", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.drop_column("views_agreement")
