"""系統介接設定 and 信用卡付款紀錄 through the client: what each account sees and may do."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.auth.permissions import Function, Level
from app.checkout.models import PaymentNotice
from app.db import db
from app.ecpay import keys
from tests.factories import (
    PASSWORD,
    aio_form,
    login,
    make_account,
    make_checkout_store,
    make_store,
    make_sub,
)


def test_the_page_shows_the_merchant_id_and_a_new_pair_only_once(ctx, client) -> None:  # noqa: ANN001
    store = make_store()
    main = make_account(store)
    db.session.commit()
    login(client, main.username)
    page = client.get("/vendor/integration").get_data(as_text=True)
    assert store.merchant_code in page and "尚未產生" in page
    created = client.post("/vendor/integration/keys")
    html = created.get_data(as_text=True)
    key = re.search(r'data-testid="new-hash-key">(\w{16})<', html).group(1)
    iv = re.search(r'data-testid="new-hash-iv">(\w{16})<', html).group(1)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    assert keys.current_pair(store.id) == keys.Pair(key, iv)
    again = client.get("/vendor/integration").get_data(as_text=True)
    assert key not in again and iv not in again and "使用中" in again


def test_the_menu_has_the_entry_and_a_viewer_cannot_rotate(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    viewer = make_sub(store, grants={Function.SYSTEM_INTEGRATION: Level.VIEW})
    other = make_sub(store, grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    login(client, viewer.username)
    page = client.get("/vendor/integration").get_data(as_text=True)
    assert "系統介接設定" in page and 'action="/vendor/integration/keys"' not in page
    assert client.post("/vendor/integration/keys").status_code == 403
    assert client.post("/vendor/integration/ips", data={"allowed_ips": "1.2.3.4"}).status_code == 403
    client.post("/logout")
    login(client, other.username, PASSWORD)
    assert client.get("/vendor/integration").status_code == 403


def test_allowed_ips_are_edited(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    db.session.commit()
    login(client, main.username)
    bad = client.post("/vendor/integration/ips", data={"allowed_ips": "203.0.113.300"})
    assert bad.status_code == 422 and "不是有效的 IP" in bad.get_data(as_text=True)
    ok = client.post("/vendor/integration/ips", data={"allowed_ips": "203.0.113.10\n203.0.113.0/24"})
    assert ok.status_code == 303
    assert keys.allowed_ips_of(store.id) == "203.0.113.10\n203.0.113.0/24"


def test_orders_notice_attempts_and_resend(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    db.session.commit()
    url = client.post("/Cashier/AioCheckOut/V5", csrf=False,
                      data=aio_form(store, trade_no="SHOWME1",
                                    ReturnURL="https://127.0.0.1/r")).headers["Location"]
    client.post(url, data={"card_number": "4311952222222222", "expiry": "12/30", "cvv": "222"})
    login(client, main.username)
    listing = client.get("/vendor/integration/orders").get_data(as_text=True)
    assert "SHOWME1" in listing and "已付款" in listing
    order_id = int(re.search(r'data-order-id="(\d+)"', listing).group(1))
    detail = client.get(f"/vendor/integration/orders/{order_id}").get_data(as_text=True)
    assert "431195******2222" in detail and "內部網路" in detail and "重新發送" in detail
    assert client.post(f"/vendor/integration/orders/{order_id}/resend").status_code == 303
    db.session.expire_all()
    notice = db.session.scalar(select(PaymentNotice).execution_options(unscoped=True))
    assert notice.attempts == 2
    detail = client.get(f"/vendor/integration/orders/{order_id}").get_data(as_text=True)
    assert "手動重送" in detail
