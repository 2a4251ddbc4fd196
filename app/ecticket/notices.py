"""ECTicket notices (docs/ecticket-api.md, "Notices"): what the real platform POSTs to a
merchant's server about its tickets, sent until the merchant acknowledges it.

- Refund notice → the order's RefundNotifyURL, when a ticket's refund reaches the consumer
  (the ticket moves to 已退貨: the bank acknowledged the refund, or a gift voucher's return was
  finalised).
- Use-status notice → the order's UseStatusNotifyURL, whenever the ticket's UseStatus group
  changes (1 unused · 2 redeemed · 3 refunded · 4 expired; app.tickets.status groups):
  redeemed, redemption cancelled, returned, return cancelled, expired.

The URLs are the ones the Issue call stored on the batch (ticket → order → batch). A notice is
created by an after-move reaction of the ticket core (app.tickets.reactions), in the move's
own transaction, with its inner Data fixed then; a single move also queues its first try after
the commit (bulk moves leave that to the per-minute job, app.ecticket.jobs:notices, which also
takes back tries whose sender died).

One try is `claim` (outgoing.claim, committed before sending) → `deliver` (outside any
transaction: the ECTicket envelope sealed now under the store's current ECTicket pair, POSTed
as JSON through app.notifications.outgoing's SSRF-guarded transport) → `finish`. The merchant
acknowledges with HTTP 200 and `1|OK`, or with an ECTicket envelope whose Data opens (under the
same pair) to RtnCode 1. A failed try is retried on the card payment notices' schedule
(app.checkout.notices.next_try: 5, 15 and 30 minutes, then four times a day on the next two
days); then the notice is given up. The merchant may re-send any notice (one manual try).

Use cases flush and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import insert, or_, select

from app import clock, history, jobs
from app.auth import access
from app.auth.permissions import Function
from app.checkout.notices import next_try
from app.db import db, in_chunks
from app.ecpay import envelope, keys
from app.ecticket.notice_models import TicketNotice, TicketNoticeAttempt, TicketNoticeKind
from app.errors import InvalidInput
from app.issuance.models import Batch
from app.notifications import outgoing
from app.notifications.models import NoticeStatus
from app.notifications.outgoing import DEFAULT_TIMEOUT, Reply, answered_ok, post
from app.products.models import ProductKind
from app.stores.models import Store
from app.tickets import reactions
from app.tickets.lifecycle import Action
from app.tickets.models import Order, Ticket
from app.tickets.status import StatusGroup, TicketStatus

CONTENT_TYPE = "application/json; charset=utf-8"
USER_AGENT = "ectix-ecticket-notice/1"
RESEND_BUSY = "此通知正在發送中，請稍後再試"
NO_RIGHT = "您沒有重新發送 ECTicket 通知的權限"
NO_KEYS = "尚未設定串接金鑰，無法加密通知"
UNSCOPED = {"unscoped": True}
SEND_BATCH = 200
CHUNK = 500
SUCCESS_MESSAGE = "Success"

# UseStatus of each status group (spec: 1 unused · 2 redeemed · 3 refunded · 4 expired).
USE_STATUS: dict[StatusGroup, int] = {StatusGroup.UNUSED: 1, StatusGroup.REDEEMED: 2,
                                      StatusGroup.RETURNED: 3, StatusGroup.EXPIRED: 4}
USE_STATUS_LABELS = {1: "未使用", 2: "已核銷", 3: "已退貨", 4: "已失效"}


# The pure rules --------------------------------------------------------------------------------

def use_status(status: TicketStatus) -> int:
    return USE_STATUS[status.group]


def kinds_for(seen: TicketStatus, to: TicketStatus) -> tuple[TicketNoticeKind, ...]:
    """Which notices a move from `seen` to `to` calls for."""
    kinds: list[TicketNoticeKind] = []
    if to is TicketStatus.RETURNED and seen is not TicketStatus.RETURNED:
        kinds.append(TicketNoticeKind.REFUND)
    if seen.group is not to.group:
        kinds.append(TicketNoticeKind.USE_STATUS)
    return tuple(kinds)


def trade_no_field(kind: ProductKind) -> str:
    """A pickup voucher's order is a MerchantTradeNo, a gift voucher's a FreeTradeNo."""
    return "FreeTradeNo" if kind is ProductKind.GIFT else "MerchantTradeNo"


def notice_data(kind: TicketNoticeKind, *, merchant_id: str, ticket_kind: ProductKind,
                merchant_order_no: str, order_no: str, ticket_no: str, to: TicketStatus,
                face_value: int, return_fee: int | None) -> dict[str, Any]:
    """The inner Data of a notice (before encryption)."""
    data: dict[str, Any] = {"RtnCode": 1, "RtnMsg": SUCCESS_MESSAGE, "MerchantID": merchant_id,
                            trade_no_field(ticket_kind): merchant_order_no,
                            "TicketTradeNo": order_no, "TicketNo": ticket_no}
    if kind is TicketNoticeKind.REFUND:
        fee = return_fee or 0
        data |= {"RefundAmount": face_value - fee, "RefundFee": fee, "Remark": ""}
    else:
        data["UseStatus"] = use_status(to)
    return data


def sealed_envelope(merchant_id: str, data: dict[str, Any], pair: keys.Pair,
                    timestamp: int) -> bytes:
    """The body POSTed: the ECTicket envelope around `data`, serialised like our answers."""
    encrypted, plaintext = envelope.encrypt_json(data, pair.hash_key, pair.hash_iv)
    body = {"PlatformID": "", "MerchantID": merchant_id, "RpHeader": {"Timestamp": timestamp},
            "TransCode": 1, "TransMsg": SUCCESS_MESSAGE, "Data": encrypted,
            "CheckMacValue": envelope.ticket_check_mac_value(plaintext, pair.hash_key,
                                                             pair.hash_iv)}
    return envelope.serialise(body).encode("ascii")


def envelope_acknowledges(body: str, pair: keys.Pair) -> bool:
    """Whether an answer is an ECTicket envelope whose Data opens to RtnCode 1."""
    try:
        value = json.loads(body)
    except ValueError:
        return False
    if not isinstance(value, dict) or not isinstance(value.get("Data"), str):
        return False
    try:
        fields, _ = envelope.decrypt_json(value["Data"], pair.hash_key, pair.hash_iv)
    except (envelope.DecryptError, envelope.NotJsonObject):
        return False
    return fields.get("RtnCode") in (1, "1")


@dataclass(frozen=True)
class TicketReply(Reply):
    """A reply to a notice: `1|OK`, or an envelope the merchant sealed with RtnCode 1."""

    envelope_ok: bool = False

    @property
    def succeeded(self) -> bool:
        return not self.error and (answered_ok(self.http_status, self.body)
                                   or (self.http_status == 200 and self.envelope_ok))

    @property
    def reason(self) -> str:
        if self.error or self.succeeded or self.http_status != 200:
            return super().reason
        return "回應內容不是 1|OK，也不是 RtnCode 為 1 的 ECTicket 回應"


# Creating notices (after-move reactions) -------------------------------------------------------

def create_for(seen: TicketStatus, to: TicketStatus, ticket_ids: Sequence[int]) -> list[int]:
    """The notices a move of these tickets calls for, for the tickets whose order was issued
    with the matching URL: their ids."""
    kinds = kinds_for(seen, to)
    if not kinds or not ticket_ids:
        return []
    url_of = {TicketNoticeKind.REFUND: Batch.refund_notify_url,
              TicketNoticeKind.USE_STATUS: Batch.use_status_notify_url}
    now = clock.now()
    created: list[int] = []
    for ids in in_chunks(list(ticket_ids), CHUNK):
        rows = db.session.execute(
            select(Ticket.id, Ticket.store_id, Ticket.serial, Ticket.kind, Ticket.face_value,
                   Ticket.return_fee, Order.merchant_order_no, Order.order_no,
                   Store.merchant_code, Batch.refund_notify_url, Batch.use_status_notify_url)
            .join(Order, Order.id == Ticket.order_id).join(Batch, Batch.id == Order.batch_id)
            .join(Store, Store.id == Ticket.store_id)
            .where(Ticket.id.in_(ids), or_(*(url_of[k] != "" for k in kinds)))
            .order_by(Ticket.id).execution_options(**UNSCOPED)).all()
        values = []
        for row in rows:
            for kind in kinds:
                url = row.refund_notify_url if kind is TicketNoticeKind.REFUND \
                    else row.use_status_notify_url
                if not url:
                    continue
                values.append({
                    "store_id": row.store_id, "ticket_id": row.id, "kind": kind,
                    "use_status": use_status(to), "ticket_no": row.serial, "url": url,
                    "payload": notice_data(kind, merchant_id=row.merchant_code,
                                           ticket_kind=row.kind,
                                           merchant_order_no=row.merchant_order_no,
                                           order_no=row.order_no, ticket_no=row.serial, to=to,
                                           face_value=row.face_value, return_fee=row.return_fee),
                    "status": NoticeStatus.PENDING, "attempts": 0, "next_attempt_at": now,
                    "created_at": now})
        for value in values:  # one by one: the ids, on SQLite and PostgreSQL alike
            created.append(db.session.execute(
                insert(TicketNotice).values(**value).returning(TicketNotice.id)).scalar_one())
    return created


@reactions.after_move
def _ticket_moved(moved: reactions.Moved) -> None:
    acting = moved.acting_store
    store = (acting if acting is not None and acting.id == moved.ticket.store_id  # no statement
             else db.session.get(Store, moved.ticket.store_id))
    if store is None or not store.ticket_notices:
        return
    for notice_id in create_for(moved.seen, moved.to, [moved.ticket.id]):
        jobs.enqueue("app.ecticket.jobs:send_notice", notice_id, retries=(),
                     queue="notifications")


@reactions.after_bulk_move
def _tickets_moved(action: Action, seen: TicketStatus, to: TicketStatus,
                   rows: Sequence[reactions.MovedRow]) -> None:
    create_for(seen, to, [r.id for r in rows])  # the per-minute job sends them


# Sending ----------------------------------------------------------------------------------------

def due_notice_ids(limit: int = SEND_BATCH) -> list[int]:
    return outgoing.due_ids(TicketNotice, limit)


def _next_due(notice: TicketNotice, failed_tries: int, at: datetime) -> datetime | None:
    return next_try(notice.created_at, failed_tries, at)


@dataclass(frozen=True)
class Claim:
    """One try a worker holds."""

    notice_id: int
    attempt: int
    trigger: str
    store_id: int
    url: str
    merchant_id: str
    data: dict[str, Any]
    pair: keys.Pair | None  # the store's current ECTicket pair, read with the claim


def claim(notice_id: int, *, trigger: str = "auto") -> Claim | None:
    """Take the next try (outgoing.claim; the caller commits before sending)."""
    taken = outgoing.claim(TicketNotice, notice_id, trigger=trigger)
    if taken is None:
        return None
    notice, attempt = taken
    return Claim(notice.id, attempt, trigger, notice.store_id, notice.url,
                 str(notice.payload.get("MerchantID", "")), dict(notice.payload),
                 keys.current_ticket_pair(notice.store_id))


def deliver(held: Claim) -> TicketReply:
    """The POST of a claimed try, sealed now under the store's current ECTicket pair (call it
    outside any transaction). Plain http to loopback only where the app's config allows it."""
    pair = held.pair
    if pair is None:
        return TicketReply(error=NO_KEYS)
    body = sealed_envelope(held.merchant_id, held.data, pair, int(clock.now().timestamp()))
    allow = current_app.config.get("ECTICKET_NOTICE_ALLOW_HTTP_LOOPBACK") is True
    reply = post(held.url, body, {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT},
                 timeout=DEFAULT_TIMEOUT, allow_http_loopback=allow)
    return TicketReply(reply.http_status, reply.body, reply.error,
                       envelope_ok=not reply.error and envelope_acknowledges(reply.body, pair))


