"""Live recognition: watchlist galleries, deployments and their alerts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild): SQLite cannot rebuild a table other tables
    # reference while foreign keys are enforced.
    op.add_column(
        "galleries",
        sa.Column("live_watchlist", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "live_deployments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("authorised_by", sa.String(length=100), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("gallery_id", sa.Integer(), nullable=False),
        sa.Column("gallery_version", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("public_notice", sa.Text(), nullable=False),
        sa.Column("alert_retention_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("seconds_live", sa.Float(), nullable=False),
        sa.Column("frames_processed", sa.Integer(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("faces_seen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["gallery_id"], ["galleries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_live_deployments_gallery_id", "live_deployments", ["gallery_id"])
    op.create_table(
        "live_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("frame_time_s", sa.Float(), nullable=False),
        sa.Column("frame_at", sa.DateTime(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("crop_jpeg", sa.LargeBinary(), nullable=True),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("adjudicated_by", sa.String(length=100), nullable=True),
        sa.Column("adjudicated_at", sa.DateTime(), nullable=True),
        sa.Column("purge_after", sa.DateTime(), nullable=False),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["deployment_id"], ["live_deployments.id"]),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_live_alerts_deployment_id", "live_alerts", ["deployment_id"])
    op.create_index("ix_live_alerts_subject_id", "live_alerts", ["subject_id"])
    op.create_index("ix_live_alerts_purge_after", "live_alerts", ["purge_after"])


def downgrade() -> None:
    op.drop_table("live_alerts")
    op.drop_table("live_deployments")
    op.drop_column("galleries", "live_watchlist")
