"""Structured comparison notes with each review decision (workbench, issue 20).

``reviews.notes``: the reviewer's finding per compared facial feature (a FISWG-style
feature list: face shape, hairline, eyebrows, eyes, nose, ears, mouth, marks), as JSON
``{"nose": "similar", "ears": "not-visible", ...}``; NULL for a decision without notes
(every decision recorded before this revision).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("notes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("notes")
