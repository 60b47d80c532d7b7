"""Index segments and gallery duplicate decisions (issue 23).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the change that needs it


def downgrade() -> None:
    pass
