"""Installment rows for the report, unissued and home tests, written straight to the tables
through the models (no issuing service, no jobs): an installment-mode store with its contract's
redemption settings, orders whose periods are in whatever statuses a test needs, and paid
orders not yet issued."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from app import clock
from app.db import db
from app.installments.models import InstallmentOrder, InstallmentPeriod, UnissuedOrder
from app.installments.status import (
    PeriodGroup,
    PeriodStatus,
    default_first_date,
    expected_dates,
    split_face_values,
    split_fee,
)
from app.stores.models import RedemptionMode, Store
from app.tickets import codes
from tests.factories import make_store

_seq = itertools.count(1)
P = PeriodStatus


def make_installment_store(name: str | None = None, *, periods: int = 3, days: int = 30,
                           parent: Store | None = None, escrow_type: str = "信託") -> Store:
    """A store whose contract is in installment mode (分期核銷), `periods` periods of `days` days."""
    store = make_store(name, parent=parent, mode=RedemptionMode.INSTALLMENT)
    contract = store.contracts[0]
    contract.installment_period_count = periods
    contract.installment_period_days = days
    contract.escrow_type = escrow_type
    db.session.flush()
    return store


def make_installment_order(store: Store, total: int, periods: int | None = None, *,
                           statuses: Sequence[PeriodStatus] | None = None,
                           merchant_order_no: str | None = None, created_at: datetime | None = None,
                           first_date: date | None = None, days: int | None = None,
                           purchaser_name: str = "王小明", purchaser_mobile: str = "0912345678",
                           purchaser_email: str = "buyer@example.com",
                           returned_at: datetime | None = None, return_fee: int | None = None,
                           return_reason: str = "", refunded_at: datetime | None = None,
                           redeemed_at: datetime | None = None) -> InstallmentOrder:
    """An order of `total` split over `periods` (the contract's count by default), its periods
    in `statuses` (all unused by default). Periods in the returned group carry the order's
    return (its time, and `return_fee` split over them); periods in the redeemed group were
    redeemed on their expected date unless `redeemed_at` says when."""
    contract = store.current_contract
    periods = periods or (contract.installment_period_count if contract else None) or 3
    days = days or (contract.installment_period_days if contract else None) or 30
    statuses = list(statuses or [P.UNUSED] * periods)
    assert len(statuses) == periods, "one status per period"
    created_at = created_at or clock.now()
    first_date = first_date or default_first_date(clock.business_day(created_at), days)
    n = next(_seq)
    returning = [i for i, s in enumerate(statuses) if s.group is PeriodGroup.RETURNED]
    if returning and returned_at is None:
        returned_at = created_at
    order = InstallmentOrder(
        store_id=store.id, order_no=codes.new_order_no(clock.business_day(created_at)),
        merchant_order_no=merchant_order_no or f"IO{n:06d}", purchaser_name=purchaser_name,
        purchaser_mobile=purchaser_mobile, purchaser_email=purchaser_email, total_amount=total,
        period_count=periods, period_days=days, first_date=first_date, created_at=created_at,
        returned_at=returned_at if returning else None, return_fee=return_fee if returning else None,
        return_reason=return_reason, refunded_at=refunded_at)
    db.session.add(order)
    db.session.flush()
    values = split_face_values(total, periods)
    shares = dict(zip(returning, split_fee(return_fee or 0, [values[i] for i in returning]),
                      strict=True)) if returning else {}
    for i, (value, expected, status) in enumerate(
            zip(values, expected_dates(first_date, periods, days), statuses, strict=True)):
        redeemed = status.group is PeriodGroup.REDEEMED
        db.session.add(InstallmentPeriod(
            store_id=store.id, order_id=order.id, number=i + 1, serial=f"IP{n:06d}{i + 1:08d}",
            face_value=value, expected_date=expected, status=status, status_changed_at=created_at,
            issued_at=created_at,
            redeemed_at=(redeemed_at or clock.day_start(expected) + timedelta(hours=1))
            if redeemed else None,
            returned_at=returned_at if i in shares else None,
            return_fee=(shares[i] if return_fee is not None else None) if i in shares else None))
    db.session.flush()
    db.session.expire(order, ["periods"])
    return order


def make_unissued_order(store: Store, total: int = 3000, *, merchant_order_no: str | None = None,
                        paid_at: datetime | None = None, **values: object) -> UnissuedOrder:
    """A paid card order not yet issued (未發行訂單), with its cardholder's details."""
    n = next(_seq)
    row = UnissuedOrder(
        store_id=store.id, merchant_order_no=merchant_order_no or f"UN{n:06d}",
        trade_no=f"2611{n:012d}", total_amount=total, purchaser_name="陳小華",
        purchaser_mobile="0987654321", purchaser_email="payer@example.com",
        cardholder_name="CHEN HSIAO HUA", card_first6="431195", card_last4="2222",
        auth_code="777777", paid_at=paid_at or clock.now(), reason="尚未發行")
    for key, value in values.items():
        setattr(row, key, value)
    db.session.add(row)
    db.session.flush()
    return row
