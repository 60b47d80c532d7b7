"""Supervisor resolution of disputed candidates and candidate reuse (issue 20).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the change that needs it


def downgrade() -> None:
    pass
