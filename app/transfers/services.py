"""Transfer (轉贈) use cases: give, cancel, and take a ticket back when it is returned.

A transfer moves some unused electronic pickup vouchers of one order to a recipient: the
tickets' holder becomes the recipient and `Ticket.transfer_id` points at the transfer while it
lasts. Every change of a ticket is a compare-and-set on the state it was read in (`… WHERE
transfer_id IS NULL AND status IN unused` to give, `… WHERE transfer_id = :t AND status IN
unused` to take back), after locking the rows, so two tabs of the same wallet cannot give a
ticket twice and a cancel racing a redemption never hands a used ticket back. Services flush;
the caller commits; notices are queued (sent after the commit).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import select, update

from app import clock, history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.credentials import conceal
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.notifications.services import queue_email
from app.orders.services import clean_purchaser
from app.products.models import ProductKind
from app.return_applications.services import pending_ticket_ids
from app.stores.models import DeliveryType, Store
from app.tickets import reactions
from app.tickets.lifecycle import Action
from app.tickets.models import Order, Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup
from app.transfers.models import Transfer, TransferItem, TransferItemState, TransferStatus

NOTHING_CHOSEN = "請選擇要轉贈的票券"
NOT_TRANSFERABLE = "只有未使用的電子提貨券可以轉贈"
ALREADY_GIVEN = "票券已轉贈或狀態已變更，請重新整理頁面"
RETURN_APPLIED = "票券已申請退貨，無法轉贈"
TO_SELF = "不可轉贈給自己"
# Transfer notices go by e-mail only: the seed sends SMS for issuance, a change of purchaser and
# a re-send, never for a transfer (so a transfer is never billed an SMS fee).
NO_CHANNEL = "請填寫受贈人 Email，以便寄送票券連結"
ALREADY_CANCELLED = "此轉贈已取消"
TRANSFER_NOT_FOUND = "查無此轉贈紀錄"
REASON_REQUIRED = "請輸入取消轉贈原因"
REASON_TOO_LONG = "取消轉贈原因最多 500 字"
NO_RIGHT = "您沒有取消轉贈的權限"
CANCELLED_BY_RETURN = "退貨同步取消轉贈"

TRANSFER_NOTICE = "transfer_notice"
TRANSFER_CANCELLED = "transfer_cancelled"

UNUSED = STATUS_GROUPS[StatusGroup.UNUSED]



def transferable(ticket: Ticket, order: Order) -> bool:
    """Whether the purchaser's wallet offers this ticket for transfer (a ticket with a pending
    return application is refused by `give` too: ask `return_applications.pending_ticket_ids`)."""
    try:
        method = order.delivery_method
    except ValueError:
        return False
    return (method.delivery_type is DeliveryType.ELECTRONIC and ticket.kind is ProductKind.PICKUP
            and ticket.transfer_id is None and ticket.current_status in UNUSED)


def new_transfer_no() -> str:
    """轉贈編號: TR, the Taipei date and 8 random digits."""
    return f"TR{clock.business_day():%Y%m%d}{secrets.randbelow(10**8):08d}"


def _holder(name: str, mobile: str, email: str) -> dict[str, str]:
    return {"holder_name": name, "holder_mobile": mobile, "holder_email": email}


def _recipient(*, name: str | None, mobile: str | None, email: str | None):  # noqa: ANN202
    """The recipient, normalised like a purchaser; the messages speak of 受贈人."""
    try:
        recipient = clean_purchaser("electronic", name=name, mobile=mobile, email=email)
    except InvalidInput as err:
        raise InvalidInput(err.message.replace("購買人", "受贈人"),
                           fields={k: v.replace("購買人", "受贈人") for k, v in err.fields.items()}
                           ) from None
    if not recipient.email:
        raise InvalidInput(NO_CHANNEL, fields={"email": NO_CHANNEL})
    return recipient


def give(order: Order, ticket_ids: Sequence[int], *, name: str | None, mobile: str | None,
         email: str | None) -> Transfer:
    """The purchaser (holding the order's link) gives some of its tickets to a recipient."""
    ids = sorted({int(i) for i in ticket_ids})
    if not ids:
        raise InvalidInput(NOTHING_CHOSEN, fields={"tickets": NOTHING_CHOSEN})
    recipient = _recipient(name=name, mobile=mobile, email=email)
    if recipient.mobile and recipient.mobile == order.purchaser_mobile:
        raise InvalidInput(TO_SELF, fields={"mobile": TO_SELF})
    if recipient.email and recipient.email.casefold() == order.purchaser_email.casefold():
        raise InvalidInput(TO_SELF, fields={"email": TO_SELF})
    tickets = list(db.session.scalars(
        select(Ticket).where(Ticket.id.in_(ids), Ticket.order_id == order.id)
        .order_by(Ticket.id).with_for_update()
        .execution_options(unscoped=True, populate_existing=True)))
    if len(tickets) != len(ids):
        raise NotFound(NOT_TRANSFERABLE)  # someone else's ticket id: same answer as unknown
    if any(t.transfer_id is not None for t in tickets):
        raise DomainError(ALREADY_GIVEN, code="already_given")
    if not all(transferable(t, order) for t in tickets):
        raise DomainError(NOT_TRANSFERABLE, code="not_transferable")
    if pending_ticket_ids(ids):
        raise DomainError(RETURN_APPLIED, code="return_applied")
    now = clock.now()
    transfer = Transfer(
        store_id=order.store_id, transfer_no=new_transfer_no(), order_id=order.id,
        giver_name=order.purchaser_name, giver_mobile=order.purchaser_mobile,
        giver_email=order.purchaser_email, recipient_name=recipient.name,
        recipient_mobile=recipient.mobile, recipient_email=recipient.email,
        ticket_count=len(tickets), created_at=now)
    transfer.new_link()
    db.session.add(transfer)
    db.session.flush()
    changed = db.session.execute(
        update(Ticket)
        .where(Ticket.id.in_(ids), Ticket.transfer_id.is_(None), Ticket.status.in_(UNUSED))
        .values(transfer_id=transfer.id, transferred_at=now,
                **_holder(recipient.name, recipient.mobile, recipient.email))
        .execution_options(unscoped=True, synchronize_session=False)).rowcount
    if changed != len(ids):
        raise DomainError(ALREADY_GIVEN, code="stale")  # the caller rolls back
    for t in tickets:
        db.session.add(TransferItem(store_id=t.store_id, transfer_id=transfer.id, ticket_id=t.id))
        history.record(t, "transferred", reason=f"轉贈 {transfer.transfer_no} 給 {recipient.name}",
                       changes=history.diff(_holder(t.holder_name, t.holder_mobile, t.holder_email),
                                            _holder(recipient.name, recipient.mobile,
                                                    recipient.email)))
    history.record(transfer, "transfer_created",
                   reason=f"{transfer.giver_name} 轉贈 {len(tickets)} 張給 {recipient.name}")
    db.session.flush()
    for t in tickets:
        db.session.refresh(t)
    notify_recipient(transfer)
    return transfer


def transfer_url(transfer: Transfer) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/t/{transfer.link_token}"


def _concealed_url(transfer: Transfer) -> str:
    """The link as the outbox holds it: sealed, shown as …last four (app/credentials.py)."""
    return conceal(transfer_url(transfer),
                   f"{current_app.config['PUBLIC_BASE_URL']}/t/…{transfer.link_token[-4:]}")


def notify_recipient(transfer: Transfer, *, resend: bool = False) -> list[str]:
    """Queue the recipient's link by e-mail; the channels used (none without an e-mail)."""
    if not transfer.recipient_email:
        return []
    store = db.session.get(Store, transfer.store_id)
    head = "補發" if resend else ""
    body = (f"{transfer.recipient_name} 您好：\n\n{transfer.giver_name or '您的朋友'} 轉贈給您 "
            f"{store.name} 的電子票券 {transfer.ticket_count} 張（轉贈編號 {transfer.transfer_no}）。\n"
            f"請開啟以下連結查看票券與核銷代碼：\n{_concealed_url(transfer)}\n\n此信件由系統自動發送，請勿直接回覆。")
    queue_email(store.id, transfer.recipient_email, f"【{store.name}】電子票券轉贈{head}通知", body,
                kind=TRANSFER_NOTICE, order_id=transfer.order_id)
    return ["Email"]


def _lock_transfer(transfer_id: int, store_id: int | None = None) -> Transfer | None:
    stmt = select(Transfer).where(Transfer.id == transfer_id)
    if store_id is not None:
        stmt = stmt.where(Transfer.store_id == store_id)
    return db.session.scalar(stmt.with_for_update()
                             .execution_options(unscoped=True, populate_existing=True))


def _items(transfer: Transfer) -> list[TransferItem]:
    """The transfer's items, locked and freshly read (never a stale loaded collection)."""
    return list(db.session.scalars(
        select(TransferItem).where(TransferItem.transfer_id == transfer.id)
        .order_by(TransferItem.id).with_for_update()
        .execution_options(unscoped=True, populate_existing=True)))


def _back_to_purchaser(ticket: Ticket, order: Order, transfer: Transfer, action: str,
                       reason: str, *, only_unused: bool) -> bool:
    """Hand `ticket` back to the order's purchaser (compare-and-set on it still being in this
    transfer, and still unused when `only_unused`); whether it went back."""
    before = _holder(ticket.holder_name, ticket.holder_mobile, ticket.holder_email)
    after = _holder(order.purchaser_name, order.purchaser_mobile, order.purchaser_email)
    stmt = update(Ticket).where(Ticket.id == ticket.id, Ticket.transfer_id == transfer.id)
    if only_unused:
        stmt = stmt.where(Ticket.status.in_(UNUSED))
    changed = db.session.execute(
        stmt.values(transfer_id=None, transferred_at=None, **after)
        .execution_options(unscoped=True, synchronize_session=False)).rowcount
    if not changed:
        return False
    history.record(ticket, action, store_id=ticket.store_id, changes=history.diff(before, after),
                   reason=reason)
    return True


def may_cancel(actor: Account, store: Store) -> bool:
    """取消轉贈 needs 電子票券轉贈紀錄 at 修改 (the main account holds it)."""
    return actor.may(Function.TRANSFER_RECORDS, Level.MODIFY, mode=access.mode_of(store))


def clean_reason(text: str | None) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise InvalidInput(REASON_REQUIRED, fields={"reason": REASON_REQUIRED})
    if len(reason) > 500:
        raise InvalidInput(REASON_TOO_LONG, fields={"reason": REASON_TOO_LONG})
    return reason


def cancel(actor: Account, store: Store, transfer_id: int, *, reason: str | None) -> Transfer:
    """取消轉贈 by the issuer: every still-unused ticket goes back to the purchaser, the
    recipient's link stops working; a ticket the recipient already used stays as it is."""
    access.check(actor, store, Function.TRANSFER_RECORDS, no_right=NO_RIGHT)
    reason = clean_reason(reason)
    transfer = _lock_transfer(transfer_id, store.id)
    if transfer is None:
        raise NotFound(TRANSFER_NOT_FOUND)
    if transfer.status is not TransferStatus.ACTIVE:
        raise DomainError(ALREADY_CANCELLED, code="already_cancelled")
    order = db.session.get(Order, transfer.order_id, execution_options={"unscoped": True})
    now = clock.now()
    given = [i for i in _items(transfer) if i.state is TransferItemState.GIVEN]
    tickets = {t.id: t for t in db.session.scalars(
        select(Ticket).where(Ticket.id.in_([i.ticket_id for i in given])).with_for_update()
        .execution_options(unscoped=True, populate_existing=True))}
    back = 0
    for item in given:
        ticket = tickets[item.ticket_id]
        item.ended_at = now
        if ticket.current_status in UNUSED and _back_to_purchaser(
                ticket, order, transfer, "transfer_cancelled",
                f"取消轉贈 {transfer.transfer_no}：{reason}", only_unused=True):
            item.state = TransferItemState.CANCELLED
            back += 1
        else:
            item.state = TransferItemState.KEPT
    transfer.status = TransferStatus.CANCELLED
    transfer.cancelled_at = now
    transfer.cancelled_by_id = actor.id
    transfer.cancel_reason = reason
    history.record(transfer, "transfer_cancelled", reason=f"{reason}（{back} 張回到購買人）",
                   from_status=TransferStatus.ACTIVE.value, to_status=TransferStatus.CANCELLED.value)
    db.session.flush()
    for ticket in tickets.values():
        db.session.refresh(ticket)
    _tell_cancelled(store, transfer, back)
    return transfer


def _tell_cancelled(store: Store, transfer: Transfer, back: int) -> None:
    if transfer.recipient_email:
        queue_email(store.id, transfer.recipient_email, f"【{store.name}】電子票券轉贈已取消",
                    f"{transfer.recipient_name} 您好：\n\n{store.name} 已取消轉贈 {transfer.transfer_no}，"
                    f"原轉贈連結已失效。如有疑問，請與 {store.name} 聯繫。"
                    "\n\n此信件由系統自動發送，請勿直接回覆。",
                    kind=TRANSFER_CANCELLED, order_id=transfer.order_id)
    if transfer.giver_email and back:
        queue_email(store.id, transfer.giver_email, f"【{store.name}】電子票券轉贈已取消",
                    f"{transfer.giver_name} 您好：\n\n{store.name} 已取消轉贈 {transfer.transfer_no}，"
                    f"{back} 張未使用的票券已回到您的電子票夾。\n\n此信件由系統自動發送，請勿直接回覆。",
                    kind=TRANSFER_CANCELLED, order_id=transfer.order_id)


@reactions.after_move
def _ticket_moved(moved: reactions.Moved) -> None:
    if moved.action is Action.RETURN:
        take_back_for_return(moved.ticket)  # 退貨同步取消轉贈
    elif moved.action is Action.CANCEL_REDEMPTION:
        take_back_after_cancelled_redemption(moved.ticket)


def take_back_for_return(ticket: Ticket) -> None:
    """退貨同步取消轉贈: a returned ticket leaves its transfer and goes back to the purchaser
    (whose card is refunded); the transfer ends when nothing of it is left with the recipient.
    Runs after the return's compare-and-set, in its transaction (an after-move reaction)."""
    if ticket.transfer_id is None:
        return
    transfer = _lock_transfer(ticket.transfer_id)
    if transfer is None:
        return
    items = _items(transfer)
    item = next((i for i in items
                 if i.ticket_id == ticket.id and i.state is TransferItemState.GIVEN), None)
    if item is None:
        return
    now = clock.now()
    order = db.session.get(Order, transfer.order_id, execution_options={"unscoped": True})
    if not _back_to_purchaser(ticket, order, transfer, "transfer_cancelled_by_return",
                              f"{CANCELLED_BY_RETURN} {transfer.transfer_no}", only_unused=False):
        return
    item.state = TransferItemState.RETURNED
    item.ended_at = now
    ended = (transfer.status is TransferStatus.ACTIVE
             and all(i.state is not TransferItemState.GIVEN for i in items))
    if ended:
        transfer.status = TransferStatus.CANCELLED
        transfer.cancelled_at = now
        transfer.cancel_reason = CANCELLED_BY_RETURN
    history.record(transfer, "transfer_cancelled_by_return", reason=f"票券 {ticket.serial} 退貨",
                   from_status=TransferStatus.ACTIVE.value if ended else None,
                   to_status=TransferStatus.CANCELLED.value if ended else None)
    db.session.flush()
    db.session.refresh(ticket)


def take_back_after_cancelled_redemption(ticket: Ticket) -> None:
    """A ticket the recipient had used when its transfer was cancelled stayed with them (KEPT);
    if that redemption is cancelled, the ticket is usable again and must not sit behind a link
    that no longer works: it goes back to the purchaser. Runs after the cancellation's
    compare-and-set, in its transaction (an after-move reaction)."""
    if ticket.transfer_id is None:
        return
    transfer = _lock_transfer(ticket.transfer_id)
    if transfer is None or transfer.status is not TransferStatus.CANCELLED:
        return  # an active transfer: the ticket is the recipient's again, as it should be
    item = next((i for i in _items(transfer)
                 if i.ticket_id == ticket.id and i.state is TransferItemState.KEPT), None)
    if item is None:
        return
    order = db.session.get(Order, transfer.order_id, execution_options={"unscoped": True})
    if _back_to_purchaser(ticket, order, transfer, "transfer_cancelled",
                          f"取消核銷：已取消的轉贈 {transfer.transfer_no} 票券回到購買人",
                          only_unused=False):
        item.state = TransferItemState.CANCELLED
        item.ended_at = clock.now()
        db.session.flush()
        db.session.refresh(ticket)
