"""Duplicate and alias decisions on gallery subjects (issue 23).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("gallery_id", sa.Integer(), sa.ForeignKey("galleries.id"), nullable=False),
        sa.Column("subject_low_id", sa.Integer(), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("subject_high_id", sa.Integer(), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("kept_subject_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moved_image_ids", sa.JSON(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_duplicate_decisions_gallery_id", "duplicate_decisions", ["gallery_id"])


def downgrade() -> None:
    op.drop_index("ix_duplicate_decisions_gallery_id", table_name="duplicate_decisions")
    op.drop_table("duplicate_decisions")
