"""activity actor role

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 18:37:56.350921
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_role', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('actor_role')

