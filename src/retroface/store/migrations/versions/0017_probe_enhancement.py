"""Probe enhancement steps with an audit trail (issue 21).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the change that needs it


def downgrade() -> None:
    pass
