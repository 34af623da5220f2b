"""run resources: peak memory, CPU time and time in line per run

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('peak_memory_mb', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('cpu_seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('queued_s', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_column('queued_s')
        batch_op.drop_column('cpu_seconds')
        batch_op.drop_column('peak_memory_mb')
