"""Structured comparison notes with each review decision (workbench, issue 20).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the change that needs it


def downgrade() -> None:
    pass
