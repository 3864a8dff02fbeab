"""queue: a partial index in claim order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 05:00:00

Workers claim ``ORDER BY priority DESC, id`` among queued jobs. ix_job_claim
(status, priority, id) cannot give that mixed order, so every claim sorted the
whole backlog; this partial index serves it directly and stays as small as the queue.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_job_queued_order', 'generation_job', [sa.text('priority DESC'), 'id'], unique=False,
                    postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))


def downgrade() -> None:
    op.drop_index('ix_job_queued_order', table_name='generation_job')
