"""checkout orders: a failed state, the last decline and when the order failed

Revision ID: b7e2d4a9c1f5
Revises: a4c8e1f2b7d3
Create Date: 2026-12-07 12:00:00.000000

An order whose card was declined and that the consumer gave up (or that was locked after too
many declines) becomes `failed`: its result (RtnCode ≠ 1, RtnMsg the last decline) goes to the
merchant's OrderResultURL through the browser.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2d4a9c1f5'
down_revision = 'a4c8e1f2b7d3'
branch_labels = None
depends_on = None

CHECK = "ck_checkout_orders_checkout_order_status"


def upgrade():
    with op.batch_alter_table('checkout_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_decline', sa.String(length=200), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK),
                                         "status IN ('pending', 'paid', 'failed')")


def downgrade():
    op.execute("UPDATE checkout_orders SET status = 'pending' WHERE status = 'failed'")
    with op.batch_alter_table('checkout_orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK),
                                         "status IN ('pending', 'paid')")
        batch_op.drop_column('failed_at')
        batch_op.drop_column('last_decline')
