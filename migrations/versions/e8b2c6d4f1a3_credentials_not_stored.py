"""credentials not stored: keyed digests instead of codes, links and pickup codes

Revision ID: e8b2c6d4f1a3
Revises: d81608416961
Create Date: 2026-12-07 12:00:00.000000

Issue 17 item 5 (docs/operations.md 「核銷代碼與連結的金鑰」). Tickets' redemption codes, orders'
e-ticket link tokens and pickup codes and transfers' link tokens move from plain columns to a
salt, a key version, a keyed digest (unique) and, for the existing values, the value sealed with
the server key (app/credentials.py), so every existing code and link keeps working. The outbox's
links and codes become sealed markers. Needs the app's key (ECTIX_CODE_KEY, or in development
the one derived from SECRET_KEY): run it through `flask db upgrade`.
"""
import re

import sqlalchemy as sa
from alembic import op

from app import credentials

# revision identifiers, used by Alembic.
revision = 'e8b2c6d4f1a3'
down_revision = 'd81608416961'
branch_labels = None
depends_on = None

CHUNK = 2000

# (table, [(plain column, credential kind, digest column, sealed column, sealed length)])
TABLES = [
    ('tickets', [('code', 'code', 'code_digest', 'code_sealed', 80)]),
    ('orders', [('link_token', 'link', 'link_token_digest', 'link_token_sealed', 160),
                ('pickup_code', 'pickup', 'pickup_code_digest', 'pickup_code_sealed', 80)]),
    ('transfers', [('link_token', 'transfer-link', 'link_token_digest', 'link_token_sealed', 160)]),
]
PLAIN = {'tickets': [('code', 18, False)], 'orders': [('link_token', 64, True), ('pickup_code', 20, True)],
         'transfers': [('link_token', 64, False)]}


