"""Each search's decision for each face it looked at (footage sightings are shared).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 10:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_face_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("search_id", sa.String(length=36), sa.ForeignKey("searches.id"), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.UniqueConstraint("search_id", "face_id"),
    )
    op.create_index("ix_search_face_decisions_search_id", "search_face_decisions", ["search_id"])
    op.create_index("ix_search_face_decisions_face_id", "search_face_decisions", ["face_id"])


def downgrade() -> None:
    op.drop_index("ix_search_face_decisions_face_id", table_name="search_face_decisions")
    op.drop_index("ix_search_face_decisions_search_id", table_name="search_face_decisions")
    op.drop_table("search_face_decisions")
