"""billing: money is bigint

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06 20:30:00

Stripe counts amounts in 64-bit cents. invoice_record.amount_cents was an INTEGER, which PostgreSQL
caps at 2^31 - 1 cents (21 million euro): a signed invoice.paid event above it failed with a 500
and Stripe retried it for days. SQLite's INTEGER already holds 64 bits; the column type is changed
on both so that the schema matches the models.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice_record') as batch:
        batch.alter_column('amount_cents', existing_type=sa.Integer(), type_=sa.BigInteger(),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('invoice_record') as batch:
        batch.alter_column('amount_cents', existing_type=sa.BigInteger(), type_=sa.Integer(),
                           existing_nullable=False)
