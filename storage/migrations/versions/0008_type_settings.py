"""settings per model type (versioned), the settings version a run used, an active dataset per type

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'type_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_type', sa.String(length=8), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('config', sa.JSON(), nullable=False),
        sa.Column('changed_by', sa.String(length=200), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('model_type', 'version'),
    )
    op.create_index(op.f('ix_type_settings_model_type'), 'type_settings', ['model_type'], unique=False)
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settings_version', sa.Integer(), nullable=True))
    with op.batch_alter_table('data_sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_active', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_data_sources_is_active'), ['is_active'], unique=False)
    # what runs read until now: the newest dataset of each type becomes its active one
    op.execute(sa.text(
        "UPDATE data_sources SET is_active = :yes WHERE id = (SELECT newest.id FROM data_sources AS newest "
        "WHERE newest.model_type = data_sources.model_type ORDER BY newest.uploaded_at DESC, newest.id DESC LIMIT 1)"
    ).bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table('data_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_sources_is_active'))
        batch_op.drop_column('is_active')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_column('settings_version')
    op.drop_index(op.f('ix_type_settings_model_type'), table_name='type_settings')
    op.drop_table('type_settings')
