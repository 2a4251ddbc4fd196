"""7-3 L 簡訊發送紀錄: the store's SMS messages (issuance notices, changes of purchaser, re-sends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_, select

from app import clock
from app.notifications.models import Channel, Message, MessageStatus
from app.phones import normalise_mobile
from app.tickets.models import Order


@dataclass(frozen=True)
class SmsFilter:
    store_id: int
    start: date  # created, Taipei days, inclusive
    end: date
    phone: str = ""  # the number, or part of it
    order_no: str = ""  # ECT訂單編號 (exact)
    status: MessageStatus | None = None


def sms_messages(flt: SmsFilter) -> Select:
    """The store's SMS in the range, newest first (on ix_messages_store_id_channel_created_at)."""
    stmt = select(Message).where(
        Message.store_id == flt.store_id, Message.channel == Channel.SMS,
        Message.created_at >= clock.day_start(flt.start),
        Message.created_at <= clock.day_end(flt.end))
    if flt.phone:
        terms = [Message.to_address.contains(flt.phone, autoescape=True)]
        if (mobile := normalise_mobile(flt.phone)) and mobile != flt.phone:
            terms.append(Message.to_address == mobile)  # +886 912… finds 0912…
        stmt = stmt.where(or_(*terms))
    if flt.order_no:
        stmt = stmt.where(Message.order_id.in_(
            select(Order.id).where(Order.store_id == flt.store_id, Order.order_no == flt.order_no)))
    if flt.status is not None:
        stmt = stmt.where(Message.status == flt.status)
    return stmt.order_by(Message.created_at.desc(), Message.id.desc())


def sms_rows(flt: SmsFilter) -> Select:
    """`sms_messages(flt)` with each message's ECT訂單編號 and purchaser's name: the rows of the
    log and its Excel."""
    return (sms_messages(flt).add_columns(Order.order_no, Order.purchaser_name)
            .outerjoin(Order, Order.id == Message.order_id))
