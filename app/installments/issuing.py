"""Issuing installment orders (分期核銷訂單發行), by upload and by API, all-or-nothing per batch.

The ticket issuance machinery, where the rule is the same (app/issuance/services.py): the
import number (匯入單號, unique per store: the same batch is never issued twice), the merchant
order numbers a batch takes (rule e), the confirm's compare-and-set, and the job's claim,
lease, failure and sweep. What differs is here: who may issue (a store in installment mode
whose contract holds the redemption settings, 核銷設定), the rows (one order each:
app/installments/issuing_rules.py) and what an order becomes.

`prepare_batch` checks the rows and keeps them as a preview; `confirm_batch` queues it (the
page asks twice); the job (`app.installments.jobs.issue_batch`) claims it and
`issue_claimed_batch` writes every order, its periods and their history in ONE transaction,
so a failure leaves nothing behind. The API's `issue_order` does the same for one order in
the request, synchronously.

An order takes, when it is issued: an ECT order number; the contract's period count and days;
its first expected date (given, or one period after issue); its periods numbered 1..N with the
total split in whole dollars (remainder on the first) and their expected dates, each with a
serial unique across tickets and periods (app/issuance/numbering.py); the refund-notification
URL in force (later changes of the setting do not touch it). A serial processing fee
(序號處理費) is charged per period created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from app import clock, history, jobs
from app.auth.access import mode_of, why_not
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.billing.models import FeeKind
from app.billing.services import record_charge
from app.db import db, in_chunks
from app.errors import DomainError, InvalidInput
from app.installments import issuing_rules as rules
from app.installments.models import (
    InstallmentBatch,
    InstallmentOrder,
    InstallmentPeriod,
    InstallmentSettings,
    UnissuedOrder,
)
from app.installments.status import PeriodStatus, default_first_date
from app.issuance import numbering
from app.issuance import services as shared
from app.issuance.models import BatchStatus
from app.issuance.rules import order_no_taken, text_of
from app.issuance.services import Confirmation
from app.refusal import Refusal
from app.settings.services import contract_blocker
from app.stores.models import RedemptionMode, Store

# Periods' serials and orders' ECT order numbers are unique with tickets' and their orders'.
numbering.register_serials(InstallmentPeriod.serial)
numbering.register_order_nos(InstallmentOrder.order_no)

ISSUE_JOB = "app.installments.jobs:issue_batch"  # by path: the job module imports this one
API_IMPORT_PREFIX = "API:"  # an API order's one-order batch: never an upload's import number
PROGRESS_EVERY = 250  # orders written between two progress reports

NOT_INSTALLMENT = "此商店的核銷方式不是分期核銷，無法發行分期核銷訂單"
NO_SETTINGS = "合約尚未設定核銷設定（期數、每期天數），無法發行分期核銷訂單，請聯繫所屬業務"
NO_RIGHT = "您沒有發行分期核銷訂單的權限（分期核銷訂單報表：修改）"
ROWS_INVALID = "發行資料有錯誤，請修正後重新上傳"
ABANDONED = "發行作業中斷（系統程序終止），未發行任何訂單，請以新的匯入單號重新發行"
ORDER_NO_USED = "order_no_used"


@dataclass(frozen=True)
class Terms:
    """The contract's redemption settings (核銷設定) an order is issued with."""

    period_count: int
    period_days: int


def terms_of(store: Store) -> Terms | None:
    contract = store.current_contract
    if contract is None or not contract.installment_period_count \
            or not contract.installment_period_days:
        return None
    return Terms(contract.installment_period_count, contract.installment_period_days)


def issuing_refusal(actor: Account, store: Store) -> Refusal | None:
    """May `actor` issue installment orders in `store` now? None, or why not: the one answer
    the page (shown before anything is uploaded), the upload, the confirm and the API share.
    In order: the contract (its issuance service, its dates), the store's redemption mode, the
    contract's redemption settings, then the account (分期核銷訂單報表 at 修改, and its branch)."""
    if blocker := contract_blocker(store):
        return Refusal("issuance_unavailable", blocker)
    contract = store.current_contract
    if contract is None or contract.redemption_mode is not RedemptionMode.INSTALLMENT:
        return Refusal("not_installment", NOT_INSTALLMENT)
    if terms_of(store) is None:
        return Refusal("no_redemption_settings", NO_SETTINGS)
    if not actor.may(Function.INSTALLMENT_REPORTS, Level.MODIFY, mode=mode_of(store)):
        message, code = why_not(actor, NO_RIGHT)
        return Refusal(code, message)
    return None


