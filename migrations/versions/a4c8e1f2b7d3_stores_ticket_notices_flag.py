"""stores: whether an ECTicket Issue call asked for notices

Revision ID: a4c8e1f2b7d3
Revises: 05399efeea4e
Create Date: 2026-12-07 06:05:00.000000

A ticket move looks for a use-status or refund notice URL only for stores that asked for
notices, so the redemption path of every other store runs one statement fewer.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4c8e1f2b7d3'
down_revision = '05399efeea4e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ticket_notices', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    # stores whose batches already carry notice URLs keep getting their notices
    op.execute("UPDATE stores SET ticket_notices = TRUE WHERE id IN (SELECT store_id FROM batches "
               "WHERE refund_notify_url <> '' OR use_status_notify_url <> '')")


def downgrade():
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('ticket_notices')