def _rows(bind, table: sa.Table, columns):
    last = 0
    while True:
        rows = bind.execute(sa.select(table.c.id, *columns).where(table.c.id > last)
                            .order_by(table.c.id).limit(CHUNK)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def upgrade():
    bind = op.get_bind()
    version = credentials.current_version()
    key = credentials.key(version)
    for name, secrets in TABLES:
        with op.batch_alter_table(name) as batch_op:
            batch_op.add_column(sa.Column('secret_salt', sa.String(32), nullable=True))
            batch_op.add_column(sa.Column('secret_version', sa.SmallInteger(), nullable=True))
            for _plain, _kind, digest, sealed, length in secrets:
                batch_op.add_column(sa.Column(digest, sa.String(64), nullable=True))
                batch_op.add_column(sa.Column(sealed, sa.String(length), nullable=True))
        table = sa.table(name, sa.column('id'), sa.column('secret_salt'), sa.column('secret_version'),
                         *(sa.column(c) for s in secrets for c in (s[0], s[2], s[3])))
        update = table.update().where(table.c.id == sa.bindparam('row_id'))
        for rows in _rows(bind, table, [table.c[s[0]] for s in secrets]):
            values = []
            for row in rows:
                salt = credentials.new_salt()
                item = {'row_id': row[0], 'secret_salt': salt, 'secret_version': version}
                for (_plain, kind, digest, sealed, _), value in zip(secrets, row[1:], strict=True):
                    item[digest] = credentials.digest(key, kind, value) if value else None
                    item[sealed] = credentials.seal(key, f'{kind}:{salt}', value) if value else None
                values.append(item)
            bind.execute(update.values({c: sa.bindparam(c) for c in values[0] if c != 'row_id'}),
                         values)
        with op.batch_alter_table(name) as batch_op:
            batch_op.alter_column('secret_salt', existing_type=sa.String(32), nullable=False)
            batch_op.alter_column('secret_version', existing_type=sa.SmallInteger(), nullable=False)
            for plain, _kind, digest, _sealed, _ in secrets:
                nullable = name == 'orders'
                if not nullable:
                    batch_op.alter_column(digest, existing_type=sa.String(64), nullable=False)
                batch_op.create_unique_constraint(batch_op.f(f'uq_{name}_{digest}'), [digest])
                batch_op.drop_constraint(batch_op.f(f'uq_{name}_{plain}'), type_='unique')
                batch_op.drop_column(plain)
    _seal_outbox(bind, key, version)


_RESET = re.compile(r'(https?://\S+/reset-password/)([A-Za-z0-9_-]+)')
_MAIL_CODE = re.compile(r'(驗證碼為：)(\S+)')


def _marker(key: bytes, version: int, value: str, masked: str) -> str:
    nonce = credentials.new_salt()
    return f"⟦s{version}:{nonce}:{credentials.seal(key, f'outbox:{nonce}', value)}:{masked}⟧"


def _seal_outbox(bind, key: bytes, version: int) -> None:
    """Every link and code already in the outbox becomes a sealed marker."""
    # the plain values are gone from the tables: read them back from the sealed columns
    orders, transfers = sa.table('orders', sa.column('id'), sa.column('secret_salt'),
                                 sa.column('link_token_sealed'), sa.column('pickup_code_sealed')), \
        sa.table('transfers', sa.column('order_id'), sa.column('secret_salt'),
                 sa.column('link_token_sealed'))
    messages = sa.table('messages', sa.column('id'), sa.column('order_id'), sa.column('body'))
    for rows in _rows(bind, messages, [messages.c.order_id, messages.c.body]):
        changed = []
        for message_id, order_id, body in rows:
            new = body or ''
            values: list[str] = []
            if order_id is not None:
                for salt, link, pickup in bind.execute(sa.select(
                        orders.c.secret_salt, orders.c.link_token_sealed,
                        orders.c.pickup_code_sealed).where(orders.c.id == order_id)):
                    if link:
                        values.append(credentials.unseal(key, f'link:{salt}', link))
                    if pickup:
                        values.append(credentials.unseal(key, f'pickup:{salt}', pickup))
                for salt, link in bind.execute(sa.select(
                        transfers.c.secret_salt, transfers.c.link_token_sealed)
                        .where(transfers.c.order_id == order_id)):
                    values.append(credentials.unseal(key, f'transfer-link:{salt}', link))
            for value in values:
                if value and value in new:
                    new = new.replace(value, _marker(key, version, value, credentials.mask(value)))
            new = _RESET.sub(lambda m: _marker(key, version, m[0], m[1] + '…'), new)
            new = _MAIL_CODE.sub(lambda m: m[1] + _marker(key, version, m[2], credentials.mask(m[2], 0)), new)
            if new != (body or ''):
                changed.append({'row_id': message_id, 'body': new})
        if changed:
            bind.execute(messages.update().where(messages.c.id == sa.bindparam('row_id'))
                         .values(body=sa.bindparam('body')), changed)


def downgrade():
    from app.tickets import codes

    bind = op.get_bind()
    derive = {
        'code': lambda key, row: codes.derive_redemption_code(key, row['serial'], row['secret_salt']),
        'link': lambda key, row: codes.derive_link_token(key, 'order', row['secret_salt']),
        'pickup': lambda key, row: codes.derive_pickup_code(key, row['secret_salt']),
        'transfer-link': lambda key, row: codes.derive_link_token(key, 'transfer', row['secret_salt']),
    }
    messages = sa.table('messages', sa.column('id'), sa.column('body'))
    for rows in _rows(bind, messages, [messages.c.body]):
        changed = [{'row_id': i, 'body': credentials.reveal_text(b)} for i, b in rows
                   if b and '⟦s' in b]
        if changed:
            bind.execute(messages.update().where(messages.c.id == sa.bindparam('row_id'))
                         .values(body=sa.bindparam('body')), changed)
    for name, secrets in TABLES:
        with op.batch_alter_table(name) as batch_op:
            for plain, length, _nullable in PLAIN[name]:
                batch_op.add_column(sa.Column(plain, sa.String(length), nullable=True))
        extra = ['serial'] if name == 'tickets' else []
        cols = ['secret_salt', 'secret_version', *extra,
                *(c for s in secrets for c in (s[0], s[2], s[3]))]
        table = sa.table(name, sa.column('id'), *(sa.column(c) for c in cols))
        read = [table.c[c] for c in cols if c not in {s[0] for s in secrets}]
        for rows in _rows(bind, table, read):
            values = []
            for row in rows:
                row = dict(zip(['id', *(c.name for c in read)], row, strict=True))
                key = credentials.key(row['secret_version'])
                item = {'row_id': row['id']}
                for plain, kind, digest, sealed, _ in secrets:
                    if row[digest] is None:
                        item[plain] = None
                    elif row[sealed]:
                        item[plain] = credentials.unseal(key, f"{kind}:{row['secret_salt']}", row[sealed])
                    else:
                        item[plain] = derive[kind](key, row)
                values.append(item)
            bind.execute(table.update().where(table.c.id == sa.bindparam('row_id'))
                         .values({c: sa.bindparam(c) for c in values[0] if c != 'row_id'}), values)
        with op.batch_alter_table(name) as batch_op:
            for plain, length, nullable in PLAIN[name]:
                if not nullable:
                    batch_op.alter_column(plain, existing_type=sa.String(length), nullable=False)
                batch_op.create_unique_constraint(batch_op.f(f'uq_{name}_{plain}'), [plain])
            for _plain, _kind, digest, sealed, _ in secrets:
                batch_op.drop_constraint(batch_op.f(f'uq_{name}_{digest}'), type_='unique')
                batch_op.drop_column(digest)
                batch_op.drop_column(sealed)
            batch_op.drop_column('secret_version')
            batch_op.drop_column('secret_salt')