def finish(held: Claim, reply: Reply) -> str:
    return outgoing.finish(TicketNotice, TicketNoticeAttempt, held.notice_id, held.attempt,
                           held.trigger, reply, _next_due)


def sweep() -> int:
    return outgoing.sweep(TicketNotice, TicketNoticeAttempt, _next_due)


# What the pages ask -----------------------------------------------------------------------------

def attempts_of(notice: TicketNotice, limit: int = 100) -> list[TicketNoticeAttempt]:
    return outgoing.attempts_of(TicketNoticeAttempt, notice.id, limit)


def latest_attempts(notice_ids: Iterable[int]) -> dict[int, TicketNoticeAttempt]:
    """The last attempt of each notice (for the list)."""
    latest: dict[int, TicketNoticeAttempt] = {}
    ids = list(notice_ids)
    if not ids:
        return latest
    for attempt in db.session.scalars(
            select(TicketNoticeAttempt).where(TicketNoticeAttempt.notice_id.in_(ids))
            .order_by(TicketNoticeAttempt.at, TicketNoticeAttempt.id)):
        latest[attempt.notice_id] = attempt
    return latest


def request_resend(actor, store, notice: TicketNotice) -> None:  # noqa: ANN001
    """【重新發送】: one manual try at once (queued after the commit), in any state but SENDING."""
    access.check(actor, store, Function.SYSTEM_INTEGRATION, no_right=NO_RIGHT)
    if notice.status is NoticeStatus.SENDING:
        raise InvalidInput(RESEND_BUSY)
    history.record(notice, "ecticket_notice_resent",
                   reason=f"重新發送前狀態：{notice.status.label}")
    jobs.enqueue("app.ecticket.jobs:send_notice", notice.id, "manual", retries=(),
                 queue="notifications")
