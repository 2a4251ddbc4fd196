"""Secrets at rest (issue 17 item 5): a dump of the database gives no working redemption code,
e-ticket link, pickup code, wallet code or password-reset link; lookups, screens and re-sends
still work; the probe is one index scan on PostgreSQL; the migration keeps existing values."""

from __future__ import annotations

import re

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from app import create_app, credentials
from app.auth import services as auth
from app.auth.protection_models import TwoFactor
from app.auth.services import create_api_token
from app.db import db
from app.ecpay import keys
from app.notifications.models import Channel, Message
from app.orders import services as orders
from app.printing import services as printing
from app.stores.models import DeliveryMethod, Store
from app.tickets import codes
from app.tickets import services as tickets
from app.tickets.models import Order, Ticket
from app.transfers.models import Transfer
from app.wallet import links
from tests.conftest import base_config
from tests.factories import STAGE_KEYS, login, make_order, make_store, make_totp
from tests.wallet.helpers import confirm, give, issue_order, shop, tickets_of

PREVIOUS = "c4e1a7b9d2f0"  # the revision before the credentials left the tables
KEY = "k" * 40


# ---- pure: the derived values keep the formats, rules and lengths -----------------------------

@pytest.mark.parametrize("salt", ["0" * 32, "f" * 32, "0123456789abcdef" * 2])
def test_derived_values_keep_their_formats(salt):
    key = b"a server key"
    code = codes.derive_redemption_code(key, "ABCDE20261207001", salt)
    link = codes.derive_link_token(key, "order", salt)
    pickup = codes.derive_pickup_code(key, salt)
    assert len(code) == codes.CODE_LENGTH and codes.is_well_formed(code)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", link)
    assert re.fullmatch(r"[1-9]\d{11}", pickup)
    # the key, the serial and the salt all change the value
    assert code != codes.derive_redemption_code(b"another key", "ABCDE20261207001", salt)
    assert code != codes.derive_redemption_code(key, "ABCDE20261207002", salt)
    assert link != codes.derive_link_token(key, "transfer", salt)


def test_derived_codes_use_every_character_and_catch_typos():
    made = [codes.derive_redemption_code(b"k", "S", f"{n:032x}") for n in range(3000)]
    assert len(set(made)) == len(made)
    assert all(len({c[i] for c in made}) == 32 for i in range(codes.CODE_BODY))
    swapped = made[0][1] + made[0][0] + made[0][2:]
    assert made[0][0] == made[0][1] or not codes.is_well_formed(swapped)


@pytest.mark.parametrize(("value", "keep", "shown"), [
    ("123456789012", 4, "********9012"), ("123456", 0, "******"), ("ab", 4, "ab"), ("", 4, "")])
def test_mask(value, keep, shown):
    assert credentials.mask(value, keep) == shown


def test_seal_and_markers_round_trip(ctx):
    key = credentials.key(credentials.current_version())
    sealed = credentials.seal(key, "code:salt", "ABCD-1234")
    assert "ABCD" not in sealed and credentials.unseal(key, "code:salt", sealed) == "ABCD-1234"
    text_ = f"連結：{credentials.conceal('https://x.tw/t/SECRET', 'https://x.tw/t/…CRET')}。"
    assert "SECRET" not in text_
    assert credentials.reveal_text(text_) == "連結：https://x.tw/t/SECRET。"
    assert credentials.masked_text(text_) == "連結：https://x.tw/t/…CRET。"


def test_the_key_comes_from_the_environment_and_production_requires_it(monkeypatch):
    production = {"SECRET_KEY": "s", "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://h/db",
                  "TESTING": False, "DEBUG": False}
    monkeypatch.delenv("ECTIX_CODE_KEY", raising=False)
    with pytest.raises(RuntimeError, match="ECTIX_CODE_KEY"):
        create_app(production)
    development = create_app(base_config("sqlite://"))  # derived from SECRET_KEY
    assert development.config["CODE_KEYS"] == {1: credentials.keys_from_environment(
        {}, "test-secret-key")[1][1]}
    monkeypatch.setenv("ECTIX_CODE_KEY", KEY)
    monkeypatch.setenv("ECTIX_CODE_KEY_VERSION", "2")
    monkeypatch.setenv("ECTIX_CODE_KEY_1", "the retired key")
    app = create_app(production)
    assert app.config["CODE_KEY_VERSION"] == 2
    assert app.config["CODE_KEYS"] == {2: KEY.encode(), 1: b"the retired key"}


# ---- the dump -------------------------------------------------------------------------------

def _dump() -> str:
    """Every row of every table as text, as `pg_dump`/`.dump` would hold them."""
    lines = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


