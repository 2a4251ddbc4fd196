"""Redeem, cancel a redemption, return, cancel a return (domain §6, seed 7-3 E–H).

Each use case: find the ticket the acting store may see, ask who may act (app.products.access)
and what may happen now (app.tickets.lifecycle), then change the status with a compare-and-set
on the status it read — `UPDATE … WHERE id = :id AND status = :seen` — so of two clerks, two tabs
or a retried request exactly one changes the ticket and the other is told why. History is
written in the same transaction. Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app import clock, history
from app.auth.models import Account
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.products import access
from app.products.models import ProductPartner
from app.products.rights import PerformedBy, Refusal
from app.stores.models import Branch, Store
from app.tickets import codes, lifecycle, sales
from app.tickets.lifecycle import Move
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus

UNKNOWN_CODE = "查無此核銷代碼，請確認是否輸入正確"
MALFORMED_CODE = "核銷代碼有誤（檢查碼不符），請確認是否輸入正確"

MESSAGES = {  # the seed's success messages
    "redeemed": "已送出核銷，票券狀態已變更",
    "redemption_cancelled": "已取消核銷，票券狀態已變更",
    "returned": "已送出退貨，票券狀態已變更",
    "return_cancelled": "已取消退貨，票券狀態已變更",
}



class TicketRefused(DomainError):
    """The ticket's state or the time refuses the action (HTTP 409)."""

    status = 409

    def __init__(self, refusal: lifecycle.Refusal | Refusal, detail: str = "") -> None:
        super().__init__(f"{refusal.message}{detail}", code=refusal.code)
        self.refusal = refusal


class NotAllowedHere(DomainError):
    """This account (its branch, its store) may not act on this ticket. The UI says why; the
    API answers 404 like an unknown code, so codes cannot be probed."""

    status = 403

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message, code=refusal.code)
        self.refusal = refusal


@dataclass(frozen=True)
class Done:
    ticket: Ticket
    message: str


def facts_of(ticket: Ticket) -> lifecycle.Facts:
    return lifecycle.Facts(
        status=ticket.status, kind=ticket.kind.value, face_value=ticket.face_value,
        expires_on=ticket.expires_on, valid_from=ticket.valid_from, issued_at=ticket.issued_at,
        redeemed_at=ticket.redeemed_at, returned_at=ticket.returned_at)


def _visible_to(ticket: Ticket, store: Store) -> bool:
    """The issuer sees its tickets; a partner store those of products granted to it."""
    if ticket.store_id == store.id:
        return True
    return db.session.scalar(
        select(ProductPartner.id).where(ProductPartner.product_id == ticket.product_id,
                                        ProductPartner.partner_store_id == store.id)
    ) is not None


def find_by_code(store: Store, typed: str) -> Ticket:
    """The ticket with this redemption code, if the acting store may see it. A mistyped code
    (the check character does not match) is answered without touching the database."""
    code = codes.normalise_code(typed)
    if not code:
        raise InvalidInput("請輸入核銷代碼", fields={"code": "請輸入核銷代碼"})
    if not codes.is_well_formed(code):
        raise InvalidInput(MALFORMED_CODE, code="malformed_code", fields={"code": MALFORMED_CODE})
    # The product comes in the same query: every caller asks who may act on its tickets.
    stmt = (select(Ticket).where(Ticket.code == code)
            .options(joinedload(Ticket.product, innerjoin=True))
            .execution_options(unscoped=True))
    ticket = db.session.scalar(stmt)
    if ticket is None or not _visible_to(ticket, store):
        raise NotFound(UNKNOWN_CODE, code="unknown_code")
    return ticket


