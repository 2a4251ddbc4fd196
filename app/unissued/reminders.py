"""待發行通知信: on T+7 and T+19 the finance contacts (帳務聯絡人) of a store with ticket orders
still unissued get one e-mail a day listing them (order number, amount, paid date, the last
issuing day). Each order is marked when its reminder is queued (compare-and-set), in the same
transaction as the message, so a re-run sends nothing twice. A store without a finance contact
gets a FAILED message in the outbox: visible, never silent. Flushes, never commits."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from app import clock
from app.db import db
from app.notifications.models import Message
from app.notifications.services import queue_email
from app.stores.models import Store
from app.unissued import rules
from app.unissued.models import TicketOrder, TicketOrderState

KIND = "unissued_reminder"
UNSCOPED = {"unscoped": True}


def owed(today: date) -> dict[int, list[tuple[TicketOrder, int]]]:
    """{store id: [(order, 7 or 19)]} of the reminders owed today."""
    earliest = today - timedelta(days=rules.ISSUE_DAYS)
    latest = today - timedelta(days=min(rules.REMINDER_DAYS))
    rows = db.session.scalars(
        select(TicketOrder).where(TicketOrder.state == TicketOrderState.UNISSUED,
                                  TicketOrder.paid_on >= earliest, TicketOrder.paid_on <= latest)
        .order_by(TicketOrder.store_id, TicketOrder.paid_at, TicketOrder.id)
        .execution_options(**UNSCOPED)).all()
    found: dict[int, list[tuple[TicketOrder, int]]] = {}
    for row in rows:
        day = rules.reminder_due(row.paid_on, today, sent_7=row.reminded_7_at is not None,
                                 sent_19=row.reminded_19_at is not None)
        if day is not None:
            found.setdefault(row.store_id, []).append((row, day))
    return found


def _mark(row: TicketOrder, day: int) -> bool:
    column = TicketOrder.reminded_7_at if day == 7 else TicketOrder.reminded_19_at
    return bool(db.session.execute(
        update(TicketOrder).where(TicketOrder.id == row.id, column.is_(None),
                                  TicketOrder.state == TicketOrderState.UNISSUED)
        .values({column.key: clock.now()})
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount)


def subject_for(today: date) -> str:
    return f"【ECTicket】待發行通知信：您有尚未發行的票券訂單（{today:%Y/%m/%d}）"


def body_for(store: Store, rows: list[TicketOrder]) -> str:
    lines = "\n".join(
        f"- 訂單編號 {r.merchant_order_no}｜金額 NT${r.amount:,}｜交易日期 {r.paid_on:%Y/%m/%d}"
        f"｜請於 {rules.issue_deadline(r.paid_on):%Y/%m/%d} 前完成發行" for r in rows)
    return (f"{store.name}（商店代號 {store.merchant_code}）財務聯絡人您好：\n\n"
            f"以下 {len(rows)} 筆票券訂單已完成交易，但尚未發行票券：\n\n{lines}\n\n"
            f"訂單完成交易的 {rules.ISSUE_DAYS + 1} 天內須完成發行，逾期將無法發行；未發行的訂單請於"
            f"交易後 {rules.ABANDON_DAYS} 天內放棄授權，否則系統將於第 {rules.CANCEL_DAYS + 1} 天"
            "自動取消授權。\n可至 ECTicket 發行管理平台「未發行訂單管理」輸出票券發行檔。\n"
            "此信件由系統自動發送，請勿直接回覆。")


def send(store: Store, items: list[tuple[TicketOrder, int]], today: date) -> list[Message]:
    """Queue the store's reminder for the orders owed one (those another run did not mark
    first); nothing when none is left."""
    rows = [row for row, day in items if _mark(row, day)]
    if not rows:
        return []
    return queue_email(store.id, store.finance_emails, subject_for(today), body_for(store, rows),
                       kind=KIND)
