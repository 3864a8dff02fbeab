"""billing: checkout sessions, the subscription's price, cancellation at period end and payment grace

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00

checkout_session keeps each open Stripe Checkout Session, so that a double click on "Upgrade" reuses
one. subscription.past_due_since starts the grace period of a failed payment; cancel_at_period_end
and stripe_price_id are shown on the Account page. Only Stripe ids and amounts: never card data.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscription') as batch:
        batch.add_column(sa.Column('stripe_price_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('past_due_since', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'checkout_session',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=False),
        sa.Column('stripe_session_id', sa.String(length=255), nullable=False, unique=True),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_checkout_session_user_id', 'checkout_session', ['user_id'])


def downgrade() -> None:
    op.drop_index('ix_checkout_session_user_id', table_name='checkout_session')
    op.drop_table('checkout_session')
    with op.batch_alter_table('subscription') as batch:
        batch.drop_column('past_due_since')
        batch.drop_column('cancel_at_period_end')
        batch.drop_column('stripe_price_id')
