"""票券多次列印提醒 (docs/consumers.md): each day at 21:00 Taipei, the finance contacts (帳務聯絡人) of
every store with tickets printed more than once in the day's window get one e-mail listing them
(serial, product, how many prints in the window, when). No e-mail when there is nothing to tell.

Idempotent per store and window: the e-mail's subject names the window's day, and a store that
already has a `print_reminder` message with that subject is skipped, so a re-run of the job (or
a manual run the same evening) sends nothing twice. A store without a finance contact gets a
FAILED message (「未提供收件者電子郵件地址」) in the outbox: visible, never silent.

Flushes, never commits (the job commits).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app import clock
from app.db import db
from app.notifications.models import Message
from app.notifications.services import queue_email
from app.printing.rules import Window
from app.products.models import Product
from app.stores.models import Store
from app.tickets.models import Ticket

KIND = "print_reminder"


def subject_for(window: Window) -> str:
    """Names the window's day only (not the store's name, which may change): with the store id
    and the kind it identifies the reminder."""
    return f"【ECTicket】票券多次列印提醒（{window.day:%Y/%m/%d} 21:00 止）"


def _when(at: datetime) -> str:
    return f"{clock.taipei(at):%Y/%m/%d %H:%M:%S}"


def body_for(store: Store, window: Window, lines: list[tuple[str, str, list[datetime]]]) -> str:
    """The e-mail text: one line per ticket (serial, product, print count, times)."""
    rows = "\n".join(
        f"- 票券序號 {serial}｜{product}｜列印 {len(times)} 次｜{'、'.join(_when(t) for t in times)}"
        for serial, product, times in lines)
    return (f"{store.name}（商店代號 {store.merchant_code}）帳務聯絡人您好：\n\n"
            f"以下 {len(lines)} 張紙本票券於 {_when(window.start)} 至 {_when(window.end)} 之間"
            f"列印超過一次，請確認是否為遺失或毀損補印：\n\n{rows}\n\n"
            "可至 ECTicket 發行管理平台「紙本票券列印」查看列印紀錄。\n"
            "此信件由系統自動發送，請勿直接回覆。")


def already_sent(store: Store, window: Window) -> bool:
    return db.session.scalar(
        select(Message.id).where(Message.store_id == store.id, Message.kind == KIND,
                                 Message.subject == subject_for(window))
        .limit(1).execution_options(unscoped=True)) is not None


def send_reminder(store: Store, window: Window, prints: dict[int, list[datetime]]) -> list[Message]:
    """Queue the store's reminder for `prints` ({ticket id: times in the window}); nothing when
    `prints` is empty or the reminder of this window was queued before."""
    if not prints or already_sent(store, window):
        return []
    tickets = db.session.execute(
        select(Ticket.id, Ticket.serial, Product.name).join(Product, Product.id == Ticket.product_id)
        .where(Ticket.id.in_(list(prints)), Ticket.store_id == store.id)
        .order_by(Ticket.serial).execution_options(unscoped=True)).all()
    lines = [(serial, name, prints[ticket_id]) for ticket_id, serial, name in tickets]
    if not lines:
        return []
    return queue_email(store.id, store.finance_emails, subject_for(window),
                       body_for(store, window, lines), kind=KIND)
