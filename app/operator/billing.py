"""The operator's cross-store view of bills and payments (帳單與繳費): who owes what.

Each store's standing is the one rule of `app.bills.rules.standing` (payments settle the oldest
bills first; what is due is every bill minus every payment), read here for many stores at once:
their bills in one query and their payments' totals in another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from math import ceil
from typing import Any

from sqlalchemy import func, or_, select

from app.bills import rules as bill_rules
from app.bills.models import Bill, BillStatus, Payment
from app.db import db
from app.errors import InvalidInput
from app.stores.models import Store

STATUS_FILTERS = {"": "全部", BillStatus.UNPAID.value: BillStatus.UNPAID.label,
                  BillStatus.PAID.value: BillStatus.PAID.label}


@dataclass(frozen=True)
class StoreStanding:
    """One row: a store, the bill shown (its latest, or the month asked) and where it stands."""

    store: Store
    month: date | None  # the bill shown
    amount: int | None
    status: BillStatus | None  # the shown bill's status
    billed: int  # every bill
    paid: int  # every payment
    due: int  # 應繳金額
    credit: int  # payments beyond every bill


def parse_month(text: str | None) -> date | None:
    """"2026-10" (an <input type=month>, or 2026/10) → 2026-10-01; "" → None."""
    value = (text or "").strip().replace("/", "-")
    if not value:
        return None
    year, _, month = value.partition("-")
    if not (year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= int(month) <= 12):
        raise InvalidInput("帳單月份格式不正確（YYYY-MM）")
    return date(int(year), int(month), 1)


def standings(*, month: date | None = None, status: str = "", code: str = "") -> list[StoreStanding]:
    """Every store with a bill or a payment (a `month`: with that month's bill), by merchant
    code; `status` keeps the rows whose shown bill is paid / unpaid; `code` a part of the
    merchant code or name."""
    stmt = (select(Store)
            .where(or_(Store.id.in_(select(Bill.store_id)), Store.id.in_(select(Payment.store_id))))
            .order_by(Store.merchant_code))
    if month is not None:
        stmt = stmt.where(Store.id.in_(select(Bill.store_id).where(Bill.month == month)))
    if code:
        stmt = stmt.where(or_(Store.merchant_code.icontains(code, autoescape=True),
                              Store.name.icontains(code, autoescape=True)))
    stores = list(db.session.scalars(stmt))
    ids = [s.id for s in stores]
    if not ids:
        return []
    bills: dict[int, list[tuple[int, date, int]]] = defaultdict(list)
    for store_id, bill_id, bill_month, amount in db.session.execute(
            select(Bill.store_id, Bill.id, Bill.month, Bill.amount)
            .where(Bill.store_id.in_(ids)).order_by(Bill.store_id, Bill.month, Bill.id)):
        bills[store_id].append((bill_id, bill_month, amount))
    paid = dict(db.session.execute(
        select(Payment.store_id, func.sum(Payment.amount)).where(Payment.store_id.in_(ids))
        .group_by(Payment.store_id)).all())
    rows = []
    for store in stores:
        own = bills[store.id]
        paid_total = int(paid.get(store.id) or 0)
        standing = bill_rules.standing([(b[0], b[2]) for b in own], paid_total)
        shown = next((b for b in own if b[1] == month), None) if month else (own[-1] if own else None)
        bill_status = None
        if shown is not None:
            bill_status = BillStatus.PAID if standing.paid.get(shown[0]) else BillStatus.UNPAID
        if status and (bill_status is None or bill_status.value != status):
            continue
        rows.append(StoreStanding(
            store=store, month=shown[1] if shown else None, amount=shown[2] if shown else None,
            status=bill_status, billed=sum(b[2] for b in own), paid=paid_total,
            due=standing.due, credit=standing.credit))
    return rows


@dataclass
class ListPage:
    """A page of rows already in memory, shaped as the pagination macro reads it."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(ceil(self.total / self.per_page), 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def page_of(rows: list[Any], page: int, per_page: int) -> ListPage:
    total = len(rows)
    page = min(max(page, 1), max(ceil(total / per_page), 1))
    return ListPage(rows[(page - 1) * per_page: page * per_page], page, per_page, total)
