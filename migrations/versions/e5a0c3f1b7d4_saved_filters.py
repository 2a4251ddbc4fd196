"""saved filters

Revision ID: e5a0c3f1b7d4
Revises: c4e1a7b9d2f0
Create Date: 2026-12-07 12:00:00.000000

儲存的篩選條件: an account's named queries of a report page.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a0c3f1b7d4'
down_revision = 'c4e1a7b9d2f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_filters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('report', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('query', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_saved_filters_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_saved_filters_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_filters')),
    sa.UniqueConstraint('account_id', 'report', 'name', name=op.f('uq_saved_filters_account_id_report_name'))
    )
    with op.batch_alter_table('saved_filters', schema=None) as batch_op:
        batch_op.create_index('ix_saved_filters_account_id_report', ['account_id', 'report'], unique=False)
        batch_op.create_index(batch_op.f('ix_saved_filters_store_id'), ['store_id'], unique=False)


def downgrade():
    with op.batch_alter_table('saved_filters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_filters_store_id'))
        batch_op.drop_index('ix_saved_filters_account_id_report')

    op.drop_table('saved_filters')
