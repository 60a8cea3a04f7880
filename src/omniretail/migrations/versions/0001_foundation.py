"""foundation: keys, outbox, audit, channels, catalogue, locations

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omniretail.core.db
from omniretail.channels.service import standard_channel_rows

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=50), nullable=True),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('object_type', sa.String(length=50), nullable=False),
    sa.Column('object_id', sa.String(length=100), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_object', ['object_type', 'object_id', 'id'], unique=False)

    channels = op.create_table('channels',
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sales', sa.Boolean(), nullable=False, comment='orders can be placed through it'),
    sa.Column('service', sa.Boolean(), nullable=False, comment='customers can talk to staff through it'),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_channels'))
    )
    op.bulk_insert(channels, [{**row, "created_at": datetime.now(UTC)} for row in standard_channel_rows()])
    op.create_table('locations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('brand', sa.String(length=100), nullable=True),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('address_line1', sa.String(length=200), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('postcode', sa.String(length=20), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('pickup', sa.Boolean(), nullable=False),
    sa.Column('ship_from_store', sa.Boolean(), nullable=False),
    sa.Column('hub', sa.Boolean(), nullable=False),
    sa.Column('daily_capacity', sa.Integer(), nullable=False),
    sa.Column('opening_hours', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("type IN ('store', 'warehouse', 'hub')", name=op.f('ck_locations_type_known')),
    sa.CheckConstraint('daily_capacity >= 0', name=op.f('ck_locations_capacity_not_negative')),
    sa.CheckConstraint('lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180', name=op.f('ck_locations_coordinates_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations'))
    )
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.create_index('ix_locations_lat_lon', ['lat', 'lon'], unique=False)

    op.create_table('outbox_events',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('object_type', sa.String(length=50), nullable=False),
    sa.Column('object_id', sa.String(length=100), nullable=False),
    sa.Column('occurred_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('published_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_outbox_events')),
    sa.UniqueConstraint('id', name=op.f('uq_outbox_events_id'))
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_unpublished', ['published_at', 'seq'], unique=False)

    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('ean', sa.String(length=14), nullable=True),
    sa.Column('gtin14', sa.String(length=14), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('brand', sa.String(length=100), nullable=True),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('family', sa.String(length=64), nullable=True, comment='shared by the variants of one product'),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('rating', sa.Float(), nullable=True),
    sa.Column('rating_count', sa.Integer(), nullable=False),
    sa.Column('image_urls', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('is_gift', sa.Boolean(), nullable=False),
    sa.Column('perishable', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price_minor >= 0', name=op.f('ck_products_price_not_negative')),
    sa.CheckConstraint('rating IS NULL OR (rating >= 0 AND rating <= 5)', name=op.f('ck_products_rating_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('gtin14', name=op.f('uq_products_gtin14')),
    sa.UniqueConstraint('sku', name=op.f('uq_products_sku'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_family'), ['family'], unique=False)

    op.create_table('search_keys',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('key', 'term', name=op.f('pk_search_keys')),
    sqlite_with_rowid=False,
    )
    op.create_table('search_terms',
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.Column('df', sa.Integer(), nullable=False, comment='number of products indexed by this word'),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_search_terms')),
    sqlite_with_rowid=False,
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False, comment='first characters of the key, shown to humans'),
    sa.Column('key_hash', sa.String(length=64), nullable=False, comment='SHA-256 of the key'),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('location_ids', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('channel', sa.String(length=50), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('revoked_at', omniretail.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['channel'], ['channels.code'], name=op.f('fk_api_keys_channel_channels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('product_alternatives',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('alternative_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alternative_id'], ['products.id'], name=op.f('fk_product_alternatives_alternative_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_alternatives_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('product_id', 'alternative_id', name=op.f('pk_product_alternatives'))
    )
    op.create_table('product_terms',
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False, comment='static order among equal matches, lower first'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_terms_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('term', 'rank', 'product_id', name=op.f('pk_product_terms')),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('product_terms', schema=None) as batch_op:
        batch_op.create_index('ix_product_terms_product', ['product_id', 'term'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('product_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_product_terms_product')

    op.drop_table('product_terms')
    op.drop_table('product_alternatives')
    op.drop_table('api_keys')
    op.drop_table('search_terms')
    op.drop_table('search_keys')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_family'))
        batch_op.drop_index(batch_op.f('ix_products_category'))

    op.drop_table('products')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_unpublished')

    op.drop_table('outbox_events')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_index('ix_locations_lat_lon')

    op.drop_table('locations')
    op.drop_table('channels')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_object')

    op.drop_table('audit_log')
