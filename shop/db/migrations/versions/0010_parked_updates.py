"""Webhook updates answered before they were handled, kept until they are

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.db.base import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("parked_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_updates")),
        sa.UniqueConstraint("channel", "bot_id", "update_id",
                            name=op.f("uq_parked_updates_channel_bot_id_update_id")),
    )
    op.create_index("ix_parked_updates_lease", "parked_updates",
                    ["channel", "bot_id", "lease_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_parked_updates_lease", table_name="parked_updates")
    op.drop_table("parked_updates")
