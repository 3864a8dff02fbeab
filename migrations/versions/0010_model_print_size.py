"""model3d: a print size in mm for every model, and the mode the engine really used

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 20:00:00

model3d.print_size_mm is the model's longest side when printed; downloads are scaled to it, so a
slicer (which reads millimetres) gets a 100 mm object by default instead of a 1 mm speck. Models
made with a print size keep it (their mesh is already in mm); the others get 100 mm. model3d.mode
held the asked-for mode ("auto"); it now holds the mode the engine used, which the job's stats record.
"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None

DEFAULT_PRINT_SIZE_MM = 100.0
MODES = ('inflate', 'relief', 'carve')


def _loads(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def upgrade() -> None:
    with op.batch_alter_table('model3d') as batch:
        batch.add_column(sa.Column('print_size_mm', sa.Float(), nullable=False, server_default='100'))
    bind = op.get_bind()
    model3d = sa.table('model3d', sa.column('id', sa.Integer()), sa.column('mode', sa.String()),
                       sa.column('extents', sa.JSON()), sa.column('stats', sa.JSON()),
                       sa.column('print_size_mm', sa.Float()))
    rows = bind.execute(sa.select(model3d.c.id, model3d.c.mode, model3d.c.extents, model3d.c.stats)).all()
    for row in rows:
        stats = _loads(row.stats) or {}
        extents = _loads(row.extents) or []
        values = {}
        if stats.get('units') == 'mm' and extents:
            values['print_size_mm'] = round(float(max(extents)), 3) or DEFAULT_PRINT_SIZE_MM
        if row.mode == 'auto' and stats.get('mode') in MODES:
            values['mode'] = stats['mode']
        if values:
            bind.execute(model3d.update().where(model3d.c.id == row.id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table('model3d') as batch:
        batch.drop_column('print_size_mm')
