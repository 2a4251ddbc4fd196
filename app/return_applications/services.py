"""Return applications (申請退貨): a consumer asks from the wallet, the merchant is e-mailed and
handles it with the normal return (which marks the application returned) or declines it.

Applying locks the chosen tickets, so two tabs cannot file two applications for one ticket;
declining is a compare-and-set on the application still being pending, so a decline and a
return (or two declines) never both win. Services flush; the caller commits; e-mails are
queued (sent after the commit).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from app import clock, history
from app.auth.models import Account
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.notifications.services import queue_email
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.settings.services import settings_or_blank
from app.stores.models import Store
from app.tickets import actions, reactions
from app.tickets.lifecycle import Action
from app.tickets.models import Order, Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup

NOT_OFFERED = "本商店未開放線上申請退貨，請與商店客服聯繫"
NOTHING_CHOSEN = "請選擇要申請退貨的票券"
REASON_REQUIRED = "請輸入退貨原因"
REASON_TOO_LONG = "原因最多 500 字"
NOT_RETURNABLE = "只有未使用的票券可以申請退貨"
ALREADY_APPLIED = "此票券已申請退貨，商店處理中"
NOT_PENDING = "此退貨申請已處理"
APPLICATION_NOT_FOUND = "查無此退貨申請"
DECLINE_REASON_REQUIRED = "請輸入不予退貨的原因"
NO_RIGHT = "您沒有處理退貨申請的權限"

APPLIED_MAIL = "return_application"
DECLINED_MAIL = "return_application_declined"
UNUSED = STATUS_GROUPS[StatusGroup.UNUSED]



def offered(store: Store) -> bool:
    """Whether the merchant turned on online return applications (電子票券申請退貨)."""
    return bool(settings_or_blank(store).online_return_application)


def _reason(text: str | None, *, required: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise InvalidInput(required, fields={"reason": required})
    if len(reason) > 500:
        raise InvalidInput(REASON_TOO_LONG, fields={"reason": REASON_TOO_LONG})
    return reason


def pending_ticket_ids(ticket_ids: Sequence[int]) -> set[int]:
    """Which of these tickets have a pending application (the wallet shows 「退貨申請處理中」)."""
    if not ticket_ids:
        return set()
    return set(db.session.scalars(
        select(ReturnApplication.ticket_id)
        .where(ReturnApplication.ticket_id.in_(list(ticket_ids)),
               ReturnApplication.status == ApplicationStatus.PENDING)
        .execution_options(unscoped=True)))


def apply(store: Store, order: Order, tickets: Sequence[Ticket], *, reason: str | None,
          name: str, mobile: str, email: str) -> list[ReturnApplication]:
    """The holder applies to return `tickets` (which the wallet already showed as theirs):
    one application per ticket, one e-mail to the merchant."""
    if not offered(store):
        raise DomainError(NOT_OFFERED, code="not_offered")
    if not tickets:
        raise InvalidInput(NOTHING_CHOSEN, fields={"tickets": NOTHING_CHOSEN})
    reason = _reason(reason, required=REASON_REQUIRED)
    ids = sorted({t.id for t in tickets})
    locked = list(db.session.scalars(
        select(Ticket).where(Ticket.id.in_(ids), Ticket.store_id == store.id,
                             Ticket.order_id == order.id).order_by(Ticket.id)
        .with_for_update().execution_options(unscoped=True, populate_existing=True)))
    if len(locked) != len(ids):
        raise NotFound(NOT_RETURNABLE)
    if any(t.current_status not in UNUSED for t in locked):
        raise DomainError(NOT_RETURNABLE, code="not_returnable")
    if pending_ticket_ids(ids):
        raise DomainError(ALREADY_APPLIED, code="already_applied")
    now = clock.now()
    made = []
    for t in locked:
        application = ReturnApplication(
            store_id=store.id, ticket_id=t.id, order_id=order.id, applicant_name=name or "",
            applicant_mobile=mobile or "", applicant_email=email or "", reason=reason,
            created_at=now)
        db.session.add(application)
        history.record(t, "return_applied", reason=reason)
        made.append(application)
    db.session.flush()
    _tell_merchant(store, order, locked, reason, name or "", mobile or "", email or "")
    return made


def merchant_recipients(store: Store) -> str:
    """Who is told of an application: the finance contacts, else the customer-service e-mail."""
    return store.finance_emails or settings_or_blank(store).cs_email


def _tell_merchant(store: Store, order: Order, tickets: Sequence[Ticket], reason: str,
                   name: str, mobile: str, email: str) -> None:
    lines = "\n".join(f"- {t.serial}　{t.product.name}　NT${t.face_value:,}" for t in tickets)
    contact = "、".join(c for c in (mobile, email) if c) or "未留聯絡方式"
    body = (f"{store.name} 您好：\n\n消費者 {name or '（未具名）'}（{contact}）於電子票夾申請退貨"
            f"（ECT訂單編號 {order.order_no}，共 {len(tickets)} 張）：\n{lines}\n\n退貨原因：{reason}\n\n"
            f"請登入票券管理後台「電子票券退貨申請」處理（以票券退貨完成退款，或填寫原因不予退貨）。\n\n"
            f"此信件由系統自動發送，請勿直接回覆。")
    queue_email(store.id, merchant_recipients(store), f"【票券退貨申請】訂單 {order.order_no}", body,
                kind=APPLIED_MAIL, order_id=order.id)


@reactions.after_move
def _returned(moved: reactions.Moved) -> None:
    if moved.action is Action.RETURN:
        mark_returned(moved.ticket, moved.actor_id)


def mark_returned(ticket: Ticket, actor_id: int | None) -> None:
    """The ticket was returned with the normal return: its pending application is done.
    Runs after the return's compare-and-set, in its transaction (an after-move reaction)."""
    db.session.execute(
        update(ReturnApplication)
        .where(ReturnApplication.ticket_id == ticket.id,
               ReturnApplication.status == ApplicationStatus.PENDING)
        .values(status=ApplicationStatus.RETURNED, handled_at=clock.now(), handled_by_id=actor_id)
        .execution_options(unscoped=True, synchronize_session=False))


