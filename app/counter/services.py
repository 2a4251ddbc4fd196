"""The four counter pages (7-3 E 票券核銷, F 取消核銷, G 票券退貨, H 取消退貨).

The rules live in `app.tickets` (the status machine, the services with their compare-and-set)
and `app.products.access` (who may act); this module only knows the pages: which action each
page performs, the brute-force guard around a code lookup, and what the clerk is told before
pressing the button. Nothing here commits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from app import clock, ratelimit
from app.auth.models import Account
from app.auth.permissions import Function
from app.errors import DomainError, InvalidInput, NotFound
from app.products import access
from app.products.models import ProductKind
from app.products.rights import PerformedBy
from app.products.rights import Refusal as RightsRefusal
from app.stores.models import Store
from app.tickets import lifecycle
from app.tickets import services as tickets
from app.tickets.lifecycle import Move
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus


class Reason(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class CounterAction:
    """One counter page: its URL slug, menu endpoint, right, button and reason field."""

    slug: str
    endpoint: str
    function: Function
    title: str  # page title (the menu's label)
    button: str  # the one action button
    reason: Reason
    reason_label: str = ""
    hint: str = ""


ACTIONS: dict[str, CounterAction] = {a.slug: a for a in (
    CounterAction("redeem", "counter.redeem", Function.REDEEM, "票券核銷", "核銷", Reason.NONE,
                  hint="輸入或掃描完整核銷代碼後按 Enter 查詢，確認票券後按【核銷】。"),
    CounterAction("cancel-redemption", "counter.cancel_redemption", Function.CANCEL_REDEMPTION,
                  "取消核銷", "取消核銷", Reason.OPTIONAL, "取消原因",
                  hint="僅「已使用」（限核銷當日 23:59 前）與「逾期兌回」的提貨券可以取消核銷。"),
    CounterAction("return", "counter.return_ticket", Function.RETURN, "票券退貨", "退貨",
                  Reason.REQUIRED, "退貨原因",
                  hint="僅發行單位可以退貨；僅價金保管期間內的提貨券可以設定退貨手續費。"),
    CounterAction("cancel-return", "counter.cancel_return", Function.CANCEL_RETURN, "取消退貨",
                  "取消退貨", Reason.REQUIRED, "取消退貨原因",
                  hint="「待退貨」的票券限退貨當日 23:59 前取消。"),
)}


# The brute-force guard ---------------------------------------------------------------------

def find(store: Store, typed: str, *, account_id: int, ip: str) -> Ticket:
    """The ticket a clerk typed or scanned, behind the brute-force guard.

    Refused (429) while this account or this IP is over its limit of failed lookups, before
    looking anything up. An unknown code, or one whose check character does not match, counts
    one failure for each; a found ticket (or an empty field) counts nothing.
    """
    ratelimit.check(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, account_id)
    ratelimit.check(ratelimit.UNKNOWN_CODE_PER_IP, ip)
    try:
        return tickets.find_by_code(store, typed)
    except (NotFound, InvalidInput) as err:
        if isinstance(err, NotFound) or err.code == "malformed_code":
            ratelimit.count_failure(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, account_id)
            ratelimit.count_failure(ratelimit.UNKNOWN_CODE_PER_IP, ip)
        raise


# What the card shows ----------------------------------------------------------------------

def effective_status(ticket: Ticket, at: datetime | None = None) -> TicketStatus:
    """The status every screen shows: an unused ticket past its end date is already expired."""
    return lifecycle.effective_status(tickets.facts_of(ticket), at or clock.now())


def fee_allowed(ticket: Ticket, at: datetime | None = None) -> bool:
    """A return handling fee (退貨手續費) only for pickup vouchers inside the escrow period."""
    return ticket.kind is ProductKind.PICKUP and effective_status(ticket, at) is TicketStatus.UNUSED


def mask_mobile(mobile: str | None) -> str:
    """0912345678 → 0912***678: enough for the clerk to ask, not enough to copy."""
    text = mobile or ""
    if len(text) < 8:
        return "*" * len(text)
    return f"{text[:4]}***{text[-3:]}"


def _decision(action: CounterAction, ticket: Ticket, at: datetime,
              fee: int | None = None) -> Move | lifecycle.Refusal:
    facts = tickets.facts_of(ticket)
    deciders: dict[str, Callable[[], Move | lifecycle.Refusal]] = {
        "redeem": lambda: lifecycle.redeem(facts, at),
        "cancel-redemption": lambda: lifecycle.cancel_redemption(facts, at),
        "return": lambda: lifecycle.return_ticket(facts, at, fee),
        "cancel-return": lambda: lifecycle.cancel_return(facts, at),
    }
    return deciders[action.slug]()


def applies(action: CounterAction, ticket: Ticket, at: datetime | None = None) -> bool:
    """Whether the status machine allows the page's action on this ticket now (rights aside)."""
    return isinstance(_decision(action, ticket, at or clock.now()), Move)


