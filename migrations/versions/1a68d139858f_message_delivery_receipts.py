"""message delivery receipts: delivered, when it was delivered or failed, provider_ref indexed

Revision ID: 1a68d139858f
Revises: 7c6ed1fcd558
Create Date: 2026-12-08 10:00:00.000000

A message handed to the SMS gateway or the SMTP server may later be reported delivered
(`delivered`, `delivered_at`) or not delivered (`failed`, `failed_at`, the reason in `error`):
by the gateway's signed status callback, or by a delivery status notification read from the
bounce mailbox. Both find the message by the provider's reference, hence its index.

The status is a portable enum (a string with a CHECK constraint, not a PostgreSQL enum type),
so a new value is a wider column and a new constraint, inside the migration's transaction.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1a68d139858f'
down_revision = '7c6ed1fcd558'
branch_labels = None
depends_on = None

CHECK = "ck_messages_message_status"
BEFORE = ("queued", "sent", "recorded", "failed")
AFTER = ("queued", "sent", "recorded", "delivered", "failed")


def _allowed(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.alter_column('status', existing_type=sa.String(length=8),
                              type_=sa.String(length=9), existing_nullable=False)
        batch_op.create_check_constraint(op.f(CHECK), _allowed(AFTER))
        batch_op.create_index('ix_messages_provider_ref', ['provider_ref'], unique=False)


def downgrade():
    op.execute("UPDATE messages SET status = 'sent' WHERE status = 'delivered'")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_provider_ref')
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.alter_column('status', existing_type=sa.String(length=9),
                              type_=sa.String(length=8), existing_nullable=False)
        batch_op.create_check_constraint(op.f(CHECK), _allowed(BEFORE))
        batch_op.drop_column('failed_at')
        batch_op.drop_column('delivered_at')
