"""Governance: watchlist provenance and caps, gallery versions, reviews, EU mode, retention.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:00:00

Columns are added with plain ADD COLUMN (nullable, no new foreign keys on
existing tables): a batch rebuild on SQLite would drop and re-create parent
tables that other rows reference, and the audit table's triggers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NEW_COLUMNS: dict[str, list[sa.Column[Any]]] = {
    "galleries": [sa.Column("max_subjects", sa.Integer(), nullable=True)],
    "subjects": [
        sa.Column("source_system", sa.String(length=200), nullable=True),
        sa.Column("holding_basis", sa.String(length=64), nullable=True),
        sa.Column("under_18_reason", sa.Text(), nullable=True),
        sa.Column("retention_class", sa.String(length=32), nullable=True),
        sa.Column("review_due_on", sa.Date(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.Column("erased_at", sa.DateTime(), nullable=True),
    ],
    "reference_images": [sa.Column("taken_on", sa.Date(), nullable=True)],
    "cases": [
        sa.Column("seriousness", sa.String(length=32), nullable=True),
        sa.Column("judicial_reference", sa.String(length=200), nullable=True),
        sa.Column("judicial_recorded_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
    ],
    "searches": [
        sa.Column("authorisation_id", sa.Integer(), nullable=True),
        sa.Column("probe_labels", sa.JSON(), nullable=True),
        sa.Column("probes_purged_at", sa.DateTime(), nullable=True),
    ],
}


def upgrade() -> None:
    for table, columns in _NEW_COLUMNS.items():
        for column in columns:
            op.add_column(table, column)
    op.create_index("ix_searches_authorisation_id", "searches", ["authorisation_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("search_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidates.id"], name=op.f("fk_reviews_candidate_id_candidates")
        ),
        sa.ForeignKeyConstraint(
            ["search_id"], ["searches.id"], name=op.f("fk_reviews_search_id_searches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index("ix_reviews_candidate_id", "reviews", ["candidate_id"])
    op.create_index("ix_reviews_search_id", "reviews", ["search_id"])
    op.create_table(
        "gallery_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gallery_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("change", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["gallery_id"], ["galleries.id"], name=op.f("fk_gallery_changes_gallery_id_galleries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gallery_changes")),
    )
    op.create_index("ix_gallery_changes_gallery_id", "gallery_changes", ["gallery_id"])


def downgrade() -> None:
    op.drop_table("gallery_changes")
    op.drop_table("reviews")
    op.drop_index("ix_searches_authorisation_id", "searches")
    for table, columns in _NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.drop_column(column.name)
