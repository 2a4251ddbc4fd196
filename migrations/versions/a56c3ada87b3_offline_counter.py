"""offline counter: the store's 櫃台離線核銷 switch and the offline redemptions devices synced

Revision ID: a56c3ada87b3
Revises: 1a68d139858f
Create Date: 2026-12-07 22:46:07.422566

store_settings.offline_enabled: on unless a store turns it off (existing stores too).
offline_redemptions: one row per redemption a counter device made from its snapshot while
offline, unique per (store, the device's idempotency key), synced or a conflict with both
sides' facts; the merchant's 離線核銷衝突 list reads it by store, outcome and time.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a56c3ada87b3'
down_revision = '1a68d139858f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('offline_redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('claimed_ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('offline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('snapshot_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Enum('synced', 'conflict', name='offline_outcome', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('conflict', sa.Enum('redeemed_elsewhere', 'returned', 'window_closed', 'not_allowed', 'unknown_ticket', 'other', name='offline_conflict', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('server_status', sa.String(length=30), nullable=True),
    sa.Column('server_said', sa.Text(), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_offline_redemptions_account_id_accounts')),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_offline_redemptions_branch_id_branches')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['accounts.id'], name=op.f('fk_offline_redemptions_handled_by_id_accounts')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_offline_redemptions_store_id_stores')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_offline_redemptions_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_redemptions')),
    sa.UniqueConstraint('store_id', 'key', name=op.f('uq_offline_redemptions_store_id_key'))
    )
    with op.batch_alter_table('offline_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_offline_redemptions_store_id_outcome_received_at', ['store_id', 'outcome', 'received_at'], unique=False)
        batch_op.create_index('ix_offline_redemptions_ticket_id', ['ticket_id'], unique=False)

    with op.batch_alter_table('store_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offline_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade():
    with op.batch_alter_table('store_settings', schema=None) as batch_op:
        batch_op.drop_column('offline_enabled')

    with op.batch_alter_table('offline_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_offline_redemptions_ticket_id')
        batch_op.drop_index('ix_offline_redemptions_store_id_outcome_received_at')

    op.drop_table('offline_redemptions')
