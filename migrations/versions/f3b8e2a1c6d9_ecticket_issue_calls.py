"""ecticket issue calls

Revision ID: f3b8e2a1c6d9
Revises: cf2d5f225b1c
Create Date: 2026-12-20 12:00:00.000000

ECTicket API: each accepted Issue call (its order number, the ECT order number chosen for it,
the hash of its Data, the answer replayed to the same call, its batch, the notice URLs).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3b8e2a1c6d9'
down_revision = 'cf2d5f225b1c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ecticket_issue_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('merchant_order_no', sa.String(length=25), nullable=False),
    sa.Column('ticket_trade_no', sa.String(length=24), nullable=False),
    sa.Column('payment_provider', sa.String(length=1), nullable=False),
    sa.Column('data_hash', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=10), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('refund_notify_url', sa.String(length=200), nullable=False),
    sa.Column('use_status_notify_url', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_ecticket_issue_calls_batch_id_batches')),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_ecticket_issue_calls_branch_id_branches')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ecticket_issue_calls_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ecticket_issue_calls')),
    sa.UniqueConstraint('store_id', 'merchant_order_no', name=op.f('uq_ecticket_issue_calls_store_id_merchant_order_no')),
    sa.UniqueConstraint('ticket_trade_no', name=op.f('uq_ecticket_issue_calls_ticket_trade_no'))
    )
    with op.batch_alter_table('ecticket_issue_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ecticket_issue_calls_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ecticket_issue_calls_store_id'), ['store_id'], unique=False)


def downgrade():
    with op.batch_alter_table('ecticket_issue_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ecticket_issue_calls_store_id'))
        batch_op.drop_index(batch_op.f('ix_ecticket_issue_calls_batch_id'))

    op.drop_table('ecticket_issue_calls')
