"""The dashboard's pure rules: the measure toggle, the 90-day window, daily series, fee words."""

from __future__ import annotations

from datetime import date

import pytest

from app.billing.models import FeeKind, FeeRate
from app.home import rules
from app.home.dashboard import fee_text, money_axis, shown
from app.home.rules import Figure, Measure, OrderFigure


@pytest.mark.parametrize(("value", "measure"), [
    ("amount", Measure.AMOUNT), ("count", Measure.COUNT), (" count ", Measure.COUNT),
    ("", Measure.AMOUNT), (None, Measure.AMOUNT), ("COUNT", Measure.AMOUNT), ("<x>", Measure.AMOUNT),
])
def test_parse_measure(value, measure):
    assert rules.parse_measure(value) is measure


def test_figures_by_measure():
    assert Figure(3, 450).of(Measure.AMOUNT) == 450 and Figure(3, 450).of(Measure.COUNT) == 3
    assert OrderFigure(2, 7, 840).of(Measure.COUNT) == 2 and OrderFigure(2, 7, 840).of(Measure.AMOUNT) == 840


@pytest.mark.parametrize(("today", "since"), [
    (date(2026, 11, 21), date(2026, 8, 24)),
    (date(2026, 3, 1), date(2025, 12, 2)),
    (date(2024, 3, 1), date(2023, 12, 3)),  # a leap February
])
def test_the_90_days_include_today(today, since):
    assert rules.status_since(today) == since
    assert len(rules.days(since, today)) == 90


def test_daily_fills_the_days_without_orders():
    series = rules.daily(date(2026, 10, 30), date(2026, 11, 2),
                         {date(2026, 11, 1): OrderFigure(2, 7, 840)})
    assert series == [(date(2026, 10, 30), OrderFigure()), (date(2026, 10, 31), OrderFigure()),
                      (date(2026, 11, 1), OrderFigure(2, 7, 840)), (date(2026, 11, 2), OrderFigure())]
    assert rules.total(series) == OrderFigure(2, 7, 840)
    assert rules.daily(date(2026, 11, 2), date(2026, 11, 2), {}) == [(date(2026, 11, 2), OrderFigure())]


@pytest.mark.parametrize(("kind", "amount", "percent_bp", "mode", "text"), [
    (FeeKind.RETURN, 10, None, "redeem_after_use", "NT$10／張"),
    (FeeKind.RETURN, 0, 150, "redeem_after_use", "面額的 1.5%"),
    (FeeKind.RETURN, 0, 200, "installment", "退貨金額的 2%"),
    (FeeKind.RETURN, 30, None, "installment", "NT$30／筆訂單"),
    (FeeKind.SMS, 1, None, "redeem_after_use", "NT$1／則"),
    (FeeKind.PAPER_PRINT, 5, None, "redeem_after_use", "NT$5／張"),
    (FeeKind.SERIAL, 2, None, "installment", "NT$2／個序號"),
    (FeeKind.RETURN, 0, 5, "redeem_after_use", "面額的 0.05%"),
])
def test_fee_text(kind, amount, percent_bp, mode, text):
    rate = FeeRate(kind=kind, amount=amount, percent_bp=percent_bp, effective_from=date(2026, 1, 1))
    assert fee_text(kind, rate, mode) == text


def test_fee_text_without_a_rate():
    assert fee_text(FeeKind.SMS, None, "redeem_after_use") == "未設定"


@pytest.mark.parametrize(("value", "measure", "text"), [
    (1200, Measure.AMOUNT, "NT$1,200"), (0, Measure.AMOUNT, "NT$0"), (1200, Measure.COUNT, "1,200 張"),
])
def test_values_as_people_read_them(value, measure, text):
    assert shown(value, measure, "張") == text


@pytest.mark.parametrize(("value", "text"), [(0, "0"), (500, "NT$500"), (150_000, "NT$15萬")])
def test_money_axis(value, text):
    assert money_axis(value) == text
