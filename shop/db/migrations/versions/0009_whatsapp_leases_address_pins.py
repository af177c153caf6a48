"""WhatsApp inbox leases (several workers on one database) and shared places on addresses

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.db.base import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Who handles a received update, and until when: another worker takes it over after.
    op.add_column("whatsapp_inbound", sa.Column("claimed_by", sa.String(length=64),
                                                nullable=True))
    op.add_column("whatsapp_inbound", sa.Column("lease_until", UTCDateTime(), nullable=True))
    op.create_index("ix_whatsapp_inbound_sender", "whatsapp_inbound", ["sender", "id"],
                    unique=False)
    # A place the customer shared in the chat while typing the address, for the courier.
    op.add_column("addresses", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("addresses", sa.Column("longitude", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("addresses") as batch:
        batch.drop_column("longitude")
        batch.drop_column("latitude")
    op.drop_index("ix_whatsapp_inbound_sender", table_name="whatsapp_inbound")
    with op.batch_alter_table("whatsapp_inbound") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
