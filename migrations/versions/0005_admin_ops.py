"""admin operations: support threads, privacy request outcomes, indexes for the metrics page

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00

support_message holds a ticket's thread after its first message (support's replies and the
user's answers); privacy_request.resolution_note is the outcome the user reads on "My data".
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import core.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'support_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('admin_id', sa.Integer(), nullable=True),
        sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
        sa.Column('created_at', core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['support_ticket.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('support_message') as batch:
        batch.create_index('ix_support_message_ticket_id', ['ticket_id'])
        batch.create_index('ix_support_message_user_id', ['user_id'])
    with op.batch_alter_table('privacy_request') as batch:
        batch.add_column(sa.Column('resolution_note', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True))
        batch.create_index('ix_privacy_request_due_at', ['due_at'])
    # The metrics page aggregates in the database; these keep its queries on index ranges.
    op.create_index('ix_job_created_status', 'generation_job', ['created_at', 'status'])
    op.create_index('ix_job_finished_worker', 'generation_job', ['finished_at', 'worker_id'])
    op.create_index('ix_access_created_user', 'access_event', ['created_at', 'user_id'])
    op.create_index('ix_user_created_at', 'user', ['created_at'])
    op.create_index('ix_support_ticket_status', 'support_ticket', ['status', 'updated_at'])
    op.create_index('ix_subscription_status', 'subscription', ['status'])


def downgrade() -> None:
    for name, table in (('ix_subscription_status', 'subscription'), ('ix_support_ticket_status', 'support_ticket'),
                        ('ix_user_created_at', 'user'), ('ix_access_created_user', 'access_event'),
                        ('ix_job_finished_worker', 'generation_job'), ('ix_job_created_status', 'generation_job')):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('privacy_request') as batch:
        batch.drop_index('ix_privacy_request_due_at')
        batch.drop_column('resolution_note')
    op.drop_table('support_message')
