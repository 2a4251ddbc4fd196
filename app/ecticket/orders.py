"""Order calls, read-only: QueryOrderInfo (an order, its totals and a page of its tickets),
QueryRefundInfo (its returned tickets) and QueryPrintData (a merchant-print order's unused
tickets as the merchant prints them; the one call here that writes: the print is recorded).

An order is named by the merchant's number: `MerchantTradeNo` for a pickup-voucher (提貨券) order,
`FreeTradeNo` for a gift-voucher (贈品券) order, exactly one of them. Another store's number, or a
number given under the other kind's name, is 3003 [I].
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app import clock
from app.checkout.models import CardTransaction
from app.db import db
from app.ecticket import protocol
from app.ecticket.calls import Call
from app.ecticket.protocol import Refused, Result
from app.ecticket.ticket_info import USE_STATUS, ticket_item, ymd
from app.issuance.presentation import faces_for
from app.printing import services as printing
from app.products.models import ProductKind
from app.reports.status_sql import in_group
from app.stores.models import DeliveryMethod, DeliveryType
from app.tickets.models import Order, Ticket
from app.tickets.status import StatusGroup
from app.unissued.models import TicketOrder

ORDER_NUMBERS = {"MerchantTradeNo": 25, "FreeTradeNo": 20}
NUMBER_FIELD = {ProductKind.PICKUP: "MerchantTradeNo", ProductKind.GIFT: "FreeTradeNo"}
PAGE_SIZE = 100  # tickets per QueryOrderInfo page [I]
ISSUE_TYPE = {DeliveryType.CVS: "1", DeliveryType.PAPER: "2", DeliveryType.ELECTRONIC: "3"}
PRINT_TYPE = {DeliveryMethod.PLATFORM_PRINT: "1", DeliveryMethod.MERCHANT_PRINT: "2"}
OPERATOR_SIZE = 10


@dataclass(frozen=True)
class Found:
    order: Order
    kind: ProductKind
    field: str  # MerchantTradeNo / FreeTradeNo

    def numbers(self) -> dict:
        """The order's two numbers as every answer names them."""
        return {self.field: self.order.merchant_order_no, "TicketTradeNo": self.order.order_no}


def order_of(call: Call) -> Found:
    """The store's order named by MerchantTradeNo (pickup) or FreeTradeNo (gift)."""
    field, number = protocol.one_of(call.fields, ORDER_NUMBERS)
    kind = (select(Ticket.kind).where(Ticket.order_id == Order.id).order_by(Ticket.id).limit(1)
            .correlate(Order).scalar_subquery())
    row = db.session.execute(
        select(Order, kind).where(Order.store_id == call.store.id,
                                  Order.merchant_order_no == number)).first()
    if row is None or row[1] is None or NUMBER_FIELD[row[1]] != field:
        raise Refused(protocol.NOT_FOUND, f"Order not found: {number}")
    return Found(row[0], row[1], field)


# QueryOrderInfo --------------------------------------------------------------------------------

def _count(condition) -> object:  # noqa: ANN001 - a SQL condition
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum(condition, value) -> object:  # noqa: ANN001 - SQL expressions
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def totals(order: Order) -> dict:
    """The order's counts and amounts by status group (as of today), in one aggregate query."""
    today = clock.business_day()
    redeemed, returned = in_group(today, StatusGroup.REDEEMED), in_group(today, StatusGroup.RETURNED)
    unused, expired = in_group(today, StatusGroup.UNUSED), in_group(today, StatusGroup.EXPIRED)
    fee = func.coalesce(Ticket.return_fee, 0)
    row = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Ticket.face_value), 0),
               _count(redeemed), _sum(redeemed, Ticket.face_value),
               _count(returned), _sum(returned, Ticket.face_value - fee), _sum(returned, fee),
               _count(unused), _sum(unused, Ticket.face_value), _count(expired),
               func.max(Ticket.expires_on))
        .where(Ticket.order_id == order.id, Ticket.store_id == order.store_id)).one()
    names = ("TotalCount", "TradeAmount", "RedeemCount", "RedeemAmount", "RefundCount",
             "RefundAmount", "TotalRefundFee", "UnUsedCount", "UnUsedAmount", "ExpiredCount")
    answer = {name: int(value) for name, value in zip(names, row[:10], strict=True)}
    answer["_last_end"] = row[10]
    return answer


