"""Batch issuance (7-3 B): check a batch, confirm it, issue it all-or-nothing.

`prepare_batch` checks the rows and keeps them as a preview (a re-upload with the same import
number replaces a preview); `confirm_batch` queues it (compare-and-set, so a double click
queues once); the job (`app.issuance.jobs.issue_batch`) claims it (`claim_batch`) and turns it
into orders and tickets in ONE transaction (`issue_claimed_batch`), so a failure leaves nothing
behind, and the import number, unique per store, means the same batch is never issued twice.

A claim counts the attempt and takes a lease (`app.jobs.LEASE`); the batch's last write is a
compare-and-set on that attempt, so a job whose batch was taken back (`return_abandoned`: its
worker died, the lease ran out) can never commit a second issue of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update

from app import clock, history, jobs
from app.auth.models import Account
from app.billing.models import FeeKind
from app.billing.services import record_charge
from app.db import db
from app.errors import DomainError, InvalidInput
from app.history import HistoryEntry
from app.issuance.models import Batch, BatchStatus
from app.issuance.rules import MAX_TICKETS, ProductFacts, check_rows
from app.orders.models import Order
from app.products import sales
from app.products.access import issue_refusal
from app.products.models import Product, ProductKind
from app.settings.services import issuance_blocker, settings_or_blank
from app.stores.models import DeliveryMethod, Store
from app.tickets import codes
from app.tickets.models import Ticket, TicketStatus

_IMPORT_NO = re.compile(r"[A-Za-z0-9_-]{1,30}")
IMPORT_NO_USED = "此匯入單號已使用，同一匯入單號不會重複發行"
SYSTEM_ERROR = "系統錯誤，發行未完成，請稍後重新發行或聯繫客服"
ABANDONED = "發行作業中斷（系統程序終止），未發行任何票券，請以新的匯入單號重新發行"
ISSUE_JOB = "app.issuance.jobs:issue_batch"  # by path: the job module imports this one

history.ACTION_LABELS.update({
    "previewed": "上傳預覽", "confirmed": "確認發行", "issued": "發行", "issue_failed": "發行失敗",
    "requeued": "重新排入發行",
})


def _check_can_issue(actor: Account, store: Store, method: DeliveryMethod) -> None:
    if blocker := issuance_blocker(store):
        raise DomainError(blocker, code="issuance_unavailable")
    if refusal := issue_refusal(actor, store):
        raise DomainError(refusal.message, code=refusal.code)
    contract = store.current_contract
    if contract is None or not contract.enables(method):
        raise DomainError(f"合約未開通「{method.delivery_type.label}／{method.label}」發行方式",
                          code="method_not_enabled")


def _product_facts(store: Store) -> dict[int, ProductFacts]:
    products = db.session.scalars(select(Product).where(Product.store_id == store.id))
    return {p.id: ProductFacts(p.id, p.name, p.kind.value, p.listed, p.end_date, p.face_value)
            for p in products}


def _used_order_nos(store: Store, order_nos: Iterable[str]) -> set[str]:
    wanted = {n for n in order_nos if n}
    if not wanted:
        return set()
    return set(db.session.scalars(
        select(Order.merchant_order_no).where(Order.store_id == store.id,
                                              Order.merchant_order_no.in_(wanted))))


def prepare_batch(actor: Account, store: Store, *, import_no: str, method: DeliveryMethod,
                  kind: ProductKind | None, rows: list[dict[str, Any]], source: str = "upload",
                  platform_id: str | None = None) -> Batch:
    """Check the rows and keep them as this store's preview for `import_no`."""
    _check_can_issue(actor, store, method)
    import_no = (import_no or "").strip()
    if not import_no:
        raise InvalidInput("請填寫匯入單號", fields={"import_no": "請填寫匯入單號"})
    if not _IMPORT_NO.fullmatch(import_no):
        message = "匯入單號限英數字、- 或 _，最多 30 字"
        raise InvalidInput(message, fields={"import_no": message})
    batch = db.session.scalar(
        select(Batch).where(Batch.store_id == store.id, Batch.import_no == import_no)
        .with_for_update())
    if batch is not None and batch.status is not BatchStatus.PREVIEW:
        raise DomainError(IMPORT_NO_USED, code="import_no_used")
    checked, batch_errors = check_rows(
        rows, method=method.value, kind=kind.value if kind else None,
        products=_product_facts(store),
        used_order_nos=_used_order_nos(store, (str(r.get("廠商訂單編號") or "").strip() for r in rows)),
        today=clock.business_day(),
    )
    if batch is None:
        batch = Batch(store_id=store.id, import_no=import_no)
        db.session.add(batch)
    batch.delivery_method = method.value
    batch.kind = kind.value if kind else ""
    batch.source = source
    batch.platform_id = platform_id
    batch.rows = [c.as_dict() for c in checked]
    batch.error_count = sum(not c.ok for c in checked)
    batch.error = "\n".join(batch_errors)
    batch.ticket_count = sum(c.values["quantity"] for c in checked if c.ok)
    batch.created_by_id = actor.id
    batch.created_branch_id = actor.branch_id if actor.store_id == store.id else None
    batch.created_at = clock.now()
    db.session.flush()
    history.record(batch, "previewed", changes={"rows": [None, len(checked)],
                                                "errors": [None, batch.error_count]})
    return batch


