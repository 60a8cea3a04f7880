"""inventory: levels, lots, reservations, ledger, counts, transfers, gifts; idempotency keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omniretail.core.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('owner', sa.String(length=200), nullable=False, comment='the API key (or actor) that sent it'),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False, comment='SHA-256 of method, path and body'),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('created_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('owner_type', sa.String(length=20), nullable=False, comment='order, cart, transfer, pos, manual'),
    sa.Column('owner_id', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('expires_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.CheckConstraint("status IN ('active', 'released', 'consumed', 'expired')", name=op.f('ck_reservations_status_known')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_reservations_quantity_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index('ix_reservations_expiry', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_reservations_level', ['location_id', 'product_id', 'status'], unique=False)
        batch_op.create_index('ix_reservations_owner', ['owner_type', 'owner_id'], unique=False)

    op.create_table('stock_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_counts'))
    )
    with op.batch_alter_table('stock_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_counts_location_id'), ['location_id'], unique=False)

    op.create_table('stock_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False, comment='receipt, consume, adjustment, count, transfer_out, ...'),
    sa.Column('reason', sa.String(length=50), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=50), nullable=True),
    sa.Column('cause_type', sa.String(length=20), nullable=True),
    sa.Column('cause_id', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_ledger'))
    )
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_stock_ledger_level', ['location_id', 'product_id', 'id'], unique=False)

    op.create_table('stock_lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('lot_code', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('expired', sa.Boolean(), nullable=False, comment='marked expired; awaiting write-off'),
    sa.Column('received_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('production_date IS NULL OR expiry_date IS NULL OR expiry_date >= production_date', name=op.f('ck_stock_lots_expiry_after_production')),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_stock_lots_quantity_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_lots')),
    sa.UniqueConstraint('location_id', 'product_id', 'lot_code', name='uq_stock_lots_lot'),
    comment='lots of a stock level; their quantities sum to its on_hand'
    )
    with op.batch_alter_table('stock_lots', schema=None) as batch_op:
        batch_op.create_index('ix_stock_lots_fefo', ['location_id', 'product_id', 'expiry_date'], unique=False)

    op.create_table('stock_count_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('count_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('lot_code', sa.String(length=64), nullable=True),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('counted', sa.Integer(), nullable=False),
    sa.Column('variance', sa.Integer(), nullable=False),
    sa.Column('variance_value_minor', sa.Integer(), nullable=False, comment='variance × list price, minor units'),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['count_id'], ['stock_counts.id'], name=op.f('fk_stock_count_lines_count_id_stock_counts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_count_lines'))
    )
    with op.batch_alter_table('stock_count_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_count_lines_count_id'), ['count_id'], unique=False)

    op.create_table('stock_levels',
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False, comment='units physically here, all lots'),
    sa.Column('reserved', sa.Integer(), nullable=False, comment='units promised by active reservations'),
    sa.Column('expired', sa.Integer(), nullable=False, comment='units in lots marked expired'),
    sa.Column('inbound', sa.Integer(), nullable=False, comment='units in transit to here (not available)'),
    sa.Column('safety_stock', sa.Integer(), nullable=True, comment='kept back from online orders; NULL: location default'),
    sa.Column('next_expiry', sa.Date(), nullable=True, comment='earliest expiry among sellable lots with units'),
    sa.Column('low', sa.Boolean(), nullable=False, comment='a gift at or below its minimum stock here'),
    sa.Column('updated_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('expired >= 0 AND expired <= on_hand', name=op.f('ck_stock_levels_expired_within_on_hand')),
    sa.CheckConstraint('inbound >= 0', name=op.f('ck_stock_levels_inbound_not_negative')),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_stock_levels_on_hand_not_negative')),
    sa.CheckConstraint('reserved >= 0 AND reserved <= on_hand', name=op.f('ck_stock_levels_reserved_within_on_hand')),
    sa.CheckConstraint('safety_stock IS NULL OR safety_stock >= 0', name=op.f('ck_stock_levels_safety_stock_not_negative')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_stock_levels_location_id_locations')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_levels_product_id_products')),
    sa.PrimaryKeyConstraint('location_id', 'product_id', name=op.f('pk_stock_levels'))
    )
    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.create_index('ix_stock_levels_product', ['product_id', 'location_id'], unique=False)

    op.create_table('transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_location_id', sa.String(length=64), nullable=False),
    sa.Column('to_location_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.CheckConstraint("status IN ('requested', 'picked', 'in_transit', 'received', 'cancelled')", name=op.f('ck_transfers_status_known')),
    sa.CheckConstraint('from_location_id <> to_location_id', name=op.f('ck_transfers_two_locations')),
    sa.ForeignKeyConstraint(['from_location_id'], ['locations.id'], name=op.f('fk_transfers_from_location_id_locations')),
    sa.ForeignKeyConstraint(['to_location_id'], ['locations.id'], name=op.f('fk_transfers_to_location_id_locations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers'))
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index('ix_transfers_status', ['status', 'id'], unique=False)

    op.create_table('transfer_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('requested', sa.Integer(), nullable=False),
    sa.Column('picked', sa.Integer(), nullable=False),
    sa.Column('shipped', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('discrepancy', sa.Integer(), nullable=False, comment='shipped but never received (at close)'),
    sa.CheckConstraint('requested > 0 AND picked <= requested AND shipped <= picked AND received + discrepancy <= shipped', name=op.f('ck_transfer_lines_quantities_in_order')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_transfer_lines_product_id_products')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_transfer_lines_transfer_id_transfers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_lines'))
    )
    with op.batch_alter_table('transfer_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_lines_transfer_id'), ['transfer_id'], unique=False)

    op.create_table('transfer_lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('lot_code', sa.String(length=64), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['transfer_lines.id'], name=op.f('fk_transfer_lots_line_id_transfer_lines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_lots'))
    )
    with op.batch_alter_table('transfer_lots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_lots_line_id'), ['line_id'], unique=False)

    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('safety_stock', sa.Integer(), nullable=False, server_default='0',
                                      comment='units of each SKU kept back from online orders'))

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gift_min_stock', sa.Integer(), nullable=True, comment='gift: at or below this many units a location runs out'))
        batch_op.add_column(sa.Column('gift_low_policy', sa.String(length=8), nullable=False, server_default='flag',
                                      comment='gift running out: flag it, or hide it from channels'))



def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('gift_low_policy')
        batch_op.drop_column('gift_min_stock')

    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('safety_stock')

    with op.batch_alter_table('transfer_lots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_lots_line_id'))

    op.drop_table('transfer_lots')
    with op.batch_alter_table('transfer_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_lines_transfer_id'))

    op.drop_table('transfer_lines')
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_transfers_status')

    op.drop_table('transfers')
    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_levels_product')

    op.drop_table('stock_levels')
    with op.batch_alter_table('stock_count_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_count_lines_count_id'))

    op.drop_table('stock_count_lines')
    with op.batch_alter_table('stock_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_lots_fefo')

    op.drop_table('stock_lots')
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_ledger_level')

    op.drop_table('stock_ledger')
    with op.batch_alter_table('stock_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_counts_location_id'))

    op.drop_table('stock_counts')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_owner')
        batch_op.drop_index('ix_reservations_level')
        batch_op.drop_index('ix_reservations_expiry')

    op.drop_table('reservations')
    op.drop_table('idempotency_keys')