def test_a_dump_after_issuing_and_sending_holds_no_working_code_or_link(ctx, client):
    store, owner, pickup, _ = shop("dumpshop")
    electronic = issue_order(owner, store, pickup, quantity=2)
    cvs = issue_order(owner, store, pickup, quantity=1, method=DeliveryMethod.IBON)
    transfer = give(electronic, tickets_of(electronic)[:1])
    orders.resend_notice(owner, store, electronic.id)
    db.session.commit()
    setattr(store, auth.RESET_RECIPIENTS[0], "tech@dumpshop.example.tw")
    db.session.commit()
    auth.request_password_reset(owner.username, ip="127.0.0.1")
    db.session.commit()
    client.post(f"/t/{electronic.link_token}/code")  # a wallet code by e-mail (if offered)

    secrets_ = [t.code for o in (electronic, cvs) for t in tickets_of(o)]
    secrets_ += [electronic.link_token, cvs.pickup_code, transfer.link_token]
    sent = db.session.scalars(select(Message).execution_options(unscoped=True)).all()
    assert {m.channel for m in sent} == {Channel.EMAIL, Channel.SMS}
    as_sent = "\n".join(m.revealed_body for m in sent)
    reset = re.search(r"/reset-password/([A-Za-z0-9_-]+)", as_sent)
    assert reset and auth.live_reset_token(reset.group(1)) is not None
    secrets_.append(reset.group(1))
    # the messages as sent carry the real link and pickup code ...
    assert electronic.link_token in as_sent and cvs.pickup_code in as_sent
    assert transfer.link_token in as_sent
    dump = _dump()
    assert len(dump) > 1000 and electronic.order_no in dump  # the dump is real
    for value in secrets_:  # ... and nothing in the dump does
        assert value and value not in dump, value
        assert codes.display_code(value) not in dump


# ---- lookups, screens, re-sends -------------------------------------------------------------

