"""Fee rates (費率): the pure rules (percent parsing, dates, periods) and the operator's service:
a past day is refused, a rate in force never changes, a future one may be deleted, one rate per
kind and day."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app import clock
from app.billing import rates, rules
from app.billing.models import FeeKind, FeeRate
from app.billing.services import rate_on
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.history import HistoryEntry
from tests.factories import make_account, make_operator, make_store

TODAY = date(2026, 11, 21)


@pytest.fixture
def frozen():
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10, 0))


# Pure rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "bp"), [
    ("1.5", 150), ("1.50", 150), ("0", 0), ("0.01", 1), ("100", 10_000), ("100.00", 10_000),
    ("2", 200), (" 3.25 ", 325), ("1.5%", 150), ("12.34", 1234), ("0.5", 50),
])
def test_percent_parses_to_basis_points(text, bp):
    assert rules.parse_percent(text) == (bp, None)


@pytest.mark.parametrize(("text", "message"), [
    ("abc", "百分比須為 0 至 100 的數字"),
    ("-1", "百分比須為 0 至 100 的數字"),
    ("101", "百分比須為 0 至 100 的數字"),
    ("100.01", "百分比須為 0 至 100 的數字"),
    ("1.234", "百分比至多到小數點後 2 位"),
    ("1e2", "百分比須為 0 至 100 的數字"),
    ("1..5", "百分比須為 0 至 100 的數字"),
    (".", "百分比須為 0 至 100 的數字"),
    ("NaN", "百分比須為 0 至 100 的數字"),
    ("", "請輸入百分比"),
    (None, "請輸入百分比"),
])
def test_percent_refused(text, message):
    assert rules.parse_percent(text) == (None, message)


@pytest.mark.parametrize(("bp", "text"), [(150, "1.5%"), (100, "1%"), (1, "0.01%"), (105, "1.05%"),
                                          (10_000, "100%"), (0, "0%"), (1234, "12.34%")])
def test_percent_text(bp, text):
    assert rules.percent_text(bp) == text


@pytest.mark.parametrize(("day", "problem"), [
    (date(2026, 11, 20), "生效日不可早於今天：已過日期的費率不可變更"),
    (date(2025, 1, 1), "生效日不可早於今天：已過日期的費率不可變更"),
    (TODAY, None),
    (date(2026, 12, 1), None),
    (None, "請輸入生效日"),
])
def test_effective_day_today_or_later(day, problem):
    assert rules.effective_problem(day, TODAY) == problem


@pytest.mark.parametrize(("day", "locked"), [
    (date(2026, 11, 20), True), (TODAY, True), (date(2026, 11, 22), False)])
def test_a_rate_in_force_is_locked(day, locked):
    assert rules.locked(day, TODAY) is locked


@pytest.mark.parametrize(("amount", "problem"), [
    (0, None), (5, None), (1_000_000, None), (-1, "固定金額不可小於 0"),
    (1_000_001, "固定金額至多 1,000,000 元"), (None, "請輸入固定金額")])
def test_amount(amount, problem):
    assert rules.amount_problem(amount) == problem


def test_periods_from_each_day_until_the_next():
    r = [SimpleNamespace(id=3, effective_from=date(2026, 12, 1)),
         SimpleNamespace(id=1, effective_from=date(2026, 1, 1)),
         SimpleNamespace(id=2, effective_from=date(2026, 11, 15))]
    found = rules.periods(r, TODAY)
    assert [(p.rate.id, p.until, p.current, p.future) for p in found] == [
        (1, date(2026, 11, 14), False, False),
        (2, date(2026, 11, 30), True, False),
        (3, None, False, True),
    ]
    assert rules.periods([], TODAY) == []


# The service -------------------------------------------------------------------------------------

def _count() -> int:
    return db.session.scalar(select(func.count(FeeRate.id)).execution_options(unscoped=True))


def test_add_rates_fixed_and_percent_with_history(ctx, frozen):
    store, op = make_store(), make_operator()
    fixed = rates.add_rate(op, store, kind="sms", effective_from=TODAY, amount=2)
    percent = rates.add_rate(op, store, kind="return", effective_from=date(2026, 12, 1),
                             percent="1.5")
    db.session.commit()
    assert (fixed.kind, fixed.amount, fixed.percent_bp) == (FeeKind.SMS, 2, None)
    assert (percent.kind, percent.amount, percent.percent_bp) == (FeeKind.RETURN, 0, 150)
    assert rate_on(store.id, FeeKind.SMS, TODAY).id == fixed.id
    assert rate_on(store.id, FeeKind.RETURN, TODAY) is None
    assert rate_on(store.id, FeeKind.RETURN, date(2026, 12, 1)).id == percent.id
    entries = rates.rate_history(store.id)
    assert [e.action for e in entries] == ["rate_added", "rate_added"]
    assert entries[0].changes == {"fee_kind": [None, "退貨作業費"],
                                  "effective_from": [None, "2026-12-01"], "rate": [None, "1.5%"]}
    by_kind = {k.kind: k for k in rates.rates_of(store.id)}
    assert by_kind[FeeKind.SMS].current.rate.id == fixed.id
    assert by_kind[FeeKind.RETURN].current is None
    assert [p.future for p in by_kind[FeeKind.RETURN].periods] == [True]
    assert [k.kind for k in rates.rates_of(store.id)] == [FeeKind.RETURN, FeeKind.SMS,
                                                           FeeKind.PAPER_PRINT, FeeKind.SERIAL]


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"kind": "sms", "effective_from": date(2026, 11, 20), "amount": 2}, "effective_from",
     "生效日不可早於今天：已過日期的費率不可變更"),
    ({"kind": "sms", "effective_from": None, "amount": 2}, "effective_from", "請輸入生效日"),
    ({"kind": "nope", "effective_from": TODAY, "amount": 2}, "kind", "請選擇費用項目"),
    ({"kind": "sms", "effective_from": TODAY, "amount": -1}, "amount", "固定金額不可小於 0"),
    ({"kind": "sms", "effective_from": TODAY}, "amount", "請輸入固定金額"),
    ({"kind": "sms", "effective_from": TODAY, "percent": "1"}, "percent", "僅退貨作業費可設定百分比"),
    ({"kind": "return", "effective_from": TODAY, "percent": "abc"}, "percent",
     "百分比須為 0 至 100 的數字"),
    ({"kind": "return", "effective_from": TODAY, "percent": "-1"}, "percent",
     "百分比須為 0 至 100 的數字"),
    ({"kind": "return", "effective_from": TODAY, "percent": "101"}, "percent",
     "百分比須為 0 至 100 的數字"),
    ({"kind": "return", "effective_from": TODAY, "percent": "1.234"}, "percent",
     "百分比至多到小數點後 2 位"),
    ({"kind": "return", "effective_from": TODAY, "percent": "1", "amount": 3}, "percent",
     "固定金額與百分比請擇一填寫"),
])
def test_add_refused(ctx, frozen, fields, field, message):
    store, op = make_store(), make_operator()
    with pytest.raises(InvalidInput) as refused:
        rates.add_rate(op, store, **fields)
    assert refused.value.fields[field] == message
    assert _count() == 0


def test_duplicate_kind_and_day_refused_other_kind_or_day_fine(ctx, frozen):
    store, other, op = make_store(), make_store(), make_operator()
    rates.add_rate(op, store, kind="serial", effective_from=date(2026, 12, 1), amount=1)
    with pytest.raises(InvalidInput) as refused:
        rates.add_rate(op, store, kind="serial", effective_from=date(2026, 12, 1), amount=2)
    assert refused.value.message == ("序號處理費於 2026/12/01 已有費率；"
                                     "如需更換，請先刪除該筆尚未生效的費率再新增")
    rates.add_rate(op, store, kind="sms", effective_from=date(2026, 12, 1), amount=2)
    rates.add_rate(op, store, kind="serial", effective_from=date(2026, 12, 2), amount=2)
    rates.add_rate(op, other, kind="serial", effective_from=date(2026, 12, 1), amount=2)
    assert _count() == 4


def test_future_rate_deleted_then_replaced(ctx, frozen):
    store, op = make_store(), make_operator()
    rate = rates.add_rate(op, store, kind="paper_print", effective_from=date(2026, 12, 1), amount=3)
    db.session.commit()
    rates.delete_rate(op, store, rate.id)
    db.session.commit()
    assert _count() == 0
    replaced = rates.add_rate(op, store, kind="paper_print", effective_from=date(2026, 12, 1),
                              amount=4)
    db.session.commit()
    assert replaced.amount == 4
    actions = [e.action for e in rates.rate_history(store.id)]
    assert actions == ["rate_added", "rate_deleted", "rate_added"]
    deleted = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "rate_deleted"))
    assert deleted.changes["rate"] == ["NT$3", None] and deleted.store_id == store.id


@pytest.mark.parametrize("day", [date(2026, 11, 21), date(2026, 12, 1)])
def test_a_rate_in_force_is_never_deleted(ctx, frozen, day):
    store, op = make_store(), make_operator()
    rate = rates.add_rate(op, store, kind="return", effective_from=day, amount=10)
    db.session.commit()
    clock.freeze(clock.taipei_datetime(day.year, day.month, day.day, 9, 0))  # its day has come
    with pytest.raises(DomainError) as refused:
        rates.delete_rate(op, store, rate.id)
    assert refused.value.message.startswith("此費率已生效，不可修改或刪除")
    db.session.rollback()
    assert _count() == 1


def test_another_stores_rate_is_not_found(ctx, frozen):
    store, other, op = make_store(), make_store(), make_operator()
    rate = rates.add_rate(op, other, kind="sms", effective_from=date(2026, 12, 1), amount=1)
    with pytest.raises(NotFound):
        rates.delete_rate(op, store, rate.id)


def test_only_an_operator_sets_rates(ctx, frozen):
    store = make_store()
    merchant = make_account(store)
    with pytest.raises(Forbidden):
        rates.add_rate(merchant, store, kind="sms", effective_from=TODAY, amount=1)
    op = make_operator()
    rate = rates.add_rate(op, store, kind="sms", effective_from=date(2026, 12, 1), amount=1)
    with pytest.raises(Forbidden):
        rates.delete_rate(merchant, store, rate.id)


def test_basis_by_contract_mode():
    from app.stores.models import RedemptionMode as M

    assert rates.basis_label(FeeKind.RETURN, M.INSTALLMENT, False) == "每筆退貨訂單"
    assert rates.basis_label(FeeKind.RETURN, M.INSTALLMENT, True) == "訂單退貨金額之百分比"
    assert rates.basis_label(FeeKind.RETURN, M.REDEEM_AFTER_USE, False) == "每張退貨票券"
    assert rates.basis_label(FeeKind.RETURN, M.REDEEM_AFTER_USE, True) == "票券面額之百分比"
    assert rates.basis_label(FeeKind.SMS, None, False) == "每則簡訊"
