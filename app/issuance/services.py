"""Batch issuance (7-3 B): check a batch, confirm it, issue it all-or-nothing.

`prepare_batch` checks the rows and keeps them as a preview (a re-upload with the same import
number replaces a preview); `confirm_batch` checks the merchant order numbers again under a
lock on the store and queues it (compare-and-set, so a double click queues once); the job
(`app.issuance.jobs.issue_batch`) claims it (`claim_batch`) and turns it into orders and tickets
in ONE transaction (`issue_claimed_batch`), so a failure leaves nothing behind, and the import
number, unique per store, means the same batch is never issued twice. How merchant order
numbers group rows into orders, and why a clash between batches is a row error and never a
failed job: app/issuance/rules.py (rule e).

A claim counts the attempt and takes a lease (`app.jobs.LEASE`); the batch's last write is a
compare-and-set on that attempt, so a job whose batch was taken back (`return_abandoned`: its
worker died, the lease ran out) can never commit a second issue of it.

The import number, the merchant order numbers a batch takes (rule e), the confirm's
compare-and-set, the claim, the lease and the failure are the same for every batch that issues
orders all-or-nothing: these functions take the batch's model (and its orders' model) so the
installment orders' batches (app/installments/issuing.py) share them with the tickets'.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, history, jobs
from app.auth.models import Account
from app.billing.models import FeeKind
from app.billing.services import record_charge
from app.db import db
from app.errors import DomainError, InvalidInput
from app.issuance import numbering, rules
from app.issuance.models import Batch, BatchStatus
from app.issuance.rules import ProductFacts, check_rows
from app.products.access import issue_refusal
from app.products.models import Product, ProductKind
from app.refusal import Refusal
from app.settings.services import issuance_blocker, settings_or_blank
from app.stores.models import DeliveryMethod, Store
from app.tickets import codes, sales
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus

_IMPORT_NO = re.compile(r"[A-Za-z0-9_-]{1,30}")
IMPORT_NO_MISSING = "請填寫匯入單號"
IMPORT_NO_RULE = "匯入單號限英數字、- 或 _，最多 30 字"
IMPORT_NO_USED = "此匯入單號已使用，同一匯入單號不會重複發行"
FAILED = "系統錯誤，發行未完成，請稍後重新發行或聯繫客服"
ABANDONED = "發行作業中斷（系統程序終止），未發行任何票券，請以新的匯入單號重新發行"
ISSUE_JOB = "app.issuance.jobs:issue_batch"  # by path: the job module imports this one
NO_METHODS = "合約尚未開通任何發行方式，請聯繫所屬業務"



def issuance_refusal(actor: Account, store: Store,
                     method: DeliveryMethod | None = None) -> Refusal | None:
    """May `actor` issue tickets in `store` now, with `method` (or with some method, when None)?
    None, or why not: the one answer the pages (shown before anything is uploaded), the upload,
    the confirm and the API share. In order: the store (its contract's issuance service, start
    and end dates, its settings: `issuance_blocker`), the account (its grant and its branch:
    `issue_refusal`), then the delivery methods the contract enables."""
    if blocker := issuance_blocker(store):
        return Refusal("issuance_unavailable", blocker)
    if refusal := issue_refusal(actor, store):
        return refusal
    contract = store.current_contract
    enabled = contract.methods if contract is not None else []
    if method is None and not enabled:
        return Refusal("method_not_enabled", NO_METHODS)
    if method is not None and method not in enabled:
        return Refusal("method_not_enabled",
                       f"合約未開通「{method.delivery_type.label}／{method.label}」發行方式")
    return None


def _refuse_unless_may_issue(actor: Account, store: Store, method: DeliveryMethod) -> None:
    if refusal := issuance_refusal(actor, store, method):
        raise DomainError(refusal.message, code=refusal.code)


def _product_facts(store: Store) -> dict[int, ProductFacts]:
    products = db.session.scalars(select(Product).where(Product.store_id == store.id))
    return {p.id: ProductFacts(p.id, p.name, p.kind.value, p.listed, p.end_date, p.face_value)
            for p in products}


# Features whose own orders become tickets through an ordinary batch (a ticket order paid by
# card, 未發行訂單) register here. ORDER_NO_REFUSALS: given the store, the file's merchant order
# numbers and today, the rows to refuse (number → message). ISSUED_REACTIONS: called in the
# issuing transaction with the batch and {merchant order number: issued order id}; raising
# DomainError fails the batch with its message (nothing issued).
ORDER_NO_REFUSALS: list[Callable[[int, set[str], date], Mapping[str, str]]] = []
ISSUED_REACTIONS: list[Callable[[Batch, dict[str, int]], None]] = []
# ECT order numbers chosen before the batch issues (an API that answers with the number at
# once): given the batch, {merchant order number: ECT order number} its orders take instead of
# a fresh one. The feature registers the column holding them (numbering.register_order_nos) so
# no other order draws them meanwhile.
ORDER_NO_RESERVATIONS: list[Callable[[Batch], Mapping[str, str]]] = []


def order_no_refusals(store_id: int, order_nos: set[str], today: date) -> dict[str, str]:
    refused: dict[str, str] = {}
    if order_nos:
        for refusals in ORDER_NO_REFUSALS:
            refused.update(refusals(store_id, order_nos, today))
    return refused


def used_order_nos(store_id: int, order_nos: Iterable[str], but: int | None = None, *,
                   batches: Any = Batch, orders: Any = Order) -> dict[str, str]:
    """{merchant order number: import number} of those of `order_nos` another batch of the
    store (not `but`) took: one that issued them (its orders), or one still queued or issuing
    (its rows). Failed batches and previews take none. `batches` and `orders` are the models
    (tickets' by default; installment orders' batches give theirs)."""
    wanted = {n for n in order_nos if n}
    if not wanted:
        return {}
    taken = dict(db.session.execute(
        select(orders.merchant_order_no, batches.import_no)
        .join(batches, batches.id == orders.batch_id)
        .where(orders.store_id == store_id, orders.merchant_order_no.in_(wanted))).all())
    live = (select(batches.import_no, batches.rows)
            .where(batches.store_id == store_id,
                   batches.status.in_((BatchStatus.QUEUED, BatchStatus.ISSUING)))
            .order_by(batches.id))
    if but is not None:
        live = live.where(batches.id != but)
    for import_no, rows in db.session.execute(live):
        for row in rows:
            number = row["values"].get("merchant_order_no")
            if number in wanted and not row["errors"]:
                taken.setdefault(number, import_no)
    return taken


def prepare_batch(actor: Account, store: Store, *, import_no: str, method: DeliveryMethod,
                  kind: ProductKind | None, rows: list[dict[str, Any]], source: str = "upload",
                  platform_id: str | None = None) -> Batch:
    """Check the rows and keep them as this store's preview for `import_no`."""
    _refuse_unless_may_issue(actor, store, method)
    import_no = checked_import_no(import_no)
    batch = preview_of(Batch, store, import_no)
    checked, batch_errors = check_rows(
        rows, method=method.value, kind=kind.value if kind else None,
        products=_product_facts(store),
        used_order_nos=used_order_nos(store.id, rules.order_nos(rows),
                                      but=batch.id if batch is not None else None),
        today=clock.business_day(),
    )
    checked_rows = [c.as_dict() for c in checked]
    refused = order_no_refusals(store.id, rules.order_nos(rows), clock.business_day())
    if refused:
        checked_rows = rules.mark_order_nos(checked_rows, refused)
    if batch is None:
        batch = Batch(store_id=store.id, import_no=import_no)
        db.session.add(batch)
    batch.delivery_method = method
    batch.kind = kind.value if kind else ""
    batch.source = source
    batch.platform_id = platform_id
    batch.rows = checked_rows
    batch.error_count = sum(1 for r in checked_rows if r["errors"])
    batch.error = "\n".join(batch_errors)
    batch.ticket_count = sum(r["values"]["quantity"] for r in checked_rows if not r["errors"])
    batch.created_by_id = actor.id
    batch.created_branch_id = actor.branch_id if actor.store_id == store.id else None
    batch.created_at = clock.now()
    db.session.flush()
    history.record(batch, "previewed", changes={"rows": [None, len(checked)],
                                                "errors": [None, batch.error_count]})
    return batch


