"""model dependencies: a model's entry file and dependency lock, and the lock each run used

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('optimization_models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entry', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('dependency_lock', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('lock_sha256', sa.String(length=64), nullable=True))
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lock_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_column('lock_sha256')
    with op.batch_alter_table('optimization_models', schema=None) as batch_op:
        batch_op.drop_column('lock_sha256')
        batch_op.drop_column('dependency_lock')
        batch_op.drop_column('entry')
