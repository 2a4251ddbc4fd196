"""delivery method as an enum column

Revision ID: 6e458d2b9676
Revises: a3c1f2d4e5b6
Create Date: 2026-12-06 21:40:07.110652

Batches, orders and tickets name their delivery method (發行方式) as one of the five methods,
checked by the database, instead of free text.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6e458d2b9676'
down_revision = 'a3c1f2d4e5b6'
branch_labels = None
depends_on = None

TABLES = ("batches", "orders", "tickets")
METHODS = ("cvs:ibon", "paper:platform_print", "paper:merchant_print", "electronic:immediate",
           "electronic:deferred")
LENGTH = max(len(m) for m in METHODS)


def upgrade():
    allowed = ", ".join(f"'{m}'" for m in METHODS)
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('delivery_method', existing_type=sa.VARCHAR(length=30),
                                  type_=sa.String(length=LENGTH), existing_nullable=False)
            batch_op.create_check_constraint(op.f(f"ck_{table}_delivery_method"),
                                             f"delivery_method IN ({allowed})")


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_delivery_method"), type_="check")
            batch_op.alter_column('delivery_method', existing_type=sa.String(length=LENGTH),
                                  type_=sa.VARCHAR(length=30), existing_nullable=False)
