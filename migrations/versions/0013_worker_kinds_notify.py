"""worker_heartbeat.modes and .concurrency; on PostgreSQL, NOTIFY when a job is queued

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:00:00

Each worker records the kinds of job it takes (core.jobs.kinds; empty: all) and how many it runs at
once, so the admin page can show them and name queued jobs that no live worker takes.

On PostgreSQL a trigger sends NOTIFY vorm_job_queued (core.jobs.wakeup.CHANNEL) whenever a row of
generation_job becomes queued and due: a new job, a requeue, a job recovered or released. It is sent
in the transaction that queues the job, so listeners hear it when that commits, and never for a
rollback. PostgreSQL folds identical notifications of one transaction into one.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION vorm_notify_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.run_after IS NULL OR NEW.run_after <= now() THEN
        PERFORM pg_notify('vorm_job_queued', '');
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    with op.batch_alter_table('worker_heartbeat') as batch:
        batch.add_column(sa.Column('modes', sa.String(length=64), nullable=False, server_default=''))
        batch.add_column(sa.Column('concurrency', sa.Integer(), nullable=False, server_default='1'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_FUNCTION)
        op.execute("CREATE TRIGGER generation_job_queued_insert AFTER INSERT ON generation_job FOR EACH ROW "
                   "WHEN (NEW.status = 'queued') EXECUTE FUNCTION vorm_notify_job_queued()")
        op.execute("CREATE TRIGGER generation_job_queued_update AFTER UPDATE OF status ON generation_job "
                   "FOR EACH ROW WHEN (NEW.status = 'queued' AND OLD.status <> 'queued') "
                   "EXECUTE FUNCTION vorm_notify_job_queued()")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS generation_job_queued_update ON generation_job")
        op.execute("DROP TRIGGER IF EXISTS generation_job_queued_insert ON generation_job")
        op.execute("DROP FUNCTION IF EXISTS vorm_notify_job_queued()")
    with op.batch_alter_table('worker_heartbeat') as batch:
        batch.drop_column('concurrency')
        batch.drop_column('modes')
