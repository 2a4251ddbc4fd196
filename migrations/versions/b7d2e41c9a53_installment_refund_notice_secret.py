"""installment refund-notice secret

Revision ID: b7d2e41c9a53
Revises: f87b30d679ee
Create Date: 2026-12-06 23:00:00.000000

The key each store's refund notices are signed with (HMAC-SHA256, shown to the merchant on
8-1 操作設定管理), and the index the refund-notice job finds refunded orders by.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2e41c9a53'
down_revision = 'f87b30d679ee'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('installment_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_secret', sa.String(length=64), server_default='',
                                      nullable=False))

    with op.batch_alter_table('installment_orders', schema=None) as batch_op:
        batch_op.create_index('ix_installment_orders_refunded_at', ['refunded_at'], unique=False,
                              postgresql_where=sa.text("refunded_at IS NOT NULL AND refund_notify_url <> ''"),
                              sqlite_where=sa.text("refunded_at IS NOT NULL AND refund_notify_url <> ''"))


def downgrade():
    with op.batch_alter_table('installment_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_installment_orders_refunded_at',
                            postgresql_where=sa.text("refunded_at IS NOT NULL AND refund_notify_url <> ''"),
                            sqlite_where=sa.text("refunded_at IS NOT NULL AND refund_notify_url <> ''"))

    with op.batch_alter_table('installment_settings', schema=None) as batch_op:
        batch_op.drop_column('notify_secret')