def handling_refusal(actor: Account, store: Store, ticket: Ticket) -> str | None:
    """Why this account may not handle (return or decline) an application for this ticket:
    the same right as the return itself (票券退貨 at 修改, and the product's return branches)."""
    refusal = actions.rights_refusal(Action.RETURN, actor, store, ticket)
    if refusal is None:
        return None
    return NO_RIGHT if refusal.code == "NoPermission" else refusal.message


def decline(actor: Account, store: Store, application_id: int, *,
            reason: str | None) -> ReturnApplication:
    """不予退貨: the merchant declines with a reason; the applicant is e-mailed."""
    application = db.session.scalar(
        select(ReturnApplication)
        .where(ReturnApplication.id == application_id, ReturnApplication.store_id == store.id)
        .with_for_update().execution_options(unscoped=True, populate_existing=True))
    if application is None:
        raise NotFound(APPLICATION_NOT_FOUND)
    ticket = db.session.get(Ticket, application.ticket_id, execution_options={"unscoped": True})
    if refusal := handling_refusal(actor, store, ticket):
        raise Forbidden(refusal)
    reason = _reason(reason, required=DECLINE_REASON_REQUIRED)
    changed = db.session.execute(
        update(ReturnApplication)
        .where(ReturnApplication.id == application.id,
               ReturnApplication.status == ApplicationStatus.PENDING)
        .values(status=ApplicationStatus.DECLINED, handled_at=clock.now(), handled_by_id=actor.id,
                decline_reason=reason)
        .execution_options(unscoped=True, synchronize_session=False)).rowcount
    if not changed:
        raise DomainError(NOT_PENDING, code="not_pending")
    db.session.refresh(application)
    history.record(ticket, "return_application_declined", reason=reason)
    if application.applicant_email:
        body = (f"{application.applicant_name} 您好：\n\n"
                f"您對票券 {ticket.serial}（{ticket.product.name}）的退貨申請，"
                f"{store.name} 不予退貨，原因：{reason}\n票券仍可正常使用。"
                f"如有疑問，請與 {store.name} 聯繫。\n\n此信件由系統自動發送，請勿直接回覆。")
        queue_email(store.id, application.applicant_email, f"【{store.name}】退貨申請結果通知",
                    body, kind=DECLINED_MAIL, order_id=application.order_id)
    db.session.flush()
    return application
