"""two-factor login, login IP allow-list, login notices

Revision ID: a7d3f25c9e10
Revises: b3c9d1e7f4a2
Create Date: 2026-12-08 10:00:00.000000

雙因子驗證 (TOTP or e-mailed codes, recovery codes), 登入後台 IP設定 per account, the store's
"require two-factor" flag set by the operator, and 3-5 login-notice settings per store.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d3f25c9e10'
down_revision = 'b3c9d1e7f4a2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('login_ips', sa.String(length=200), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_two_factor', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    op.create_table('two_factors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("method IN ('totp', 'email')", name=op.f('ck_two_factors_method_known')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_two_factors_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_two_factors')),
    sa.UniqueConstraint('account_id', name=op.f('uq_two_factors_account_id'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_recovery_codes_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_account_id'), ['account_id'], unique=False)
    op.create_table('email_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.CheckConstraint("purpose IN ('login', 'setup', 'remove', 'recovery')", name=op.f('ck_email_codes_purpose_known')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_email_codes_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_codes'))
    )
    with op.batch_alter_table('email_codes', schema=None) as batch_op:
        batch_op.create_index('ix_email_codes_account_id_purpose', ['account_id', 'purpose'], unique=False)
    op.create_table('login_notice_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notify_failures', sa.Boolean(), nullable=False),
    sa.Column('failure_threshold', sa.Integer(), nullable=False),
    sa.Column('notify_new_device', sa.Boolean(), nullable=False),
    sa.Column('to_finance', sa.Boolean(), nullable=False),
    sa.Column('to_sales', sa.Boolean(), nullable=False),
    sa.Column('to_technical', sa.Boolean(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('failure_threshold BETWEEN 1 AND 10', name=op.f('ck_login_notice_settings_threshold_range')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_login_notice_settings_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_notice_settings')),
    sa.UniqueConstraint('store_id', name=op.f('uq_login_notice_settings_store_id'))
    )
    with op.batch_alter_table('login_notice_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_notice_settings_store_id'), ['store_id'], unique=False)


def downgrade():
    with op.batch_alter_table('login_notice_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_notice_settings_store_id'))
    op.drop_table('login_notice_settings')
    with op.batch_alter_table('email_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_email_codes_account_id_purpose')
    op.drop_table('email_codes')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_account_id'))
    op.drop_table('recovery_codes')
    op.drop_table('two_factors')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('require_two_factor')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('login_ips')
