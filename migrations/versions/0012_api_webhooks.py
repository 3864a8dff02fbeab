"""public API keys, rate-limit windows, idempotency keys, webhook endpoints and their delivery outbox

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 20:00:00

api_key stores a SHA-256 of each key, never the key. api_rate_window is the per-key request counter
that every web process shares. webhook_delivery is the durable outbox the worker delivers from; one
row per endpoint and event (unique), so an event seen twice is delivered once.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'api_key',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False, unique=True),
        _ts('created_at', nullable=False), _ts('last_used_at'), _ts('revoked_at'),
    )
    op.create_index('ix_api_key_user_id', 'api_key', ['user_id'])
    op.create_table(
        'api_rate_window',
        sa.Column('key_id', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('window_start', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('count', sa.Integer(), nullable=False),
    )
    op.create_table(
        'idempotency_record',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=True),
        _ts('created_at', nullable=False),
        sa.UniqueConstraint('user_id', 'key'),
    )
    op.create_index('ix_idempotency_record_user_id', 'idempotency_record', ['user_id'])
    op.create_index('ix_idempotency_record_created_at', 'idempotency_record', ['created_at'])
    op.create_table(
        'webhook_endpoint',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('event_types', sa.JSON(), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=False),
        sa.Column('previous_secret', sa.String(length=128), nullable=True),
        _ts('previous_secret_expires_at'),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.String(length=255), nullable=True),
        sa.Column('consecutive_failures', sa.Integer(), nullable=False),
        _ts('created_at', nullable=False),
    )
    op.create_index('ix_webhook_endpoint_user_id', 'webhook_endpoint', ['user_id'])
    op.create_table(
        'webhook_delivery',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=False),
        sa.Column('endpoint_id', sa.Integer(), sa.ForeignKey('webhook_endpoint.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('event_type', sa.String(length=32), nullable=False),
        sa.Column('event_key', sa.String(length=128), nullable=False),
        sa.Column('message_id', sa.String(length=64), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _ts('next_attempt_at'),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('response_body', sa.String(length=1024), nullable=True),
        _ts('created_at', nullable=False), _ts('delivered_at'),
        sa.UniqueConstraint('endpoint_id', 'event_key'),
    )
    op.create_index('ix_webhook_delivery_user_id', 'webhook_delivery', ['user_id'])
    op.create_index('ix_webhook_delivery_endpoint_id', 'webhook_delivery', ['endpoint_id'])
    op.create_index('ix_webhook_delivery_created_at', 'webhook_delivery', ['created_at'])
    op.create_index('ix_webhook_delivery_due', 'webhook_delivery', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_table('webhook_delivery')
    op.drop_table('webhook_endpoint')
    op.drop_table('idempotency_record')
    op.drop_table('api_rate_window')
    op.drop_table('api_key')
