"""An installment order's life on a real database and the simulated bank on loopback: the daily
redemption job, the nightly sync, order return and cancel-return, the refund completing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.models import AccountKind
from app.auth.permissions import Function, Level
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.errors import Forbidden, InvalidInput, NotFound
from app.escrow.jobs import run_sync
from app.escrow.models import LedgerEntry, SyncRunStatus
from app.installments import services
from app.installments.jobs import redeem_due_periods
from app.installments.services import OrderRefused
from app.installments.status import PeriodStatus as P
from app.stores.models import RedemptionMode
from tests.escrow.conftest import BANK_KEY
from tests.escrow.helpers import at, keys_per_entry
from tests.factories import make_account, make_installment_order, make_store, make_sub
from tests.installments.helpers import history, instructions, ledger, reload, statuses

T = clock.taipei_datetime


@pytest.fixture
def world(ctx, bank):  # noqa: ANN001
    at(2026, 7, 1, 9, 0)
    store = make_store(mode=RedemptionMode.INSTALLMENT)
    store.current_contract.payout_delay_days = 7
    owner = make_account(store)
    db.session.commit()
    return store, owner, bank


def slot(y: int, m: int, d: int) -> str:
    return T(y, m, d, 0, 10).isoformat()


def test_periods_are_redeemed_on_their_dates_released_by_the_bank_and_paid_out(world):
    store, owner, bank = world
    order = make_installment_order(store, total=10000, periods=3, days=30, first_date=date(2026, 7, 10))
    db.session.commit()
    p1, p2, p3 = order.periods
    assert [p.face_value for p in order.periods] == [3334, 3333, 3333]

    at(2026, 7, 2, 1, 0)
    assert run_sync(date(2026, 7, 2)).status is SyncRunStatus.DONE
    assert [instructions(p) for p in (p1, p2, p3)] == [
        [("deposit", "acknowledged", v, 0)] for v in (3334, 3333, 3333)]

    at(2026, 7, 9, 0, 10)
    assert redeem_due_periods(slot(2026, 7, 9)) == 0
    at(2026, 7, 10, 0, 10)
    assert redeem_due_periods(slot(2026, 7, 10)) == 1
    assert redeem_due_periods(slot(2026, 7, 10)) == 0  # idempotent
    assert statuses(order) == ["redeeming", "unused", "unused"]

    at(2026, 7, 11, 1, 0)
    run_sync(date(2026, 7, 11))
    assert statuses(order) == ["redeemed", "unused", "unused"]
    assert ledger(p1) == [("deposit", 3334), ("release", 3334), ("payout", 3334)]
    payout_day = db.session.scalar(select(func.max(LedgerEntry.day)).where(LedgerEntry.period_id == p1.id))
    assert payout_day == date(2026, 7, 18)  # released 7/11 + 撥款天期 7 days
    [redeeming] = history(order, "period_redeeming")
    [sent] = history(order, "sent_to_bank")
    [acked] = history(order, "bank_acknowledged")
    assert "第 1 期" in redeeming.reason and p1.serial in redeeming.reason
    assert (acked.from_status, acked.to_status) == ("redeeming", "redeemed") and p1.serial in sent.reason

    # the job was down for two months: it catches up, each period once
    at(2026, 9, 20, 0, 10)
    assert redeem_due_periods(slot(2026, 9, 20)) == 2
    at(2026, 9, 21, 1, 0)
    run_sync(date(2026, 9, 21))
    run_sync(date(2026, 9, 21), force=True)
    order = reload(order)
    assert statuses(order) == ["redeemed"] * 3
    assert order.guarantee_end_label == "核銷完成"
    assert keys_per_entry(bank.entries()) == {
        (p.serial, kind): 1 for p in (p1, p2, p3) for kind in ("deposit", "release")}


def test_return_cancel_and_return_again_then_the_refund_completes(world):
    store, owner, bank = world
    db.session.add(FeeRate(store_id=store.id, kind=FeeKind.RETURN, effective_from=date(2026, 1, 1),
                           amount=20))
    order = make_installment_order(store, total=10000, periods=3, first_date=date(2026, 7, 10))
    db.session.commit()
    p1, p2, p3 = order.periods
    at(2026, 7, 2, 1, 0)
    run_sync(date(2026, 7, 2))
    at(2026, 7, 10, 0, 10)
    redeem_due_periods(slot(2026, 7, 10))
    at(2026, 7, 11, 1, 0)
    run_sync(date(2026, 7, 11))

    at(2026, 7, 11, 10, 0)
    services.return_order(owner, store, order.id, fee=101, reason="課程取消")
    db.session.commit()
    order = reload(order)
    assert statuses(order) == ["redeemed", "return_pending", "return_pending"]
    assert [p.return_fee for p in order.periods[1:]] == [51, 50]
    assert order.return_fee == 101 and order.returned_at is not None

    at(2026, 7, 11, 23, 59)
    services.cancel_return(owner, store, order.id, reason="誤按")
    db.session.commit()
    order = reload(order)
    assert statuses(order) == ["redeemed", "unused", "unused"]
    assert order.returned_at is None and order.return_fee is None
    assert all(p.return_fee is None for p in order.periods)

    at(2026, 7, 12, 9, 0)
    services.return_order(owner, store, order.id, fee=0, reason="課程取消")
    db.session.commit()
    at(2026, 7, 12, 10, 0)
    with pytest.raises(OrderRefused, match="此訂單已退貨"):
        services.return_order(owner, store, order.id, fee=0, reason="again")
    db.session.rollback()
    at(2026, 7, 13, 0, 0)
    with pytest.raises(OrderRefused, match="23:59"):
        services.cancel_return(owner, store, order.id, reason="too late")
    db.session.rollback()

    at(2026, 7, 13, 1, 0)
    run_sync(date(2026, 7, 13))
    order = reload(order)
    assert statuses(order) == ["redeemed", "returned", "returned"]
    assert ledger(p2) == [("deposit", 3333), ("refund", 3333)]
    assert order.refunded_at is not None
    assert len(history(order, "order_refunded")) == 1
    actions = [h.action for h in history(order)]
    assert actions.count("order_returned") == 2 and actions.count("order_return_cancelled") == 1
    assert keys_per_entry(bank.entries())[(p2.serial, "refund")] == 1


def test_a_same_day_issue_and_return_is_refunded_on_issue_day_plus_two(world):
    store, owner, bank = world
    at(2026, 7, 1, 9, 0)
    order = make_installment_order(store, total=900, periods=3, first_date=date(2026, 8, 1))
    db.session.commit()
    at(2026, 7, 1, 20, 0)
    services.return_order(owner, store, order.id, fee=90, reason="不要了")
    db.session.commit()
    at(2026, 7, 2, 1, 0)
    run_sync(date(2026, 7, 2))
    assert statuses(order) == ["return_pending"] * 3  # only the deposits went on 7/2
    at(2026, 7, 3, 1, 0)
    run_sync(date(2026, 7, 3))
    order = reload(order)
    assert statuses(order) == ["returned"] * 3
    assert instructions(order.periods[0])[1] == ("refund", "acknowledged", 270, 30)
    assert ledger(order.periods[0]) == [("deposit", 300), ("refund", 270), ("handling_fee", 30)]


@pytest.mark.parametrize(("first_status", "message"), [
    (P.REDEEMING, "核銷中"), (P.REDEEMED, None)])
def test_a_return_takes_every_unused_period_or_nothing(world, first_status, message):  # noqa: ANN001
    store, owner, _ = world
    order = make_installment_order(store, total=300, periods=3, statuses=[first_status])
    db.session.commit()
    if message:
        with pytest.raises(OrderRefused, match=message):
            services.return_order(owner, store, order.id, fee=0, reason="r")
        db.session.rollback()
        assert statuses(order) == [first_status.value, "unused", "unused"]
    else:
        services.return_order(owner, store, order.id, fee=200, reason="r")
        db.session.commit()
        assert statuses(order) == ["redeemed", "return_pending", "return_pending"]


def test_bad_input_changes_nothing(world):
    store, owner, _ = world
    order = make_installment_order(store, total=300, periods=3)
    db.session.commit()
    with pytest.raises(InvalidInput, match="不可超過未使用金額 300 元"):
        services.return_order(owner, store, order.id, fee=301, reason="r")
    db.session.rollback()
    with pytest.raises(InvalidInput, match="請輸入原因"):
        services.return_order(owner, store, order.id, fee=0, reason="  ")
    db.session.rollback()
    other = make_store(mode=RedemptionMode.INSTALLMENT)
    theirs = make_installment_order(other)
    db.session.commit()
    with pytest.raises(NotFound):
        services.return_order(owner, store, theirs.id, fee=0, reason="r")
    db.session.rollback()
    assert statuses(order) == ["unused"] * 3 and statuses(theirs) == ["unused"] * 3


def test_sub_accounts_need_the_function(world):
    store, _, _ = world
    order = make_installment_order(store)
    clerk = make_sub(store, grants={Function.INSTALLMENT_REPORTS: Level.MODIFY})
    allowed = make_sub(store, grants={Function.INSTALLMENT_ORDER_RETURN: Level.VIEW})
    db.session.commit()
    assert clerk.kind is AccountKind.SUB
    with pytest.raises(Forbidden, match="訂單退貨"):
        services.return_order(clerk, store, order.id, fee=0, reason="r")
    db.session.rollback()
    services.return_order(allowed, store, order.id, fee=0, reason="r")
    db.session.commit()
    with pytest.raises(Forbidden, match="訂單取消退貨"):
        services.cancel_return(allowed, store, order.id, reason="r")
    db.session.rollback()


@pytest.mark.postgres
def test_the_periods_life_on_postgresql(pg_app, simulator):  # noqa: ANN001
    pg_app.config.update(ESCROW_BANK_URL=simulator.url, ESCROW_BANK_KEY=BANK_KEY,
                         ESCROW_BANK_TIMEOUT=5)
    with pg_app.app_context():
        at(2026, 7, 1, 9, 0)
        store = make_store(mode=RedemptionMode.INSTALLMENT)
        owner = make_account(store)
        order = make_installment_order(store, total=1000, periods=3, first_date=date(2026, 7, 5))
        db.session.commit()
        at(2026, 7, 2, 1, 0)
        run_sync(date(2026, 7, 2))
        at(2026, 7, 5, 0, 10)
        assert redeem_due_periods(slot(2026, 7, 5)) == 1
        at(2026, 7, 6, 1, 0)
        run_sync(date(2026, 7, 6))
        at(2026, 7, 6, 9, 0)
        services.return_order(owner, store, order.id, fee=7, reason="r")
        db.session.commit()
        at(2026, 7, 7, 1, 0)
        run_sync(date(2026, 7, 7))
        order = reload(order)
        assert statuses(order) == ["redeemed", "returned", "returned"]
        assert order.refunded_at is not None
        assert [ledger(p) for p in order.periods] == [
            [("deposit", 334), ("release", 334), ("payout", 334)],
            [("deposit", 333), ("refund", 329), ("handling_fee", 4)],
            [("deposit", 333), ("refund", 330), ("handling_fee", 3)]]
        db.session.remove()
    clock.unfreeze()
