"""Finding tickets, and the four ticket actions by their domain names.

`find_by_code` is the one visibility rule for a typed or scanned code: the issuer sees its
tickets; a partner store those of products granted to it, and those it redeemed itself (so it
can still cancel its own redemption after the issuer un-grants the product; only a dissolved
relation stops that, and `actions` says so). `find_visible_by_serial` applies the same rule to
a serial.

The same-answer rule (docs/tickets.md): a code that is unknown, another store's (invisible to
the acting store) or malformed (wrong length, alphabet or check character) gets one answer,
NotFound(UNKNOWN_CODE), by one path: the typed value's digest is computed and one statement
runs, the visibility inside its WHERE, so the database returns no row for all three and the
caller cannot tell them apart by answer, statement count or time. Only an empty field is told
apart (nothing was looked up). `redeem`, `cancel_redemption`, `return_ticket` and
`cancel_return` are `actions.perform` under the names the domain uses. Services flush; the
caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlalchemy.orm import contains_eager, undefer

from app import history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import DriverStatement, db
from app.errors import InvalidInput, NotFound
from app.products.models import Product, ProductPartner
from app.stores.models import Store
from app.tickets import codes, plain
from app.tickets.actions import Done, perform
from app.tickets.lifecycle import Action
from app.tickets.models import Ticket

UNKNOWN_CODE = "查無此核銷代碼，請確認是否輸入正確"
T = TypeVar("T")


def _visible_to(store_id):  # noqa: ANN001, ANN202
    """The visibility rule as a WHERE condition on Ticket for the acting store's id (a value or
    a bound parameter), evaluated by the database, so a ticket the store may not see is not
    even loaded."""
    return or_(Ticket.store_id == store_id, Ticket.redeemed_store_id == store_id,
               exists().where(ProductPartner.product_id == Ticket.product_id,
                              ProductPartner.partner_store_id == store_id))


# What the rules and the answers read of a found ticket's product (who may act, its name and
# picture on the card): its descriptions and dates are not fetched on every scan.
_PRODUCT_READ = (Product.id, Product.store_id, Product.name, Product.kind, Product.image_upload_id,
                 Product.escrow_end)


def _ticket_with_product() -> Select:
    """A ticket to act on or answer about, with its product joined without an alias (every
    caller asks who may act on its tickets) and its order number (every answer shows it)."""
    return (select(Ticket).join(Ticket.product)
            .options(contains_eager(Ticket.product).load_only(*_PRODUCT_READ), undefer(Ticket.order_no))
            .execution_options(unscoped=True))


@cache
def _by_code(keys: int) -> Select:
    """The code lookup for `keys` configured code keys, built once (the hot path of every scan):
    the digests and the store are bound at execution."""
    return _ticket_with_product().where(Ticket.code.matches_bound("digest", keys),
                                        _visible_to(bindparam("store_id")))


@cache
def _row_by_code(keys: int) -> DriverStatement:
    """`_by_code` for a plain row (`plain.TicketRow`), on the driver's cursor."""
    return DriverStatement(plain.read(Ticket.code.matches_bound("digest", keys))
                           .where(_visible_to(bindparam("store_id"))), writes=False)


def _look_up(store: Store, typed: str, run: Callable[[int, dict[str, Any]], T | None]) -> T:
    """The one code lookup: `run(keys, params)` runs the statement for a typed code's digests
    (one per configured key) and the acting store; NotFound (UNKNOWN_CODE) for an unknown,
    invisible or malformed code alike (the same-answer rule: a malformed one is looked up too,
    and its row, if any, ignored)."""
    code = codes.normalise_code(typed)
    if not code:
        raise InvalidInput("請輸入核銷代碼", fields={"code": "請輸入核銷代碼"})
    digests = Ticket.code.bound_digests("digest", code)
    found = run(len(digests), {**digests, "store_id": store.id})
    if found is None or not codes.is_well_formed(code):
        raise NotFound(UNKNOWN_CODE, code="unknown_code")
    return found


def find_by_code(store: Store, typed: str) -> Ticket:
    """The ticket with this redemption code, if the acting store may see it (`_look_up`)."""
    return _look_up(store, typed, lambda keys, params: db.session.scalar(_by_code(keys), params))


def find_row_by_code(store: Store, typed: str) -> plain.TicketRow:
    """`find_by_code` as a plain row, for a redemption (the hot path of the API and the
    counter's press): the same rule, the same one statement, the same answers."""
    return plain.TicketRow(_look_up(
        store, typed, lambda keys, params: _row_by_code(keys).first(db.session, params)))


def find_visible_by_serial(store: Store, serial: str) -> Ticket | None:
    """The ticket of this serial if the acting store may see it (the code lookup's rule), else
    None: unknown and invisible alike, in one statement."""
    return db.session.scalar(_ticket_with_product().where(
        Ticket.serial == (serial or "").strip().upper(), _visible_to(store.id)))


def find_visible_by_id(store: Store, ticket_id: int) -> Ticket | None:
    """The ticket of this id if the acting store may see it (the code lookup's rule), else None:
    unknown and invisible alike, in one statement (a counter's offline queue names tickets by
    the id its snapshot gave)."""
    return db.session.scalar(_ticket_with_product().where(Ticket.id == ticket_id,
                                                          _visible_to(store.id)))


def find_by_serial(store: Store, serial: str) -> Ticket:
    """A ticket of the acting store by serial (the issuer's pages); another store's serial is
    not loaded (the store is in the WHERE), so it answers as an unknown one."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.serial == (serial or "").strip().upper(),
                                                    Ticket.store_id == store.id))
    if ticket is None:
        raise NotFound("查無此票券序號", code="unknown_serial")
    return ticket


def redeem(actor: Account, store: Store, ticket: Ticket | plain.TicketRow, *,
           at: datetime | None = None) -> Done:
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
