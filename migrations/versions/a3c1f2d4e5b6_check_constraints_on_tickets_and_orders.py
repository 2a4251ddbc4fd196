"""check constraints on tickets and orders

Revision ID: a3c1f2d4e5b6
Revises: d18a863c8ef6
Create Date: 2026-12-06 12:00:00

The database refuses a ticket whose face value is not positive or whose return handling fee is
outside 0..face value, a negative print count, and an order with a negative count or amount,
whatever code writes them (the services already refuse them).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a3c1f2d4e5b6'
down_revision = 'd18a863c8ef6'
branch_labels = None
depends_on = None

TICKETS = (
    ("face_value_positive", "face_value > 0"),
    ("return_fee_range", "return_fee IS NULL OR (return_fee >= 0 AND return_fee <= face_value)"),
    ("print_count_not_negative", "print_count >= 0"),
)
ORDERS = (
    ("ticket_count_not_negative", "ticket_count >= 0"),
    ("amount_not_negative", "amount >= 0"),
)


def upgrade():
    for table, checks in (("tickets", TICKETS), ("orders", ORDERS)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in checks:
                batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), condition)


def downgrade():
    for table, checks in (("orders", ORDERS), ("tickets", TICKETS)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in checks:
                batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
