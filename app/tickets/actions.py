"""The ticket actions people take — redeem (核銷), cancel a redemption (取消核銷), return (退貨),
cancel a return (取消退貨) — as one table and one `perform`.

Each row of the table says everything about one action: the right it needs, the rule of who may
act (the acting branch enabled, the product's branch lists, the cross-store relation, who did
what is being undone), what the status machine allows (`lifecycle`), the reason it asks for, the
columns it sets, the history it writes and the message the clerk reads. The counter pages, the
ticket report, the ticket page, return applications, the JSON API and the demo loader all go
through `perform`, so no rule is spelled out twice.

`perform` finds no ticket itself: the caller loads it through the acting store's visibility
(`services.find_by_code`). It then checks the reason, the rights and the status machine, and
changes the status with a compare-and-set on the status it read — `UPDATE … WHERE id = :id AND
status = :seen` — so of two clerks, two tabs or a retried request exactly one changes the
ticket and the other is told why. History, the sales counters and the after-move reactions
(`reactions`) run in the same transaction. It flushes; the caller commits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app import clock, history
from app.auth.models import Account
from app.auth.permissions import Function
from app.db import DriverStatement, db, on_postgresql
from app.errors import DomainError, InvalidInput
from app.products import access, rights
from app.products.models import ProductKind
from app.products.rights import PerformedBy, Refusal, Unit
from app.stores.models import Branch, Store
from app.tickets import lifecycle, plain, reactions, sales
from app.tickets.lifecycle import Action, Facts, Move
from app.tickets.models import Ticket
from app.tickets.plain import TicketRow
from app.tickets.status import TicketStatus

REASON_MAX = 500
REASON_TOO_LONG = "原因最多 500 字"
CARD_STALE = "票券狀態已變更（目前為「{}」），請確認票券資訊後再操作"


class Reason(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


class TicketRefused(DomainError):
    """The ticket's state or the time refuses the action (HTTP 409)."""

    status = 409

    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(f"{refusal.message}{detail}", code=refusal.code)
        self.refusal = refusal


class NotAllowedHere(DomainError):
    """This account (its branch, its store) may not act on this ticket. The UI says why; the
    API answers 404 like an unknown code, so codes cannot be probed."""

    status = 403

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message, code=refusal.code)
        self.refusal = refusal


class CardStale(DomainError):
    """The ticket changed since the clerk looked it up, and the action would still apply to its
    new state: show the fresh card rather than act on something the clerk did not see."""

    status = 409
    code = "stale"


@dataclass(frozen=True)
class Done:
    ticket: Ticket | TicketRow
    message: str


Values = Callable[[Move, Account, Unit, datetime, str], dict[str, Any]]


@dataclass(frozen=True)
class TicketAction:
    key: Action
    function: Function  # the right it needs, at modify (修改)
    rule: access.Rule  # who may act on the product's tickets
    performed_by: Callable[[Ticket], PerformedBy | None]  # who did what is being undone
    decide: Callable[[Facts, datetime, int | None], Move | Refusal]  # the status machine
    values: Values  # the columns the move sets besides the status
    history: str  # the history action
    message: str  # the seed's success message
    reason: Reason
    reason_label: str = ""

    @property
    def label(self) -> str:
        return self.key.label

    def clean_reason(self, typed: str | None) -> str:
        reason = (typed or "").strip()
        if self.reason is Reason.REQUIRED and not reason:
            message = f"請輸入{self.label}原因"
            raise InvalidInput(message, fields={"reason": message})
        if self.reason is Reason.REQUIRED and len(reason) > REASON_MAX:
            raise InvalidInput(REASON_TOO_LONG, fields={"reason": REASON_TOO_LONG})
        return reason[:REASON_MAX]

    def history_reason(self, reason: str, move: Move) -> str:
        return reason + (f"（退貨手續費 NT${move.fee:,}）" if move.fee else "")


_NO_REDEEMER = {"redeemed_at": None, "redeemed_by_id": None, "redeemed_store_id": None,
                "redeemed_branch_id": None}
_NO_RETURN = {"returned_at": None, "returned_by_id": None, "returned_branch_id": None,
              "return_fee": None, "return_reason": ""}

