"""Issuing calls: Issue (`/api/Ticket/Issue` ≡ `/api/issuance/issue`) and QueryIssueResult.

An Issue is one order (MerchantTradeNo: pickup vouchers, FreeTradeNo: gift vouchers) issued
through an ordinary issuance batch (app/issuance/services.py `prepare_batch` + `confirm_batch`):
its TicketInfo rows become the template's rows, checked by the same rules, all or nothing; a
wrong row is the answer's RtnCode (3001 field, 3002 order number taken, 3006 product, 3010
card order) and nothing is kept. The batch issues in the background (the issuing job); the
answer says "received" at once, with the ECT order number (TicketTradeNo) chosen now and given
to the order by the job (`issuance.services.ORDER_NO_RESERVATIONS`).

The batch's import number (匯入單號) is `ECT-` + the order number (`ECTn-` for the n-th attempt
after failed ones); an import number some upload already took is answered 3002.

Idempotency: the store's order number holds one `IssueCall`. The same Data again (compared by
a hash of the normalised Data, Operator left out) replays the first answer; other Data is
3002. A call whose batch failed may be sent again: a new batch, the same TicketTradeNo. The
store's row is locked first (`lock_store`, as confirms do), so two calls at once make one
batch.

PaymentProvider `1` (ECPay card): the order number must be the store's paid, unissued ticket
order still issuable (through T+20, app/unissued) whose amount is Σ face value × TicketAmount,
else 3010; issuing it captures the card (the unissued package's batch hooks). Absent: `1` when
such a card order (in any state) holds the number, else `2`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

from app import clock, history
from app.auth.models import Account, AccountKind
from app.db import db
from app.ecticket import protocol
from app.ecticket.calls import Call
from app.ecticket.models import GIFT, PICKUP, IssueCall
from app.ecticket.protocol import Refused, Result
from app.errors import DomainError
from app.installments.settings import URL_DOMAIN_CLOSED, domain_allowed, host_of, url_problem
from app.issuance import numbering
from app.issuance import services as issuance
from app.issuance.columns import HEADER_OF
from app.issuance.models import Batch, BatchStatus
from app.issuance.rules import order_no_taken
from app.products.models import Product, ProductKind
from app.stores.models import Branch, DeliveryMethod, Store
from app.tickets.codes import MAX_TICKETS_PER_BATCH
from app.tickets.models import Order
from app.unissued import rules as unissued_rules
from app.unissued.models import TicketOrder

ORDER_FIELDS = {"MerchantTradeNo": 25, "FreeTradeNo": 20}
KIND_OF = {"MerchantTradeNo": PICKUP, "FreeTradeNo": GIFT}
FIELD_OF = {PICKUP: "MerchantTradeNo", GIFT: "FreeTradeNo"}
IMPORT_PREFIX = "ECT"  # + attempt (from the 2nd) + "-" + the order number: ≤ 30 characters
MAX_ATTEMPTS = 9
RECEIVED = "Issue request received"
NOTIFY_URL_MAX = 200
ITEM_NO_SIZE = 8
ITEM_NAME_SIZE = 100
CUSTOMER_SIZES = {"CustomerName": 50, "CustomerPhone": 20, "CustomerEmail": 100,
                  "CustomerAddress": 200}
# Status of QueryIssueResult
STATUS_SUCCESS, STATUS_FAILED, STATUS_PROCESSING = 1, 2, 3

# The template's columns as the Data's field names (a wrong row names the field).
FIELD_OF_HEADER = {HEADER_OF["quantity"]: "TicketAmount", HEADER_OF["purchaser_name"]: "CustomerName",
                   HEADER_OF["mobile"]: "CustomerPhone", HEADER_OF["email"]: "CustomerEmail",
                   HEADER_OF["valid_from"]: "StartDate"}


# Reading the Data ----------------------------------------------------------------------------

def _method(fields: Mapping[str, Any]) -> DeliveryMethod:
    issue_type = protocol.code(fields, "IssueType", ("1", "2", "3", "4"), required=True)
    if issue_type == "1":
        return DeliveryMethod.IBON
    if issue_type == "2":
        print_type = protocol.code(fields, "PrintType", ("1", "2"), required=True)
        return DeliveryMethod.PLATFORM_PRINT if print_type == "1" else DeliveryMethod.MERCHANT_PRINT
    if issue_type == "3":
        immediate = protocol.code(fields, "IsImmediate", ("1", "2"), required=True)
        return DeliveryMethod.IMMEDIATE if immediate == "1" else DeliveryMethod.DEFERRED
    raise Refused(protocol.NOT_ENABLED, "IssueType not enabled: 4 (serial-only tickets)")


def _date(fields: Mapping[str, Any], name: str) -> str:
    """A yyyyMMdd field as yyyy/mm/dd ("" when left out)."""
    value = protocol.text(fields, name, 8, pattern=protocol.DATE)
    if not value:
        return ""
    try:
        day = date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise protocol.parameter(name) from None
    return f"{day:%Y/%m/%d}"


def _notify_url(store: Store, fields: Mapping[str, Any], name: str) -> str:
    """An https URL of at most 200 characters on a host the operator allowed for the store
    (URL Domain 防火牆, the installments' allowed domains); "" when left out."""
    url = protocol.text(fields, name, NOTIFY_URL_MAX)
    if not url:
        return ""
    problem = url_problem(url)
    if problem is None and not domain_allowed(store.id, host_of(url)):
        problem = URL_DOMAIN_CLOSED
    if problem is not None:
        raise protocol.parameter(name, problem)
    return url.strip()


def _lines(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines = fields.get("TicketInfo")
    if not isinstance(lines, list) or not lines:
        raise protocol.parameter("TicketInfo", "required")
    if len(lines) > MAX_TICKETS_PER_BATCH:
        raise protocol.parameter("TicketInfo", f"at most {MAX_TICKETS_PER_BATCH}")
    read = []
    for line in lines:
        if not isinstance(line, dict):
            raise protocol.parameter("TicketInfo")
        read.append({
            "ItemNo": protocol.text(line, "ItemNo", ITEM_NO_SIZE, required=True),
            "ItemName": protocol.text(line, "ItemName", ITEM_NAME_SIZE),
            "TicketPrice": protocol.integer(line, "TicketPrice", low=1),
            "TicketAmount": protocol.integer(line, "TicketAmount", required=True, low=1,
                                             high=MAX_TICKETS_PER_BATCH),
            "StartDate": _date(line, "StartDate"),
            "ExpireDate": _date(line, "ExpireDate"),
        })
    total = sum(line["TicketAmount"] for line in read)
    if total > MAX_TICKETS_PER_BATCH:
        raise protocol.parameter(
            "TicketAmount", f"每次發行上限為 {MAX_TICKETS_PER_BATCH} 張（此次共 {total} 張）")
    return read


def _digest(canonical: Mapping[str, Any]) -> str:
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# The store's facts ---------------------------------------------------------------------------

def _acting_account(store: Store) -> Account:
    """The API acts as the store's main account (管理者); history names the Operator."""
    account = db.session.scalar(
        select(Account).where(Account.store_id == store.id, Account.kind == AccountKind.MAIN,
                              Account.deleted_at.is_(None)).order_by(Account.id).limit(1))
    if account is None:
        raise Refused(protocol.NOT_PERMITTED, "Not permitted: the store has no main account")
    return account


def _branch(store: Store, code: str) -> Branch | None:
    if not code:
        return None
    branch = db.session.scalar(select(Branch).where(Branch.store_id == store.id,
                                                    Branch.code == code))
    if branch is None:
        raise protocol.parameter("StoreID", "no such branch")
    if not branch.enabled:
        raise Refused(protocol.NOT_PERMITTED, f"Not permitted: branch {code} is disabled")
    return branch


def _products(store: Store, lines: list[dict[str, Any]]) -> dict[str, Product]:
    ids = {int(line["ItemNo"]) for line in lines
           if line["ItemNo"].isascii() and line["ItemNo"].isdigit()}
    found = db.session.scalars(select(Product).where(Product.store_id == store.id,
                                                     Product.id.in_(ids))) if ids else []
    return {str(p.id): p for p in found}


def _card_order(store: Store, number: str) -> TicketOrder | None:
    return db.session.scalar(select(TicketOrder).where(TicketOrder.store_id == store.id,
                                                       TicketOrder.merchant_order_no == number))


def _check_card(card: TicketOrder | None, number: str, amount: int) -> None:
    """PaymentProvider 1: a paid card ticket order still issuable, of exactly this amount."""
    if card is None:
        raise Refused(protocol.PAYMENT, f"Payment order not found: {number}")
    reason = unissued_rules.refusal(number, card.state, card.paid_on, clock.business_day())
    if reason is not None:
        raise Refused(protocol.PAYMENT, f"Payment order not issuable: {number} ({reason})")
    if amount != card.amount:
        raise Refused(protocol.PAYMENT,
                      f"Payment amount mismatch: {number} (TradeAmt {card.amount}, tickets {amount})")


# Issue ---------------------------------------------------------------------------------------

def issue(call: Call) -> Result:
    store, fields = call.store, call.fields
    field, number = protocol.one_of(fields, ORDER_FIELDS)
    kind = KIND_OF[field]
    method = _method(fields)
    given_provider = protocol.code(fields, "PaymentProvider", ("1", "2"))
    operator = protocol.text(fields, "Operator", 10, required=True)
    branch_code = protocol.text(fields, "StoreID", 20)
    customer = {name: protocol.text(fields, name, size) for name, size in CUSTOMER_SIZES.items()}
    start = _date(fields, "StartDate")
    refund_url = _notify_url(store, fields, "RefundNotifyURL")
    use_status_url = _notify_url(store, fields, "UseStatusNotifyURL")
    lines = _lines(fields)

    products = _products(store, lines)
    for line in lines:
        product = products.get(line["ItemNo"])
        if product is not None and line["TicketPrice"] not in (None, product.face_value):
            raise protocol.parameter("TicketPrice", f"ItemNo {line['ItemNo']} 面額為 {product.face_value}")
    card = _card_order(store, number)
    provider = given_provider or ("1" if card is not None else "2")
    deferred = method is DeliveryMethod.DEFERRED
    digest = _digest({
        "order": [kind, number], "PaymentProvider": provider, "method": method.value,
        "StartDate": start, "StoreID": branch_code, **customer,
        "RefundNotifyURL": refund_url, "UseStatusNotifyURL": use_status_url,
        "TicketInfo": lines,
    })

    issuance.lock_store(store)  # one Issue of a store at a time: one batch per order number
    previous = db.session.scalar(
        select(IssueCall).where(IssueCall.store_id == store.id,
                                IssueCall.merchant_order_no == number).with_for_update())
    if previous is not None:
        batch = db.session.get(Batch, previous.batch_id)
        if batch is None or batch.status is not BatchStatus.FAILED:
            if previous.kind == kind and previous.data_hash == digest:
                return Result(previous.answer)  # the same call again: the first answer
            raise Refused(protocol.DUPLICATE, f"Duplicate order number: {number}")
        if previous.attempts >= MAX_ATTEMPTS:
            raise Refused(protocol.DUPLICATE, f"Duplicate order number: {number} (too many attempts)")

    actor = _acting_account(store)
    branch = _branch(store, branch_code)
    history.set_actor(history.Actor(actor.id, f"API:{operator}", store.id,
                                    branch.id if branch else None, call.remote_ip))
    if provider == "1":
        amount = sum((line["TicketPrice"] or (products[line["ItemNo"]].face_value
                                              if line["ItemNo"] in products else 0))
                     * line["TicketAmount"] for line in lines)
        _check_card(card, number, amount)
    elif card is not None:
        raise Refused(protocol.PAYMENT,
                      f"Payment order mismatch: {number} is an ECPay card order (PaymentProvider 1)")

    attempt = previous.attempts + 1 if previous is not None else 1
    import_no = f"{IMPORT_PREFIX}{attempt if attempt > 1 else ''}-{number}"
    if db.session.scalar(select(Batch.id).where(Batch.store_id == store.id,
                                                Batch.import_no == import_no)) is not None:
        raise Refused(protocol.DUPLICATE, f"Duplicate order number: {number} (匯入單號 {import_no} 已使用)")
    rows = [{HEADER_OF["product_id"]: line["ItemNo"], HEADER_OF["quantity"]: line["TicketAmount"],
             HEADER_OF["merchant_order_no"]: number,
             HEADER_OF["purchaser_name"]: customer["CustomerName"],
             HEADER_OF["mobile"]: customer["CustomerPhone"] or None,
             HEADER_OF["email"]: customer["CustomerEmail"] or None,
             HEADER_OF["valid_from"]: (line["StartDate"] or start or None) if deferred else None,
             "_row": index} for index, line in enumerate(lines, start=1)]
    try:
        batch = issuance.prepare_batch(actor, store, import_no=import_no, method=method,
                                       kind=ProductKind(kind), rows=rows, source="api",
                                       platform_id=call.request.platform_id or None)
        batch.created_branch_id = branch.id if branch else None
        # where its tickets' use-status and refund notices go (app.ecticket.notices)
        batch.refund_notify_url, batch.use_status_notify_url = refund_url, use_status_url
        if (refund_url or use_status_url) and not store.ticket_notices:
            store.ticket_notices = True
        if not issuance.batch_is_issuable(batch):
            raise _row_refusal(batch, field, lines, card)
        outcome = issuance.confirm_batch(actor, store, batch)
    except DomainError as refused:
        raise _refusal_of(refused) from None
    if outcome is issuance.Confirmation.ORDER_NOS_TAKEN:
        raise _row_refusal(batch, field, lines, card)
    if outcome is issuance.Confirmation.ALREADY_CONFIRMED:
        raise Refused(protocol.DUPLICATE, f"Duplicate order number: {number}")

    ticket_trade_no = (previous.ticket_trade_no if previous is not None
                       else numbering.new_order_nos(clock.business_day(), 1)[0])
    answer = protocol.ok(RECEIVED, **{field: number}, TicketTradeNo=ticket_trade_no, TicketData=[
        {"ItemNo": line["ItemNo"], "ItemName": products[line["ItemNo"]].name,
         "TicketPrice": products[line["ItemNo"]].face_value, "TicketAmount": line["TicketAmount"]}
        for line in lines])
    values = {"kind": kind, "payment_provider": provider, "data_hash": digest, "answer": answer,
              "batch_id": batch.id, "attempts": attempt, "operator": operator,
              "branch_id": branch.id if branch else None, "refund_notify_url": refund_url,
              "use_status_notify_url": use_status_url, "updated_at": clock.now()}
    if previous is None:
        previous = IssueCall(store_id=store.id, merchant_order_no=number,
                             ticket_trade_no=ticket_trade_no, **values)
        db.session.add(previous)
        db.session.flush()
        history.record(previous, "ecticket_issue_received", to_status="queued",
                       reason=f"ECTicket Issue {number}（匯入單號 {import_no}）")
    else:
        for name, value in values.items():
            setattr(previous, name, value)
        db.session.flush()
        history.record(previous, "ecticket_issue_retried", to_status="queued",
                       reason=f"ECTicket Issue {number} 重新發行（匯入單號 {import_no}）")
    return Result(answer, changed=True)


def _refusal_of(error: DomainError) -> Refused:
    """An issuance refusal (the store, its contract, its settings, the method) as an RtnCode."""
    code = getattr(error, "code", "") or ""
    if code == "import_no_used":
        return Refused(protocol.DUPLICATE, f"Duplicate order number ({error.message})")
    if code in {"issuance_unavailable", "method_not_enabled"}:
        return Refused(protocol.NOT_ENABLED, f"Service not enabled ({error.message})")
    return Refused(protocol.NOT_PERMITTED, f"Not permitted ({error.message})")


def _row_refusal(batch: Batch, field: str, lines: list[dict[str, Any]],
                 card: TicketOrder | None) -> Refused:
    """The first wrong row's first reason as an RtnCode (the batch is not kept)."""
    for row in batch.rows:
        for header, reason in row["errors"].items():
            line = lines[int(row["row"]) - 1]
            if header == HEADER_OF["product_id"]:
                return Refused(protocol.NOT_ISSUABLE, f"Item not issuable: {line['ItemNo']} ({reason})")
            if header == HEADER_OF["merchant_order_no"]:
                if reason.startswith(order_no_taken("")):
                    return Refused(protocol.DUPLICATE, f"Duplicate order number ({reason})")
                if card is not None:
                    return Refused(protocol.PAYMENT, f"Payment order not issuable ({reason})")
                return protocol.parameter(field, reason)
            return protocol.parameter(FIELD_OF_HEADER.get(header, header), reason)
    errors = [e for e in batch.error.splitlines() if e]
    return protocol.parameter("TicketInfo", errors[0] if errors else "")


def reserved_order_nos(batch: Batch) -> dict[str, str]:
    """The ECT order numbers an Issue chose for its batch (issuance's ORDER_NO_RESERVATIONS)."""
    if batch.source != "api":
        return {}
    return dict(db.session.execute(
        select(IssueCall.merchant_order_no, IssueCall.ticket_trade_no)
        .where(IssueCall.batch_id == batch.id).execution_options(unscoped=True)).all())


# QueryIssueResult ----------------------------------------------------------------------------

def query_issue_result(call: Call) -> Result:
    store = call.store
    field, number = protocol.one_of(call.fields, ORDER_FIELDS)
    found = db.session.scalar(select(IssueCall).where(IssueCall.store_id == store.id,
                                                      IssueCall.merchant_order_no == number))
    if found is not None and found.kind == KIND_OF[field]:
        batch = db.session.get(Batch, found.batch_id)
        assert batch is not None
        status = {BatchStatus.SUCCEEDED: STATUS_SUCCESS,
                  BatchStatus.FAILED: STATUS_FAILED}.get(batch.status, STATUS_PROCESSING)
        remark = batch.error if status == STATUS_FAILED else ""
        return Result(protocol.ok(**{field: number}, TicketTradeNo=found.ticket_trade_no,
                                  Status=status, Remark=remark))
    order = None
    if found is None:  # an order issued otherwise (an uploaded file) under this number
        order = db.session.scalar(select(Order).where(Order.store_id == store.id,
                                                      Order.merchant_order_no == number))
    if order is None:
        raise Refused(protocol.NOT_FOUND, f"Order not found: {number}")
    return Result(protocol.ok(**{field: number}, TicketTradeNo=order.order_no,
                              Status=STATUS_SUCCESS, Remark=""))


issuance.ORDER_NO_RESERVATIONS.append(reserved_order_nos)
numbering.register_order_nos(IssueCall.ticket_trade_no)
