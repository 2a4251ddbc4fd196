"""The partner side shows each joint issuer with its cross-store redemptions of the last 90 days."""

from __future__ import annotations

from datetime import timedelta

from app import clock
from app.db import db
from app.products.models import ProductKind
from app.tickets.status import TicketStatus
from tests.factories import login, make_account, make_order, make_product, make_relation, make_store


def _ticket(issuer, product, *, status, redeemed_store=None, redeemed_days_ago=None):
    """One electronic ticket of `product` in `status`, redeemed by `redeemed_store` if given."""
    [ticket] = make_order(issuer, product=product).tickets
    ticket.status = status
    if redeemed_store is not None:
        ticket.redeemed_store_id = redeemed_store.id
        ticket.redeemed_at = clock.now() - timedelta(days=redeemed_days_ago)
    db.session.flush()
    return ticket


def test_joint_issuers_show_last_90_days_cross_store_redemptions(client, ctx):
    issuer, partner, other = make_store("發行商"), make_store("可核銷"), make_store("別家")
    make_account(partner, username="partner90")
    make_relation(issuer, partner)
    product = make_product(issuer, kind=ProductKind.PICKUP, face_value=150)
    _ticket(issuer, product, status=TicketStatus.USED, redeemed_store=partner, redeemed_days_ago=1)
    _ticket(issuer, product, status=TicketStatus.REDEEMED, redeemed_store=partner,
            redeemed_days_ago=80)
    _ticket(issuer, product, status=TicketStatus.REDEEMED, redeemed_store=partner,
            redeemed_days_ago=120)  # too old
    _ticket(issuer, product, status=TicketStatus.USED, redeemed_store=other, redeemed_days_ago=1)
    _ticket(issuer, product, status=TicketStatus.UNUSED)
    db.session.commit()
    login(client, "partner90")
    html = client.get("/settings/partners/joint-issuers").get_data(as_text=True)
    assert "2 張 / NT$300" in html