def checked_import_no(import_no: str | None) -> str:
    """The import number (匯入單號) as typed, stripped; InvalidInput when missing or malformed."""
    import_no = (import_no or "").strip()
    if not import_no:
        raise InvalidInput(IMPORT_NO_MISSING, fields={"import_no": IMPORT_NO_MISSING})
    if not _IMPORT_NO.fullmatch(import_no):
        raise InvalidInput(IMPORT_NO_RULE, fields={"import_no": IMPORT_NO_RULE})
    return import_no


def preview_of(model: Any, store: Store, import_no: str) -> Any:
    """The store's batch of `model` under `import_no` (locked), to be replaced by a new
    preview; None when there is none yet. A batch already confirmed spent its import number:
    DomainError IMPORT_NO_USED."""
    batch = db.session.scalar(
        select(model).where(model.store_id == store.id, model.import_no == import_no)
        .with_for_update())
    if batch is not None and batch.status is not BatchStatus.PREVIEW:
        raise DomainError(IMPORT_NO_USED, code="import_no_used")
    return batch


def batch_is_issuable(batch: Batch) -> bool:
    return (batch.error_count == 0 and not batch.error
            and 0 < batch.ticket_count <= codes.MAX_TICKETS_PER_BATCH)


class Confirmation(enum.Enum):
    QUEUED = "queued"  # queued for issuing
    ALREADY_CONFIRMED = "already_confirmed"  # a double submission: nothing changed
    # Since its preview another batch took some of its merchant order numbers: the rows now say
    # so (commit to keep them), and the batch stays a preview.
    ORDER_NOS_TAKEN = "order_nos_taken"


