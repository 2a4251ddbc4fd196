"""PostgreSQL: two tabs of one wallet give the same ticket at the same moment (and, separately,
the issuer cancels a transfer while a clerk redeems one of its tickets)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.models import Account
from app.db import db
from app.errors import DomainError
from app.stores.models import Store
from app.tickets import services as tickets
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus
from app.transfers import services
from app.transfers.models import Transfer, TransferItem, TransferItemState, TransferStatus
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.orders.helpers import issue_order
from tests.transfers.helpers import FRIEND

pytestmark = pytest.mark.postgres

TABS = 8


def test_concurrent_gifts_of_the_same_ticket_make_exactly_one_transfer(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        order = issue_order(owner, store, pickup, quantity=1)
        order_id = order.id
        ticket_id = db.session.scalar(select(Ticket.id).where(Ticket.order_id == order_id))
        db.session.remove()

    def tab(n: int, ready: Ready) -> str:
        order = db.session.get(Order, order_id)
        ready()
        services.give(order, [ticket_id], name=f"受贈人{n}", mobile=f"09220000{n:02d}",
                      email=f"friend{n}@example.com")
        return "given"

    outcomes = [o.message if isinstance(o, DomainError) else o
                for o in run_at_once(pg_app, tab, range(TABS))]
    assert len(outcomes) == TABS
    assert outcomes.count("given") == 1
    assert outcomes.count(services.ALREADY_GIVEN) == TABS - 1
    with pg_app.app_context():
        [transfer] = db.session.scalars(select(Transfer)).all()
        given = db.session.get(Ticket, ticket_id)
        assert given.transfer_id == transfer.id and given.holder_name == transfer.recipient_name
        assert db.session.scalar(select(func.count()).select_from(TransferItem)) == 1


def test_cancel_racing_a_redemption_never_hands_back_a_used_ticket(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        order = issue_order(owner, store, pickup, quantity=1)
        ticket_id = db.session.scalar(select(Ticket.id).where(Ticket.order_id == order.id))
        transfer = services.give(order, [ticket_id], **FRIEND)
        db.session.commit()
        store_id, owner_id, transfer_id = store.id, owner.id, transfer.id
        db.session.remove()

    def act(kind: str, ready: Ready) -> None:
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        ticket = db.session.get(Ticket, ticket_id)
        ready()
        if kind == "cancel":
            services.cancel(account, store, transfer_id, reason="同時取消")
        else:
            tickets.redeem(account, store, ticket)

    # neither is refused (a refusal would also leave the transfer or the ticket as it was)
    assert run_at_once(pg_app, act, ("cancel", "redeem")) == [None, None]
    with pg_app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        item = db.session.scalar(select(TransferItem))
        assert db.session.get(Transfer, transfer_id).status is TransferStatus.CANCELLED
        assert ticket.status is TicketStatus.USED  # the redemption is never lost
        # whichever came first, the item says what happened to the ticket
        if item.state is TransferItemState.KEPT:
            assert ticket.transfer_id == transfer_id and ticket.holder_name == FRIEND["name"]
        else:
            assert item.state is TransferItemState.CANCELLED
            assert ticket.transfer_id is None and ticket.holder_name == "王小明"
