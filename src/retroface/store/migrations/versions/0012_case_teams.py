"""Case teams: the people a supervisor adds to a case (need to know).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_members_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_members")),
        sa.UniqueConstraint("case_id", "username", name=op.f("uq_case_members_case_id_username")),
    )
    op.create_index(op.f("ix_case_members_case_id"), "case_members", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_members_case_id"), "case_members")
    op.drop_table("case_members")