def lock_store(store: Store) -> None:
    """Serialise the confirms of one store (FOR NO KEY UPDATE: rows that merely reference the
    store, such as tickets and history, are not held up)."""
    db.session.execute(select(Store.id).where(Store.id == store.id)
                       .with_for_update(key_share=True))


def _take_order_nos(store: Store, batch: Batch) -> bool:
    return take_order_nos(store, batch, orders=Order)


def take_order_nos(store: Store, batch: Any, *, orders: Any) -> bool:
    """Check the batch's merchant order numbers again, under the store's lock, against the
    batches confirmed since its preview (and the `orders` they issued); mark the rows that
    lost theirs. Whether none did."""
    lock_store(store)
    taken = used_order_nos(store.id, (r["values"].get("merchant_order_no") for r in batch.rows),
                           but=batch.id, batches=type(batch), orders=orders)
    if not taken:
        return True
    batch.rows = rules.mark_taken(batch.rows, taken)
    batch.error_count = sum(1 for r in batch.rows if r["errors"])
    db.session.flush()
    history.record(batch, "order_nos_taken", changes={"errors": [None, batch.error_count]})
    return False


def confirm_batch(actor: Account, store: Store, batch: Batch) -> Confirmation:
    """Queue a previewed batch for issuing. ALREADY_CONFIRMED when it was already confirmed (a
    double submission: the second request changes nothing); ORDER_NOS_TAKEN when another batch
    took some of its merchant order numbers since its preview (rule e: the rows say which)."""
    _refuse_unless_may_issue(actor, store, batch.delivery_method)
    if batch.status is BatchStatus.PREVIEW:
        if not batch_is_issuable(batch):
            raise DomainError("發行資料有錯誤，請修正後重新上傳", code="rows_invalid")
        if not _take_order_nos(store, batch):
            return Confirmation.ORDER_NOS_TAKEN
    if not queue_batch(batch, rights_statement=settings_or_blank(store).rights_statement):
        return Confirmation.ALREADY_CONFIRMED
    jobs.enqueue(ISSUE_JOB, batch.id)
    return Confirmation.QUEUED


