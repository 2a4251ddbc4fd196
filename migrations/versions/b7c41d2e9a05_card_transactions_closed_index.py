"""card transactions: an index by close date (已關帳列表)

Revision ID: b7c41d2e9a05
Revises: 865e9965cdbc
Create Date: 2026-12-08 09:00:00.000000

The 信用卡收單 lists read a store's transactions by 授權日期 (indexed) or 關帳日期 (this one).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b7c41d2e9a05'
down_revision = '865e9965cdbc'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_card_transactions_store_closed', ['store_id', 'closed_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('card_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_card_transactions_store_closed')