def _terms_or_refuse(actor: Account, store: Store) -> Terms:
    if refusal := issuing_refusal(actor, store):
        raise DomainError(refusal.message, code=refusal.code)
    terms = terms_of(store)
    assert terms is not None
    return terms


def used_order_nos(store_id: int, numbers: Any, but: int | None = None) -> dict[str, str]:
    """{merchant order number: import number} of `numbers` another installment batch took."""
    return shared.used_order_nos(store_id, numbers, but, batches=InstallmentBatch,
                                 orders=InstallmentOrder)


# The upload: preview, confirm ----------------------------------------------------------------

def prepare_batch(actor: Account, store: Store, *, import_no: str,
                  rows: list[dict[str, Any]], source: str = "upload") -> InstallmentBatch:
    """Check the rows and keep them as this store's preview for `import_no` (a new upload with
    the same import number replaces the preview; a confirmed one spent it)."""
    terms = _terms_or_refuse(actor, store)
    import_no = shared.checked_import_no(import_no)
    batch = shared.preview_of(InstallmentBatch, store, import_no)
    checked, batch_errors = rules.check_rows(
        rows, period_count=terms.period_count,
        used_order_nos=used_order_nos(store.id, rules.order_nos(rows),
                                      but=batch.id if batch is not None else None),
        today=clock.business_day())
    if batch is None:
        batch = InstallmentBatch(store_id=store.id, import_no=import_no)
        db.session.add(batch)
    batch.source = source
    batch.rows = [c.as_dict() for c in checked]
    batch.error_count = sum(not c.ok for c in checked)
    batch.error = "\n".join(batch_errors)
    batch.order_count = sum(c.ok for c in checked)
    batch.created_by_id = actor.id
    batch.created_at = clock.now()
    db.session.flush()
    history.record(batch, "previewed", changes={"rows": [None, len(checked)],
                                                "errors": [None, batch.error_count]})
    return batch


def batch_is_issuable(batch: InstallmentBatch) -> bool:
    return (batch.error_count == 0 and not batch.error
            and 0 < batch.order_count <= rules.MAX_ORDERS_PER_BATCH)


def confirm_batch(actor: Account, store: Store, batch: InstallmentBatch) -> Confirmation:
    """Queue a previewed batch for issuing: QUEUED; ALREADY_CONFIRMED for a double submission
    (nothing changes); ORDER_NOS_TAKEN when another batch took some of its merchant order
    numbers since its preview (the rows now say which; commit to keep them)."""
    _terms_or_refuse(actor, store)
    if batch.status is BatchStatus.PREVIEW:
        if not batch_is_issuable(batch):
            raise DomainError(ROWS_INVALID, code="rows_invalid")
        if not shared.take_order_nos(store, batch, orders=InstallmentOrder):
            return Confirmation.ORDER_NOS_TAKEN
    if not shared.queue_batch(batch):
        return Confirmation.ALREADY_CONFIRMED
    jobs.enqueue(ISSUE_JOB, batch.id)
    return Confirmation.QUEUED


# Issuing (the job commits; these flush) ---------------------------------------------------------

def claim_batch(batch_id: int) -> int | None:
    return shared.claim_batch(batch_id, InstallmentBatch)


def fail_batch(batch_id: int, attempt: int, exc: Exception) -> None:
    shared.fail_batch(batch_id, attempt, exc, InstallmentBatch, InstallmentOrder)


def requeue_abandoned() -> list[int]:
    """Installment batches whose issuing job died, queued again (the caller enqueues and commits)."""
    return shared.requeue_abandoned(InstallmentBatch, ABANDONED)