def _rights_refusal(action: CounterAction, actor: Account, store: Store,
                    ticket: Ticket) -> RightsRefusal | None:
    product = ticket.product
    if action.slug == "redeem":
        return access.redeem_refusal(actor, store, product)
    if action.slug == "cancel-redemption":
        redeemer = PerformedBy(ticket.redeemed_store_id or ticket.store_id, ticket.redeemed_branch_id)
        return access.cancel_redemption_refusal(actor, store, product, redeemer)
    if action.slug == "return":
        return access.return_refusal(actor, store, product)
    returner = PerformedBy(ticket.store_id, ticket.returned_branch_id)
    return access.cancel_return_refusal(actor, store, product, returner)


def _ticket_refused(refusal: lifecycle.Refusal, ticket: Ticket) -> tickets.TicketRefused:
    if refusal is lifecycle.ALREADY_REDEEMED:
        return tickets.TicketRefused(refusal, tickets.performed_by_text(ticket, redeemed=True))
    if refusal is lifecycle.ALREADY_RETURNED:
        return tickets.TicketRefused(refusal, tickets.performed_by_text(ticket, redeemed=False))
    return tickets.TicketRefused(refusal)


def refusal(action: CounterAction, actor: Account, store: Store, ticket: Ticket,
            at: datetime | None = None) -> DomainError | None:
    """Why the page's action cannot be done on this ticket now, shown with the card before the
    clerk presses anything (None: the button is offered). The ticket's state speaks first (「此
    票券已核銷（於…）」 says more than a missing right); the service checks both again."""
    decision = _decision(action, ticket, at or clock.now())
    if isinstance(decision, lifecycle.Refusal):
        return _ticket_refused(decision, ticket)
    if rights := _rights_refusal(action, actor, store, ticket):
        return tickets.NotAllowedHere(rights)
    return None


# Acting ------------------------------------------------------------------------------------

CARD_STALE = "票券狀態已變更（目前為「{}」），請確認票券資訊後再操作"


class CardStale(DomainError):
    """The ticket changed since the clerk looked it up, and the action would still apply to its
    new state: show the fresh card rather than act on something the clerk did not see."""

    status = 409
    code = "stale"


def perform(action: CounterAction, actor: Account, store: Store, ticket: Ticket, *,
            seen: str, reason: str = "", fee: int | None = None) -> tickets.Done:
    """Do the page's action through the ticket services (permission, window, compare-and-set,
    history). `seen` is the status the card showed: if the ticket has moved on since, the
    clerk is told why the action no longer applies (e.g. 「此票券已核銷（於…）」 for a second
    click) or, if it still would, shown the new state instead of acting on it."""
    now = clock.now()
    current = effective_status(ticket, now)
    if seen != current.value and isinstance(_decision(action, ticket, now, fee), Move):
        raise CardStale(CARD_STALE.format(current.label))
    if action.slug == "redeem":
        return tickets.redeem(actor, store, ticket, at=now)
    if action.slug == "cancel-redemption":
        return tickets.cancel_redemption(actor, store, ticket, reason=reason, at=now)
    if action.slug == "return":
        return tickets.return_ticket(actor, store, ticket, reason=reason, fee=fee, at=now)
    return tickets.cancel_return(actor, store, ticket, reason=reason, at=now)
