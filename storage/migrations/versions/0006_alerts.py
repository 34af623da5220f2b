"""alerts: the outbox of alert events and their delivery per destination

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('job_id', sa.String(length=64), nullable=True),
        sa.Column('model_type', sa.String(length=8), nullable=True),
        sa.Column('facts', sa.JSON(), nullable=False),
        sa.Column('deliveries', sa.JSON(), nullable=False),
        sa.Column('done', sa.Boolean(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('lease_owner', sa.String(length=64), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index(op.f('ix_alerts_job_id'), 'alerts', ['job_id'], unique=False)
    op.create_index(op.f('ix_alerts_model_type'), 'alerts', ['model_type'], unique=False)
    op.create_index(op.f('ix_alerts_done'), 'alerts', ['done'], unique=False)
    op.create_index(op.f('ix_alerts_created_at'), 'alerts', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('alerts')
