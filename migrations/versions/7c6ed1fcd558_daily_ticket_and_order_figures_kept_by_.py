"""daily ticket and order figures kept by triggers

Every insert, update and delete on tickets and orders appends what it changes in the reports'
figures to ticket_figure_changes / order_figure_changes (PostgreSQL: one statement-level trigger
per event over its transition tables; SQLite: row triggers). app.tickets.figures folds the changes
into the totals each minute. The figures of the rows already there are counted here.

Revision ID: 7c6ed1fcd558
Revises: c3f1a7d9e2b4
Create Date: 2026-12-07 22:41:28.596416

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '7c6ed1fcd558'
down_revision = 'c3f1a7d9e2b4'
branch_labels = None
depends_on = None

TICKET_KEY = "store_id, measure, day, branch_id, other_store_id, kind, status, expires_on"


def _day(column, dialect):
    if dialect == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'Asia/Taipei') AS DATE)"
    return f"date({column}, '+8 hours')"  # SQLite keeps UTC as text; Taiwan has no DST


def _ticket_parts(t, sign, dialect, batch_branch, source=""):
    """The three contributions of ticket rows `t` (a table alias, or NEW / OLD) as SELECTs, with
    `source` as their FROM clause ("" in a SQLite row trigger)."""
    common = (f"{t}.kind AS kind, {t}.status AS status, {t}.expires_on AS expires_on, "
              f"{sign} AS n, {sign} * {t}.face_value AS amount")
    return [
        f"SELECT {t}.store_id AS store_id, 'issued' AS measure, "
        f"{_day(f'{t}.issued_at', dialect)} AS day, coalesce({batch_branch}, 0) AS branch_id, "
        f"0 AS other_store_id, {common} {source}",
        f"SELECT {t}.store_id, 'redeemed', {_day(f'{t}.redeemed_at', dialect)}, "
        f"coalesce({t}.redeemed_branch_id, 0), coalesce({t}.redeemed_store_id, 0), {common} "
        f"{source} WHERE {t}.redeemed_at IS NOT NULL",
        f"SELECT {t}.store_id, 'returned', {_day(f'{t}.returned_at', dialect)}, "
        f"coalesce({t}.returned_branch_id, 0), 0, {common} {source} WHERE {t}.returned_at IS NOT NULL",
    ]


def _pg_ticket_contributions(rows, sign):
    parts = _ticket_parts("t", sign, "postgresql", "b.created_branch_id",
                          f"FROM {rows} t LEFT JOIN batches b ON b.id = t.batch_id")
    return " UNION ALL ".join(parts)


def _order_contribution(t, sign, dialect, source=""):
    return (f"SELECT {t}.store_id AS store_id, {_day(f'{t}.created_at', dialect)} AS day, "
            f"{sign} AS n, {sign} * {t}.ticket_count AS tickets, {sign} * {t}.amount AS amount "
            f"{source}")


def _pg_order_contributions(rows, sign):
    return _order_contribution("o", sign, "postgresql", f"FROM {rows} o")


def _summed(table, key, values, contributions):
    sums = ", ".join(f"sum({v})" for v in values)
    having = " OR ".join(f"sum({v}) <> 0" for v in values)
    return (f"INSERT INTO {table} ({key}, {', '.join(values)}) "
            f"SELECT {key}, {sums} FROM ({contributions}) AS c GROUP BY {key} HAVING {having}")


def _pg_function(name, table, key, values, contributions):
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_summed(table, key, values, contributions('new_rows', 1))};
  ELSIF TG_OP = 'UPDATE' THEN
    {_summed(table, key, values, contributions('new_rows', 1) + ' UNION ALL ' + contributions('old_rows', -1))};
  ELSE
    {_summed(table, key, values, contributions('old_rows', -1))};
  END IF;
  RETURN NULL;
END $$"""


