"""The AioCheckOut field table (ECPay's AioCheckOut V5), the installment offers, the card fee, the result
fields and the notice schedule: pure rules, tables of cases."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app import clock
from app.checkout import rules
from app.checkout.notices import next_try
from app.ecpay import checkmac

VECTORS = json.loads((Path(__file__).parents[1] / "ecpay" / "vectors.json").read_text("utf-8"))
A10 = VECTORS["A"]["A10"]["params"]


def _form(**changes: str) -> dict[str, str]:
    fields = dict(A10, CheckMacValue="X")
    for name, value in changes.items():
        if value is None:
            fields.pop(name)
        else:
            fields[name] = value
    return fields


def test_the_published_checkout_passes_every_rule() -> None:
    assert rules.format_error(_form()) is None
    assert rules.value_error(_form()) is None


@pytest.mark.parametrize("name", rules.REQUIRED)
def test_a_missing_required_field_is_an_invalid_parameter(name: str) -> None:
    error = rules.format_error(_form(**{name: ""}))
    assert error is not None and (error.code, error.message) == (
        "10000100", f"Invalid parameter: {name}")


@pytest.mark.parametrize(("name", "value"), [
    ("MerchantTradeNo", "ORDER-2026-0001"), ("MerchantTradeNo", "A" * 21),
    ("MerchantTradeNo", "訂單1"), ("MerchantTradeDate", "2025/02/30 12:00:00"),
    ("MerchantTradeDate", "2025-01-01 12:00:00"), ("TotalAmount", "0"), ("TotalAmount", "1.5"),
    ("TotalAmount", "-5"), ("TotalAmount", "０１"), ("TotalAmount", "012"), ("TotalAmount", "1e3"),
    ("TradeDesc", "x" * 201), ("ReturnURL", "ftp://merchant.example/r"),
    ("ReturnURL", "https://" + "a" * 200), ("OrderResultURL", "javascript:alert(1)"),
    ("ClientBackURL", "/relative"), ("StoreID", "A-1"), ("StoreID", "A" * 11),
    ("CustomField1", "x" * 51), ("Remark", "x" * 101), ("EncryptType", "SHA"),
    ("MerchantID", "30026x7"), ("NeedExtraPaidInfo", "YY"), ("CreditInstallment", "3," * 11),
])
def test_format_errors(name: str, value: str) -> None:
    error = rules.format_error(_form(**{name: value}))
    assert error is not None and error.code == "10000100" and name in error.message


@pytest.mark.parametrize(("name", "value"), [
    ("PaymentType", "AIO"), ("ChoosePayment", "ATM"), ("ChoosePayment", "credit"),
    ("EncryptType", "0"), ("EncryptType", "2"), ("NeedExtraPaidInfo", "y"), ("Language", "FRA"),
    ("CreditInstallment", "5"), ("CreditInstallment", "3,30"), ("InvoiceMark", "Y"),
    ("PeriodAmount", "100"), ("PlatformID", "3000000"),
])
def test_unsupported_values(name: str, value: str) -> None:
    assert rules.format_error(_form(**{name: value})) is None
    error = rules.value_error(_form(**{name: value}))
    assert error is not None and error.code == "10000102" and name in error.message


@pytest.mark.parametrize(("value", "ok"), [("1", True), ("1000000", True), ("1000001", False),
                                           ("99999999999999999999", False)])
def test_amount_ceiling(value: str, ok: bool) -> None:
    error = rules.value_error(_form(TotalAmount=value))
    assert (error is None) is ok
    assert ok or error.code == "10200050"


def test_choose_payment_all_and_long_item_names_are_accepted() -> None:
    assert rules.value_error(_form(ChoosePayment="ALL")) is None
    assert rules.format_error(_form(ItemName="品" * 500)) is None


@pytest.mark.parametrize(("amount", "ticket", "offered"), [
    (999, False, ()), (1000, False, (6, 12, 24, 30)), (80800, False, (6, 12, 24, 30)),
    (1000, True, ()), (80800, True, ()),
])
def test_consumer_paid_installments(amount: int, ticket: bool, offered: tuple) -> None:
    assert rules.consumer_installments(amount, ticket_order=ticket) == offered


@pytest.mark.parametrize(("requested", "ticket", "offered"), [
    ("", False, []), ("3,6,12", False, ["3", "6", "12"]), ("30N,3,3", False, ["30N", "3"]),
    ("3,6,12", True, []),
])
def test_merchant_paid_installments(requested: str, ticket: bool, offered: list) -> None:
    assert rules.merchant_installments(requested, ticket_order=ticket) == offered


def test_ticket_orders_are_those_of_stores_with_the_issuance_service() -> None:
    assert rules.is_ticket_order(True) is True
    assert rules.is_ticket_order(False) is False
    assert rules.is_ticket_order(True, installment_mode=True) is False  # 8-2, not 7-2
    assert rules.asks_holder(ticket_order=True, installment_mode=False) is True
    assert rules.asks_holder(ticket_order=False, installment_mode=True) is True
    assert rules.asks_holder(ticket_order=False, installment_mode=False) is False


@pytest.mark.parametrize(("amount", "periods", "split"), [
    (1733, 6, (293, 288)), (1200, 3, (400, 400)), (1200, 0, (1200, 0)), (1000, 30, (43, 33)),
])
def test_period_amounts(amount: int, periods: int, split: tuple) -> None:
    assert rules.period_amounts(amount, periods) == split


@pytest.mark.parametrize(("amount", "fee"), [(1200, 30), (402, 10), (20, 1), (19, 0), (100, 3)])
def test_card_fee(amount: int, fee: int) -> None:
    assert rules.charge_fee(amount) == fee


def test_trade_no_is_the_taipei_time_and_four_digits() -> None:
    no = rules.new_trade_no(clock.taipei_datetime(2025, 1, 1, 12, 1, 5))
    assert len(no) == 16 and no.startswith("250101120105") and no.isdigit()


def _a11_paid() -> rules.Paid:
    return rules.Paid(
        merchant_id="3002607", merchant_trade_no="ectix20250101A001", store_code="",
        custom_fields=("order:42", "", "", ""), trade_no="2501011201051234", amount=1200,
        trade_date=clock.taipei_datetime(2025, 1, 1, 12, 1, 5),
        payment_date=clock.taipei_datetime(2025, 1, 1, 12, 3, 10), charge_fee=30,
        card_first6="431195", card_last4="2222", auth_code="777777", auth_serial="13955622",
        eci="0", periods=0)


def test_our_notice_is_the_published_a11_vector() -> None:
    v = VECTORS["A"]["A11"]
    fields = rules.result_fields(_a11_paid(), extra=False)
    assert fields == v["params"]
    assert checkmac.signed(fields, v["hashKey"], v["hashIV"])["CheckMacValue"] == v["expected"]


def test_extra_paid_info_adds_exactly_the_a3_set() -> None:
    fields = rules.result_fields(_a11_paid(), extra=True)
    assert set(fields) == set(VECTORS["A"]["A3"]["params"])
    assert (fields["card6no"], fields["card4no"], fields["auth_code"], fields["stage"]) == (
        "431195", "2222", "777777", "0")


CREATED = clock.taipei_datetime(2026, 5, 1, 10, 0)


@pytest.mark.parametrize(("failed", "now", "due"), [
    (1, CREATED, CREATED + timedelta(minutes=5)),
    (2, CREATED + timedelta(minutes=5), CREATED + timedelta(minutes=20)),
    (3, CREATED + timedelta(minutes=20), CREATED + timedelta(minutes=50)),
    (4, CREATED + timedelta(minutes=50), clock.taipei_datetime(2026, 5, 2, 9)),
    (5, clock.taipei_datetime(2026, 5, 2, 9), clock.taipei_datetime(2026, 5, 2, 13)),
    (8, clock.taipei_datetime(2026, 5, 2, 21), clock.taipei_datetime(2026, 5, 3, 9)),
    (11, clock.taipei_datetime(2026, 5, 3, 17), clock.taipei_datetime(2026, 5, 3, 21)),
    (12, clock.taipei_datetime(2026, 5, 3, 21), None),
    (6, clock.taipei_datetime(2026, 5, 4, 8), None),
])
def test_notice_schedule(failed: int, now: datetime, due: datetime | None) -> None:
    assert next_try(CREATED, failed, now) == due
