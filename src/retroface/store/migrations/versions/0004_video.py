"""Video: ingest jobs and their segments, sightings and their clusters, video length.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("media_items", sa.Column("duration_s", sa.Float(), nullable=True))
    op.add_column("media_items", sa.Column("recorded_at", sa.DateTime(), nullable=True))
    op.create_table(
        "video_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_video_jobs_case_id", "video_jobs", ["case_id"])
    op.create_index("ix_video_jobs_fingerprint", "video_jobs", ["fingerprint"])
    op.create_table(
        "video_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("media_item_id", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("frames_sampled", sa.Integer(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["video_jobs.id"]),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "media_item_id", "start_s"),
    )
    op.create_index("ix_video_segments_job_id", "video_segments", ["job_id"])
    op.create_index("ix_video_segments_media_item_id", "video_segments", ["media_item_id"])
    op.create_table(
        "face_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_face_clusters_case_id", "face_clusters", ["case_id"])
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_item_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("face_id", sa.Integer(), nullable=False),
        sa.Column("first_frame", sa.Integer(), nullable=False),
        sa.Column("last_frame", sa.Integer(), nullable=False),
        sa.Column("first_s", sa.Float(), nullable=False),
        sa.Column("last_s", sa.Float(), nullable=False),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("exemplars", sa.JSON(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_items.id"]),
        sa.ForeignKeyConstraint(["segment_id"], ["video_segments.id"]),
        sa.ForeignKeyConstraint(["face_id"], ["faces.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("media_item_id", "segment_id", "face_id", "cluster_id"):
        op.create_index(f"ix_sightings_{column}", "sightings", [column])


def downgrade() -> None:
    op.drop_table("sightings")
    op.drop_table("face_clusters")
    op.drop_table("video_segments")
    op.drop_table("video_jobs")
    op.drop_column("media_items", "recorded_at")
    op.drop_column("media_items", "duration_s")
