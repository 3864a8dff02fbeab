"""subscription last event time: Stripe events arrive out of order, and an older one must not undo a newer one

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:00:00

When Stripe's API cannot be asked for a subscription's current state, the webhook applies an event's
own copy only if the event is not older than the last one applied to that subscription.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscription') as batch:
        batch.add_column(sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscription') as batch:
        batch.drop_column('last_event_at')
