"""Index the gallery change log by subject.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 15:10:00

Why: after a gallery changes, the count of its active subjects is moved on by the
history of the subjects changed since (services/biometrics/gallery_index.py) instead of
counted again over every subject; that history is read by subject.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_gallery_changes_subject_id", "gallery_changes", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_gallery_changes_subject_id", table_name="gallery_changes")
