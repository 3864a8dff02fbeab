"""job error parameters: a failure is stored as a code and its parameters, shown in the viewer's language

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:00:00

error_message keeps the English text with its detail, for operators; users see the message of
error_code, rendered from error_params in their own language.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('generation_job') as batch:
        batch.add_column(sa.Column('error_params', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('generation_job') as batch:
        batch.drop_column('error_params')