ACTIONS: dict[Action, TicketAction] = {a.key: a for a in (
    TicketAction(
        Action.REDEEM, Function.REDEEM, rights.may_redeem, lambda t: None,
        lambda facts, at, fee: lifecycle.redeem(facts, at),
        lambda move, actor, unit, at, reason: {
            "redeemed_at": at, "redeemed_by_id": actor.id, "redeemed_store_id": unit.store_id,
            "redeemed_branch_id": unit.branch_id},
        "redeemed", "已送出核銷，票券狀態已變更", Reason.NONE),
    TicketAction(
        Action.CANCEL_REDEMPTION, Function.CANCEL_REDEMPTION, rights.may_cancel_redemption,
        lambda t: PerformedBy(t.redeemed_store_id or t.store_id, t.redeemed_branch_id),
        lambda facts, at, fee: lifecycle.cancel_redemption(facts, at),
        # The redeemer is cleared: a cancelled cross-store redemption leaves the cross-store report.
        lambda move, actor, unit, at, reason: _NO_REDEEMER,
        "redemption_cancelled", "已取消核銷，票券狀態已變更", Reason.OPTIONAL, "取消原因"),
    TicketAction(
        Action.RETURN, Function.RETURN, rights.may_return, lambda t: None,
        lifecycle.return_ticket,
        lambda move, actor, unit, at, reason: {
            "returned_at": at, "returned_by_id": actor.id, "returned_branch_id": unit.branch_id,
            "return_fee": move.fee, "return_reason": reason},
        "returned", "已送出退貨，票券狀態已變更", Reason.REQUIRED, "退貨原因"),
    TicketAction(
        Action.CANCEL_RETURN, Function.CANCEL_RETURN, rights.may_cancel_return,
        lambda t: PerformedBy(t.store_id, t.returned_branch_id),
        lambda facts, at, fee: lifecycle.cancel_return(facts, at),
        lambda move, actor, unit, at, reason: _NO_RETURN,
        "return_cancelled", "已取消退貨，票券狀態已變更", Reason.REQUIRED, "取消退貨原因"),
)}


# Questions a screen asks before offering the action -----------------------------------------

def effective_status(ticket: Ticket, at: datetime | None = None) -> TicketStatus:
    """The status every screen shows: an unused ticket past its end date is already expired."""
    return lifecycle.effective_status(Facts.of(ticket), at or clock.now())


def fee_allowed(ticket: Ticket, at: datetime | None = None) -> bool:
    """A return handling fee (退貨手續費) only for pickup vouchers inside the escrow period."""
    return (ticket.kind is ProductKind.PICKUP
            and effective_status(ticket, at) is TicketStatus.UNUSED)


def applies(key: Action, facts: Facts, at: datetime | None = None) -> bool:
    """Whether the status machine allows the action now (rights aside)."""
    return isinstance(ACTIONS[key].decide(facts, at or clock.now(), None), Move)


def rights_refusal(key: Action, actor: Account, store: Store,
                   ticket: Ticket | TicketRow) -> Refusal | None:
    action = ACTIONS[key]
    return access.ticket_refusal(action.function, action.rule, actor, store, ticket.product,
                                 action.performed_by(ticket))


def refusal(key: Action, actor: Account, store: Store, ticket: Ticket,
            at: datetime | None = None) -> DomainError | None:
    """Why the action cannot be done on this ticket now, shown with the ticket before anyone
    presses a button (None: it is offered). The ticket's state speaks first (「此票券已核銷（於
    …）」 says more than a missing right); `perform` checks both again."""
    decision = ACTIONS[key].decide(Facts.of(ticket), at or clock.now(), None)
    if isinstance(decision, Refusal):
        return refused(decision, ticket)
    if not_here := rights_refusal(key, actor, store, ticket):
        return NotAllowedHere(not_here)
    return None


# Acting ------------------------------------------------------------------------------------

def perform(key: Action, actor: Account, store: Store, ticket: Ticket | TicketRow, *,
            seen: TicketStatus | str | None = None, reason: str | None = "",
            fee: int | None = None, at: datetime | None = None) -> Done:
    """Do the action. `seen` is the status the person acting was shown (None from the API): if
    the ticket has moved on since and the action would still apply to its new state, CardStale
    asks them to look again instead of acting on something they did not see; if it no longer
    applies they are told why (e.g. 「此票券已核銷（於…）」 for a second click)."""
    action = ACTIONS[key]
    if not isinstance(ticket, Ticket) and key is not Action.REDEEM:
        # A plain row takes no write but the compare-and-set's: the other actions' reactions
        # change the ticket itself (a transfer taken back, an application closed).
        raise TypeError(f"{key.value} needs the ORM ticket, not a plain row")
    at = at or clock.now()
    if seen is not None:
        current = effective_status(ticket, at)
        seen_value = seen.value if isinstance(seen, TicketStatus) else seen
        if seen_value != current.value and isinstance(action.decide(Facts.of(ticket), at, fee), Move):
            raise CardStale(CARD_STALE.format(current.label))
    reason = action.clean_reason(reason)
    if not_here := rights_refusal(key, actor, store, ticket):
        raise NotAllowedHere(not_here)
    before = ticket.status
    decision = action.decide(Facts.of(ticket), at, fee)
    if isinstance(decision, Refusal):
        raise refused(decision, ticket)
    unit = access.unit_for(actor, store)
    _compare_and_set(ticket, before, decision, action,
                     {"status_changed_at": at, **action.values(decision, actor, unit, at, reason)},
                     action.history_reason(reason, decision),
                     lambda facts: action.decide(facts, at, fee))
    reactions.moved(reactions.Moved(ticket, key, before, decision.to, actor.id, store))
    return Done(ticket, action.message)


