"""7-3 C 已發行訂單管理 use cases: change the purchaser (變更購買人) and re-send the issuance
notice (補發) of an issued order, with the rules per delivery type of `app.orders.rules`.

Both lock the order row and its tickets (`SELECT … FOR UPDATE`) before deciding, so a kiosk
print, a wallet transfer or a second browser tab cannot slip in between the check and the
change. A change of purchaser also carries the revision the user saw (how many changes the
order has had): when another tab changed it first, the second is refused instead of silently
overwriting it and notifying the wrong "old" purchaser.

Notices are Message rows queued in the same transaction (sent by jobs after the commit). The
link token and the pickup code are credentials: they never appear in history.

They flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from app import history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.history import HistoryEntry
from app.issuance.notices import send_order_notice
from app.notifications.services import queue_email
from app.orders import rules
from app.phones import normalise_mobile
from app.settings.services import settings_or_blank, sms_active
from app.stores.models import DeliveryType, Store
from app.tickets.models import Order, Ticket

PURCHASER_CHANGED = "purchaser_changed"
PURCHASER_REPLACED = "purchaser_replaced"  # the e-mail to the old purchaser
RESEND = "resend"

NO_RIGHT = "您沒有已發行訂單管理的修改權限"
ORDER_NOT_FOUND = "找不到此訂單"
CHANGED_ELSEWHERE = "此訂單的購買人已在其他視窗或由其他人員變更，請重新整理頁面確認後再操作"
NOTHING_CHANGED = "購買人資料未變更"
NO_CHANNEL = "此訂單沒有可發送通知的 Email 或手機（簡訊服務未開啟時僅能以 Email 補發），無法補發"
NAME_REQUIRED = "請填寫購買人姓名"
NAME_TOO_LONG = "購買人姓名最多 50 字"
BAD_MOBILE = "手機格式錯誤，須為 09 開頭的 10 碼數字"
BAD_EMAIL = "Email 格式錯誤"
EMAIL_TOO_LONG = "Email 最多 200 字"
INPUT_WRONG = "購買人資料有誤，請修正後再送出"
NAME_MAX = 50
EMAIL_MAX = 200


@dataclass(frozen=True)
class Purchaser:
    name: str
    mobile: str
    email: str


@dataclass(frozen=True)
class OrderState:
    printed: bool  # any ticket printed (kiosk, print run or merchant print)
    transferred: bool  # any ticket given to someone else (轉贈) and not taken back


@dataclass(frozen=True)
class Outcome:
    order: Order
    message: str  # what the user is told (flash)
    category: str = "success"


def delivery_type(order: Order) -> str:
    return rules.delivery_type_of(order.delivery_method)


def state_of(tickets: list[Ticket]) -> OrderState:
    return OrderState(printed=any(t.printed_at is not None for t in tickets),
                      transferred=any(t.transferred_at is not None for t in tickets))


def order_state(order: Order) -> OrderState:
    """The order's printed / transferred state, read without locking (for pages)."""
    printed, transferred = db.session.execute(
        select(func.count(Ticket.printed_at), func.count(Ticket.transferred_at))
        .where(Ticket.order_id == order.id, Ticket.store_id == order.store_id)).one()
    return OrderState(printed=printed > 0, transferred=transferred > 0)


def purchaser_revision(order: Order) -> int:
    """How many times the order's purchaser was changed: the version a change form carries."""
    return db.session.scalar(
        select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.subject_type == Order.__tablename__, HistoryEntry.subject_id == order.id,
            HistoryEntry.store_id == order.store_id, HistoryEntry.action == PURCHASER_CHANGED)
    ) or 0


def may_modify(actor: Account, store: Store) -> bool:
    return actor.may(Function.ISSUED_ORDERS, Level.MODIFY, mode=access.mode_of(store))


def _check_right(actor: Account, store: Store) -> None:
    access.check(actor, store, Function.ISSUED_ORDERS, no_right=NO_RIGHT)


