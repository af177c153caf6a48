"""catalog change log, so every worker's search index follows changes made elsewhere

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.db.base import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("product_id", sa.BigInteger(), nullable=True),
        sa.Column("variant_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_catalog_changes_created_at", "catalog_changes", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_catalog_changes_created_at", table_name="catalog_changes")
    op.drop_table("catalog_changes")
