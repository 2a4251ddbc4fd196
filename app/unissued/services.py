"""Unissued ticket orders on the database: made when a ticket order is paid, issued through an
ordinary issuance batch (its merchant order number is the order's MerchantTradeNo), abandoned
by the merchant or cancelled by the platform. They flush, never commit.

The registrations at the bottom hook these into checkout (a paid order), issuance (a file's
rows and a batch's orders) and the credit back office (an abandoned authorisation).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import ColumnElement, exists, select, update

from app import clock, history
from app.checkout import services as checkout
from app.checkout.models import CardTransaction, CheckoutOrder, TransactionStatus
from app.credit import queries, refunds
from app.credit import services as credit
from app.credit.states import Action
from app.db import db, insert_ignoring_conflict
from app.errors import DomainError
from app.issuance import services as issuance
from app.issuance.models import Batch
from app.issuance.template import orders_workbook
from app.products.models import Product
from app.unissued import rules
from app.unissued.models import TicketOrder, TicketOrderState

UNSCOPED = {"unscoped": True}
NOTHING_SELECTED = "請勾選要輸出的訂單"
NOT_EXPORTABLE = "只能輸出狀態為「可發行」的訂單：{numbers}"


def on_paid(order: CheckoutOrder, txn: CardTransaction) -> None:
    """A paid ticket order waits to be issued; its authorisation is captured at issuance, never
    by the daily auto-close."""
    if not order.is_ticket_order:
        return
    assert order.paid_at is not None
    db.session.execute(update(CardTransaction).where(CardTransaction.id == txn.id)
                       .values(auto_close=False)
                       .execution_options(synchronize_session=False, **UNSCOPED))
    ticket_order_id = insert_ignoring_conflict(
        TicketOrder, store_id=order.store_id, checkout_order_id=order.id, transaction_id=txn.id,
        merchant_order_no=order.merchant_trade_no, trade_no=order.trade_no,
        amount=order.total_amount, item_name=order.item_name, holder_name=txn.holder_name,
        holder_mobile=txn.holder_mobile, holder_email=txn.holder_email, paid_at=order.paid_at,
        paid_on=clock.business_day(txn.authorised_at), state=TicketOrderState.UNISSUED)
    if ticket_order_id is not None:
        history.record(db.session.get(TicketOrder, ticket_order_id, execution_options=UNSCOPED),
                       "ticket_order_paid", to_status=TicketOrderState.UNISSUED.value,
                       reason=f"信用卡付款完成（{order.trade_no}），待發行")


_ACTIONS = {TicketOrderState.ISSUED: "ticket_order_issued",
            TicketOrderState.ABANDONED: "ticket_order_abandoned",
            TicketOrderState.CANCELLED: "ticket_order_cancelled"}


def _move(row: TicketOrder, to: TicketOrderState, reason: str, **values: object) -> bool:
    """unissued → `to` (compare-and-set) with its history; False when it moved meanwhile."""
    now = clock.now()
    done = db.session.execute(
        update(TicketOrder).where(TicketOrder.id == row.id,
                                  TicketOrder.state == TicketOrderState.UNISSUED)
        .values(state=to, state_changed_at=now, **values)
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    if not done:
        return False
    history.record(row, _ACTIONS[to], from_status=TicketOrderState.UNISSUED.value,
                   to_status=to.value, reason=reason)
    db.session.refresh(row)
    return True


# Issuing through a batch ----------------------------------------------------------------------

def refusals(store_id: int, order_nos: set[str], today: date) -> Mapping[str, str]:
    """The rows of an issuance file that may not issue a ticket order of this store: past its
    issuing day, or no longer unissued."""
    rows = db.session.execute(
        select(TicketOrder.merchant_order_no, TicketOrder.state, TicketOrder.paid_on)
        .where(TicketOrder.store_id == store_id, TicketOrder.merchant_order_no.in_(order_nos))
        .execution_options(**UNSCOPED)).all()
    found = {no: rules.refusal(no, state, paid_on, today) for no, state, paid_on in rows}
    return {no: message for no, message in found.items() if message}


def on_issued(batch: Batch, order_ids: dict[str, int]) -> None:
    """The ticket orders a batch issued: issued, and their authorisations captured (close
    requested). One no longer issuable fails the whole batch (DomainError)."""
    rows = db.session.scalars(
        select(TicketOrder).where(TicketOrder.store_id == batch.store_id,
                                  TicketOrder.merchant_order_no.in_(list(order_ids)))
        .order_by(TicketOrder.id).with_for_update().execution_options(**UNSCOPED)).all()
    today = clock.business_day()
    for row in rows:
        message = rules.refusal(row.merchant_order_no, row.state, row.paid_on, today)
        if message is not None or not _move(
                row, TicketOrderState.ISSUED, f"匯入單號 {batch.import_no} 發行票券",
                issued_order_id=order_ids[row.merchant_order_no]):
            raise DomainError(message or rules.NOT_UNISSUED.format(
                no=row.merchant_order_no, state="狀態已變更"), code="ticket_order_state")
        if row.transaction.status is TransactionStatus.AUTHORISED:  # UnionPay: closed at once
            credit.perform(row.transaction, Action.CLOSE,
                           reason=f"訂單 {row.merchant_order_no} 已發行票券，自動要求關帳")


# Abandoning and cancelling --------------------------------------------------------------------

def abandon(row: TicketOrder) -> None:
    """The merchant abandons the authorisation of an unissued order (through T+29)."""
    today = clock.business_day()
    if not rules.abandonable(row.state, row.paid_on, today):
        if row.state is TicketOrderState.UNISSUED:
            raise DomainError(rules.ABANDON_TOO_LATE.format(
                deadline=rules.abandon_deadline(row.paid_on)), code="too_late")
        raise DomainError(rules.NOT_ABANDONABLE.format(state=rules.STATE_LABELS[row.state]),
                          code="ticket_order_state")
    reason = f"未發行訂單 {row.merchant_order_no} 放棄授權"
    if row.transaction.status is TransactionStatus.CLOSED:  # UnionPay: refunded instead
        if not _move(row, TicketOrderState.ABANDONED, reason):
            raise DomainError(rules.NOT_ABANDONABLE.format(state="狀態已變更"),
                              code="ticket_order_state")
    _release(row.transaction, reason)


AWAITING_ISSUE = ("此筆為待發行的票券訂單，於發行票券時自動請款；請至「未發行訂單管理」發行票券或"
                  "放棄授權")


def awaiting_issue() -> ColumnElement[bool]:
    """The transaction is a ticket order's still waiting to be issued: issuing captures it
    (on_issued), and no one closes it before (the money would be taken for tickets that may
    never be issued)."""
    return exists().where(TicketOrder.transaction_id == CardTransaction.id,
                          TicketOrder.state == TicketOrderState.UNISSUED)


def on_abandoned(txn: CardTransaction) -> None:
    """An authorisation abandoned (here or from the credit back office): its order, if still
    unissued, is abandoned too."""
    row = db.session.scalar(select(TicketOrder).where(TicketOrder.transaction_id == txn.id)
                            .execution_options(**UNSCOPED))
    if row is not None:
        _move(row, TicketOrderState.ABANDONED, "信用卡授權已放棄")


def cancel_overdue(row_id: int, today: date) -> bool:
    """T+30: the platform cancels an order still unissued (abandons its authorisation)."""
    row = db.session.scalar(select(TicketOrder).where(TicketOrder.id == row_id)
                            .with_for_update().execution_options(**UNSCOPED))
    if row is None or not rules.due_for_cancel(row.state, row.paid_on, today):
        return False
    if not _move(row, TicketOrderState.CANCELLED,
                 f"逾期未發行（{rules.issue_deadline(row.paid_on):%Y/%m/%d} 前須發行），系統取消授權"):
        return False
    _release(row.transaction, "未發行訂單逾期，系統自動取消授權")
    return True


def _release(txn: CardTransaction, reason: str) -> None:
    """Give the cardholder the money back: abandon the authorisation, or refund it in full when
    it closed at authorisation (UnionPay)."""
    if txn.status is TransactionStatus.CLOSED:
        refunds.refund(txn, txn.amount, reason=reason, check_balance=False)
    else:
        credit.perform(txn, Action.ABANDON, reason=reason)


# The issuance file ----------------------------------------------------------------------------

def _product_numbers(store_id: int) -> dict[str, int]:
    """Listed products by name, for names no other listed product of the store shares."""
    named: dict[str, list[int]] = {}
    for product_id, name in db.session.execute(
            select(Product.id, Product.name).where(Product.store_id == store_id,
                                                   Product.listed.is_(True))):
        named.setdefault(name, []).append(product_id)
    return {name: ids[0] for name, ids in named.items() if len(ids) == 1}


def export(store_id: int, ids: list[int]) -> bytes:
    """【輸出票券發行檔】: the issuance file of the selected orders, all of which must be
    issuable; each gets its export time."""
    if not ids:
        raise DomainError(NOTHING_SELECTED, code="nothing_selected")
    rows = db.session.scalars(select(TicketOrder).where(TicketOrder.store_id == store_id,
                                                        TicketOrder.id.in_(ids))
                              .order_by(TicketOrder.paid_at, TicketOrder.id)).all()
    if len(rows) != len(set(ids)):
        raise DomainError(NOTHING_SELECTED, code="nothing_selected")
    today = clock.business_day()
    late = [r.merchant_order_no for r in rows if not rules.issuable(r.state, r.paid_on, today)]
    if late:
        raise DomainError(NOT_EXPORTABLE.format(numbers="、".join(late)), code="not_issuable")
    products = _product_numbers(store_id)
    lines = [line for r in rows for line in rules.issuance_rows(
        order_no=r.merchant_order_no, name=r.holder_name, mobile=r.holder_mobile,
        email=r.holder_email, item_name=r.item_name, products=products)]
    db.session.execute(update(TicketOrder).where(TicketOrder.id.in_([r.id for r in rows]))
                       .values(exported_at=clock.now()))
    return orders_workbook(lines)


checkout.PAID_REACTIONS.append(on_paid)
issuance.ORDER_NO_REFUSALS.append(refusals)
issuance.ISSUED_REACTIONS.append(on_issued)
credit.ABANDONED_REACTIONS.append(on_abandoned)
queries.CLOSE_EXCLUSIONS.append((awaiting_issue, AWAITING_ISSUE))
