"""location loads: units sent out for delivery per location and day, held against its daily capacity

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('location_loads',
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.CheckConstraint('units >= 0', name=op.f('ck_location_loads_units_not_negative')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_location_loads_location_id_locations')),
    sa.PrimaryKeyConstraint('location_id', 'day', name=op.f('pk_location_loads'))
    )


def downgrade() -> None:
    op.drop_table('location_loads')