def refused(refusal: Refusal, ticket: Ticket | TicketRow) -> TicketRefused:
    """The refusal as the clerk reads it: an already redeemed or returned ticket says when,
    where and by whom."""
    from_text = {lifecycle.ALREADY_REDEEMED: True, lifecycle.ALREADY_RETURNED: False}
    if refusal in from_text:
        return TicketRefused(refusal, performed_by_text(ticket, redeemed=from_text[refusal]))
    return TicketRefused(refusal)


def performed_by_text(ticket: Ticket | TicketRow, *, redeemed: bool) -> str:
    """「（於 2026/07/01 10:00 由 示範可核銷商店（台北門市） clerk1）」: when, where and by whom."""
    at = ticket.redeemed_at if redeemed else ticket.returned_at
    if at is None:
        return ""
    store_id = ticket.redeemed_store_id if redeemed else ticket.store_id
    branch_id = ticket.redeemed_branch_id if redeemed else ticket.returned_branch_id
    account_id = ticket.redeemed_by_id if redeemed else ticket.returned_by_id
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


@cache
def _change(columns: tuple[str, ...], with_history: bool) -> DriverStatement:
    """The compare-and-set of a move setting `columns`, built and compiled once per action (the
    hot path): `UPDATE tickets SET … WHERE id = :ticket_id AND status = :seen RETURNING id,
    store_id`, with, on PostgreSQL (`with_history`), the history INSERT reading its RETURNING in
    the same statement (a data-modifying CTE): one round trip for the change and its history,
    sent on the driver's cursor (`DriverStatement`)."""
    table = Ticket.__table__.c
    change = (update(Ticket)
              .where(Ticket.id == bindparam("ticket_id"),
                     Ticket.status == bindparam("seen", type_=table["status"].type))
              .values({name: bindparam(f"new_{name}", type_=table[name].type) for name in columns})
              .returning(Ticket.id, Ticket.store_id))
    if not with_history:
        return DriverStatement(change.execution_options(synchronize_session=False, unscoped=True),
                               writes=True)
    moved = change.cte("moved")
    return DriverStatement(select(moved.c.id).add_cte(history.recorded_with(moved))
                           .execution_options(unscoped=True), writes=True)


def _compare_and_set(ticket: Ticket | TicketRow, seen: TicketStatus, move: Move, action: TicketAction,
                     values: dict[str, Any], reason: str,
                     decide_again: Callable[[Facts], Move | Refusal]) -> None:
    """Change the status only if it is still `seen`; otherwise tell the loser why. On
    PostgreSQL the change and its history row are one statement, elsewhere two in the same
    transaction. The winner knows every value it wrote (none is computed by the database), so
    they are set on the ticket as committed without reading the row back: the ticket and its
    loaded product stay as they are, in step with the database."""
    changes = {"status": move.to, **values}
    entry = {"from_status": seen.value, "to_status": move.to.value, "reason": reason}
    one_statement = on_postgresql()
    params = {"ticket_id": ticket.id, "seen": seen,
              **{f"new_{name}": value for name, value in changes.items()}}
    if one_statement:
        params |= history.recorded_params(Ticket.__tablename__, action.history, **entry)
    # Pending ORM changes go first, as autoflush would send them.
    db.session.flush()
    won = _change(tuple(changes), one_statement).first(db.session, params)
    if won is not None and not one_statement:
        history.record_many(Ticket.__tablename__, action.history,
                            [{"subject_id": ticket.id, "store_id": ticket.store_id}], **entry)
    orm = isinstance(ticket, Ticket)
    if won is None:
        # Someone else changed it first: why can't we now?
        if orm:
            db.session.refresh(ticket)
        else:
            plain.reread(ticket)
        decision = decide_again(Facts.of(ticket))
        raise refused(decision if isinstance(decision, Refusal) else lifecycle.NOT_APPLICABLE,
                      ticket)
    for key, value in changes.items():
        if orm:
            set_committed_value(ticket, key, value)  # in step with the database, not dirty
        else:
            setattr(ticket, key, value)
    sales.moved(ticket, seen, move.to)