def _refund_notify_url(store_id: int) -> str:
    """The store's refund-notification URL now (退款結果主動通知 URL), copied onto each order."""
    return db.session.scalar(
        select(InstallmentSettings.refund_notify_url)
        .where(InstallmentSettings.store_id == store_id)
        .execution_options(unscoped=True)) or ""


def _actor_of(batch: InstallmentBatch) -> history.Actor:
    """Who issued: the account that uploaded (or called the API), acting for the batch's store."""
    creator = db.session.get(Account, batch.created_by_id) if batch.created_by_id else None
    if creator is None:
        return history.Actor(None, "系統", batch.store_id, None, "")
    branch_id = creator.branch_id if creator.store_id == batch.store_id else None
    return history.Actor(creator.id, creator.username, batch.store_id, branch_id, "")


def issue_claimed_batch(batch_id: int, attempt: int,
                        on_progress: Callable[[int], None] | None = None, *,
                        actor: history.Actor | None = None) -> list[int]:
    """Write every order of a batch claimed by `attempt`, with its periods and history, and
    finish the batch (succeeded). The new orders' ids, in row order. `on_progress(n)` is told
    how many orders are written so far (the job reports it, and renews the lease). The orders'
    history names `actor`, by default the account that uploaded the batch. Raises
    LeaseLost if the batch was taken back meanwhile, DomainError if it cannot be issued any
    more (the caller rolls back)."""
    batch = db.session.get(InstallmentBatch, batch_id)
    assert batch is not None
    if batch.status is not BatchStatus.ISSUING or batch.attempts != attempt:
        raise jobs.LeaseLost(f"installment batch {batch_id} attempt {attempt}")
    store = db.session.get(Store, batch.store_id)
    assert store is not None
    terms = terms_of(store)
    if terms is None:
        raise DomainError(f"{NO_SETTINGS}（發行未完成）")
    rows = [r for r in batch.rows if not r["errors"]]
    for row in rows:
        if row["values"]["total_amount"] < terms.period_count:
            raise DomainError(f"第 {row['row']} 列的訂單總金額少於合約期數 {terms.period_count} 期，"
                              "發行未完成")
    now = clock.now()
    day = clock.business_day(now)
    refund_url = _refund_notify_url(batch.store_id)
    serial_iter = iter(numbering.new_serials(day, len(rows) * terms.period_count))
    order_no_iter = iter(numbering.new_order_nos(day, len(rows)))
    actor = actor or _actor_of(batch)
    order_ids: list[int] = []
    for chunk in in_chunks(rows, PROGRESS_EVERY):
        ids = _insert_orders(batch, chunk, terms, refund_url, order_no_iter, day, now)
        _insert_periods(batch.store_id, chunk, ids, terms, serial_iter, day, now)
        history.record_many(InstallmentOrder.__tablename__, "issued",
                            ({"subject_id": order_id, "store_id": batch.store_id}
                             for order_id in ids), actor=actor, reason=f"批次 {batch.import_no}")
        order_ids.extend(ids)
        if on_progress is not None:
            on_progress(len(order_ids))
    periods = len(order_ids) * terms.period_count
    _link_unissued(batch.store_id, [r["values"]["merchant_order_no"] for r in rows])
    record_charge(batch.store_id, FeeKind.SERIAL, periods, day=day,
                  reference=f"installment_batch:{batch.id}")
    shared.finish_batch(batch, attempt, status=BatchStatus.SUCCEEDED, issued_count=len(order_ids),
                        order_count=len(order_ids))
    history.record(batch, "issued", from_status="issuing", to_status="succeeded",
                   changes={"orders": [None, len(order_ids)], "periods": [None, periods]})
    return order_ids


def _first_date(values: Mapping[str, Any], terms: Terms, day: date) -> date:
    """The first period's expected date: the row's, or one period after the issue day."""
    given = values.get("first_date")
    return date.fromisoformat(given) if given else default_first_date(day, terms.period_days)


