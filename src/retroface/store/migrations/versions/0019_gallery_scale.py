"""Index segments and gallery duplicate decisions (issue 23): indexes for galleries of millions.

A gallery index behind the database catches up from the change log of the versions it
lacks (``services/biometrics/gallery_index.py``), and a cap check counts a gallery's active
subjects: at a million subjects both must not scan the gallery, so each gets an index.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_gallery_changes_gallery_version", "gallery_changes", ["gallery_id", "version"]
    )
    op.create_index("ix_subjects_gallery_removed", "subjects", ["gallery_id", "removed_at"])


def downgrade() -> None:
    op.drop_index("ix_subjects_gallery_removed", table_name="subjects")
    op.drop_index("ix_gallery_changes_gallery_version", table_name="gallery_changes")