def batch_is_issuable(batch: Batch) -> bool:
    return batch.error_count == 0 and not batch.error and 0 < batch.ticket_count <= MAX_TICKETS


def confirm_batch(actor: Account, store: Store, batch: Batch) -> bool:
    """Queue a previewed batch for issuing. False when it was already confirmed (a double
    submission): the second request changes nothing."""
    _check_can_issue(actor, store, DeliveryMethod(batch.delivery_method))
    if batch.status is BatchStatus.PREVIEW and not batch_is_issuable(batch):
        raise DomainError("發行資料有錯誤，請修正後重新上傳", code="rows_invalid")
    claimed = db.session.execute(
        update(Batch)
        .where(Batch.id == batch.id, Batch.status == BatchStatus.PREVIEW)
        .values(status=BatchStatus.QUEUED, lease_until=jobs.lease_end(),
                rights_statement=settings_or_blank(store).rights_statement)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not claimed:
        return False
    history.record(batch, "confirmed", from_status="preview", to_status="queued")
    jobs.enqueue(ISSUE_JOB, batch.id)
    return True


# What the issuing job does (it commits; these flush) -----------------------------------------

def claim_batch(batch_id: int) -> int | None:
    """Queued → issuing (compare-and-set), counting the attempt and taking the lease. The
    attempt number, or None when the batch is not queued (issued, issuing elsewhere, failed)."""
    return db.session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.status == BatchStatus.QUEUED)
        .values(status=BatchStatus.ISSUING, started_at=clock.now(), error="",
                attempts=Batch.attempts + 1, lease_until=jobs.lease_end())
        .returning(Batch.attempts).execution_options(unscoped=True)
    ).scalar_one_or_none()


def issue_claimed_batch(batch_id: int, attempt: int) -> None:
    """Create the orders and tickets of a batch claimed by `attempt`. Raises LeaseLost if the
    batch was taken back meanwhile (the caller rolls back)."""
    batch = db.session.get(Batch, batch_id)
    assert batch is not None
    if batch.status is not BatchStatus.ISSUING or batch.attempts != attempt:
        raise jobs.LeaseLost(f"batch {batch_id} attempt {attempt}")
    now = clock.now()
    day = clock.business_day(now)
    method = DeliveryMethod(batch.delivery_method)
    rows = [r for r in batch.rows if not r["errors"]]
    products = {p.id: p for p in db.session.scalars(
        select(Product).where(Product.store_id == batch.store_id,
                              Product.id.in_({r["values"]["product_id"] for r in rows})))}
    for row in rows:
        product = products.get(row["values"]["product_id"])
        if product is None or not product.listed:
            raise DomainError(f"第 {row['row']} 列的商品已下架或不存在，發行未完成")
    order_ids = insert_orders(batch, rows, products, method, day, now)
    tickets = insert_tickets(batch, rows, products, order_ids, method, day, now)
    db.session.execute(
        update(Product).where(Product.id.in_(products), Product.first_issued_at.is_(None))
        .values(first_issued_at=now))
    record_charge(batch.store_id, FeeKind.SERIAL, tickets, day=day, reference=f"batch:{batch.id}")
    _finish(batch, attempt, status=BatchStatus.SUCCEEDED, issued_count=tickets,
            ticket_count=tickets)
    history.record(batch, "issued", from_status="issuing", to_status="succeeded",
                   changes={"tickets": [None, tickets], "orders": [None, len(order_ids)]})


def fail_batch(batch_id: int, attempt: int, exc: Exception) -> None:
    """Record why `attempt` failed (after the caller rolled its work back): nothing was issued."""
    reason = exc.message if isinstance(exc, DomainError) else SYSTEM_ERROR
    batch = db.session.get(Batch, batch_id)
    assert batch is not None
    try:
        _finish(batch, attempt, status=BatchStatus.FAILED, error=reason)
    except jobs.LeaseLost:
        return  # taken back by the sweeper meanwhile: its attempt decides
    history.record(batch, "issue_failed", from_status="issuing", to_status="failed",
                   reason=f"{reason} ({type(exc).__name__})")


