"""support threads, messages and alert references

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:20:28.233412
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.db.base import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "support_threads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("open_key", sa.String(length=40), nullable=True),
        sa.Column("assigned_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_customer_message_at", UTCDateTime(), nullable=True),
        sa.Column("last_staff_message_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'closed')", name=op.f("ck_support_threads_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_support_threads_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_support_threads_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_threads")),
        sa.UniqueConstraint("open_key", name=op.f("uq_support_threads_open_key")),
    )
    with op.batch_alter_table("support_threads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_threads_customer_updated", ["customer_id", "updated_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_support_threads_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_support_threads_status_updated", ["status", "updated_at"], unique=False
        )

    op.create_table(
        "support_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "thread_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("staff_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "author IN ('customer', 'staff')", name=op.f("ck_support_messages_author_known")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["support_threads.id"],
            name=op.f("fk_support_messages_thread_id_support_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_messages")),
    )
    with op.batch_alter_table("support_messages", schema=None) as batch_op:
        batch_op.create_index("ix_support_messages_thread_id_id", ["thread_id", "id"], unique=False)

    op.create_table(
        "support_message_refs",
        sa.Column("ref", sa.String(length=120), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["support_messages.id"],
            name=op.f("fk_support_message_refs_message_id_support_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_support_message_refs")),
    )
    with op.batch_alter_table("support_message_refs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_message_refs_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("support_message_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_message_refs_message_id"))

    op.drop_table("support_message_refs")
    with op.batch_alter_table("support_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_support_messages_thread_id_id")

    op.drop_table("support_messages")
    with op.batch_alter_table("support_threads", schema=None) as batch_op:
        batch_op.drop_index("ix_support_threads_status_updated")
        batch_op.drop_index(batch_op.f("ix_support_threads_order_id"))
        batch_op.drop_index("ix_support_threads_customer_updated")

    op.drop_table("support_threads")
