"""The demo billing (`make run`): three months of bills for `issuer` and `installment` with real
numbers, one unpaid, made once however often the demo loads."""

from __future__ import annotations

from sqlalchemy import func, select

from app.billing.models import Charge, FeeKind
from app.bills import services
from app.bills.models import Bill, BillLine, BillStatus, Payment, ReturnFeeLine
from app.db import db
from app.stores.models import Store
from demodata.stores import load_demo


def _store(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.merchant_code == code))
    assert store is not None
    return store


def _statuses(store: Store) -> list[BillStatus]:
    standing = services.standing_of(store.id)
    return [services.status_of(b, standing) for b in services.bills_of(store.id)]


def test_three_months_of_bills_one_unpaid_loaded_once(app, ctx):
    load_demo()
    db.session.commit()
    load_demo()  # idempotent
    db.session.commit()
    issuer, installment = _store("3002607"), _store("3002611")

    issuer_bills = services.bills_of(issuer.id)
    assert len(issuer_bills) == 3
    assert all(b.amount > 0 for b in issuer_bills)
    assert _statuses(issuer) == [BillStatus.PAID, BillStatus.PAID, BillStatus.UNPAID]
    standing = services.standing_of(issuer.id)
    assert standing.due == issuer_bills[-1].amount > 0
    kinds = {line.kind for b in issuer_bills for line in b.lines}
    assert kinds == {FeeKind.RETURN, FeeKind.SMS, FeeKind.PAPER_PRINT, FeeKind.SERIAL}
    # last month's return fee changed to a percentage on the 15th: two lines
    returns = [line for line in issuer_bills[-1].lines if line.kind is FeeKind.RETURN]
    assert {(line.unit_amount, line.percent_bp) for line in returns} == {(5, None), (None, 150)}
    assert [line.first_day.day for line in sorted(returns, key=lambda r: r.first_day)][1] >= 15

    installment_bills = services.bills_of(installment.id)
    assert len(installment_bills) == 3
    assert _statuses(installment) == [BillStatus.PAID, BillStatus.PAID, BillStatus.UNPAID]
    assert 0 < services.standing_of(installment.id).due < installment_bills[-1].amount
    assert {line.kind for b in installment_bills for line in b.lines} == {FeeKind.RETURN,
                                                                         FeeKind.SERIAL}

    # each bill is its month's charges, once
    for bill in issuer_bills + installment_bills:
        assert bill.amount == sum(line.amount for line in bill.lines)
    assert db.session.scalar(select(func.count()).select_from(Bill)
                             .where(Bill.store_id == issuer.id)) == 3
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 5
    # the demo's real returns were settled: exact lines behind the daily return charges
    assert db.session.scalar(select(func.count()).select_from(ReturnFeeLine)) > 0
    assert db.session.scalar(select(func.count()).select_from(BillLine)) > 0
    assert db.session.scalar(select(func.sum(Charge.amount)).where(Charge.store_id == issuer.id)) > 0