def find_by_serial(store: Store, serial: str) -> Ticket:
    """A ticket of the acting store by serial (the issuer's pages)."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.serial == (serial or "").strip().upper()))
    if ticket is None or ticket.store_id != store.id:
        raise NotFound("查無此票券序號", code="unknown_serial")
    return ticket


def performed_by_text(ticket: Ticket, *, redeemed: bool) -> str:
    """「於 2026/07/01 10:00 由 示範可核銷商店（台北門市） clerk1」: when, where and by whom."""
    at = ticket.redeemed_at if redeemed else ticket.returned_at
    store_id = ticket.redeemed_store_id if redeemed else ticket.store_id
    branch_id = ticket.redeemed_branch_id if redeemed else ticket.returned_branch_id
    account_id = ticket.redeemed_by_id if redeemed else ticket.returned_by_id
    if at is None:
        return ""
    # The redeemer may be another store (a partner): read across the tenancy scope.
    unscoped = {"unscoped": True}
    store = db.session.get(Store, store_id) if store_id else None
    branch = db.session.get(Branch, branch_id, execution_options=unscoped) if branch_id else None
    account = (db.session.get(Account, account_id, execution_options=unscoped)
               if account_id else None)
    where = store.name if store else ""
    where += f"（{branch.name}）" if branch else "（總店）" if store else ""
    who = f" {account.username}" if account else ""
    return f"（於 {clock.taipei(at):%Y/%m/%d %H:%M} 由 {where}{who}）"


def _refused(refusal: lifecycle.Refusal, ticket: Ticket) -> TicketRefused:
    if refusal is lifecycle.ALREADY_REDEEMED:
        return TicketRefused(refusal, performed_by_text(ticket, redeemed=True))
    if refusal is lifecycle.ALREADY_RETURNED:
        return TicketRefused(refusal, performed_by_text(ticket, redeemed=False))
    return TicketRefused(refusal)


def _decide(decision: Move | lifecycle.Refusal, ticket: Ticket) -> Move:
    if isinstance(decision, lifecycle.Refusal):
        raise _refused(decision, ticket)
    return decision


def _ticket_columns() -> tuple[tuple[str, Any], ...]:
    return tuple((prop.key, getattr(Ticket, prop.key)) for prop in inspect(Ticket).column_attrs)


def _compare_and_set(ticket: Ticket, seen: TicketStatus, move: Move, action: str,
                     values: dict[str, Any], reason: str, decide_again) -> None:  # noqa: ANN001
    """Change the status only if it is still `seen`; otherwise tell the loser why. The winner's
    row comes back from the UPDATE (RETURNING) into the ticket object, so the ticket and its
    loaded product stay as they are, in step with the database, without reading them again."""
    values = {"status_changed_at": clock.now(), **values}
    columns = _ticket_columns()
    row = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == seen)
        .values(status=move.to, **values)
        .returning(*(column for _, column in columns))
        .execution_options(synchronize_session=False, unscoped=True)
    ).first()
    if row is None:
        db.session.refresh(ticket)  # someone else changed it first: why can't we now?
        decision = decide_again(facts_of(ticket))
        raise _refused(decision if isinstance(decision, lifecycle.Refusal)
                       else lifecycle.NOT_APPLICABLE, ticket)
    for (key, _), value in zip(columns, row, strict=True):
        set_committed_value(ticket, key, value)
    sales.moved(ticket, seen, move.to)
    history.record(ticket, action, store_id=ticket.store_id, from_status=seen.value,
                   to_status=move.to.value, reason=reason)


def _unit_values(actor: Account, store: Store) -> tuple[int | None, int | None]:
    unit = access.unit_for(actor, store)
    return unit.store_id, unit.branch_id


def redeem(actor: Account, store: Store, ticket: Ticket, *, at: datetime | None = None) -> Done:
    at = at or clock.now()
    if refusal := access.redeem_refusal(actor, store, ticket.product):
        raise NotAllowedHere(refusal)
    seen = ticket.status
    move = _decide(lifecycle.redeem(facts_of(ticket), at), ticket)
    store_id, branch_id = _unit_values(actor, store)
    _compare_and_set(ticket, seen, move, "redeemed", {
        "redeemed_at": at, "redeemed_by_id": actor.id, "redeemed_store_id": store_id,
        "redeemed_branch_id": branch_id, "status_changed_at": at,
    }, "", lambda f: lifecycle.redeem(f, at))
    return Done(ticket, MESSAGES["redeemed"])


def cancel_redemption(actor: Account, store: Store, ticket: Ticket, *, reason: str = "",
                      at: datetime | None = None) -> Done:
    at = at or clock.now()
    redeemer = PerformedBy(ticket.redeemed_store_id or ticket.store_id, ticket.redeemed_branch_id)
    if refusal := access.cancel_redemption_refusal(actor, store, ticket.product, redeemer):
        raise NotAllowedHere(refusal)
    seen = ticket.status
    move = _decide(lifecycle.cancel_redemption(facts_of(ticket), at), ticket)
    # The redeemer is cleared: a cancelled cross-store redemption leaves the cross-store report.
    _compare_and_set(ticket, seen, move, "redemption_cancelled", {
        "redeemed_at": None, "redeemed_by_id": None, "redeemed_store_id": None,
        "redeemed_branch_id": None, "status_changed_at": at,
    }, reason.strip()[:500], lambda f: lifecycle.cancel_redemption(f, at))
    from app.transfers.services import take_back_after_cancelled_redemption

    take_back_after_cancelled_redemption(ticket)
    return Done(ticket, MESSAGES["redemption_cancelled"])


def _required_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"請輸入{what}原因", fields={"reason": f"請輸入{what}原因"})
    if len(reason) > 500:
        raise InvalidInput("原因最多 500 字", fields={"reason": "原因最多 500 字"})
    return reason


def return_ticket(actor: Account, store: Store, ticket: Ticket, *, reason: str,
                  fee: int | None = None, at: datetime | None = None) -> Done:
    at = at or clock.now()
    reason = _required_reason(reason, "退貨")
    if refusal := access.return_refusal(actor, store, ticket.product):
        raise NotAllowedHere(refusal)
    seen = ticket.status
    move = _decide(lifecycle.return_ticket(facts_of(ticket), at, fee), ticket)
    _, branch_id = _unit_values(actor, store)
    _compare_and_set(ticket, seen, move, "returned", {
        "returned_at": at, "returned_by_id": actor.id, "returned_branch_id": branch_id,
        "return_fee": move.fee, "return_reason": reason, "status_changed_at": at,
    }, reason + (f"（退貨手續費 NT${move.fee:,}）" if move.fee else ""),
        lambda f: lifecycle.return_ticket(f, at, fee))
    from app.return_applications.services import mark_returned
    from app.transfers.services import take_back_for_return

    take_back_for_return(ticket)  # 退貨同步取消轉贈
    mark_returned(ticket, actor.id)
    return Done(ticket, MESSAGES["returned"])


def cancel_return(actor: Account, store: Store, ticket: Ticket, *, reason: str,
                  at: datetime | None = None) -> Done:
    at = at or clock.now()
    reason = _required_reason(reason, "取消退貨")
    returner = PerformedBy(ticket.store_id, ticket.returned_branch_id)
    if refusal := access.cancel_return_refusal(actor, store, ticket.product, returner):
        raise NotAllowedHere(refusal)
    seen = ticket.status
    move = _decide(lifecycle.cancel_return(facts_of(ticket), at), ticket)
    _compare_and_set(ticket, seen, move, "return_cancelled", {
        "returned_at": None, "returned_by_id": None, "returned_branch_id": None,
        "return_fee": None, "return_reason": "", "status_changed_at": at,
    }, reason, lambda f: lifecycle.cancel_return(f, at))
    return Done(ticket, MESSAGES["return_cancelled"])


def add_note(ticket: Ticket, note: str) -> None:
    """備註: a note on a ticket, kept in its history."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("請輸入備註內容", fields={"note": "請輸入備註內容"})
    history.record(ticket, "note", store_id=ticket.store_id, reason=note[:1000])
