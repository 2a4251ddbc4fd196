"""ended login sessions per account

Revision ID: b3c9d1e7f4a2
Revises: a7d3e5f1c9b2
Create Date: 2026-12-07 03:00:00.000000

A logout ends that browser's session only: its id is kept on the account row (read with the row
every request loads), so the account's other browsers stay signed in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3c9d1e7f4a2'
down_revision = 'a7d3e5f1c9b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_sessions', sa.JSON(), nullable=False,
                                      server_default='[]'))


def downgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('ended_sessions')
