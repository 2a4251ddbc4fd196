"""The sample shop's pure rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.demo_shop import rules
from app.ecpay import checkmac

AT = datetime(2026, 11, 21, 6, 5, 9, tzinfo=UTC)  # 14:05:09 in Taipei
COFFEE = rules.Item("咖啡兌換券", 150)


def test_item_name_is_the_product_name_x_the_quantity():
    assert rules.item_name(COFFEE, 3) == "咖啡兌換券 x 3"


def test_the_order_number_is_demo_the_taipei_time_and_four_digits():
    assert rules.trade_no(AT, 7) == "DEMO2611211405090007"
    number = rules.trade_no(AT)
    assert len(number) == 20 and re.fullmatch(r"DEMO261121140509\d{4}", number)


def test_the_checkout_form_charges_price_times_quantity_in_taipei_time():
    fields = rules.checkout_fields(
        merchant_id="3002607", at=AT, item=COFFEE, quantity=4, number="DEMO1",
        return_url="http://127.0.0.1:5000/sample-shop/notify",
        result_url="http://127.0.0.1:5000/sample-shop/result",
        buyer_name="王小明", buyer_email="ming@example.com")
    assert (fields["TotalAmount"], fields["ItemName"], fields["MerchantTradeDate"]) == (
        "600", "咖啡兌換券 x 4", "2026/11/21 14:05:09")
    assert (fields["PaymentType"], fields["ChoosePayment"], fields["EncryptType"]) == (
        "aio", "Credit", "1")
    signed = checkmac.signed(fields, rules.STAGE_HASH_KEY, rules.STAGE_HASH_IV)
    assert checkmac.verify(signed, rules.STAGE_HASH_KEY, rules.STAGE_HASH_IV)


def test_the_default_items_are_read():
    assert rules.items_of(rules.DEFAULT_ITEMS)[0] == rules.Item("咖啡兌換券", 150)


@pytest.mark.parametrize("items", [
    [], [("", 100)], [("A#B", 100)], [("咖啡", 0)], [("咖啡", "100")], [("咖啡", True)],
    [("咖啡", 100, 1)],
])
def test_a_malformed_item_list_is_refused(items):
    with pytest.raises(ValueError) as refused:
        rules.items_of(items)
    assert str(refused.value).startswith("DEMO_SHOP_ITEMS")


@pytest.mark.parametrize(("value", "problem"), [
    ("ming@example.com", False), ("ming@example", True), ("ming", True), ("a b@c.d", True),
])
def test_email(value, problem):
    assert (rules.email_problem(value) is not None) is problem


def test_a_result_succeeded_on_rtncode_1_only():
    assert rules.succeeded({"RtnCode": "1"}) and not rules.succeeded({"RtnCode": "10100058"})
