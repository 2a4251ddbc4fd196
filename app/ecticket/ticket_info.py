"""One ticket as the ECTicket API shows it: the TicketList item of QueryOrderInfo (and of
QueryTicketStatus). Pure: it reads the ticket's own columns and its product (load the product
with the tickets: `selectinload(Ticket.product)`), writes nothing."""

from __future__ import annotations

from datetime import date, datetime

from app import clock
from app.ecticket.items import TICKET_TYPE
from app.tickets.models import Ticket
from app.tickets.status import StatusGroup

# UseStatus: the status group (docs/tickets.md), as ECPay's clients map it (1–4).
USE_STATUS = {StatusGroup.UNUSED: 1, StatusGroup.REDEEMED: 2, StatusGroup.RETURNED: 3,
              StatusGroup.EXPIRED: 4}


def ymd(value: date | datetime | None) -> str:
    """yyyyMMdd (an instant on the Taipei calendar), "" for none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.business_day(value)
    return f"{value:%Y%m%d}"


def ticket_item(ticket: Ticket) -> dict:
    """{TicketNo, UseStatus, ItemNo, ItemName, TicketType, TicketAmount, StartDate,
    WriteOffDate, RefundDate, ExpiredDate, WriteOffNo}: StartDate is the first day it may be
    used (a deferred ticket's start, else its issue day); ExpiredDate its escrow end (pickup)
    or validity end (gift) [I]."""
    return {
        "TicketNo": ticket.serial,
        "UseStatus": USE_STATUS[ticket.current_status.group],
        "ItemNo": str(ticket.product_id),
        "ItemName": ticket.product.name,
        "TicketType": TICKET_TYPE[ticket.kind],
        "TicketAmount": ticket.face_value,
        "StartDate": ymd(ticket.valid_from or ticket.issued_at),
        "WriteOffDate": ymd(ticket.redeemed_at),
        "RefundDate": ymd(ticket.returned_at),
        "ExpiredDate": ymd(ticket.expires_on),
        "WriteOffNo": ticket.code,
    }
