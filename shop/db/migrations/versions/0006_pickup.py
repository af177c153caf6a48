"""shipping methods say whether they need a delivery address (pickup does not)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shipping_methods", sa.Column(
        "needs_address", sa.Boolean(), nullable=False, server_default=sa.true()))
    # Methods made before this column keep their meaning: pickup was never sent anywhere.
    methods = sa.table("shipping_methods", sa.column("kind", sa.String),
                       sa.column("needs_address", sa.Boolean))
    op.execute(methods.update().where(methods.c.kind == "pickup").values(needs_address=False))


def downgrade() -> None:
    with op.batch_alter_table("shipping_methods") as batch:
        batch.drop_column("needs_address")