def _insert_orders(batch: InstallmentBatch, rows: list[dict], terms: Terms, refund_url: str,
                   order_no_iter: Any, day: date, now: datetime) -> list[int]:
    values = []
    for row in rows:
        v = row["values"]
        values.append({
            "store_id": batch.store_id, "batch_id": batch.id, "order_no": next(order_no_iter),
            "merchant_order_no": v["merchant_order_no"], "purchaser_name": v["purchaser_name"],
            "purchaser_mobile": v["mobile"], "purchaser_email": v["email"],
            "total_amount": v["total_amount"], "period_count": terms.period_count,
            "period_days": terms.period_days, "first_date": _first_date(v, terms, day),
            "refund_notify_url": refund_url, "source": batch.source, "created_at": now,
            "return_reason": "",
        })
    return list(db.session.scalars(
        insert(InstallmentOrder).returning(InstallmentOrder.id, sort_by_parameter_order=True),
        values))


def _insert_periods(store_id: int, rows: list[dict], order_ids: list[int], terms: Terms,
                    serial_iter: Any, day: date, now: datetime) -> None:
    values = []
    for row, order_id in zip(rows, order_ids, strict=True):
        v = row["values"]
        for number, face_value, expected in rules.periods_of(
                v["total_amount"], terms.period_count, terms.period_days,
                _first_date(v, terms, day)):
            values.append({
                "store_id": store_id, "order_id": order_id, "number": number,
                "serial": next(serial_iter), "face_value": face_value,
                "expected_date": expected, "status": PeriodStatus.UNUSED,
                "status_changed_at": now, "issued_at": now,
            })
    db.session.execute(insert(InstallmentPeriod), values)


def _link_unissued(store_id: int, numbers: list[str]) -> None:
    """A paid order waiting to be issued (8-2 未發行訂單) with one of these merchant order
    numbers is issued now: it points at its order."""
    issued = (select(InstallmentOrder.id)
              .where(InstallmentOrder.store_id == UnissuedOrder.store_id,
                     InstallmentOrder.merchant_order_no == UnissuedOrder.merchant_order_no)
              .scalar_subquery())
    for chunk in in_chunks(numbers):
        db.session.execute(
            update(UnissuedOrder)
            .where(UnissuedOrder.store_id == store_id, UnissuedOrder.merchant_order_no.in_(chunk),
                   UnissuedOrder.issued_order_id.is_(None))
            .values(issued_order_id=issued)
            .execution_options(synchronize_session=False, unscoped=True))


# By API: one order, issued in the request --------------------------------------------------------

def issue_order(actor: Account, store: Store, fields: Mapping[str, Any]) -> InstallmentOrder:
    """Issue one order now from the API's fields (keyed as the template's columns' keys):
    checked by the upload's rules, written by the upload's code, in the caller's transaction.
    A wrong field: InvalidInput with every field's message; a merchant order number already
    used: DomainError `order_no_used` (409)."""
    terms = _terms_or_refuse(actor, store)
    shared.lock_store(store)  # numbers are checked and taken under the lock confirms take
    order_no = text_of(fields.get("merchant_order_no"))
    used = used_order_nos(store.id, [order_no])
    raw = {column.header: fields.get(column.key) for column in rules.COLUMNS}
    checked = rules.check_row(raw, 1, period_count=terms.period_count, used_order_nos=used,
                              today=clock.business_day())
    if not checked.ok:
        errors = {rules.KEY_OF[header]: message for header, message in checked.errors.items()}
        if order_no in used and errors.get("merchant_order_no") == order_no_taken(used[order_no]):
            raise DomainError(errors["merchant_order_no"], code=ORDER_NO_USED,
                              fields={"merchant_order_no": errors["merchant_order_no"]})
        raise InvalidInput(next(iter(errors.values())), fields=errors)
    now = clock.now()
    batch = InstallmentBatch(
        store_id=store.id, import_no=f"{API_IMPORT_PREFIX}{order_no}", source="api",
        rows=[checked.as_dict()], error_count=0, error="", order_count=1,
        status=BatchStatus.ISSUING, attempts=1, started_at=now, lease_until=jobs.lease_end(now),
        created_by_id=actor.id, created_at=now)
    db.session.add(batch)
    db.session.flush()
    [order_id] = issue_claimed_batch(batch.id, 1, actor=history.current_actor())
    order = db.session.get(InstallmentOrder, order_id)
    assert order is not None
    return order
