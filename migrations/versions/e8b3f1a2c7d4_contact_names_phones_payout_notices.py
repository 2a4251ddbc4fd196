"""contact names and phones, 收款通知

Revision ID: e8b3f1a2c7d4
Revises: e5a0c3f1b7d4
Create Date: 2026-12-07 12:00:00.000000

廠商基本資料: each contact's name and phone beside its e-mails, the store's 收款通知 setting, and
the payout notices queued (one per store and payout day).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e8b3f1a2c7d4'
down_revision = 'e5a0c3f1b7d4'
branch_labels = None
depends_on = None

_CONTACT_COLUMNS = (("finance_name", 20), ("finance_phone", 30), ("sales_name", 20),
                    ("sales_phone", 30), ("technical_name", 20), ("technical_phone", 30))


def upgrade():
    with op.batch_alter_table('stores', schema=None) as batch_op:
        for name, width in _CONTACT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=width), server_default='',
                                          nullable=False))
        batch_op.add_column(sa.Column('payout_notice', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))

    op.create_table('payout_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('to_merchant', sa.Integer(), nullable=False),
    sa.Column('payout', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['bank_sync_runs.id'], name=op.f('fk_payout_notices_run_id_bank_sync_runs')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_payout_notices_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_notices')),
    sa.UniqueConstraint('store_id', 'day', name=op.f('uq_payout_notices_store_id_day'))
    )


def downgrade():
    op.drop_table('payout_notices')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('payout_notice')
        for name, _ in reversed(_CONTACT_COLUMNS):
            batch_op.drop_column(name)
