"""attempt counters

Revision ID: a7d3e5f1c9b2
Revises: e8b3f1a2c7d4
Create Date: 2026-12-08 10:00:00.000000

Atomic attempt counters (login, wallet confirmation) when no Redis is configured: one row per
key and fixed window, incremented with INSERT … ON CONFLICT DO UPDATE … RETURNING.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d3e5f1c9b2'
down_revision = 'e8b3f1a2c7d4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('attempt_counters',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_attempt_counters'))
    )
    with op.batch_alter_table('attempt_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempt_counters_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('attempt_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempt_counters_expires_at'))

    op.drop_table('attempt_counters')
