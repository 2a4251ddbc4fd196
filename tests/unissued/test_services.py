"""Unissued ticket orders on the database: a paid ticket order waits; the issuance file of the
selected orders uploads as a batch as is; issuing captures the authorisation; after T+20 the
order cannot be issued; the merchant abandons through T+29; the platform cancels on T+30; the
finance contacts are reminded on T+7 and T+19 — frozen on the seed's dates (paid 5/1)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app import clock
from app.checkout import services as checkout
from app.checkout.acquirer import read_card
from app.checkout.models import CardTransaction, TransactionStatus
from app.credit import queries as credit_queries
from app.credit import services as credit
from app.credit.states import Action
from app.db import db
from app.errors import DomainError
from app.issuance import services as issuance
from app.issuance.models import Batch, BatchStatus
from app.issuance.template import read_issuance_rows
from app.notifications.models import Message
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from app.unissued import jobs, services
from app.unissued.models import TicketOrder, TicketOrderState
from tests.factories import aio_form, make_checkout_store
from tests.unissued.helpers import pay_ticket_order, taipei, ticket_store

MAY_1 = date(2026, 5, 1)


def _issue_file(owner, store, data: bytes, import_no: str = "CARD01") -> Batch:  # noqa: ANN001
    batch = issuance.prepare_batch(owner, store, import_no=import_no,
                                   method=DeliveryMethod.IMMEDIATE, kind=ProductKind.PICKUP,
                                   rows=read_issuance_rows(data))
    db.session.commit()
    if batch.error_count == 0:
        issuance.confirm_batch(owner, store, batch)
        db.session.commit()  # the issuing job runs inline after the commit
    db.session.expire_all()
    return db.session.get(Batch, batch.id)


def test_a_paid_ticket_order_waits_to_be_issued(ctx) -> None:  # noqa: ANN001
    store, *_ = ticket_store()
    row = pay_ticket_order(store, "CARD1", at=taipei(MAY_1, 23))
    assert (row.state, row.paid_on, row.holder_name, row.holder_mobile) == (
        TicketOrderState.UNISSUED, MAY_1, "王小明", "0912345678")
    assert row.transaction.status is TransactionStatus.AUTHORISED
    assert row.transaction.auto_close is False  # captured at issuance, not by the daily close


def test_other_card_orders_are_not_ticket_orders(ctx) -> None:  # noqa: ANN001
    store = make_checkout_store(ticket=False)
    db.session.commit()
    order = checkout.accept(aio_form(store, trade_no="PLAIN1").items()).order
    card, _ = read_card("4311952222222222", "12/35", "222", today=clock.business_day())
    assert checkout.pay(order, card).approved
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(TicketOrder)) == 0
    assert db.session.scalar(select(CardTransaction)).auto_close is True


def test_the_issuance_file_uploads_as_is_and_issuing_captures(ctx) -> None:  # noqa: ANN001
    store, owner, pickup, gift = ticket_store()
    first = pay_ticket_order(store, "CARD1", item_name="咖啡券 x 2#甜點券 x 1", amount=380,
                             at=taipei(MAY_1))
    second = pay_ticket_order(store, "CARD2", item_name="咖啡券 x 1", amount=150)
    data = services.export(store.id, [first.id, second.id])
    db.session.commit()
    rows = read_issuance_rows(data)
    assert [(r["商品編號"], r["數量"], r["廠商訂單編號"], r["購買人姓名"], r["手機"]) for r in rows] == [
        (pickup.id, 2, "CARD1", "王小明", "0912345678"), (gift.id, 1, "CARD1", "王小明", "0912345678"),
        (pickup.id, 1, "CARD2", "王小明", "0912345678")]
    # the gift line cannot go in a pickup batch: issue CARD1's coffee and CARD2 first
    batch = _issue_file(owner, store, data)
    assert batch.status is BatchStatus.PREVIEW and batch.error_count == 1  # the gift row
    only_pickup = services.export(store.id, [second.id])
    clock.freeze(taipei(date(2026, 5, 21), 22))  # T+20, late evening: still issuable
    batch = _issue_file(owner, store, only_pickup, import_no="CARD02")
    assert batch.status is BatchStatus.SUCCEEDED
    db.session.expire_all()
    second = db.session.get(TicketOrder, second.id)
    assert second.state is TicketOrderState.ISSUED
    order = db.session.get(Order, second.issued_order_id)
    assert (order.merchant_order_no, order.ticket_count) == ("CARD2", 1)
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
    assert second.transaction.status is TransactionStatus.CLOSE_REQUESTED  # 要關帳: captured
    assert db.session.get(TicketOrder, first.id).state is TicketOrderState.UNISSUED


def test_only_issuing_captures_a_waiting_ticket_orders_authorisation(ctx) -> None:  # noqa: ANN001
    """Neither the merchant's back office (page, batch close, DoAction) nor the operator's
    over-date close may take the money of a ticket order still waiting to be issued: past T+20
    it can never be issued, and T+30 gives the money back."""
    store, owner, *_ = ticket_store()
    row = pay_ticket_order(store, "CARD1", at=taipei(MAY_1))
    txn_id = row.transaction.id
    with pytest.raises(DomainError, match="待發行的票券訂單"):
        credit.perform(row.transaction, Action.CLOSE)
    db.session.rollback()
    clock.freeze(taipei(date(2026, 5, 26), 10))  # T+25: over-date, past the issuing day
    assert db.session.scalars(credit_queries.over_date(store.id, clock.business_day())).all() == []
    with pytest.raises(DomainError, match="待發行的票券訂單"):
        credit.operator_close(db.session.get(CardTransaction, txn_id))
    db.session.rollback()
    txn = db.session.get(CardTransaction, txn_id)
    assert txn.status is TransactionStatus.AUTHORISED and txn.close_requested_at is None
    # another store's plain card payment of the same age is listed for the operator
    plain_store = make_checkout_store(ticket=False)
    db.session.commit()
    clock.freeze(taipei(MAY_1, 12))
    order = checkout.accept(aio_form(plain_store, trade_no="PLAIN9").items()).order
    card, _ = read_card("4311952222222222", "12/35", "222", today=clock.business_day())
    assert checkout.pay(order, card).approved
    db.session.commit()
    clock.freeze(taipei(date(2026, 5, 26), 10))
    assert len(db.session.scalars(credit_queries.over_date(plain_store.id,
                                                           clock.business_day())).all()) == 1
    # T+30 gives the ticket order's money back
    assert jobs.cancel_overdue(taipei(date(2026, 5, 31), 0).isoformat()) == 1
    db.session.expire_all()
    assert db.session.get(CardTransaction, txn_id).status is TransactionStatus.ABANDONED


def test_after_t_plus_20_the_order_cannot_be_issued(ctx) -> None:  # noqa: ANN001
    store, owner, *_ = ticket_store()
    row = pay_ticket_order(store, "CARD1", at=taipei(MAY_1))
    data = services.export(store.id, [row.id])
    db.session.commit()
    clock.freeze(taipei(date(2026, 5, 22), 0))
    batch = _issue_file(owner, store, data)
    assert batch.status is BatchStatus.PREVIEW
    assert list(batch.rows[0]["errors"].values()) == [
        "訂單 CARD1 已超過發行期限（2026/05/21 前須完成發行），無法發行"]
    with pytest.raises(DomainError, match="只能輸出狀態為「可發行」的訂單：CARD1"):
        services.export(store.id, [row.id])
    assert db.session.get(TicketOrder, row.id).state is TicketOrderState.UNISSUED


def test_a_batch_confirmed_before_the_deadline_and_issued_after_it_fails_whole(ctx) -> None:  # noqa: ANN001
    store, owner, *_ = ticket_store()
    row = pay_ticket_order(store, "CARD1", at=taipei(MAY_1))
    clock.freeze(taipei(date(2026, 5, 21), 23))
    batch = issuance.prepare_batch(owner, store, import_no="LATE", method=DeliveryMethod.IMMEDIATE,
                                   kind=ProductKind.PICKUP,
                                   rows=read_issuance_rows(services.export(store.id, [row.id])))
    db.session.commit()
    assert batch.error_count == 0
    clock.freeze(taipei(date(2026, 5, 22), 0, ))  # the job runs after midnight
    issuance.confirm_batch(owner, store, batch)
    db.session.commit()
    db.session.expire_all()
    batch = db.session.get(Batch, batch.id)
    assert batch.status is BatchStatus.FAILED and "已超過發行期限" in batch.error
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    assert db.session.get(TicketOrder, row.id).transaction.status is TransactionStatus.AUTHORISED


def test_the_merchant_abandons_through_t_plus_29(ctx) -> None:  # noqa: ANN001
    store, owner, *_ = ticket_store()
    kept = pay_ticket_order(store, "CARD1", at=taipei(MAY_1))
    dropped = pay_ticket_order(store, "CARD2")
    clock.freeze(taipei(date(2026, 5, 30), 23))
    services.abandon(dropped)
    db.session.commit()
    db.session.expire_all()
    dropped = db.session.get(TicketOrder, dropped.id)
    assert dropped.state is TicketOrderState.ABANDONED
    assert dropped.transaction.status is TransactionStatus.ABANDONED
    with pytest.raises(DomainError, match="此訂單已放棄授權，無法放棄授權"):
        services.abandon(dropped)
    clock.freeze(taipei(date(2026, 5, 31), 0))
    with pytest.raises(DomainError, match=r"已超過放棄授權期限（2026/05/30）"):
        services.abandon(db.session.get(TicketOrder, kept.id))
    data_refused = issuance.order_no_refusals(store.id, {"CARD2"}, date(2026, 5, 2))
    assert data_refused == {"CARD2": "訂單 CARD2 已放棄授權，無法發行"}


def test_the_platform_cancels_on_t_plus_30_once_and_catches_up(ctx) -> None:  # noqa: ANN001
    store, *_ = ticket_store()
    may_1 = pay_ticket_order(store, "CARD1", at=taipei(MAY_1))
    may_2 = pay_ticket_order(store, "CARD2", at=taipei(date(2026, 5, 2)))
    assert jobs.cancel_overdue(taipei(date(2026, 5, 30), 0).isoformat()) == 0
    assert jobs.cancel_overdue(taipei(date(2026, 5, 31), 0).isoformat()) == 1
    assert jobs.cancel_overdue(taipei(date(2026, 5, 31), 0).isoformat()) == 0  # run twice
    db.session.expire_all()
    assert db.session.get(TicketOrder, may_1.id).state is TicketOrderState.CANCELLED
    assert db.session.get(TicketOrder, may_1.id).transaction.status is TransactionStatus.ABANDONED
    assert db.session.get(TicketOrder, may_2.id).state is TicketOrderState.UNISSUED
    # no job ran on 6/1 and 6/2: the 6/3 run still cancels the 5/2 order
    assert jobs.cancel_overdue(taipei(date(2026, 6, 3), 0).isoformat()) == 1
    db.session.expire_all()
    assert db.session.get(TicketOrder, may_2.id).state is TicketOrderState.CANCELLED


def _reminders() -> list[Message]:
    return db.session.scalars(select(Message).where(Message.kind == "unissued_reminder")
                              .order_by(Message.id)).all()


def test_reminders_go_to_the_finance_contacts_on_t_plus_7_and_19(ctx) -> None:  # noqa: ANN001
    store, *_ = ticket_store()
    store.finance_emails = "finance@example.com;boss@example.com"
    db.session.commit()
    pay_ticket_order(store, "CARD1", at=taipei(MAY_1))
    issued_later = pay_ticket_order(store, "CARD2")
    assert jobs.send_reminders(taipei(date(2026, 5, 7), 9).isoformat()) == 0
    assert jobs.send_reminders(taipei(date(2026, 5, 8), 9).isoformat()) == 1  # the seed's 5/8
    assert jobs.send_reminders(taipei(date(2026, 5, 8), 9).isoformat()) == 0  # run twice
    sent = _reminders()
    assert [m.to_address for m in sent] == ["finance@example.com", "boss@example.com"]
    assert "CARD1" in sent[0].revealed_body and "CARD2" in sent[0].revealed_body
    assert "請於 2026/05/21 前完成發行" in sent[0].revealed_body
    db.session.get(TicketOrder, issued_later.id).state = TicketOrderState.ISSUED
    db.session.commit()
    assert jobs.send_reminders(taipei(date(2026, 5, 19), 9).isoformat()) == 0
    assert jobs.send_reminders(taipei(date(2026, 5, 20), 9).isoformat()) == 1  # T+19
    last = _reminders()[-1]
    assert "CARD1" in last.revealed_body and "CARD2" not in last.revealed_body
    assert jobs.send_reminders(taipei(date(2026, 5, 21), 9).isoformat()) == 0
    assert len(_reminders()) == 4


def test_a_store_without_a_finance_contact_sees_the_failed_reminder(ctx) -> None:  # noqa: ANN001
    store, *_ = ticket_store()
    store.finance_emails = ""
    db.session.commit()
    pay_ticket_order(store, "CARD1", at=taipei(MAY_1))
    assert jobs.send_reminders(taipei(date(2026, 5, 8), 9).isoformat()) == 1
    (message,) = _reminders()
    assert message.error == "未提供收件者電子郵件地址"


def test_an_order_issued_by_two_batches_at_once_is_issued_once(ctx) -> None:  # noqa: ANN001
    store, owner, *_ = ticket_store()
    row = pay_ticket_order(store, "CARD1")
    data = services.export(store.id, [row.id])
    db.session.commit()
    first = _issue_file(owner, store, data, import_no="ONE")
    second = _issue_file(owner, store, data, import_no="TWO")
    assert first.status is BatchStatus.SUCCEEDED
    assert second.status is BatchStatus.PREVIEW and second.error_count == 1
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2
