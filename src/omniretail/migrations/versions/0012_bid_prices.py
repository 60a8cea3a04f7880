"""bid prices: what a unit of each location's stock and picking capacity is worth, and the runs that found it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import omniretail.core.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bid_prices',
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=10), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('price', sa.Float(), nullable=False),
    sa.Column('computed_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("resource IN ('stock', 'capacity')", name=op.f('ck_bid_prices_resource_known')),
    sa.CheckConstraint("(resource = 'capacity') = (sku = '')", name=op.f('ck_bid_prices_capacity_has_no_sku')),
    sa.CheckConstraint('price > 0', name=op.f('ck_bid_prices_price_positive')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_bid_prices_location_id_locations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('location_id', 'resource', 'sku', name=op.f('pk_bid_prices'))
    )
    op.create_table('bid_price_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('computed_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=80), nullable=False),
    sa.Column('history_days', sa.Integer(), nullable=False),
    sa.Column('horizon_hours', sa.Float(), nullable=False),
    sa.Column('history_orders', sa.Integer(), nullable=False),
    sa.Column('forecast_units', sa.Float(), nullable=False),
    sa.Column('scenarios', sa.Integer(), nullable=False),
    sa.Column('locations', sa.Integer(), nullable=False),
    sa.Column('stock_prices', sa.Integer(), nullable=False),
    sa.Column('capacity_prices', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid_price_runs'))
    )


def downgrade() -> None:
    op.drop_table('bid_price_runs')
    op.drop_table('bid_prices')
