"""Which tickets an e-ticket link (`/t/<token>`) opens, and for whom.

A token is either an order's link (the purchaser's: every ticket of the order, the ones given
away shown as 已轉贈) or an active transfer's link (the recipient's: the tickets still given by
that transfer, used ones included). Anything else — an unknown token, an order link replaced by
a change of purchaser, a cancelled transfer — resolves to None, and the caller answers the same
"link not valid" page for all of them.

The wallet is public: no store is acting, so reads say `unscoped=True`.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from app.db import db
from app.stores.models import DeliveryType, Store
from app.tickets.models import Order, Ticket
from app.transfers.models import Transfer, TransferItem, TransferItemState, TransferStatus

# new_link_token() makes 32 URL-safe characters; anything else cannot be a link.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass
class Holding:
    """The holder's view behind one link."""

    token: str
    order: Order
    store: Store
    transfer: Transfer | None  # set for a recipient's link
    tickets: list[Ticket]
    # purchaser's link: the order's transfers (active and cancelled), newest first, by id
    transfers: dict[int, Transfer] = field(default_factory=dict)

    @property
    def is_purchaser(self) -> bool:
        return self.transfer is None

    @property
    def holder_name(self) -> str:
        return self.order.purchaser_name if self.transfer is None else self.transfer.recipient_name

    @property
    def holder_mobile(self) -> str:
        return self.order.purchaser_mobile if self.transfer is None else self.transfer.recipient_mobile

    @property
    def holder_email(self) -> str:
        return self.order.purchaser_email if self.transfer is None else self.transfer.recipient_email

    @property
    def subject(self) -> str:
        """Names the link in rate-limit keys and confirmation codes (never the token itself)."""
        return f"order:{self.order.id}" if self.transfer is None else f"transfer:{self.transfer.id}"

    def given_away(self, ticket: Ticket) -> bool:
        """The purchaser's ticket is (or, once used by the recipient, stays) with a recipient."""
        return self.is_purchaser and ticket.transfer_id is not None


def _unscoped(stmt):  # noqa: ANN001, ANN202
    return stmt.execution_options(unscoped=True)


def _electronic(order: Order) -> bool:
    try:
        return order.delivery_method.delivery_type is DeliveryType.ELECTRONIC
    except ValueError:
        return False


def resolve(token: str) -> Holding | None:
    """The holding behind `token`, or None (unknown, replaced, cancelled: all the same)."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    order = db.session.scalar(_unscoped(select(Order).where(Order.link_token.matches(token))))
    if order is not None:
        if not (order.link_token and hmac.compare_digest(order.link_token, token)
                and _electronic(order)):
            return None
        tickets = list(db.session.scalars(_unscoped(
            select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id))))
        transfers = {tr.id: tr for tr in db.session.scalars(_unscoped(
            select(Transfer).where(Transfer.order_id == order.id).order_by(Transfer.id.desc())))}
        return Holding(token, order, _store(order), None, tickets, transfers)
    transfer = db.session.scalar(_unscoped(
        select(Transfer).where(Transfer.link_token.matches(token))))
    if transfer is None or not hmac.compare_digest(transfer.link_token, token):
        return None
    if transfer.status is not TransferStatus.ACTIVE:
        return None
    order = db.session.scalar(_unscoped(select(Order).where(Order.id == transfer.order_id)))
    if order is None:
        return None
    tickets = list(db.session.scalars(_unscoped(
        select(Ticket).join(TransferItem, TransferItem.ticket_id == Ticket.id)
        .where(TransferItem.transfer_id == transfer.id,
               TransferItem.state == TransferItemState.GIVEN)
        .order_by(Ticket.id))))
    return Holding(token, order, _store(order), transfer, tickets)


def _store(order: Order) -> Store:
    return db.session.get(Store, order.store_id)
