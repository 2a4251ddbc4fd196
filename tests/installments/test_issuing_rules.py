"""The rows of an installment-order batch: every cell's rule and message, in tables (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from app.installments.issuing_rules import (
    COLUMNS,
    HEADER_OF,
    HEADERS,
    MAX_ORDERS_PER_BATCH,
    TOTAL_MAX,
    check_row,
    check_rows,
    order_nos,
    periods_of,
)
from app.issuance.columns import Format

TODAY = date(2026, 11, 21)
GOOD = {"廠商訂單編號": "ORD001", "訂單總金額": 12000, "購買人姓名": "王小明", "手機": "0912345678",
        "Email": "buyer@example.com", "首期預計核銷日": None}


def checked(period_count: int = 12, used: dict | None = None, **cells: object):
    raw = {**GOOD, **{HEADER_OF[k]: v for k, v in cells.items()}}
    return check_row(raw, 1, period_count=period_count, used_order_nos=used or {}, today=TODAY)


def test_the_template_columns_in_their_order():
    assert HEADERS == ["廠商訂單編號", "訂單總金額", "購買人姓名", "手機", "Email", "首期預計核銷日"]
    assert [c.key for c in COLUMNS] == ["merchant_order_no", "total_amount", "purchaser_name",
                                        "mobile", "email", "first_date"]
    assert {c.key for c in COLUMNS if c.always_required} == {"merchant_order_no", "total_amount",
                                                             "purchaser_name"}
    assert {c.key: c.format for c in COLUMNS}["first_date"] is Format.DATE


def test_a_good_row_has_its_values_normalised():
    row = checked(mobile="+886 912-345-678", email="Buyer@Example.com", first_date="2026/12/01",
                  total_amount=12000.0, purchaser_name="  王小明 ")
    assert row.ok
    assert row.values == {"merchant_order_no": "ORD001", "total_amount": 12000,
                          "purchaser_name": "王小明", "mobile": "0912345678",
                          "email": "Buyer@example.com", "first_date": "2026-12-01"}


@pytest.mark.parametrize(("cells", "key", "message"), [
    ({"merchant_order_no": None}, "merchant_order_no", "請填寫廠商訂單編號"),
    ({"merchant_order_no": "SAMPLE0001"}, "merchant_order_no", "範例資料列，請刪除後再上傳"),
    ({"merchant_order_no": "ORD-001"}, "merchant_order_no", "廠商訂單編號限英數字，最多 25 字"),
    ({"merchant_order_no": "A" * 26}, "merchant_order_no", "廠商訂單編號限英數字，最多 25 字"),
    ({"merchant_order_no": "訂單1"}, "merchant_order_no", "廠商訂單編號限英數字，最多 25 字"),
    ({"merchant_order_no": "ORD\x00"}, "merchant_order_no", "廠商訂單編號限英數字，最多 25 字"),
    ({"total_amount": None}, "total_amount", "請填寫訂單總金額"),
    ({"total_amount": "十二"}, "total_amount", "訂單總金額須為正整數（新台幣元）"),
    ({"total_amount": "１２０００"}, "total_amount", "訂單總金額須為正整數（新台幣元）"),
    ({"total_amount": 1200.5}, "total_amount", "訂單總金額須為正整數（新台幣元）"),
    ({"total_amount": -1200}, "total_amount", "訂單總金額須為正整數（新台幣元）"),
    ({"total_amount": "1,200"}, "total_amount", "訂單總金額須為正整數（新台幣元）"),
    ({"total_amount": 11}, "total_amount", "訂單總金額須至少 12 元（共 12 期，每期至少 1 元）"),
    ({"total_amount": 0}, "total_amount", "訂單總金額須至少 12 元（共 12 期，每期至少 1 元）"),
    ({"total_amount": TOTAL_MAX + 1}, "total_amount", "訂單總金額最多 10,000,000 元"),
    ({"total_amount": 10**30}, "total_amount", "訂單總金額最多 10,000,000 元"),
    ({"purchaser_name": None}, "purchaser_name", "請填寫購買人姓名"),
    ({"purchaser_name": "   "}, "purchaser_name", "請填寫購買人姓名"),
    ({"purchaser_name": "王" * 51}, "purchaser_name", "購買人姓名最多 50 字"),
    ({"purchaser_name": "王\x00明"}, "purchaser_name", "含有不允許的控制字元"),
    ({"mobile": "0212345678"}, "mobile", "手機格式錯誤，須為 09 開頭的 10 碼數字"),
    ({"mobile": "09123\x005678"}, "mobile", "手機格式錯誤，須為 09 開頭的 10 碼數字"),
    ({"mobile": None, "email": None}, "mobile", "請填寫手機或 Email（至少一項）"),
    ({"email": "not-an-email"}, "email", "Email 格式錯誤"),
    ({"email": "a@b.com; c@d.com"}, "email", "Email 格式錯誤"),
    ({"first_date": "2026/13/01"}, "first_date", "日期格式錯誤，請填寫 yyyy/mm/dd"),
    ({"first_date": "明天"}, "first_date", "日期格式錯誤，請填寫 yyyy/mm/dd"),
    ({"first_date": "2026/11/21"}, "first_date", "首期預計核銷日須晚於今天"),
    ({"first_date": date(2026, 11, 20)}, "first_date", "首期預計核銷日須晚於今天"),
    ({"first_date": "2027/11/22"}, "first_date", "首期預計核銷日須在一年內（2027/11/21 以前）"),
])
def test_a_wrong_cell_says_why(cells, key, message):
    row = checked(**cells)
    assert row.errors == {HEADER_OF[key]: message}


@pytest.mark.parametrize(("cells", "values"), [
    ({"mobile": None}, {"mobile": "", "email": "buyer@example.com"}),
    ({"email": None}, {"mobile": "0912345678", "email": ""}),
    ({"mobile": 912345678}, {"mobile": "0912345678"}),  # a number cell lost its 0
    ({"total_amount": 12}, {"total_amount": 12}),  # one dollar a period
    ({"total_amount": "12000"}, {"total_amount": 12000}),
    ({"total_amount": TOTAL_MAX}, {"total_amount": TOTAL_MAX}),
    ({"first_date": "2026-11-22"}, {"first_date": "2026-11-22"}),
    ({"first_date": date(2027, 11, 21)}, {"first_date": "2027-11-21"}),  # a date cell, a year on
    ({"first_date": ""}, {"first_date": None}),
])
def test_what_is_accepted(cells, values):
    row = checked(**cells)
    assert row.ok, row.errors
    assert {k: row.values[k] for k in values} == values


def test_the_period_count_sets_the_smallest_total():
    assert checked(period_count=1, total_amount=1).ok
    assert not checked(period_count=60, total_amount=59).ok
    assert checked(period_count=60, total_amount=60).ok


def test_a_number_taken_by_another_batch_names_its_import_number():
    row = checked(used={"ORD001": "IMP777"})
    assert row.errors == {"廠商訂單編號": "廠商訂單編號已使用於匯入單號 IMP777"}


def rows(*numbers: str) -> list[dict]:
    return [{**GOOD, "廠商訂單編號": n, "_row": i + 2} for i, n in enumerate(numbers)]


def test_a_number_twice_in_one_batch_is_wrong_on_each_row():
    checked_rows, batch_errors = check_rows(rows("A1", "B2", "A1", "A1"), period_count=12,
                                            used_order_nos={}, today=TODAY)
    assert batch_errors == []
    assert [r.errors for r in checked_rows] == [
        {"廠商訂單編號": "廠商訂單編號在此批次中重複（第 2、4、5 列）"}, {},
        {"廠商訂單編號": "廠商訂單編號在此批次中重複（第 2、4、5 列）"},
        {"廠商訂單編號": "廠商訂單編號在此批次中重複（第 2、4、5 列）"}]


def test_a_taken_number_twice_says_taken_not_twice():
    checked_rows, _ = check_rows(rows("A1", "A1"), period_count=12, used_order_nos={"A1": "OLD"},
                                 today=TODAY)
    assert [r.errors for r in checked_rows] == [{"廠商訂單編號": "廠商訂單編號已使用於匯入單號 OLD"}] * 2


def test_batch_errors_for_no_rows_and_too_many():
    assert check_rows([], period_count=12, used_order_nos={}, today=TODAY)[1] == ["檔案中沒有發行資料"]
    many = rows(*(f"N{i}" for i in range(MAX_ORDERS_PER_BATCH + 1)))
    assert check_rows(many, period_count=12, used_order_nos={}, today=TODAY)[1] == [
        "每次發行上限為 1000 筆訂單（此批共 1001 筆）"]
    assert check_rows(many[:-1], period_count=12, used_order_nos={}, today=TODAY)[1] == []


def test_rows_keep_what_was_typed_and_their_excel_row():
    [row], _ = check_rows([{**GOOD, "訂單總金額": "abc", "首期預計核銷日": date(2027, 1, 2),
                            "_row": 7}], period_count=12, used_order_nos={}, today=TODAY)
    assert row.row == 7
    assert row.typed["訂單總金額"] == "abc" and row.typed["首期預計核銷日"] == "2027/01/02"
    assert row.as_dict()["errors"] == {"訂單總金額": "訂單總金額須為正整數（新台幣元）"}


def test_order_numbers_of_uploaded_rows():
    assert order_nos(rows("A1", " B2 ", "")) == {"A1", "B2"}


@pytest.mark.parametrize(("total", "count", "days", "first", "expected"), [
    (12000, 12, 30, date(2027, 1, 1),
     [(n, 1000, date(2027, 1, 1).fromordinal(date(2027, 1, 1).toordinal() + 30 * (n - 1)))
      for n in range(1, 13)]),
    (1000, 3, 7, date(2026, 12, 1),
     [(1, 334, date(2026, 12, 1)), (2, 333, date(2026, 12, 8)), (3, 333, date(2026, 12, 15))]),
    (5, 5, 1, date(2026, 11, 22), [(n, 1, date(2026, 11, 21 + n)) for n in range(1, 6)]),
    (7, 1, 30, date(2026, 11, 22), [(1, 7, date(2026, 11, 22))]),
])
def test_periods_split_the_total_with_the_remainder_first(total, count, days, first, expected):
    periods = periods_of(total, count, days, first)
    assert periods == expected
    assert sum(value for _, value, _ in periods) == total