def payment(order: Order) -> dict:
    """PaymentProvider "1" (an ECPay card order, the unissued ticket order this order issued)
    with PaymentType "1" card and CreditTradeID its gwsr; else "2" (paid elsewhere) [I]."""
    serial = db.session.scalar(
        select(CardTransaction.auth_serial)
        .join(TicketOrder, TicketOrder.transaction_id == CardTransaction.id)
        .where(TicketOrder.issued_order_id == order.id, TicketOrder.store_id == order.store_id)
        .limit(1))
    if serial is None:
        return {"PaymentProvider": "2", "PaymentType": "", "CreditTradeID": 0}
    return {"PaymentProvider": "1", "PaymentType": "1",
            "CreditTradeID": int(serial) if serial.isdigit() else 0}


def ticket_page(order: Order, page: int) -> list[Ticket]:
    return list(db.session.scalars(
        select(Ticket).where(Ticket.order_id == order.id, Ticket.store_id == order.store_id)
        .order_by(Ticket.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        .options(selectinload(Ticket.product))))


def query_order_info(call: Call) -> Result:
    found = order_of(call)
    page = protocol.integer(call.fields, "PageNum", low=1) or 1
    order = found.order
    counts = totals(order)
    last_end = counts.pop("_last_end")
    return Result(protocol.ok(
        MerchantID=call.store.merchant_code, **found.numbers(), **payment(order),
        Status=1, Remark="",  # an order exists once issued: success [I]
        IssueDate=f"{clock.taipei(order.created_at):%Y/%m/%d %H:%M:%S}",
        IssueType=ISSUE_TYPE[order.delivery_method.delivery_type],
        PrintType=PRINT_TYPE.get(order.delivery_method, ""),
        CustomerName=order.purchaser_name, CustomerPhone=order.purchaser_mobile,
        CustomerEmail=order.purchaser_email,
        EscrowExpiredDate=ymd(last_end) if found.kind is ProductKind.PICKUP else "",
        **counts, PageNum=page,
        TicketList=[ticket_item(t, call.store) for t in ticket_page(order, page)]))


# QueryRefundInfo -------------------------------------------------------------------------------

def query_refund_info(call: Call) -> Result:
    found = order_of(call)
    rows = db.session.execute(
        select(Ticket.serial, Ticket.face_value, Ticket.return_fee, Ticket.returned_at)
        .where(Ticket.order_id == found.order.id, Ticket.store_id == call.store.id,
               in_group(clock.business_day(), StatusGroup.RETURNED))
        .order_by(Ticket.id))
    refunds = [{"TicketNo": serial, "RefundAmount": face_value - (fee or 0),
                "RefundFee": fee or 0, "RefundDate": ymd(returned_at),
                "UseStatus": USE_STATUS[StatusGroup.RETURNED]}
               for serial, face_value, fee, returned_at in rows]
    return Result(protocol.ok(**found.numbers(), RefundList=refunds))


# QueryPrintData --------------------------------------------------------------------------------

def query_print_data(call: Call) -> Result:
    """The unused tickets of a merchant-print order with what a printed ticket shows, and one
    print recorded per ticket (the same print run, count and history as 列印所選)."""
    operator = protocol.text(call.fields, "Operator", OPERATOR_SIZE)
    found = order_of(call)
    order = found.order
    if order.delivery_method is not DeliveryMethod.MERCHANT_PRINT:
        raise Refused(protocol.NOT_PERMITTED, "Not a merchant-print order")
    ids = list(db.session.scalars(
        select(Ticket.id).where(Ticket.order_id == order.id, Ticket.store_id == call.store.id,
                                in_group(clock.business_day(), StatusGroup.UNUSED))
        .order_by(Ticket.id)))
    if not ids:
        raise Refused(protocol.STATUS, "No unused ticket to print")
    job = printing.record_api_print(call.store, ids,
                                    actor_label=f"API:{operator}" if operator else "API")
    faces = faces_for(job.tickets)
    first = faces[0]
    end_field = "EscrowExpiredDate" if found.kind is ProductKind.PICKUP else "ExpireDate"
    prints = [{"TicketNo": f.serial, "WriteOffNo": f.code, "ItemNo": str(t.product_id),
               "ItemName": f.product_name, "TicketPrice": f.face_value,
               "StartDate": ymd(t.valid_from or t.issued_at), end_field: ymd(f.valid_until),
               "Description": f.description, "UsageInstructions": f.usage_instructions,
               "RightsStatement": f.rights_statement}
              for f, t in zip(faces, job.tickets, strict=True)]
    return Result(protocol.ok(
        **found.numbers(), IssuerName=first.issuer_name, ServicePhone=first.cs_phone,
        ServiceEmail=first.cs_email, LineURL=first.line_url, FacebookURL=first.facebook_url,
        InstagramURL=first.instagram_url, PrintList=prints), changed=True)
