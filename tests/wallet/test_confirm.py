"""The entry page's check: the mobile's last four digits (or an e-mailed code), rate-limited,
remembered by a signed cookie scoped to and bound to the link and its holder."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from app import clock, credentials
from app.db import db
from app.notifications.models import Message
from app.tickets.codes import display_code
from app.tickets.models import Order
from app.wallet.confirm import COOKIE
from tests.wallet.helpers import confirm, issue_order, shop, tickets_of


def _cookie_header(response) -> str:  # noqa: ANN001
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


def _page(client, token):  # noqa: ANN001, ANN202
    response = client.get(f"/t/{token}")
    return response, response.get_data(as_text=True)


def test_the_entry_page_asks_for_the_last_four_digits_and_shows_no_code(bought, client):
    response, html = _page(client, bought.token)
    assert response.status_code == 200
    assert "電子票券核銷登入頁" in html and "手機末四碼" in html and bought.store.name in html
    for ticket in tickets_of(bought.order):
        assert ticket.code not in html and display_code(ticket.code) not in html
    assert 'data-testid="qr"' not in html and "<svg" not in html


def test_right_digits_set_a_scoped_signed_cookie_and_open_the_wallet(bought, client):
    response = confirm(client, bought.token)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/t/{bought.token}")
    header = _cookie_header(response)
    assert f"Path=/t/{bought.token};" in header or header.endswith(f"Path=/t/{bought.token}")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header
    assert "Max-Age=2592000" in header  # 30 days
    assert bought.token not in header.split(";")[0]  # the value names a digest, not the token
    response, html = _page(client, bought.token)
    assert response.status_code == 200
    assert 'data-testid="wallet"' in html
    for ticket in tickets_of(bought.order):
        assert ticket.code[:4] + "-" + ticket.code[4:8] in html


def test_wrong_digits_are_refused_with_a_message(bought, client):
    response = confirm(client, bought.token, "1234")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "手機末四碼不正確" in html
    assert not [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE)]
    assert 'data-testid="wallet"' not in _page(client, bought.token)[1]


def test_five_wrong_tries_lock_the_link_for_that_address_only(bought, client):
    for _ in range(5):
        assert confirm(client, bought.token, "0000").status_code == 422
    response = confirm(client, bought.token)
    assert response.status_code == 429 and "請稍後再試" in response.get_data(as_text=True)
    # the holder answering from their own address is not locked by someone else's guesses
    holder = client.post(f"/t/{bought.token}/confirm", data={"answer": "5678"},
                         environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert holder.status_code == 303


def test_guesses_from_many_addresses_lock_the_link_for_one_window_only(bought, client):
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 0))
    for i in range(10):  # ten wrong answers from ten addresses: the link's own limit
        wrong = client.post(f"/t/{bought.token}/confirm", data={"answer": "0000"},
                            environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"})
        assert wrong.status_code == 422
    holder = {"REMOTE_ADDR": "10.1.1.1"}
    assert client.post(f"/t/{bought.token}/confirm", data={"answer": "5678"},
                       environ_base=holder).status_code == 429
    # the guessing goes on, but the lock ends with its 15-minute window
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 14))
    for i in range(5):
        client.post(f"/t/{bought.token}/confirm", data={"answer": "0000"},
                    environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"})
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 15))
    assert client.post(f"/t/{bought.token}/confirm", data={"answer": "5678"},
                       environ_base=holder).status_code == 303


def test_wrong_tries_are_counted_per_address_across_links(ctx, client):
    store, owner, pickup, _ = shop()
    tokens = [issue_order(owner, store, pickup, quantity=1).link_token for _ in range(7)]
    for token in tokens[:6]:
        for _ in range(5):
            confirm(client, token, "0000")
    # 30 wrong answers from one address: a seventh link is refused before its own count starts
    response = confirm(client, tokens[6])
    assert response.status_code == 429
    assert confirm(client, tokens[6]).status_code == 429
    elsewhere = client.post(f"/t/{tokens[6]}/confirm", data={"answer": "5678"},
                            environ_base={"REMOTE_ADDR": "10.2.2.2"})
    assert elsewhere.status_code == 303


def test_a_forwarded_link_alone_shows_no_codes(app, bought, client):
    confirm(client, bought.token)
    assert 'data-testid="wallet"' in _page(client, bought.token)[1]
    stranger = app.test_client()
    response, html = _page(stranger, bought.token)
    assert response.status_code == 200 and 'data-testid="wallet-entry"' in html
    assert tickets_of(bought.order)[0].code not in html


def test_the_cookie_of_one_link_does_not_open_another(app, bought, client):
    other = issue_order(bought.owner, bought.store, bought.pickup, quantity=1)  # same purchaser
    response = confirm(client, bought.token)
    value = _cookie_header(response).split(";")[0].split("=", 1)[1]
    thief = app.test_client()
    thief.set_cookie(COOKIE, value, path=f"/t/{other.link_token}")
    html = thief.get(f"/t/{other.link_token}").get_data(as_text=True)
    assert 'data-testid="wallet-entry"' in html and 'data-testid="wallet"' not in html
    # and a forged or tampered value opens nothing either
    thief.set_cookie(COOKIE, value[:-2] + "xx", path=f"/t/{bought.token}")
    assert 'data-testid="wallet-entry"' in thief.get(f"/t/{bought.token}").get_data(as_text=True)


def test_a_change_of_holder_asks_again(bought, client):
    confirm(client, bought.token)
    assert 'data-testid="wallet"' in _page(client, bought.token)[1]
    db.session.execute(update(Order).where(Order.id == bought.order.id).values(purchaser_mobile="0933000111")
                       .execution_options(unscoped=True))
    db.session.commit()
    html = _page(client, bought.token)[1]
    assert 'data-testid="wallet-entry"' in html
    assert confirm(client, bought.token, "5678").status_code == 422  # the old number's digits
    assert confirm(client, bought.token, "0111").status_code == 303


def test_the_confirmation_expires_after_30_days(bought, client):
    from datetime import timedelta
    from unittest import mock

    from itsdangerous.timed import TimestampSigner

    confirm(client, bought.token)
    now = int(__import__("time").time())
    with mock.patch.object(TimestampSigner, "get_timestamp", return_value=now + 29 * 86400):
        assert 'data-testid="wallet"' in _page(client, bought.token)[1]
    with mock.patch.object(TimestampSigner, "get_timestamp",
                           return_value=now + int(timedelta(days=31).total_seconds())):
        assert 'data-testid="wallet-entry"' in _page(client, bought.token)[1]


def test_unconfirmed_posts_are_refused(bought, client):
    ticket = tickets_of(bought.order)[0]
    for path, data in (("transfer", {"ticket_ids": ticket.id, "name": "陳大文", "mobile": "0922333444"}),
                       ("resend", {"transfer_id": 1}),
                       ("return", {"ticket_ids": ticket.id, "reason": "不想要了"})):
        response = client.post(f"/t/{bought.token}/{path}", data=data)
        assert response.status_code == 403, path
        assert "請先輸入手機末四碼" in response.get_data(as_text=True)
    db.session.expire_all()
    assert tickets_of(bought.order)[0].transfer_id is None


def test_posts_without_the_csrf_token_are_refused(bought, client):
    response = client.post(f"/t/{bought.token}/confirm", data={"answer": "5678"}, csrf=False)
    assert response.status_code == 400
    assert not [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE)]


# The e-mailed code, when the holder has no mobile ------------------------------------------

def _no_mobile_order(bought):  # noqa: ANN001, ANN202
    return issue_order(bought.owner, bought.store, bought.pickup, quantity=1, mobile="",
                       email="nomobile@example.com")


def _mailed_codes(order: Order) -> list[str]:
    bodies = list(db.session.scalars(select(Message.body).where(Message.order_id == order.id,
                                                           Message.kind == "wallet_code")
                                .order_by(Message.id).execution_options(unscoped=True)))
    assert all("驗證碼為：⟦s" in b for b in bodies)  # kept sealed in the outbox
    return [re.search(r"驗證碼為：(\d{6})", credentials.reveal_text(b)).group(1) for b in bodies]


def test_a_holder_without_mobile_confirms_with_an_e_mailed_code(bought, client):
    order = _no_mobile_order(bought)
    html = _page(client, order.link_token)[1]
    assert "寄送驗證碼至 Email" in html and "no***@example.com" in html and "手機末四碼" not in html
    response = client.post(f"/t/{order.link_token}/code")
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "驗證碼已寄至 no***@example.com" in html
    db.session.expire_all()
    [code] = _mailed_codes(order)
    message = db.session.scalar(select(Message).where(Message.kind == "wallet_code")
                                .execution_options(unscoped=True))
    assert message.to_address == "nomobile@example.com"
    assert order.link_token not in message.body  # the mail carries the code, not the link
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert confirm(client, order.link_token, wrong).status_code == 422
    assert confirm(client, order.link_token, code).status_code == 303
    assert 'data-testid="wallet"' in _page(client, order.link_token)[1]


def test_an_e_mailed_code_expires_after_its_window_and_the_next(bought, client):
    from datetime import timedelta

    order = _no_mobile_order(bought)
    start = clock.now()
    clock.freeze(start)
    client.post(f"/t/{order.link_token}/code")
    db.session.expire_all()
    [code] = _mailed_codes(order)
    clock.freeze(start + timedelta(minutes=21))
    response = confirm(client, order.link_token, code)
    assert response.status_code == 422 and "驗證碼不正確或已過期" in response.get_data(as_text=True)


def test_sending_codes_is_rate_limited(bought, client):
    order = _no_mobile_order(bought)
    for _ in range(3):
        assert client.post(f"/t/{order.link_token}/code").status_code == 303
    response = client.post(f"/t/{order.link_token}/code")
    assert response.status_code == 429 and "請稍後再試" in response.get_data(as_text=True)
    db.session.expire_all()
    assert len(_mailed_codes(order)) == 3


def test_a_holder_with_a_mobile_cannot_ask_for_a_code(bought, client):
    response = client.post(f"/t/{bought.token}/code")
    assert response.status_code == 409
    db.session.expire_all()
    assert _mailed_codes(bought.order) == []


def test_the_code_goes_through_the_smtp_server(app, bought, client):
    from tests.notifications.conftest import use_smtp
    from tests.notifications.smtp_server import SmtpTestServer

    order = _no_mobile_order(bought)
    with SmtpTestServer() as server:
        use_smtp(app, server, MAIL_FROM="noreply@ectix.example")
        assert client.post(f"/t/{order.link_token}/code").status_code == 303
        received = server.messages
    db.session.expire_all()
    [code] = _mailed_codes(order)
    assert len(received) == 1 and code in received[0].text
    assert received[0].rcpt_tos == ["nomobile@example.com"]
    assert confirm(client, order.link_token, code).status_code == 303
