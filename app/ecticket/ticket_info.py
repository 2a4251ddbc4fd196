"""One ticket as the ECTicket API shows it: a `TicketList` item (spec §6.3 QueryOrderInfo item
shape) and its `UseStatus`. QueryTicketStatus answers one such item; QueryOrderInfo lists them,
built by the same `ticket_item`, so the two calls never disagree about a ticket.

UseStatus (ECPay's 1–4; the grouping is ours [I], from the status groups of app.tickets.status):
1 unused {unused, unused_escrow_expired} · 2 redeemed {used, redeeming, redeemed,
used_after_expiry} · 3 refunded {return_pending, returning, returned, returned_escrow_expired} ·
4 expired. It is read from the status as of now (an unused gift voucher past its validity is
4 before the daily job writes it), as every screen shows it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app import clock
from app.ecticket.items import TICKET_TYPE, item_no
from app.stores.models import Store
from app.tickets.models import Ticket
from app.tickets.status import StatusGroup, TicketStatus

USE_STATUS = {StatusGroup.UNUSED: 1, StatusGroup.REDEEMED: 2, StatusGroup.RETURNED: 3,
              StatusGroup.EXPIRED: 4}


def use_status(status: TicketStatus) -> int:
    return USE_STATUS[status.group]


def ticket_use_status(ticket: Ticket) -> int:
    return use_status(ticket.current_status)


def ymd(value: date | datetime | None) -> str:
    """yyyyMMdd (a moment as its Taipei day); "" for none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.taipei(value).date()
    return f"{value:%Y%m%d}"


def ticket_item(ticket: Ticket, viewer: Store) -> dict[str, Any]:
    """The TicketList item of `ticket` for the calling store `viewer`. The redemption code
    (WriteOffNo) only to the issuer: a partner store gets "" (the /api/v1 rule). StartDate is
    the first day of use: a deferred ticket's start date, else its Taipei issue day [I]."""
    return {
        "TicketNo": ticket.serial,
        "UseStatus": ticket_use_status(ticket),
        "ItemNo": item_no(ticket.product),
        "ItemName": ticket.product.name,
        "TicketType": TICKET_TYPE[ticket.kind],
        "TicketAmount": ticket.face_value,
        "StartDate": ymd(ticket.valid_from or ticket.issued_at),
        "WriteOffDate": ymd(ticket.redeemed_at),
        "RefundDate": ymd(ticket.returned_at),
        "ExpiredDate": ymd(ticket.expires_on),
        "WriteOffNo": ticket.code if ticket.store_id == viewer.id else "",
    }
