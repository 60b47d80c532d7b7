"""Probe enhancement steps with an audit trail (issue 21): the steps an image was
enhanced with before it was searched, replayable on the original evidence file.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_items") as batch:
        batch.add_column(sa.Column("enhancement", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_items") as batch:
        batch.drop_column("enhancement")