def _pg_triggers(source, function):
    return [
        f"CREATE TRIGGER {source}_figures_insert AFTER INSERT ON {source} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {source}_figures_update AFTER UPDATE ON {source} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {source}_figures_delete AFTER DELETE ON {source} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


# The ticket columns a figure depends on: an UPDATE of none of them changes no figure.
TICKET_COLUMNS = ("store_id, batch_id, kind, face_value, status, issued_at, expires_on, redeemed_at, "
                  "redeemed_store_id, redeemed_branch_id, returned_at, returned_branch_id")
SQLITE_BATCH_BRANCH = "(SELECT created_branch_id FROM batches WHERE id = {t}.batch_id)"


def _sqlite_ticket_inserts(t, sign):
    branch = SQLITE_BATCH_BRANCH.format(t=t)
    return "\n".join(f"  INSERT INTO ticket_figure_changes ({TICKET_KEY}, n, amount) {part};"
                     for part in _ticket_parts(t, sign, "sqlite", branch))


def _sqlite_order_insert(t, sign):
    return (f"  INSERT INTO order_figure_changes (store_id, day, n, tickets, amount) "
            f"{_order_contribution(t, sign, 'sqlite')};")


def _sqlite_triggers():
    return [
        f"CREATE TRIGGER tickets_figures_insert AFTER INSERT ON tickets BEGIN\n"
        f"{_sqlite_ticket_inserts('NEW', 1)}\nEND",
        f"CREATE TRIGGER tickets_figures_update AFTER UPDATE OF {TICKET_COLUMNS} ON tickets BEGIN\n"
        f"{_sqlite_ticket_inserts('OLD', -1)}\n{_sqlite_ticket_inserts('NEW', 1)}\nEND",
        f"CREATE TRIGGER tickets_figures_delete AFTER DELETE ON tickets BEGIN\n"
        f"{_sqlite_ticket_inserts('OLD', -1)}\nEND",
        f"CREATE TRIGGER orders_figures_insert AFTER INSERT ON orders BEGIN\n"
        f"{_sqlite_order_insert('NEW', 1)}\nEND",
        f"CREATE TRIGGER orders_figures_update AFTER UPDATE OF store_id, created_at, ticket_count, "
        f"amount ON orders BEGIN\n{_sqlite_order_insert('OLD', -1)}\n"
        f"{_sqlite_order_insert('NEW', 1)}\nEND",
        f"CREATE TRIGGER orders_figures_delete AFTER DELETE ON orders BEGIN\n"
        f"{_sqlite_order_insert('OLD', -1)}\nEND",
    ]


def _count_existing(dialect):
    """The figures of the rows already there, straight into the totals."""
    if dialect == "postgresql":
        tickets = _pg_ticket_contributions("tickets", 1)
    else:
        tickets = " UNION ALL ".join(_ticket_parts(
            "t", 1, "sqlite", SQLITE_BATCH_BRANCH.format(t="t"), "FROM tickets t"))
    orders = _order_contribution("o", 1, dialect, "FROM orders o")
    return [_summed("ticket_figures", TICKET_KEY, ("n", "amount"), tickets),
            _summed("order_figures", "store_id, day", ("n", "tickets", "amount"), orders)]


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('order_figure_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('tickets', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_figure_changes'))
    )
    op.create_table('order_figures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('tickets', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_figures')),
    sa.UniqueConstraint('store_id', 'day', name='uq_order_figures_key')
    )
    op.create_table('ticket_figure_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=10), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('other_store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('pickup', 'gift', name='ticket_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('unused', 'unused_escrow_expired', 'used', 'redeeming', 'redeemed', 'used_after_expiry', 'return_pending', 'returning', 'returned', 'returned_escrow_expired', 'expired', name='ticket_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_figure_changes'))
    )
    op.create_table('ticket_figures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=10), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('other_store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('pickup', 'gift', name='ticket_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('unused', 'unused_escrow_expired', 'used', 'redeeming', 'redeemed', 'used_after_expiry', 'return_pending', 'returning', 'returned', 'returned_escrow_expired', 'expired', name='ticket_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_figures')),
    sa.UniqueConstraint('store_id', 'measure', 'day', 'branch_id', 'other_store_id', 'kind', 'status', 'expires_on', name='uq_ticket_figures_key')
    )
    with op.batch_alter_table('ticket_figures', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_figures_other_store_id_measure_day', ['other_store_id', 'measure', 'day'], unique=False)

    # ### end Alembic commands ###
    dialect = op.get_bind().dialect.name
    statements = _count_existing(dialect)
    if dialect == "postgresql":
        statements += [
            _pg_function("ticket_figures_changed", "ticket_figure_changes", TICKET_KEY,
                         ("n", "amount"), _pg_ticket_contributions),
            *_pg_triggers("tickets", "ticket_figures_changed"),
            _pg_function("order_figures_changed", "order_figure_changes", "store_id, day",
                         ("n", "tickets", "amount"), _pg_order_contributions),
            *_pg_triggers("orders", "order_figures_changed"),
        ]
    else:
        statements += _sqlite_triggers()
    for statement in statements:
        op.execute(statement)


def downgrade():
    for source in ("tickets", "orders"):
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {source}_figures_{event}"
                       + (f" ON {source}" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ticket_figures_changed()")
        op.execute("DROP FUNCTION IF EXISTS order_figures_changed()")
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('ticket_figures', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_figures_other_store_id_measure_day')

    op.drop_table('ticket_figures')
    op.drop_table('ticket_figure_changes')
    op.drop_table('order_figures')
    op.drop_table('order_figure_changes')
    # ### end Alembic commands ###
