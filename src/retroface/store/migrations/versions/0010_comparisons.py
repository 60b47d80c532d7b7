"""1:1 comparisons are searches: a table of their own, counted against the authorisation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new table, not a nullable gallery on ``searches``: SQLite cannot rebuild a table
    # other tables reference while foreign keys are enforced.
    op.create_table(
        "comparisons",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("authorisation_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("engine", sa.String(length=300), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("first_sha256", sa.String(length=64), nullable=True),
        sa.Column("second_sha256", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_comparisons_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparisons")),
    )
    op.create_index(op.f("ix_comparisons_case_id"), "comparisons", ["case_id"])
    op.create_index(op.f("ix_comparisons_authorisation_id"), "comparisons", ["authorisation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_comparisons_authorisation_id"), "comparisons")
    op.drop_index(op.f("ix_comparisons_case_id"), "comparisons")
    op.drop_table("comparisons")
