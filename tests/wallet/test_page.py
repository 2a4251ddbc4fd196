"""The confirmed wallet page: each ticket's face, its status in plain words, its code as QR and
text only while usable, the issuer's images and customer service; private headers everywhere;
a bounded number of queries however many tickets."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app import clock
from app.db import db
from app.history import HistoryEntry
from app.settings.services import settings_for
from app.stores.models import DeliveryMethod
from app.tickets import services as ticket_services
from app.tickets.codes import display_code, new_link_token
from app.uploads.models import UploadPurpose
from app.uploads.services import save_image
from tests.factories import login
from tests.products.helpers import png
from tests.settings.helpers import RIGHTS
from tests.wallet.helpers import confirm, give, issue_order, tickets_of


def _wallet(client, token):  # noqa: ANN001, ANN202
    assert confirm(client, token).status_code == 303
    response = client.get(f"/t/{token}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _cards(html: str) -> dict[int, str]:
    parts = re.split(r'(?=<article class="card)', html)
    return {int(re.search(r'data-ticket-id="(\d+)"', p).group(1)): p.split("</article>")[0]
            for p in parts if 'data-testid="ticket-card"' in p}


def _badge(card: str) -> str:
    return re.search(r'data-testid="plain-status">([^<]+)<', card).group(1)


def test_the_wallet_shows_each_tickets_face(bought, client):
    html = _wallet(client, bought.token)
    tickets = tickets_of(bought.order)
    cards = _cards(html)
    assert list(cards) == [t.id for t in tickets]
    for ticket in tickets:
        card = cards[ticket.id]
        assert "咖啡券" in card and "提貨券" in card and "NT$150" in card
        assert _badge(card) == "可使用"
        assert f'data-testid="code">{display_code(ticket.code)}<' in card
        assert "<svg" in card and 'data-testid="qr"' in card
        assert ticket.serial in card
        assert "價金保管迄日" in card and f"至 {ticket.expires_on:%Y/%m/%d} 止" in card
        assert RIGHTS.splitlines()[0] in card  # the pickup voucher's rights statement
    assert "林小美 的電子票券" in html and bought.order.order_no in html and "共 3 張" in html
    assert 'href="tel:0226551775,123"' in html  # (02) 2655-1775 #123
    assert 'href="mailto:service@shop.example.tw"' in html
    assert bought.store.name in html


def test_images_logo_and_banner_come_from_media_urls(bought, client):
    settings = settings_for(bought.store)
    logo = save_image(bought.store.id, FileStorage(io.BytesIO(png()), "l.png"), UploadPurpose.LOGO)
    banner = save_image(bought.store.id, FileStorage(io.BytesIO(png((200, 60))), "b.png"),
                        UploadPurpose.BANNER)
    image = save_image(bought.store.id, FileStorage(io.BytesIO(png((80, 60))), "p.png"),
                       UploadPurpose.PRODUCT)
    settings.logo_upload_id, settings.banner_upload_id = logo.id, banner.id
    bought.pickup.image_upload_id = image.id
    db.session.commit()
    html = _wallet(client, bought.token)
    assert f'src="/media/{logo.token}"' in html and f'src="/media/{banner.token}"' in html
    assert html.count(f'src="/media/{image.token}"') == 3
    fresh = client.application.test_client()  # not confirmed: the entry page shows the banner too
    assert f'src="/media/{banner.token}"' in fresh.get(f"/t/{bought.token}").get_data(as_text=True)


def test_a_gift_voucher_has_no_rights_statement(ctx, bought, client):
    order = issue_order(bought.owner, bought.store, bought.gift, quantity=1)
    card = next(iter(_cards(_wallet(client, order.link_token)).values()))
    assert "贈品券" in card and "使用期限" in card and "NT$80" in card
    assert 'data-testid="rights-statement"' not in card


def test_used_and_returned_tickets_show_their_status_and_no_code(bought, client):
    used, returned, kept = tickets_of(bought.order)
    ticket_services.redeem(bought.owner, bought.store, used)
    ticket_services.return_ticket(bought.owner, bought.store, returned, reason="消費者退貨")
    db.session.commit()
    cards = _cards(_wallet(client, bought.token))
    assert _badge(cards[used.id]) == "已使用" and _badge(cards[returned.id]) == "已退貨"
    for ticket in (used, returned):
        assert "<svg" not in cards[ticket.id] and display_code(ticket.code) not in cards[ticket.id]
        assert ticket.code not in cards[ticket.id]
    assert _badge(cards[kept.id]) == "可使用" and "<svg" in cards[kept.id]


def test_an_expired_gift_voucher_says_expired(ctx, bought, client):
    order = issue_order(bought.owner, bought.store, bought.gift, quantity=1)
    ticket = tickets_of(order)[0]
    clock.freeze(clock.day_end(ticket.expires_on) + timedelta(seconds=1))
    card = _cards(_wallet(client, order.link_token))[ticket.id]
    assert _badge(card) == "已失效" and "<svg" not in card


def test_a_deferred_ticket_is_not_started_until_its_day(ctx, bought, client):
    start = clock.business_day() + timedelta(days=5)
    order = issue_order(bought.owner, bought.store, bought.pickup, quantity=1,
                        method=DeliveryMethod.DEFERRED, start=start)
    ticket = tickets_of(order)[0]
    card = _cards(_wallet(client, order.link_token))[ticket.id]
    assert _badge(card) == "尚未開始" and "<svg" not in card
    assert f"此票券自 {start:%Y/%m/%d} 起可使用" in card
    assert f"{start:%Y/%m/%d} 至" in card  # the validity names the start
    clock.freeze(clock.day_start(start) + timedelta(hours=1))
    card = _cards(client.get(f"/t/{order.link_token}").get_data(as_text=True))[ticket.id]
    assert _badge(card) == "可使用" and "<svg" in card and display_code(ticket.code) in card


PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _private(response) -> bool:  # noqa: ANN001
    return (all(response.headers.get(k) == v for k, v in PRIVATE.items())
            and "noindex" in response.headers.get("X-Robots-Tag", ""))


def test_every_wallet_answer_is_private(app, bought, client):
    token = bought.token
    answers = {
        "entry": client.get(f"/t/{token}"),
        "wrong digits": confirm(client, token, "0000"),
        "no csrf": client.post(f"/t/{token}/confirm", data={"answer": "5678"}, csrf=False),
        "unknown": client.get(f"/t/{new_link_token()}"),
        "unconfirmed post": client.post(f"/t/{token}/transfer", data={}),
        "confirmed": confirm(client, token),
        "wallet": client.get(f"/t/{token}"),
        "bad transfer": client.post(f"/t/{token}/transfer", data={"name": ""}),
        "bad resend": client.post(f"/t/{token}/resend", data={"transfer_id": 999}),
    }
    for _ in range(30):
        client.get(f"/t/{new_link_token()}")
    answers["rate limited"] = client.get(f"/t/{new_link_token()}")
    assert answers["rate limited"].status_code == 429
    wrong = [name for name, response in answers.items() if not _private(response)]
    assert wrong == []


def test_a_logged_in_merchant_sees_the_consumer_page_not_the_back_office(app, bought, client):
    login(client, bought.owner.username)
    html = _wallet(client, bought.token)
    assert 'aria-label="主選單"' not in html and 'data-testid="wallet"' in html
    ticket = tickets_of(bought.order)[0]
    made = client.post(f"/t/{bought.token}/transfer", data={
        "ticket_ids": ticket.id, "name": "陳大文", "mobile": "0922333444",
        "email": "friend@example.com", "step": "confirm"})
    assert made.status_code == 303
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "transferred")
                              .execution_options(unscoped=True))
    assert entry.actor_id is None and entry.actor_label == "消費者（電子票夾）"


def test_the_wallet_page_makes_a_bounded_number_of_queries(app, bought, client, count_queries):
    small = issue_order(bought.owner, bought.store, bought.pickup, quantity=1)
    large = issue_order(bought.owner, bought.store, bought.pickup, quantity=10)
    give(large, tickets_of(large)[:2])
    give(large, tickets_of(large)[2:3], name="王小華", mobile="0966777888", email="wang@example.com")
    counts = {}
    for order in (small, large):
        assert confirm(client, order.link_token).status_code == 303
        count_queries.clear()
        html = client.get(f"/t/{order.link_token}").get_data(as_text=True)
        counts[order.ticket_count] = len(count_queries)
        assert html.count('data-testid="ticket-card"') == order.ticket_count
    print(f"wallet page queries: 1 ticket {counts[1]}, 10 tickets (3 given away) {counts[10]}")
    assert counts[10] == counts[1]
    assert counts[10] <= 14, count_queries
