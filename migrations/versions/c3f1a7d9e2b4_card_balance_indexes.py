"""card balance indexes: a store's transactions and refunds by status and date

Revision ID: c3f1a7d9e2b4
Revises: b7e2d4a9c1f5
Create Date: 2026-12-07 17:30:00.000000

A refund is checked against the store's card balance (money closed and not yet paid out, less
refunds not yet netted); both sums read one store's rows of a few states since a date.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3f1a7d9e2b4'
down_revision = 'b7e2d4a9c1f5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_card_transactions_store_status_closed',
                              ['store_id', 'status', 'closed_at'], unique=False)
    with op.batch_alter_table('card_refunds', schema=None) as batch_op:
        batch_op.create_index('ix_card_refunds_store_status_settled',
                              ['store_id', 'status', 'settled_at'], unique=False)


def downgrade():
    with op.batch_alter_table('card_refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_card_refunds_store_status_settled')
    with op.batch_alter_table('card_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_card_transactions_store_status_closed')