def _finish(batch: Batch, attempt: int, **values: Any) -> None:
    """The attempt's last write: a compare-and-set on (issuing, attempt), or LeaseLost."""
    done = db.session.execute(
        update(Batch).where(Batch.id == batch.id, Batch.status == BatchStatus.ISSUING,
                            Batch.attempts == attempt)
        .values(finished_at=clock.now(), lease_until=None, **values)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not done:
        raise jobs.LeaseLost(f"batch {batch.id} attempt {attempt}")


def return_abandoned(batch: Batch) -> bool:
    """A batch whose lease ran out (`app.jobs.abandoned`): its job died. Issuing: queued again
    for another attempt (a dead attempt's transaction died with it, so nothing was issued), or
    failed with ABANDONED after MAX_ATTEMPTS. Queued: its job never started (lost with an
    in-process queue), so it is queued again as it is. True when the caller must enqueue
    ISSUE_JOB; False when it failed or another sweeper got there first."""
    seen = batch.status
    working = Batch.status == seen
    if seen is BatchStatus.QUEUED:
        return jobs.take_back(batch, working, lease_until=jobs.lease_end())
    if batch.attempts < jobs.MAX_ATTEMPTS:
        if not jobs.take_back(batch, working, status=BatchStatus.QUEUED, lease_until=jobs.lease_end()):
            return False
        history.record(batch, "requeued", from_status="issuing", to_status="queued",
                       reason=f"第 {batch.attempts} 次發行作業中斷（系統程序終止），重新排入發行")
        return True
    if jobs.take_back(batch, working, status=BatchStatus.FAILED, error=ABANDONED,
                      finished_at=clock.now(), lease_until=None):
        history.record(batch, "issue_failed", from_status="issuing", to_status="failed",
                       reason=f"{ABANDONED}（已中斷 {batch.attempts} 次）")
    return False


def insert_orders(batch: Batch, rows: list[dict], products: dict[int, Product],
                  method: DeliveryMethod, day: date, now) -> dict[str, int]:  # noqa: ANN001
    """One order per row; returns {merchant order number: order id}."""
    electronic = method.delivery_type.value == "electronic"
    cvs = method.delivery_type.value == "cvs"
    values = []
    for row in rows:
        v = row["values"]
        values.append({
            "store_id": batch.store_id, "batch_id": batch.id, "order_no": codes.new_order_no(day),
            "merchant_order_no": v["merchant_order_no"], "delivery_method": method.value,
            "purchaser_name": v["purchaser_name"], "purchaser_mobile": v["mobile"],
            "purchaser_email": v["email"],
            "link_token": codes.new_link_token() if electronic else None,
            "pickup_code": codes.new_pickup_code() if cvs else None,
            "platform_id": batch.platform_id, "ticket_count": v["quantity"],
            "amount": products[v["product_id"]].face_value * v["quantity"],
            "created_at": now,
        })
    result = db.session.execute(
        insert(Order).returning(Order.id, Order.merchant_order_no, sort_by_parameter_order=True),
        values)
    return {merchant_no: order_id for order_id, merchant_no in result}


def insert_tickets(batch: Batch, rows: list[dict], products: dict[int, Product],
                   order_ids: dict[str, int], method: DeliveryMethod, day: date, now) -> int:  # noqa: ANN001
    """Every ticket of the batch in one multi-row INSERT, plus one history entry each."""
    prefix = codes.new_serial_prefix()
    values = []
    for row in rows:
        v = row["values"]
        product = products[v["product_id"]]
        order_id = order_ids[v["merchant_order_no"]]
        valid_from = date.fromisoformat(v["valid_from"]) if v["valid_from"] else None
        for _ in range(v["quantity"]):
            values.append({
                "store_id": batch.store_id, "product_id": product.id, "order_id": order_id,
                "batch_id": batch.id, "serial": codes.serial(prefix, day, len(values)),
                "code": codes.new_redemption_code(), "kind": product.kind,
                "face_value": product.face_value, "delivery_method": method.value,
                "status": TicketStatus.UNUSED, "status_changed_at": now, "issued_at": now,
                "valid_from": valid_from, "expires_on": product.end_date,
                "holder_name": v["purchaser_name"], "holder_mobile": v["mobile"],
                "holder_email": v["email"], "platform_id": batch.platform_id, "print_count": 0,
                "return_reason": "",
            })
    ids = db.session.scalars(
        insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True), values).all()
    sales.issued(batch.store_id, ((v["product_id"], v["kind"], v["face_value"]) for v in values))
    creator = db.session.get(Account, batch.created_by_id) if batch.created_by_id else None
    db.session.execute(insert(HistoryEntry), [{
        "at": now, "store_id": batch.store_id, "actor_id": batch.created_by_id,
        "actor_label": creator.username if creator else "系統", "actor_store_id": batch.store_id,
        "actor_branch_id": batch.created_branch_id, "ip": "", "subject_type": "tickets",
        "subject_id": ticket_id, "action": "issued", "changes": {}, "from_status": None,
        "to_status": TicketStatus.UNUSED.value, "reason": f"批次 {batch.import_no}",
    } for ticket_id in ids])
    return len(ids)


def ticket_counts(batch_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(select(Ticket.batch_id, func.count()).where(
        Ticket.batch_id.in_(batch_ids)).group_by(Ticket.batch_id))
    return dict(rows.all())
