"""partial indexes: no index entry for an order without a cart, till store or pickup store, or a reservation
that never expires (an order's)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

PARTIAL = (
    ("ix_orders_location", "orders", ["location_id", "id"], "location_id IS NOT NULL"),
    ("ix_orders_origin", "orders", ["origin_location_id", "id"], "origin_location_id IS NOT NULL"),
    ("ix_orders_cart", "orders", ["cart_id"], "cart_id IS NOT NULL"),
    ("ix_reservations_expiry", "reservations", ["status", "expires_at"], "expires_at IS NOT NULL"),
)


def upgrade() -> None:
    for name, table, columns, where in PARTIAL:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(name)
            batch.create_index(name, columns, unique=False, postgresql_where=sa.text(where),
                               sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, table, columns, _ in PARTIAL:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(name)
            batch.create_index(name, columns, unique=False)