def lock_order(store: Store, order_id: int) -> tuple[Order, list[Ticket]]:
    """The store's order and its tickets, locked for this transaction and freshly read."""
    order = db.session.scalar(
        select(Order).where(Order.id == order_id, Order.store_id == store.id)
        .with_for_update().execution_options(populate_existing=True))
    if order is None:
        raise NotFound(ORDER_NOT_FOUND)
    tickets = list(db.session.scalars(
        select(Ticket).where(Ticket.order_id == order.id, Ticket.store_id == store.id)
        .order_by(Ticket.id).with_for_update().execution_options(populate_existing=True)))
    return order, tickets


def clean_purchaser(kind: str, *, name: str | None, mobile: str | None,
                    email: str | None) -> Purchaser:
    """The new purchaser, normalised (mobile 09xxxxxxxx, e-mail normalised); InvalidInput with
    a message per field when something is wrong or the delivery type's contact is missing."""
    errors: dict[str, str] = {}
    clean_name = " ".join((name or "").split())
    if not clean_name:
        errors["name"] = NAME_REQUIRED
    elif len(clean_name) > NAME_MAX:
        errors["name"] = NAME_TOO_LONG
    typed_mobile = (mobile or "").strip()
    clean_mobile = ""
    if typed_mobile:
        clean_mobile = normalise_mobile(typed_mobile) or ""
        if not clean_mobile:
            errors["mobile"] = BAD_MOBILE
    typed_email = (email or "").strip()
    clean_email = ""
    if typed_email:
        if len(typed_email) > EMAIL_MAX:
            errors["email"] = EMAIL_TOO_LONG
        else:
            try:
                clean_email = validate_email(typed_email, check_deliverability=False).normalized
            except EmailNotValidError:
                errors["email"] = BAD_EMAIL
    if "mobile" not in errors and "email" not in errors:
        problem = rules.contact_problem(kind, mobile=clean_mobile, email=clean_email)
        if problem is not None:
            errors[problem[0]] = problem[1]
    if errors:
        message = next(iter(errors.values())) if len(errors) == 1 else INPUT_WRONG
        raise InvalidInput(message, fields=errors)
    return Purchaser(clean_name, clean_mobile, clean_email)


def _purchaser_of(order: Order) -> Purchaser:
    return Purchaser(order.purchaser_name, order.purchaser_mobile, order.purchaser_email)


def _as_fields(p: Purchaser, prefix: str) -> dict[str, str]:
    return {f"{prefix}_name": p.name, f"{prefix}_mobile": p.mobile, f"{prefix}_email": p.email}


def _renew_credential(order: Order, kind: str) -> None:
    if rules.renewed_credential(kind) in {"link_token", "pickup_code"}:
        order.renew_credentials()  # the old link or pickup code now finds no order


def old_purchaser_texts(store: Store, order: Order, old: Purchaser) -> tuple[str, str]:
    """(subject, body) of 「票券變更購買人通知」 to the purchaser the tickets were taken from.

    It says the tickets now belong to someone else; it carries no link and no code."""
    kind = delivery_type(order)
    label = DeliveryType(kind).label
    gone = {rules.ELECTRONIC: "原電子票券連結已失效", rules.CVS: "原超商取票代碼已失效"}.get(kind, "")
    settings = settings_or_blank(store)
    service = f"\n客服電話：{settings.cs_phone}" if settings.cs_phone else ""
    subject = f"【{store.name}】票券變更購買人通知"
    body = (f"{old.name} 您好：\n\n您在 {store.name} 的{label}（訂單編號 {order.order_no}，"
            f"共 {order.ticket_count} 張）已由商店變更購買人，票券已轉由他人持有，{gone}。\n"
            f"如有疑問，請與 {store.name} 聯繫。{service}\n\n此信件由系統自動發送，請勿直接回覆。")
    return subject, body