def test_lookups_hash_the_typed_value(ctx, client):
    store, owner, pickup, _ = shop("lookshop")
    order = issue_order(owner, store, pickup, quantity=2)
    cvs = issue_order(owner, store, pickup, quantity=1, method=DeliveryMethod.IBON)
    first, second = tickets_of(order)
    # the counter (dashes, lower case) and the global search
    assert tickets.find_by_code(store, codes.display_code(first.code).lower()).id == first.id
    # the wallet link
    holding = links.resolve(order.link_token)
    assert holding is not None and holding.order.id == order.id
    assert links.resolve(order.link_token[:-1] + ("A" if order.link_token[-1] != "A" else "B")) is None
    # the kiosk's pickup code
    assert printing.kiosk_order(cvs.pickup_code).id == cvs.id
    # the API
    _, token = create_api_token(owner, "t")
    db.session.commit()
    response = client.post("/api/v1/redemptions", json={"code": second.code},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201 and response.get_json()["code"] == second.code


def test_screens_show_the_derived_code_and_the_sms_log_masks_it(ctx, client):
    store, owner, pickup, _ = shop("screenshop")
    cvs = issue_order(owner, store, pickup, quantity=1, method=DeliveryMethod.IBON)
    [ticket] = tickets_of(cvs)
    login(client, owner.username)
    detail = client.get(f"/orders/{cvs.id}").get_data(as_text=True)
    assert ticket.code[-4:] in detail
    log = client.get("/sms-log/").get_data(as_text=True)
    assert cvs.pickup_code not in log and f"********{cvs.pickup_code[-4:]}" in log


def test_a_renewed_credential_finds_nothing_and_a_resend_carries_the_new_one(ctx):
    store, owner, pickup, _ = shop("renewshop")
    order = issue_order(owner, store, pickup)
    old = order.link_token
    order.renew_credentials()
    db.session.commit()
    assert links.resolve(old) is None and links.resolve(order.link_token).order.id == order.id
    orders.resend_notice(owner, store, order.id)
    db.session.commit()
    resent = db.session.scalars(select(Message).where(Message.kind == "resend")
                                .execution_options(unscoped=True)).all()
    assert resent and all(order.link_token in m.revealed_body and order.link_token not in m.body
                          for m in resent)


def test_a_given_value_is_kept_sealed_and_found(ctx):
    order = make_order(make_store("sealshop"))
    order.pickup_code = "555555555555"
    db.session.commit()
    assert order.pickup_code_sealed and "555555555555" not in order.pickup_code_sealed
    found = db.session.scalar(select(Order).where(Order.pickup_code.matches("555555555555")))
    assert found.id == order.id and found.pickup_code == "555555555555"
    with pytest.raises(TypeError):
        _ = Ticket.code == "X"


# ---- the wallet's entry page masks the holder ---------------------------------------------

def test_the_wallet_entry_page_masks_the_holders_name_until_confirmed(ctx, client):
    store, owner, pickup, _ = shop("maskshop")
    order = issue_order(owner, store, pickup, name="林小美")
    entry = client.get(f"/t/{order.link_token}").get_data(as_text=True)
    assert "林○美 您好" in entry and "林小美" not in entry
    assert confirm(client, order.link_token).status_code == 303
    page = client.get(f"/t/{order.link_token}").get_data(as_text=True)
    assert "林小美" in page


# ---- PostgreSQL: one index probe ------------------------------------------------------------

def test_the_code_lookup_is_one_index_scan_on_postgres(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = shop("planshop")
        order = issue_order(owner, store, pickup, quantity=400)
        ticket = tickets_of(order)[7]
        db.session.execute(text("ANALYZE tickets"))
        stmt = select(Ticket.id).where(Ticket.code.matches(ticket.code))
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.scalars(text(f"EXPLAIN {compiled}")))
        print(plan)
        assert "Index" in plan and "uq_tickets_code_digest" in plan and "Seq Scan" not in plan
        assert db.session.scalar(stmt) == ticket.id
        links_plan = "\n".join(db.session.scalars(text("EXPLAIN " + str(
            select(Order.id).where(Order.link_token.matches(order.link_token))
            .compile(db.engine, compile_kwargs={"literal_binds": True})))))
        assert "uq_orders_link_token_digest" in links_plan
        db.session.remove()


# ---- the migration keeps every existing value ----------------------------------------------

def test_the_migration_backfills_existing_codes_and_links(app):
    with app.app_context():
        store, owner, pickup, _ = shop("migrshop")
        order = issue_order(owner, store, pickup, quantity=2)
        cvs = issue_order(owner, store, pickup, quantity=1, method=DeliveryMethod.IBON)
        transfer = give(order, tickets_of(order)[:1])
        store_id, order_id, cvs_id, transfer_id = store.id, order.id, cvs.id, transfer.id
        before = {"codes": [t.code for o in (order, cvs) for t in tickets_of(o)],
                  "link": order.link_token, "pickup": cvs.pickup_code, "transfer": transfer.link_token}
        db.session.remove()

        downgrade(revision=PREVIOUS)  # the plain columns come back, filled
        plain = db.session.execute(text("SELECT code FROM tickets ORDER BY id")).scalars().all()
        assert plain == before["codes"]
        assert db.session.scalar(text("SELECT link_token FROM orders WHERE id = :i"),
                                 {"i": order_id}) == before["link"]
        bodies = "\n".join(db.session.scalars(text("SELECT body FROM messages")))
        assert before["link"] in bodies  # the old outbox, as it was
        db.session.remove()

        upgrade()  # backfill: digests and sealed values; the plain columns dropped
        assert "code" not in {c["name"] for c in inspect(db.engine).get_columns("tickets")}
        dump = _dump()
        for value in [*before["codes"], before["link"], before["pickup"], before["transfer"]]:
            assert value not in dump
        assert [t.code for o in (order_id, cvs_id) for t in tickets_of(db.session.get(Order, o))] \
            == before["codes"]
        assert tickets.find_by_code(db.session.get(Store, store_id),
                                    before["codes"][0]).order_id == order_id
        assert links.resolve(before["link"]).order.id == order_id
        assert links.resolve(before["transfer"]).transfer.id == transfer_id
        assert printing.kiosk_order(before["pickup"]).id == cvs_id
        sealed = db.session.scalar(select(Transfer).where(Transfer.id == transfer_id))
        assert sealed.link_token_sealed  # kept sealed: not derivable from a new salt
        sent = "\n".join(m.revealed_body for m in db.session.scalars(
            select(Message).execution_options(unscoped=True)))
        assert before["link"] in sent  # the outbox still sends the real link
        db.session.remove()


# ---- rotation: a new key, the old codes keep working, then the old key can go ----------------

def test_rotating_the_key_keeps_every_code_and_link(app, ctx):
    store, owner, pickup, _ = shop("rotateshop")
    order = issue_order(owner, store, pickup, quantity=2)
    cvs = issue_order(owner, store, pickup, quantity=1, method=DeliveryMethod.IBON)
    before = [t.code for t in tickets_of(order)], order.link_token, cvs.pickup_code
    keys.install_pair(store.id, STAGE_KEYS)
    totp = make_totp(owner)
    db.session.commit()
    old_key = app.config["CODE_KEYS"][1]
    app.config.update(CODE_KEY_VERSION=2, CODE_KEYS={1: old_key, 2: b"the new key"})
    db.session.expire_all()
    # during the rotation: old rows still found (one probe with both keys' digests)
    assert tickets.find_by_code(store, before[0][0]).order_id == order.id
    fresh = issue_order(owner, store, pickup, quantity=1)
    assert tickets_of(fresh)[0].secret_version == 2

    result = app.test_cli_runner().invoke(args=["secrets", "rotate", "--chunk", "2"])
    assert result.exit_code == 0 and "tickets: 3 moved to key version 2" in result.output
    app.config.update(CODE_KEYS={2: b"the new key"})  # the retired key removed
    db.session.expire_all()
    order, cvs = db.session.get(Order, order.id), db.session.get(Order, cvs.id)
    assert ([t.code for t in tickets_of(order)], order.link_token, cvs.pickup_code) == before
    assert tickets.find_by_code(store, before[0][1]).order_id == order.id
    assert links.resolve(before[1]).order.id == order.id
    assert printing.kiosk_order(before[2]).id == cvs.id
    assert tickets_of(fresh)[0].code  # a ticket made under the new key is unaffected
    assert "integration keys: 1, authenticator keys: 1" in result.output
    assert keys.current_pair(store.id) == STAGE_KEYS
    assert db.session.scalar(select(TwoFactor)).secret == totp
