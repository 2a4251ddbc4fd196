"""The row checks of the issuance preview (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from app.issuance.rules import ProductFacts, check_rows, count_orders, mark_taken
from app.phones import normalise_mobile

TODAY = date(2026, 11, 22)
PRODUCTS = {
    1: ProductFacts(1, "提貨券A", "pickup", True, date(2027, 12, 31), 500),
    2: ProductFacts(2, "贈品券B", "gift", True, date(2027, 6, 30), 100),
    3: ProductFacts(3, "下架商品", "pickup", False, date(2027, 12, 31), 300),
    4: ProductFacts(4, "過期贈品", "gift", True, date(2026, 11, 21), 50),
}


def row(**over):
    base = {"商品編號": 1, "數量": 2, "廠商訂單編號": "A001", "購買人姓名": "王小明",
            "手機": "0912345678", "Email": "buyer@example.com", "使用起始日": None, "_row": 2}
    base.update(over)
    return base


def check(rows, method="electronic:immediate", kind="pickup", used=None):
    return check_rows(rows, method=method, kind=kind, products=PRODUCTS,
                      used_order_nos=used or {}, today=TODAY)


def test_a_good_row_is_normalised():
    checked, errors = check([row(手機="+886 912-345-678")])
    assert errors == [] and checked[0].ok
    assert checked[0].values == {"product_id": 1, "quantity": 2, "merchant_order_no": "A001",
                                 "purchaser_name": "王小明", "mobile": "0912345678",
                                 "email": "buyer@example.com", "valid_from": None}


@pytest.mark.parametrize(("over", "method", "kind", "column", "message"), [
    ({"商品編號": 99}, "electronic:immediate", "pickup", "商品編號", "查無此商品編號"),
    ({"商品編號": "abc"}, "electronic:immediate", "pickup", "商品編號", "查無此商品編號"),
    ({"商品編號": None}, "electronic:immediate", "pickup", "商品編號", "請填寫商品編號"),
    ({"商品編號": 3}, "electronic:immediate", "pickup", "商品編號", "商品已下架，無法發行"),
    ({"商品編號": 2}, "electronic:immediate", "pickup", "商品編號", "此商品不是提貨券，與選擇的票券類型不符"),
    ({"商品編號": 4}, "electronic:immediate", "gift", "商品編號", "商品的使用期限已過，無法發行"),
    ({"數量": 0}, "electronic:immediate", "pickup", "數量", "數量須為 1 到 1000 的整數"),
    ({"數量": 1001}, "electronic:immediate", "pickup", "數量", "數量須為 1 到 1000 的整數"),
    ({"數量": "2.5"}, "electronic:immediate", "pickup", "數量", "數量須為 1 到 1000 的整數"),
    ({"廠商訂單編號": ""}, "electronic:immediate", "pickup", "廠商訂單編號", "請填寫廠商訂單編號"),
    ({"廠商訂單編號": "A-001"}, "electronic:immediate", "pickup", "廠商訂單編號", "廠商訂單編號限英數字，最多 25 字"),
    ({"廠商訂單編號": "A" * 26}, "electronic:immediate", "pickup", "廠商訂單編號", "廠商訂單編號限英數字，最多 25 字"),
    ({"購買人姓名": ""}, "electronic:immediate", "pickup", "購買人姓名", "請填寫購買人姓名"),
    ({"手機": "0812345678"}, "electronic:immediate", "pickup", "手機", "手機格式錯誤，須為 09 開頭的 10 碼數字"),
    ({"手機": "09123"}, "electronic:immediate", "pickup", "手機", "手機格式錯誤，須為 09 開頭的 10 碼數字"),
    ({"Email": "not-an-email"}, "electronic:immediate", "pickup", "Email", "Email 格式錯誤"),
    ({"手機": None}, "cvs:ibon", "pickup", "手機", "超商票券須填寫購買人手機"),
    ({"手機": None, "Email": None}, "electronic:immediate", "pickup", "手機", "電子票券須填寫手機或 Email（至少一項）"),
    ({}, "electronic:deferred", "pickup", "使用起始日", "非即期票券須填寫使用起始日"),
    ({"使用起始日": "2026/11/22"}, "electronic:deferred", "pickup", "使用起始日", "使用起始日須晚於今天"),
    ({"使用起始日": "2028/01/01"}, "electronic:deferred", "pickup", "使用起始日", "使用起始日不可晚於商品期限"),
    ({"使用起始日": "明天"}, "electronic:deferred", "pickup", "使用起始日", "日期格式錯誤，請填寫 yyyy/mm/dd"),
    ({"使用起始日": "2026/12/01"}, "electronic:immediate", "pickup", "使用起始日", "僅非即期電子票券可填寫使用起始日"),
])
def test_each_wrong_cell_gets_its_reason(over, method, kind, column, message):
    checked, _ = check([row(**over)], method=method, kind=kind)
    assert checked[0].errors[column] == message


def test_paper_tickets_need_no_mobile_or_email():
    checked, _ = check([row(手機=None, Email=None)], method="paper:merchant_print")
    assert checked[0].ok


def test_deferred_start_date_accepted_in_range():
    checked, _ = check([row(使用起始日="2026-12-01")], method="electronic:deferred")
    assert checked[0].ok and checked[0].values["valid_from"] == "2026-12-01"


def test_rule_e_rows_sharing_a_merchant_order_number_are_one_order_of_several_products():
    checked, errors = check([row(_row=2), row(商品編號=2, 數量=1, _row=3, 手機="0912-345-678"),
                             row(廠商訂單編號="A002", 購買人姓名="陳小華", _row=4)], kind=None)
    assert errors == [] and all(c.ok for c in checked)
    assert count_orders([c.as_dict() for c in checked]) == 2


@pytest.mark.parametrize("other", [{"購買人姓名": "陳小華"}, {"手機": "0922333444"},
                                   {"Email": "other@example.com"}, {"Email": None}])
def test_rule_e_rows_of_one_merchant_order_need_the_same_purchaser(other):
    checked, _ = check([row(_row=2), row(商品編號=2, _row=3, **other), row(_row=4),
                        row(廠商訂單編號="A002", _row=5)], kind=None)
    assert [c.errors.get("廠商訂單編號") for c in checked] == [
        "同一廠商訂單編號的購買人資料須相同"] * 3 + [None]


def test_rule_e_a_merchant_order_number_an_earlier_batch_took_is_a_row_error():
    checked, _ = check([row(_row=2), row(廠商訂單編號="OLD1", _row=3)], used={"OLD1": "IMP9"})
    assert checked[0].ok
    assert checked[1].errors["廠商訂單編號"] == "廠商訂單編號已使用於匯入單號 IMP9"


def test_rule_e_numbers_taken_after_the_preview_are_marked_on_the_stored_rows():
    checked, _ = check([row(_row=2), row(廠商訂單編號="A002", _row=3)])
    stored = [c.as_dict() for c in checked]
    marked = mark_taken(stored, {"A002": "IMP7"})
    assert marked[0] == stored[0] and stored[1]["errors"] == {}
    assert marked[1]["errors"] == {"廠商訂單編號": "廠商訂單編號已使用於匯入單號 IMP7"}


def test_at_most_1000_tickets_per_batch():
    ok_rows = [row(數量=500, 廠商訂單編號=f"A{i}") for i in range(2)]
    assert check(ok_rows)[1] == []
    too_many = ok_rows + [row(數量=1, 廠商訂單編號="A9")]
    assert check(too_many)[1] == ["每次發行上限為 1000 張（此批共 1001 張）"]


def test_an_empty_file_is_refused():
    assert check([])[1] == ["檔案中沒有發行資料"]


@pytest.mark.parametrize(("raw", "mobile"), [
    ("0912345678", "0912345678"), ("+886912345678", "0912345678"), ("886912345678", "0912345678"),
    ("0912-345-678", "0912345678"), ("912345678", "0912345678"), (912345678, "0912345678"),
])
def test_mobile_numbers_are_normalised(raw, mobile):
    assert normalise_mobile(raw) == mobile


def test_the_templates_sample_rows_are_refused():
    checked, _ = check([row(廠商訂單編號="SAMPLE0001")])
    assert checked[0].errors["廠商訂單編號"] == "範例資料列，請刪除後再上傳"


def test_wrong_cells_keep_what_was_typed():
    checked, _ = check([row(手機="12345", 數量="兩張", 使用起始日="2026/12/01")])
    assert checked[0].typed["手機"] == "12345" and checked[0].typed["數量"] == "兩張"
    assert checked[0].as_dict()["typed"]["使用起始日"] == "2026/12/01"
