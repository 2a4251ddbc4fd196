"""待處理事項: the counts on the home page, in the 訊息中心 and as menu badges, scoped to the
acting store (and, for a bound clerk, to what its branch can act on)."""

from __future__ import annotations

import re
from datetime import timedelta

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.escrow.models import BankInstruction, BankSyncRun, InstructionKind, InstructionStatus
from app.issuance.models import Batch, BatchStatus
from app.return_applications.models import ReturnApplication
from app.stores.models import DeliveryMethod, RedemptionMode
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus
from app.unissued.models import TicketOrderState
from tests.factories import (
    login,
    make_account,
    make_branch,
    make_order,
    make_store,
    make_sub,
    make_ticket_order,
    make_unissued_order,
)


def _failed_batch(store, branch=None) -> Batch:  # noqa: ANN001
    batch = Batch(store_id=store.id, import_no=f"F{store.id}{branch.id if branch else 0}",
                  delivery_method=DeliveryMethod.IMMEDIATE, status=BatchStatus.FAILED, rows=[],
                  error="發行失敗", created_branch_id=branch.id if branch else None)
    db.session.add(batch)
    db.session.flush()
    return batch


def _application(store) -> ReturnApplication:  # noqa: ANN001
    order = make_order(store)
    ticket = db.session.scalar(db.select(Ticket).where(Ticket.order_id == order.id))
    row = ReturnApplication(store_id=store.id, ticket_id=ticket.id, order_id=order.id,
                            reason="不想要了")
    db.session.add(row)
    db.session.flush()
    return row


def _rejected(store, *, status=TicketStatus.REDEEMING, branch=None) -> Ticket:  # noqa: ANN001
    order = make_order(store)
    ticket = db.session.scalar(db.select(Ticket).where(Ticket.order_id == order.id))
    ticket.status = status
    ticket.redeemed_branch_id = branch.id if branch else None
    run = BankSyncRun(business_day=clock.business_day())
    db.session.add(run)
    db.session.flush()
    db.session.add(BankInstruction(key=f"release:{ticket.id}:1", run_id=run.id,
                                   ticket_id=ticket.id, store_id=store.id,
                                   kind=InstructionKind.RELEASE, amount=ticket.face_value,
                                   status=InstructionStatus.REJECTED, answer="帳號錯誤"))
    db.session.flush()
    return ticket


def _pending(html: str) -> dict[str, int]:
    return {key: int(n) for key, n in re.findall(
        r'data-pending="(\w+)">.*?data-count="(\d+)"', html, re.S)}


def _badges(html: str) -> dict[str, int]:
    return {key: int(n) for key, n in re.findall(r'data-badge="(\w+)">(\d+)<', html)}


def test_home_counts_pending_work_with_links_and_badges_of_its_own_store_only(client, ctx):
    store, other = make_store(), make_store()
    make_account(store, username="pend01")
    for s in (store, other):
        _application(s)
        _failed_batch(s)
        _rejected(s)
    _application(store)
    _rejected(store, status=TicketStatus.REDEEMED)  # the bank accepted a re-send: not waiting
    db.session.commit()
    login(client, "pend01")
    html = client.get("/home").get_data(as_text=True)
    assert "待處理事項" in html
    assert _pending(html) == {"applications": 2, "failed_batches": 1, "rejected": 1, "unissued": 0}
    assert 'href="/return-applications/"' in html or "return-applications" in html
    assert "/issuance/results" in html
    assert _badges(html) == {"applications": 2, "failed_batches": 1}
    assert 'data-pending-message="applications"' in html  # also in the 訊息中心
    assert "待處理退貨申請：2 筆" in html


def test_the_counts_are_cached_per_request(client, ctx, count_queries):
    store = make_store()
    make_account(store, username="pend02")
    _application(store)
    db.session.commit()
    login(client, "pend02")
    count_queries.clear()
    client.get("/home")
    counts = [q for q in count_queries if "return_applications" in q and "count(" in q.lower()]
    assert len(counts) == 1


def test_a_bound_clerk_counts_what_its_branch_can_act_on(client, ctx):
    store = make_store()
    mine, theirs = make_branch(store), make_branch(store)
    make_sub(store, "clerk91", branch=mine, grants={
        Function.ISSUANCE: Level.MODIFY, Function.REPORT_TICKETS: Level.VIEW})
    _failed_batch(store, mine)
    _failed_batch(store, theirs)
    _rejected(store, branch=mine)
    _rejected(store, branch=theirs)
    _application(store)  # no 退貨 right: not shown
    db.session.commit()
    login(client, "clerk91")
    html = client.get("/home").get_data(as_text=True)
    assert _pending(html) == {"failed_batches": 1, "rejected": 1}
    assert "applications" not in _badges(html)


def test_unissued_orders_near_their_deadline_are_counted(client, ctx):
    store = make_store(mode=RedemptionMode.INSTALLMENT)
    other = make_store(mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="pend03")
    today = clock.day_start(clock.business_day()) + timedelta(hours=2)
    make_unissued_order(store, paid_at=today - timedelta(days=18))  # deadline in 2 days
    make_unissued_order(store, paid_at=today - timedelta(days=20))  # deadline today
    make_unissued_order(store, paid_at=today - timedelta(days=10))  # far from it
    make_unissued_order(store, paid_at=today - timedelta(days=21))  # past it
    make_unissued_order(other, paid_at=today - timedelta(days=18))
    db.session.commit()
    login(client, "pend03")
    html = client.get("/home").get_data(as_text=True)
    assert _pending(html)["unissued"] == 2
    assert _badges(html) == {"unissued": 2}
    assert "/installments/unissued" in html


def test_ticket_orders_near_their_issuing_deadline_are_counted(client, ctx):
    store, other = make_store(), make_store()
    make_account(store, username="pend04")
    for days, state in ((17, TicketOrderState.UNISSUED), (20, TicketOrderState.UNISSUED),
                        (10, TicketOrderState.UNISSUED), (21, TicketOrderState.UNISSUED),
                        (18, TicketOrderState.ISSUED)):
        row = make_ticket_order(store, state=state)
        row.paid_on = clock.business_day() - timedelta(days=days)
    make_ticket_order(other).paid_on = clock.business_day() - timedelta(days=18)
    db.session.commit()
    login(client, "pend04")
    html = client.get("/home").get_data(as_text=True)
    assert _pending(html)["unissued"] == 2  # T+17 (deadline in 3 days) and T+20 (today)
    assert _badges(html)["unissued"] == 2
    assert "/unissued-orders/?state=issuable" in html
