"""A ticket read as a plain row, for the redemption's hot path (the API, the counter's press).

Loading a ticket and its product through the ORM costs more than its own round trip
(SQLAlchemy's execution layer, then an instrumented object per row), and building ORM objects
by hand costs what loading them does. The redemption only reads a ticket and writes it with
its own compare-and-set (`actions`), so it can take the columns as a plain row: `TicketRow`
has the attributes of `Ticket` that the ticket rules, the compare-and-set, the reactions to a
redemption and the answers read, under the same names and types, and `PlainProduct` what
the rights read of the product (its issuer, its name; its branch and partner lists read on
first need, as `Product`'s are).

The rows are read by `DriverStatement`s built from the same column list (`COLUMNS`); the
lookup's visibility stays in `services`. Only a redemption takes a plain row
(`actions.perform` refuses one for any other action, whose reactions write to the ticket).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, select

from app import clock
from app.db import DriverStatement, db
from app.products.models import BranchRole, Product, ProductBranch, ProductKind, ProductPartner
from app.tickets import lifecycle
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus

# The ticket's columns a redemption reads, in TicketRow's order; then its product's.
TICKET_READ = ("id", "store_id", "product_id", "serial", "secret_salt", "secret_version",
               "code_digest", "code_sealed", "kind", "face_value", "status", "status_changed_at",
               "issued_at",
               "valid_from", "expires_on", "redeemed_at", "redeemed_by_id", "redeemed_store_id",
               "redeemed_branch_id", "returned_at", "returned_by_id", "returned_branch_id",
               "return_fee", "transfer_id", "order_no")
PRODUCT_READ = ("id", "store_id", "name")
COLUMNS = (*(getattr(Ticket, name) for name in TICKET_READ),
           *(getattr(Product, name) for name in PRODUCT_READ))


class PlainProduct:
    """What the rights and the answer read of a ticket's product (`ProductLists`' source)."""

    __slots__ = ("id", "store_id", "name")

    def __init__(self, id: int, store_id: int, name: str) -> None:  # noqa: A002 - Product's name
        self.id, self.store_id, self.name = id, store_id, name

    def branch_ids(self, role: BranchRole) -> frozenset[int]:
        """`Product.branch_ids`: the branches of this role (read when a branch acts)."""
        return frozenset(db.session.scalars(
            select(ProductBranch.branch_id)
            .where(ProductBranch.product_id == self.id, ProductBranch.role == role)))

    @property
    def partner_store_ids(self) -> frozenset[int]:
        """`Product.partner_store_ids`: the stores granted its tickets (read when one acts)."""
        return frozenset(db.session.scalars(
            select(ProductPartner.partner_store_id).where(ProductPartner.product_id == self.id)))


class TicketRow:
    """A ticket's columns as `Ticket` names them (TICKET_READ), its product, its code and its
    status as of now: a ticket for reading and for the compare-and-set, not the ORM's."""

    __slots__ = (*TICKET_READ, "product")

    id: int
    store_id: int
    product_id: int
    serial: str
    secret_salt: str
    secret_version: int
    code_digest: str
    code_sealed: str | None
    kind: ProductKind
    face_value: int
    status: TicketStatus
    status_changed_at: datetime
    issued_at: datetime
    valid_from: date | None
    expires_on: date
    redeemed_at: datetime | None
    redeemed_by_id: int | None
    redeemed_store_id: int | None
    redeemed_branch_id: int | None
    returned_at: datetime | None
    returned_by_id: int | None
    returned_branch_id: int | None
    return_fee: int | None
    transfer_id: int | None
    order_no: str
    product: PlainProduct

    def __init__(self, row: Sequence[Any]) -> None:
        for name, value in zip(TICKET_READ, row, strict=False):
            setattr(self, name, value)
        self.product = PlainProduct(*row[len(TICKET_READ):])

    @property
    def code(self) -> str | None:
        return Ticket.code.of(self)

    @property
    def current_status(self) -> TicketStatus:
        """`Ticket.current_status`: an unused ticket past its end date is already expired."""
        if self.status is not TicketStatus.UNUSED:
            return self.status
        return lifecycle.effective_status(lifecycle.Facts.of(self), clock.now())


def read(condition: Any) -> Select:  # noqa: ANN401 - a WHERE clause
    """The plain row's statement for tickets matching `condition` (with their product)."""
    return select(*COLUMNS).join(Ticket.product).where(condition).execution_options(unscoped=True)


_BY_ID = DriverStatement(read(Ticket.id == bindparam("ticket_id")), writes=False)


def reread(ticket: TicketRow) -> None:
    """The ticket's columns as they are now (another request changed it)."""
    row = _BY_ID.first(db.session, {"ticket_id": ticket.id})
    if row is not None:
        for name, value in zip(TICKET_READ, row, strict=False):
            setattr(ticket, name, value)
