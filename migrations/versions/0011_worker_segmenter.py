"""worker_heartbeat.segmenter: which background remover each worker has

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 20:30:00

A worker with a learned segmenter installed (python -m core.manage models pull NAME) names it here;
the admin page and /metrics show it. Without one the worker's masks come from GrabCut.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('worker_heartbeat') as batch:
        batch.add_column(sa.Column('segmenter', sa.String(length=64), nullable=False, server_default='grabcut'))


def downgrade() -> None:
    with op.batch_alter_table('worker_heartbeat') as batch:
        batch.drop_column('segmenter')
