"""Account lifecycle: when each password was set (expiry), and the key that hashes unknown names.

``users.password_changed_at`` starts at each account's creation time. The
``login_name_key`` deployment setting holds 32 random bytes: a failed log-in
under a name that matches no account is audited as the HMAC-SHA256 of that
name under this key, never as the text typed (which may be a password).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

LOGIN_NAME_KEY = "login_name_key"


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild): other tables reference ``users``.
    op.add_column("users", sa.Column("password_changed_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE users SET password_changed_at = created_at")
    settings = sa.table(
        "deployment_settings",
        sa.column("key", sa.String),
        sa.column("value", sa.JSON),
        sa.column("set_by", sa.String),
        sa.column("set_at", sa.DateTime),
    )
    key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    op.bulk_insert(
        settings,
        [
            {
                "key": LOGIN_NAME_KEY,
                "value": {"key": key},
                "set_by": "migration 0011",
                "set_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM deployment_settings WHERE key = '{LOGIN_NAME_KEY}'")
    op.drop_column("users", "password_changed_at")
