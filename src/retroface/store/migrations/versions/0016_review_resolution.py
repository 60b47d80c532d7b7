"""Supervisor resolution of disputed candidates and candidate reuse (issue 20).

``review_resolutions``: a supervisor's resolution of a candidate two reviewers disagreed
on (outcome, reason, the standing it gave); one per candidate.

``candidate_findings``: each search's finding of a candidate (search, probe face, rank,
score, whether the candidate already existed). A repeated search of the same evidence
adds a finding to the existing candidate instead of a duplicate candidate. Every
candidate recorded before this revision gets the finding of the search that made it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("supervisor", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_review_resolutions_candidate_id_candidates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_resolutions")),
        sa.UniqueConstraint("candidate_id", name=op.f("uq_review_resolutions_candidate_id")),
    )
    op.create_table(
        "candidate_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("search_id", sa.String(length=36), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_candidate_findings_candidate_id_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["search_id"], ["searches.id"], name=op.f("fk_candidate_findings_search_id_searches")
        ),
        sa.ForeignKeyConstraint(
            ["face_id"], ["faces.id"], name=op.f("fk_candidate_findings_face_id_faces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate_findings")),
    )
    for column in ("candidate_id", "search_id", "face_id"):
        op.create_index(op.f(f"ix_candidate_findings_{column}"), "candidate_findings", [column])
    # Every existing candidate was found by the search that made it.
    op.execute(
        "INSERT INTO candidate_findings "
        "(candidate_id, search_id, face_id, rank, score, reused, found_at) "
        "SELECT c.id, c.search_id, c.face_id, c.rank, c.score, false, s.started_at "
        "FROM candidates c JOIN searches s ON s.id = c.search_id"
    )


def downgrade() -> None:
    for column in ("candidate_id", "search_id", "face_id"):
        op.drop_index(op.f(f"ix_candidate_findings_{column}"), "candidate_findings")
    op.drop_table("candidate_findings")
    op.drop_table("review_resolutions")
