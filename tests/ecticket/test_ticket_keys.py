"""ECTicket-only key pairs: an ECTicket call opens with the ticket pair and no longer with the
shared one, card checkout keeps the shared pair, the 系統介接設定 page shows the ECTicket API
and rotates the ticket pair on its own (shown once, with a signed example that works), and
the demo store answers with ECPay's ECTicket stage pair."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.ecpay import keys
from app.products.models import Product, ProductKind
from app.stores.models import Store
from demodata.stores import load_demo
from tests.ecticket.client import Client, TransportError, flask_poster
from tests.factories import login, make_account, make_product, make_store, make_sub

TICKET = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")
AIO = keys.Pair("pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")


def _call(client, store, pair: keys.Pair, item: str) -> dict:  # noqa: ANN001
    return Client(store.merchant_code, pair.hash_key, pair.hash_iv, flask_poster(client),
                  clock=lambda: clock.now().timestamp()).call("QueryItemInfo", {"ItemNo": item})


def test_the_ticket_pair_replaces_the_shared_pair_for_ecticket_only(ctx, client) -> None:  # noqa: ANN001
    store = make_store()
    product = make_product(store, "咖啡兌換券", kind=ProductKind.PICKUP, face_value=150)
    keys.install_pair(store.id, AIO)
    db.session.commit()
    assert _call(client, store, AIO, str(product.id))["RtnCode"] == 1  # no ticket pair yet
    keys.install_pair(store.id, TICKET, keys.TICKET)
    db.session.commit()
    assert _call(client, store, TICKET, str(product.id))["RtnCode"] == 1
    with pytest.raises(TransportError) as refused:
        _call(client, store, AIO, str(product.id))
    assert refused.value.body["TransCode"] in (10005, 10006, 10007)
    assert keys.current_pair(store.id) == AIO and keys.pairs_for(store.id) == [AIO]
    assert keys.ticket_pairs_for(store.id) == [TICKET]


def test_rotating_one_purpose_leaves_the_other(ctx) -> None:  # noqa: ANN001
    store = make_store()
    main = make_account(store)
    keys.install_pair(store.id, AIO)
    db.session.commit()
    new = keys.rotate(main, store, keys.TICKET)
    assert keys.pairs_for(store.id) == [AIO] and keys.ticket_pairs_for(store.id) == [new]
    again = keys.rotate(main, store, keys.TICKET)
    assert keys.ticket_pairs_for(store.id) == [again, new]  # the old one for its grace period
    with pytest.raises(ValueError, match="purpose"):
        keys.install_pair(store.id, AIO, "other")


def test_the_page_shows_the_ecticket_api_and_a_ticket_pair_once_with_a_working_example(
        ctx, client) -> None:  # noqa: ANN001
    parent = make_store()
    store = make_store(parent=parent)
    main = make_account(store)
    product = make_product(store, "咖啡兌換券", kind=ProductKind.PICKUP, face_value=150)
    keys.install_pair(store.id, AIO)
    db.session.commit()
    login(client, main.username)
    page = client.get("/vendor/integration").get_data(as_text=True)
    assert "ECTicket 票券 API" in page and "/api/Ticket/" in page
    assert re.search(r'data-testid="ticket-platform-id">' + parent.merchant_code, page)
    assert "&lt;AES-128-CBC" in page and "data-copy=" in page and "未設定 ECTicket 專用金鑰" in page
    created = client.post("/vendor/integration/keys", data={"purpose": "ticket"})
    html = created.get_data(as_text=True)
    key = re.search(r'data-testid="new-hash-key">(\w{16})<', html).group(1)
    iv = re.search(r'data-testid="new-hash-iv">(\w{16})<', html).group(1)
    assert created.status_code == 200 and "ECTicket 專用金鑰只顯示這一次" in html
    assert keys.ticket_pairs_for(store.id) == [keys.Pair(key, iv)]
    assert keys.pairs_for(store.id) == [AIO]
    body = re.search(r'data-testid="example-body">(.*?)</pre>', html, re.S).group(1)
    example = json.loads(body.replace("&#34;", '"').replace("&quot;", '"'))
    answer = client.post("/api/Ticket/QueryItemInfo", data=json.dumps(example),
                         content_type="application/json", csrf=False).get_json()
    assert answer["TransCode"] == 1
    opened = Client(store.merchant_code, key, iv, flask_poster(client)).open(answer)
    assert (opened["RtnCode"], opened["ItemNo"]) == (1, str(product.id))
    again = client.get("/vendor/integration").get_data(as_text=True)
    assert key not in again and iv not in again and "ECTicket 專用" in again
    assert client.post("/vendor/integration/keys", data={"purpose": "x"}).status_code == 422


def test_a_viewer_cannot_rotate_the_ticket_pair(ctx, client) -> None:  # noqa: ANN001
    store = make_store()
    viewer = make_sub(store, "viewer01", grants={Function.SYSTEM_INTEGRATION: Level.VIEW})
    db.session.commit()
    login(client, viewer.username)
    assert "ECTicket 票券 API" in client.get("/vendor/integration").get_data(as_text=True)
    assert client.post("/vendor/integration/keys", data={"purpose": "ticket"}).status_code == 403
    assert keys.ticket_pairs_for(store.id) == []


def test_the_demo_issuer_answers_ecticket_with_the_stage_ticket_pair(app, ctx, client) -> None:  # noqa: ANN001
    load_demo()
    db.session.commit()
    issuer = db.session.scalar(select(Store).where(Store.merchant_code == "3002607"))
    item = str(db.session.scalar(select(Product.id).where(Product.store_id == issuer.id)
                                 .order_by(Product.id).limit(1)))
    assert _call(client, issuer, TICKET, item)["RtnCode"] == 1
    assert keys.current_pair(issuer.id) == AIO
    with pytest.raises(TransportError):
        _call(client, issuer, AIO, item)