def queue_batch(batch: Any, **values: Any) -> bool:
    """Preview → queued (compare-and-set, so a double submission queues once), with the lease
    and `values`; the caller then enqueues its issuing job. False when it was already
    confirmed."""
    model = type(batch)
    claimed = db.session.execute(
        update(model)
        .where(model.id == batch.id, model.status == BatchStatus.PREVIEW)
        .values(status=BatchStatus.QUEUED, lease_until=jobs.lease_end(), **values)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not claimed:
        return False
    history.record(batch, "confirmed", from_status="preview", to_status="queued")
    return True


# What the issuing job does (it commits; these flush) -----------------------------------------

def claim_batch(batch_id: int, model: Any = Batch) -> int | None:
    """Queued → issuing (compare-and-set), counting the attempt and taking the lease. The
    attempt number, or None when the batch is not queued (issued, issuing elsewhere, failed)."""
    return db.session.execute(
        update(model).where(model.id == batch_id, model.status == BatchStatus.QUEUED)
        .values(status=BatchStatus.ISSUING, started_at=clock.now(), error="",
                attempts=model.attempts + 1, lease_until=jobs.lease_end())
        .returning(model.attempts).execution_options(unscoped=True)
    ).scalar_one_or_none()


def fail_batch(batch_id: int, attempt: int, exc: Exception, model: Any = Batch,
               orders: Any = Order) -> None:
    """Record why `attempt` failed (after the caller rolled its work back): nothing was issued."""
    reason = (exc.message if isinstance(exc, DomainError)
              else _clash(batch_id, model, orders) if isinstance(exc, IntegrityError)
              else None) or FAILED
    batch = db.session.get(model, batch_id)
    assert batch is not None
    try:
        finish_batch(batch, attempt, status=BatchStatus.FAILED, error=reason)
    except jobs.LeaseLost:
        return  # taken back by the sweeper meanwhile: its attempt decides
    history.record(batch, "issue_failed", from_status="issuing", to_status="failed",
                   reason=f"{reason} ({type(exc).__name__})")


def finish_batch(batch: Any, attempt: int, **values: Any) -> None:
    """The attempt's last write: a compare-and-set on (issuing, attempt), or LeaseLost."""
    model = type(batch)
    done = db.session.execute(
        update(model).where(model.id == batch.id, model.status == BatchStatus.ISSUING,
                            model.attempts == attempt)
        .values(finished_at=clock.now(), lease_until=None, **values)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not done:
        raise jobs.LeaseLost(f"batch {batch.id} attempt {attempt}")


def requeue_abandoned(model: Any, abandoned: str = ABANDONED) -> list[int]:
    """The batches of `model` whose lease ran out (their job died) that `return_abandoned`
    queued again: the caller enqueues their issuing job and commits."""
    working = model.status.in_((BatchStatus.QUEUED, BatchStatus.ISSUING))
    return [batch.id for batch in jobs.abandoned(model, working)
            if return_abandoned(batch, abandoned)]


def return_abandoned(batch: Any, abandoned: str = ABANDONED) -> bool:
    """A batch whose lease ran out (`app.jobs.abandoned`): its job died. Issuing: queued again
    for another attempt (a dead attempt's transaction died with it, so nothing was issued), or
    failed with `abandoned` (ABANDONED) after MAX_ATTEMPTS. Queued: its job never started (lost with an
    in-process queue), so it is queued again as it is. True when the caller must enqueue
    ISSUE_JOB; False when it failed or another sweeper got there first."""
    seen = batch.status
    working = type(batch).status == seen
    if seen is BatchStatus.QUEUED:
        return jobs.take_back(batch, working, lease_until=jobs.lease_end())
    if batch.attempts < jobs.MAX_ATTEMPTS:
        if not jobs.take_back(batch, working, status=BatchStatus.QUEUED, lease_until=jobs.lease_end()):
            return False
        history.record(batch, "requeued", from_status="issuing", to_status="queued",
                       reason=f"第 {batch.attempts} 次發行作業中斷（系統程序終止），重新排入發行")
        return True
    if jobs.take_back(batch, working, status=BatchStatus.FAILED, error=abandoned,
                      finished_at=clock.now(), lease_until=None):
        history.record(batch, "issue_failed", from_status="issuing", to_status="failed",
                       reason=f"{abandoned}（已中斷 {batch.attempts} 次）")
    return False


def _clash(batch_id: int, model: Any, orders: Any) -> str | None:
    """Why a batch's orders broke the one-order-per-merchant-order-number constraint: another
    batch took one of its numbers (a race the confirm's check let slip); None if none did."""
    batch = db.session.get(model, batch_id)
    numbers = {r["values"].get("merchant_order_no") for r in batch.rows if not r["errors"]}
    taken = used_order_nos(batch.store_id, numbers, but=batch.id, batches=model, orders=orders)
    if not taken:
        return None
    return rules.order_no_clash(*min(taken.items()))


def issue_claimed_batch(batch_id: int, attempt: int) -> None:
    """Create the orders and tickets of a batch claimed by `attempt`. Raises LeaseLost if the
    batch was taken back meanwhile (the caller rolls back)."""
    batch = db.session.get(Batch, batch_id)
    assert batch is not None
    if batch.status is not BatchStatus.ISSUING or batch.attempts != attempt:
        raise jobs.LeaseLost(f"batch {batch_id} attempt {attempt}")
    now = clock.now()
    day = clock.business_day(now)
    method = batch.delivery_method
    rows = [r for r in batch.rows if not r["errors"]]
    products = {p.id: p for p in db.session.scalars(
        select(Product).where(Product.store_id == batch.store_id,
                              Product.id.in_({r["values"]["product_id"] for r in rows})))}
    for row in rows:
        product = products.get(row["values"]["product_id"])
        if product is None or not product.listed:
            raise DomainError(f"第 {row['row']} 列的商品已下架或不存在，發行未完成")
    order_ids = insert_orders(batch, rows, products, method, day, now)
    for react in ISSUED_REACTIONS:
        react(batch, order_ids)
    tickets = insert_tickets(batch, rows, products, order_ids, method, day, now)
    db.session.execute(
        update(Product).where(Product.id.in_(products), Product.first_issued_at.is_(None))
        .values(first_issued_at=now))
    record_charge(batch.store_id, FeeKind.SERIAL, tickets, day=day, reference=f"batch:{batch.id}")
    finish_batch(batch, attempt, status=BatchStatus.SUCCEEDED, issued_count=tickets,
            ticket_count=tickets)
    history.record(batch, "issued", from_status="issuing", to_status="succeeded",
                   changes={"tickets": [None, tickets], "orders": [None, len(order_ids)]})


def insert_orders(batch: Batch, rows: list[dict], products: dict[int, Product],
                  method: DeliveryMethod, day: date, now) -> dict[str, int]:  # noqa: ANN001
    """One order per merchant order number (its rows: one or more products, one purchaser,
    rule e), holding all their tickets; returns {merchant order number: order id}."""
    electronic = method.delivery_type.value == "electronic"
    cvs = method.delivery_type.value == "cvs"
    orders: dict[str, dict[str, Any]] = {}
    for row in rows:
        v = row["values"]
        amount = products[v["product_id"]].face_value * v["quantity"]
        if (order := orders.get(v["merchant_order_no"])) is not None:
            order["ticket_count"] += v["quantity"]
            order["amount"] += amount
            continue
        orders[v["merchant_order_no"]] = {
            "store_id": batch.store_id, "batch_id": batch.id, "order_no": "",
            "merchant_order_no": v["merchant_order_no"], "delivery_method": method,
            "purchaser_name": v["purchaser_name"], "purchaser_mobile": v["mobile"],
            "purchaser_email": v["email"],
            **Order.new_secret_values(link=electronic, pickup=cvs),
            "platform_id": batch.platform_id, "ticket_count": v["quantity"], "amount": amount,
            "created_at": now,
        }
    reserved: dict[str, str] = {}
    for reservations in ORDER_NO_RESERVATIONS:
        reserved.update(reservations(batch))
    fresh = iter(numbering.new_order_nos(day, sum(1 for n in orders if n not in reserved)))
    for merchant_no, order in orders.items():
        # unique with every order's (app/issuance/numbering.py)
        order["order_no"] = reserved.get(merchant_no) or next(fresh)
    result = db.session.execute(
        insert(Order).returning(Order.id, Order.merchant_order_no, sort_by_parameter_order=True),
        list(orders.values()))
    return {merchant_no: order_id for order_id, merchant_no in result}


def insert_tickets(batch: Batch, rows: list[dict], products: dict[int, Product],
                   order_ids: dict[str, int], method: DeliveryMethod, day: date, now) -> int:  # noqa: ANN001
    """Every ticket of the batch in one multi-row INSERT, plus one history entry each. The
    serials' prefix is one no serial of the day uses yet (app/issuance/numbering.py)."""
    prefix = numbering.fresh_prefixes(day, 1)[0]
    values = []
    for row in rows:
        v = row["values"]
        product = products[v["product_id"]]
        order_id = order_ids[v["merchant_order_no"]]
        valid_from = date.fromisoformat(v["valid_from"]) if v["valid_from"] else None
        for _ in range(v["quantity"]):
            serial = codes.serial(prefix, day, len(values))
            values.append({
                "store_id": batch.store_id, "product_id": product.id, "order_id": order_id,
                "batch_id": batch.id, "serial": serial, **Ticket.new_secret_values(serial),
                "kind": product.kind,
                "face_value": product.face_value, "delivery_method": method,
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
    actor = history.Actor(batch.created_by_id, creator.username if creator else "系統",
                          batch.store_id, batch.created_branch_id, "")
    history.record_many(Ticket.__tablename__, "issued",
                        ({"subject_id": ticket_id, "store_id": batch.store_id} for ticket_id in ids),
                        actor=actor, to_status=TicketStatus.UNUSED.value,
                        reason=f"批次 {batch.import_no}")
    return len(ids)


def ticket_counts(batch_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(select(Ticket.batch_id, func.count()).where(
        Ticket.batch_id.in_(batch_ids)).group_by(Ticket.batch_id))
    return dict(rows.all())
