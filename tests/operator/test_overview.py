"""平台總覽: stores, today's volume across stores, rejected bank items, failed jobs, outbox."""

from __future__ import annotations

import re
from datetime import timedelta

from app import clock
from app.db import db
from app.jobs import ScheduledRun
from app.notifications.models import Channel, Message, MessageStatus
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus
from tests.factories import login, make_account, make_order, make_store
from tests.home.test_pending import _rejected
from tests.operator.helpers import operator_logged_in


def _figures(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(
        r'data-figure="(\w+)">.*?data-value="(\d+)"', html, re.S)}


def test_the_overview_counts_across_stores(client, ctx):
    a, b = make_store(), make_store()
    order = make_order(a, quantity=2)
    make_order(b)
    tickets = db.session.scalars(db.select(Ticket).where(Ticket.order_id == order.id)).all()
    for t in tickets:
        t.issued_at = clock.now()
    tickets[0].status, tickets[0].redeemed_at = TicketStatus.REDEEMED, clock.now()
    tickets[1].status, tickets[1].returned_at = TicketStatus.RETURNED, clock.now()
    old = make_order(b)
    for t in db.session.scalars(db.select(Ticket).where(Ticket.order_id == old.id)):
        t.issued_at = clock.now() - timedelta(days=3)  # not today
    _rejected(a)
    _rejected(b)
    _rejected(b, status=TicketStatus.REDEEMED)  # settled after all: not waiting
    now = clock.now()
    db.session.add_all([
        ScheduledRun(name="a", slot=now, status="failed", created_at=now - timedelta(hours=2)),
        ScheduledRun(name="b", slot=now - timedelta(days=2), status="failed",
                     created_at=now - timedelta(days=2)),
        ScheduledRun(name="c", slot=now - timedelta(hours=1), status="done", created_at=now)])
    for status in (MessageStatus.QUEUED, MessageStatus.FAILED, MessageStatus.SENT):
        db.session.add(Message(store_id=a.id, channel=Channel.EMAIL, kind="test",
                               to_address="x@example.com", body="x", status=status))
    db.session.commit()
    issued_today = db.session.scalar(db.select(db.func.count()).select_from(Ticket).where(
        Ticket.issued_at >= clock.day_start(clock.business_day())))
    operator_logged_in(client)
    assert client.get("/").headers["Location"] == "/operator/overview"
    html = client.get("/operator/overview").get_data(as_text=True)
    figures = _figures(html)
    assert figures == {"stores": 2, "issued": issued_today, "redeemed": 1, "returned": 1,
                       "rejected": 2, "failed_jobs": 1, "outbox": 2}
    assert "平台總覽" in html
    assert html.index("平台總覽") < html.index("商店與合約")  # the first menu entry


def test_merchants_cannot_open_the_overview(client, ctx):
    make_account(make_store(), username="ovm01")
    db.session.commit()
    login(client, "ovm01")
    assert client.get("/operator/overview").status_code == 403
