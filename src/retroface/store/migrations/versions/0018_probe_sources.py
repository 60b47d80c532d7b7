"""Probe source types, suppliers and multi-still probes (issue 21).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the change that needs it


def downgrade() -> None:
    pass
