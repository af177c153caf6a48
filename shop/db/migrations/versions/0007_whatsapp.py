"""WhatsApp channel: contacts, inbound de-duplication log, outbound messages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.db.base import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "whatsapp_contacts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("bsuid", sa.String(length=100), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("last_inbound_at", UTCDateTime(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_whatsapp_contacts_customer_id_customers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_contacts")),
        sa.UniqueConstraint("bsuid", name=op.f("uq_whatsapp_contacts_bsuid")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_whatsapp_contacts_customer_id")),
    )
    op.create_table(
        "whatsapp_inbound",
        sa.Column("id", _ID, nullable=False),
        sa.Column("wamid", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_inbound")),
        sa.UniqueConstraint("wamid", "status", name=op.f("uq_whatsapp_inbound_wamid_status")),
    )
    op.create_index("ix_whatsapp_inbound_pending", "whatsapp_inbound", ["processed_at", "id"],
                    unique=False)
    op.create_table(
        "whatsapp_outbound",
        sa.Column("id", _ID, nullable=False),
        sa.Column("wamid", sa.String(length=200), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("topic", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("fallback_wamid", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_whatsapp_outbound_customer_id_customers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_outbound")),
        sa.UniqueConstraint("wamid", name=op.f("uq_whatsapp_outbound_wamid")),
    )
    op.create_index(op.f("ix_whatsapp_outbound_customer_id"), "whatsapp_outbound",
                    ["customer_id"], unique=False)
    op.create_index(op.f("ix_whatsapp_outbound_event_id"), "whatsapp_outbound", ["event_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_whatsapp_outbound_event_id"), table_name="whatsapp_outbound")
    op.drop_index(op.f("ix_whatsapp_outbound_customer_id"), table_name="whatsapp_outbound")
    op.drop_table("whatsapp_outbound")
    op.drop_index("ix_whatsapp_inbound_pending", table_name="whatsapp_inbound")
    op.drop_table("whatsapp_inbound")
    op.drop_table("whatsapp_contacts")