def change_purchaser(actor: Account, store: Store, order_id: int, *, name: str | None,
                     mobile: str | None, email: str | None,
                     expected_revision: int | None = None) -> Outcome:
    """變更購買人: new purchaser on the order and its (not transferred) tickets; a new link or
    pickup code; notices to the new purchaser (e-mail, + SMS when on) and an e-mail to the old
    one, except for paper tickets (no notice at all)."""
    _check_right(actor, store)
    order, tickets = lock_order(store, order_id)
    if expected_revision is not None and purchaser_revision(order) != expected_revision:
        raise DomainError(CHANGED_ELSEWHERE, code="stale")
    kind = delivery_type(order)
    state = state_of(tickets)
    refusal = rules.change_purchaser_refusal(kind, printed=state.printed,
                                             transferred=state.transferred)
    if refusal:
        raise DomainError(refusal, code="refused")
    new = clean_purchaser(kind, name=name, mobile=mobile, email=email)
    old = _purchaser_of(order)
    if new == old:
        raise InvalidInput(NOTHING_CHANGED)

    order.purchaser_name, order.purchaser_mobile, order.purchaser_email = (
        new.name, new.mobile, new.email)
    _renew_credential(order, kind)
    history.record(order, PURCHASER_CHANGED,
                   changes=history.diff(_as_fields(old, "purchaser"), _as_fields(new, "purchaser")))
    for ticket in tickets:
        if ticket.transferred_at is not None:
            continue  # a recipient keeps what was given to them
        before = {"holder_name": ticket.holder_name, "holder_mobile": ticket.holder_mobile,
                  "holder_email": ticket.holder_email}
        ticket.holder_name, ticket.holder_mobile, ticket.holder_email = (
            new.name, new.mobile, new.email)
        changes = history.diff(before, _as_fields(new, "holder"))
        if changes:
            history.record(ticket, "holder_changed", changes=changes,
                           reason=f"訂單 {order.order_no} 變更購買人")
    db.session.flush()

    if not rules.notifies_on_change(kind):
        return Outcome(order, f"已變更購買人。{rules.PAPER_NO_NOTICE}", "warning")
    send_order_notice(store, order, PURCHASER_CHANGED)
    told_old = bool(old.email) and old.email.casefold() != new.email.casefold()
    if told_old:
        subject, body = old_purchaser_texts(store, order, old)
        queue_email(store.id, old.email, subject, body, kind=PURCHASER_REPLACED,
                    order_id=order.id)
    db.session.flush()
    sent = _channels(store, new)
    parts = [f"已變更購買人，並已發送{'、'.join(sent)}通知給新購買人" if sent
             else "已變更購買人（新購買人未留可通知的聯絡方式）"]
    if told_old:
        parts.append("原購買人已收到變更購買人 Email 通知")
    elif not old.email:
        parts.append("原購買人未留 Email，未發送變更通知")
    return Outcome(order, "；".join(parts))


def _channels(store: Store, purchaser: Purchaser) -> list[str]:
    """Where a notice to `purchaser` goes: the same decision as `send_order_notice`."""
    out = []
    if purchaser.email:
        out.append("Email")
    if purchaser.mobile and sms_active(store):
        out.append("簡訊")
    return out


def resend_notice(actor: Account, store: Store, order_id: int) -> Outcome:
    """補發: the issuance notice again, to the order's (original) purchaser only."""
    _check_right(actor, store)
    order, tickets = lock_order(store, order_id)
    kind = delivery_type(order)
    state = state_of(tickets)
    refusal = rules.resend_refusal(kind, printed=state.printed, transferred=state.transferred)
    if refusal:
        raise DomainError(refusal, code="refused")
    channels = _channels(store, _purchaser_of(order))
    if not channels:
        raise DomainError(NO_CHANNEL, code="no_channel")
    send_order_notice(store, order, RESEND)
    history.record(order, "notice_resent", reason=f"補發通知：{'、'.join(channels)}")
    db.session.flush()
    return Outcome(order, f"已補發通知（{'、'.join(channels)}）給原購買人")
