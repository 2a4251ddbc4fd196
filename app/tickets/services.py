"""Finding tickets, and the four ticket actions by their domain names.

`find_by_code` is the one visibility rule for a typed or scanned code: the issuer sees its
tickets; a partner store those of products granted to it, and those it redeemed itself (so it
can still cancel its own redemption after the issuer un-grants the product; only a dissolved
relation stops that, and `actions` says so). `redeem`, `cancel_redemption`, `return_ticket` and
`cancel_return` are `actions.perform` under the names the domain uses. Services flush; the
caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import InvalidInput, NotFound
from app.products.models import ProductPartner
from app.stores.models import Store
from app.tickets import codes
from app.tickets.actions import Done, perform
from app.tickets.lifecycle import Action
from app.tickets.models import Ticket

UNKNOWN_CODE = "查無此核銷代碼，請確認是否輸入正確"
MALFORMED_CODE = "核銷代碼有誤（檢查碼不符），請確認是否輸入正確"


def _visible_to(ticket: Ticket, store: Store) -> bool:
    if ticket.store_id == store.id or ticket.redeemed_store_id == store.id:
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
    stmt = (select(Ticket).where(Ticket.code.matches(code))
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


def redeem(actor: Account, store: Store, ticket: Ticket, *, at: datetime | None = None) -> Done:
    return perform(Action.REDEEM, actor, store, ticket, at=at)


def cancel_redemption(actor: Account, store: Store, ticket: Ticket, *, reason: str = "",
                      at: datetime | None = None) -> Done:
    return perform(Action.CANCEL_REDEMPTION, actor, store, ticket, reason=reason, at=at)


def return_ticket(actor: Account, store: Store, ticket: Ticket, *, reason: str,
                  fee: int | None = None, at: datetime | None = None) -> Done:
    return perform(Action.RETURN, actor, store, ticket, reason=reason, fee=fee, at=at)


def cancel_return(actor: Account, store: Store, ticket: Ticket, *, reason: str,
                  at: datetime | None = None) -> Done:
    return perform(Action.CANCEL_RETURN, actor, store, ticket, reason=reason, at=at)


NOTE_NO_RIGHT = "您沒有票券報表的修改權限，無法新增備註"


def may_note(actor: Account, store: Store, ticket: Ticket) -> bool:
    """A note (備註) is a change: 票券報表 at modify, on a ticket of the acting store."""
    return ticket.store_id == store.id and actor.may(Function.REPORT_TICKETS, Level.MODIFY,
                                                     mode=access.mode_of(store))


def add_note(actor: Account, store: Store, ticket: Ticket, note: str) -> None:
    """備註: a note on a ticket of the acting store, kept in its history."""
    if ticket.store_id != store.id:
        raise NotFound("查無此票券序號", code="unknown_serial")
    access.check(actor, store, Function.REPORT_TICKETS, no_right=NOTE_NO_RIGHT)
    note = (note or "").strip()
    if not note:
        raise InvalidInput("請輸入備註內容", fields={"note": "請輸入備註內容"})
    history.record(ticket, "note", store_id=ticket.store_id, reason=note[:1000])
