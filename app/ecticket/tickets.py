"""The ticket-moving calls: WriteOff (核銷 / 取消核銷), Refund (退貨 / 取消退貨; also
`/api/issuance/Refund`, and a whole installment order by MerchantTradeNo) and QueryTicketStatus.

Every move goes through the services the counter uses (app.tickets.services, app.installments
.services), so the windows, the branch and partner-store rights, the compare-and-set and the
history are the counter's. How the API acts:

- The acting unit is the calling store (the MerchantID of the envelope; a partner store calls
  with its own) and `StoreID`, the 分店編號 of one of its branches ("" = the head office). An
  unknown StoreID, or a disabled branch, is 3008 before anything is looked up.
- The services take an acting Account. The API is the merchant's own system holding the store's
  keys, so it acts with the main account's rights as that unit: an unsaved Account (never added
  to the session, no id) of kind main, bound to the StoreID branch. `access.unit_for` therefore
  gives (store, branch) as for a clerk of that branch; `redeemed_by_id` / `returned_by_id` stay
  empty (no person's account acted), and the history line names who did:
  actor label "ECTicket API:<Operator>", with the store, the branch and the caller's IP.
- The same-answer rule (docs/tickets.md): a WriteOffNo that is unknown, another store's
  (invisible to the calling store) or malformed (wrong length, alphabet or check character) is
  3003 with the one RtnMsg 「WriteOffNo not found: <the WriteOffNo sent>」, by one path (one
  digest, one statement), and counts one failure against the store+IP; over the limit every
  code lookup is 3009 before looking. A TicketNo unknown or invisible is 3003 alike, in one
  statement.
- Refusals: the ticket's state → 3004 with the service's message (「此票券已核銷（於 … 由 …）」);
  the same-day cancel window over → 3007; a handling fee the rules refuse → 3001 RefundFee; the
  unit's rights (branch lists, partner relation, issuer only) → 3008 with the reason.
- Idempotency: a WriteOff repeated after success is refused 3004 「此票券已核銷（於 …）」 (with the
  ticket's TicketNo and UseStatus 2): never a second redemption. The same holds for every move;
  of concurrent calls exactly one wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app import history, ratelimit
from app.auth.models import Account, AccountKind
from app.auth.permissions import BRANCH_DISABLED
from app.db import db
from app.ecticket import protocol
from app.ecticket.calls import Call
from app.ecticket.protocol import Refused, Result
from app.ecticket.ticket_info import ticket_item, ticket_use_status
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.installments import services as installments
from app.installments import status as installment_rules
from app.installments.services import OrderRefused
from app.products.models import ProductKind
from app.stores.models import Branch, RedemptionMode, Store
from app.tickets import lifecycle, services
from app.tickets.actions import NotAllowedHere, TicketRefused
from app.tickets.models import Order, Ticket

ACTOR_PREFIX = "ECTicket API:"
OPERATOR_SIZE = 10
STORE_ID_SIZE = 20
REASON_SIZE = 50
CODE_SIZE = 18  # WriteOffNo
SERIAL_SIZE = 16  # TicketNo
TRADE_NO_SIZE = 25  # MerchantTradeNo

# Failed code lookups per calling store and IP (a POS server answers for many tills, so the
# counter's per-IP figure, not its per-account one).
UNKNOWN_CODE = ratelimit.Rule("ecticket-code", "60/10 minutes",
                              "Too many unknown WriteOffNo: try again in 10 minutes")

WINDOW_CODES = {lifecycle.CANCEL_WINDOW_CLOSED.code}
FEE_CODES = {lifecycle.FEE_NOT_ALLOWED.code, lifecycle.FEE_ABOVE_FACE_VALUE.code,
             lifecycle.FEE_NEGATIVE.code}


# Who acts ---------------------------------------------------------------------------------------

def acting_branch(call: Call) -> Branch | None:
    """The calling store's branch named by StoreID (None: the head office); 3008 when the
    store has no such branch, or it is disabled."""
    code = protocol.text(call.fields, "StoreID", STORE_ID_SIZE)
    if not code:
        return None
    branch = db.session.scalar(select(Branch).where(Branch.store_id == call.store.id,
                                                    Branch.code == code))
    if branch is None:
        raise Refused(protocol.NOT_PERMITTED, f"StoreID not found: {code}")
    if not branch.enabled:
        raise Refused(protocol.NOT_PERMITTED, f"StoreID disabled: {code}（{BRANCH_DISABLED.message}）")
    return branch


def act_as(call: Call) -> Account:
    """The acting Account of this call (see the module's docstring), with the history actor set
    for the request: 「ECTicket API:<Operator>」 of the store and branch, from the caller's IP."""
    operator = protocol.text(call.fields, "Operator", OPERATOR_SIZE, required=True)
    branch = acting_branch(call)
    label = f"{ACTOR_PREFIX}{operator}"
    history.set_actor(history.Actor(None, label, call.store.id, branch.id if branch else None,
                                    call.remote_ip))
    return Account(kind=AccountKind.MAIN, store_id=call.store.id, username=label, branch=branch)


# Finding the ticket -----------------------------------------------------------------------------

def _limited(call: Call) -> None:
    try:
        ratelimit.check(UNKNOWN_CODE, call.store.id, call.remote_ip)
    except ratelimit.TooManyAttempts:
        raise Refused(protocol.RATE_LIMITED, UNKNOWN_CODE.message) from None


def by_code(call: Call, code: str) -> Ticket:
    """The ticket of a WriteOffNo the calling store may see, behind the brute-force guard."""
    _limited(call)
    try:
        return services.find_by_code(call.store, code)
    except (NotFound, InvalidInput):
        ratelimit.count_failure(UNKNOWN_CODE, call.store.id, call.remote_ip)
        raise Refused(protocol.NOT_FOUND, f"WriteOffNo not found: {code}") from None


def by_serial(call: Call, serial: str) -> Ticket:
    """The ticket of a TicketNo the calling store may see (the visibility of a code lookup)."""
    ticket = services.find_visible_by_serial(call.store, serial)
    if ticket is None:
        raise Refused(protocol.NOT_FOUND, f"TicketNo not found: {serial}")
    return ticket


def ticket_of(call: Call) -> Ticket:
    name, value = protocol.one_of(call.fields, {"TicketNo": SERIAL_SIZE, "WriteOffNo": CODE_SIZE})
    return by_serial(call, value) if name == "TicketNo" else by_code(call, value)


# Acting -------------------------------------------------------------------------------------------

def refusal_of(error: DomainError, ticket: Ticket | None = None) -> Refused:
    """A service's refusal as an RtnCode (see the module's docstring)."""
    extra: dict[str, Any] = {}
    if ticket is not None:
        db.session.refresh(ticket)
        extra = {"TicketNo": ticket.serial, "UseStatus": ticket_use_status(ticket)}
    if isinstance(error, TicketRefused):
        if error.refusal.code in FEE_CODES:
            return Refused(protocol.PARAMETER, f"Parameter error: RefundFee ({error.message})")
        code = protocol.TOO_LATE if error.refusal.code in WINDOW_CODES else protocol.STATUS
        return Refused(code, error.message, **extra)
    if isinstance(error, OrderRefused):
        code = (protocol.TOO_LATE if error.code == installment_rules.CANCEL_WINDOW_CLOSED.code
                else protocol.STATUS)
        return Refused(code, error.message)
    if isinstance(error, NotAllowedHere | Forbidden):
        return Refused(protocol.NOT_PERMITTED, error.message)
    if isinstance(error, NotFound):
        return Refused(protocol.NOT_FOUND, error.message)
    field = next(iter(error.fields), "")
    return Refused(protocol.PARAMETER, f"Parameter error: {field} ({error.message})" if field
                   else f"Parameter error ({error.message})")


def _move(ticket: Ticket, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        action(*args, ticket, **kwargs)
    except DomainError as error:
        db.session.rollback()  # the refused move left nothing; read the ticket as it is now
        raise refusal_of(error, ticket) from None


def write_off(call: Call) -> Result:
    """WriteOff: Action 1 redeem · 2 cancel the redemption (CancelReason required)."""
    fields = call.fields
    code = protocol.text(fields, "WriteOffNo", CODE_SIZE, required=True)
    action = protocol.code(fields, "Action", ("1", "2"), required=True)
    reason = protocol.text(fields, "CancelReason", REASON_SIZE, required=action == "2")
    actor = act_as(call)
    ticket = by_code(call, code)
    if action == "1":
        _move(ticket, services.redeem, actor, call.store)
    else:
        _move(ticket, services.cancel_redemption, actor, call.store, reason=reason)
    return Result(protocol.ok(TicketNo=ticket.serial, UseStatus=ticket_use_status(ticket)),
                  changed=True)


def _installment_store(store: Store) -> bool:
    contract = store.current_contract
    return contract is not None and contract.redemption_mode is RedemptionMode.INSTALLMENT


def refund(call: Call) -> Result:
    """Refund: Action 1 return (RefundFee: the handling fee) · 2 cancel the return. A ticket by
    TicketNo or WriteOffNo; an installment merchant's whole order by MerchantTradeNo."""
    fields = call.fields
    name, value = protocol.one_of(fields, {"TicketNo": SERIAL_SIZE, "WriteOffNo": CODE_SIZE,
                                           "MerchantTradeNo": TRADE_NO_SIZE})
    action = protocol.code(fields, "Action", ("1", "2"), required=True)
    reason = protocol.text(fields, "Reason", REASON_SIZE, required=True)
    fee = protocol.integer(fields, "RefundFee") if action == "1" else None
    actor = act_as(call)
    if name == "MerchantTradeNo":
        return _refund_order(call, actor, value, action, reason, fee)
    if _installment_store(call.store):
        raise Refused(protocol.NOT_ENABLED, "Installment merchants return whole orders: send "
                                            "MerchantTradeNo")
    ticket = by_serial(call, value) if name == "TicketNo" else by_code(call, value)
    if action == "1":
        _move(ticket, services.return_ticket, actor, call.store, reason=reason, fee=fee)
    else:
        _move(ticket, services.cancel_return, actor, call.store, reason=reason)
    return Result(protocol.ok(TicketNo=ticket.serial, UseStatus=ticket_use_status(ticket)),
                  changed=True)


def _refund_order(call: Call, actor: Account, number: str, action: str, reason: str,
                  fee: int | None) -> Result:
    if not _installment_store(call.store):
        raise Refused(protocol.NOT_ENABLED, "MerchantTradeNo: whole-order returns are for "
                                            "installment merchants")
    order = installments.find_order(call.store, number)
    if order is None:
        raise Refused(protocol.NOT_FOUND, f"MerchantTradeNo not found: {number}")
    try:
        if action == "1":
            installments.return_order(actor, call.store, order.id, fee=fee or 0, reason=reason)
        else:
            installments.cancel_return(actor, call.store, order.id, reason=reason)
    except DomainError as error:
        raise refusal_of(error) from None
    return Result(protocol.ok(MerchantTradeNo=order.merchant_order_no), changed=True)


def query_ticket_status(call: Call) -> Result:
    """QueryTicketStatus: one ticket by TicketNo or WriteOffNo → its order numbers and its
    TicketList item. The order numbers only to the issuer (a partner store gets "")."""
    ticket = ticket_of(call)
    numbers = {"MerchantTradeNo": "", "TicketTradeNo": ""}
    if ticket.store_id == call.store.id:
        order = db.session.get(Order, ticket.order_id)
        key = "MerchantTradeNo" if ticket.kind is ProductKind.PICKUP else "FreeTradeNo"
        numbers = {key: order.merchant_order_no if order else "",
                   "TicketTradeNo": order.order_no if order else ""}
    return Result(protocol.ok(**numbers, TicketList=[ticket_item(ticket, call.store)]))
