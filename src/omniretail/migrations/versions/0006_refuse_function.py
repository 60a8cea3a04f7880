"""omniretail_refuse(reason): lets a single data-modifying statement undo itself; orders without an address

A statement that reserves several level rows and writes an order in one round trip calls it when one
guard refused: the error aborts the statement, so nothing of it is written (PostgreSQL only).
Orders without a delivery address stored the JSON value null; they store SQL NULL now (an erasure
marked them as if an address had been erased).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:40:00
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("UPDATE orders SET delivery_address = NULL WHERE delivery_address = 'null'")
        return
    op.execute("UPDATE orders SET delivery_address = NULL WHERE delivery_address = 'null'::jsonb")
    op.execute("""
        CREATE FUNCTION omniretail_refuse(reason text) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'omniretail refused: %', reason USING ERRCODE = 'P0001';
        END
        $$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION omniretail_refuse(text)")
