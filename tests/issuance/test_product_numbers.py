"""商品編號 where a merchant looks for it: the product list, the product page, the issuance
page's 我的商品 (each with a copy button), the rules sheet and page; and 下載範本（含我的商品）,
pre-filled with the listed products and read back with its untouched rows skipped."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from app.db import db
from app.issuance.models import Batch
from app.issuance.template import (
    ISSUANCE_HEADERS,
    ISSUANCE_SHEET,
    PRODUCT_NAME_HEADER,
    RULES_SHEET,
    prefilled_workbook,
    read_issuance_rows,
    template_workbook,
)
from tests.factories import login, make_account, make_product, make_store
from tests.issuance.helpers import ready_store
from tests.issuance.page_helpers import only_batch, template_file, upload
from tests.products.helpers import freeze_today


@pytest.fixture
def shop(ctx, client):  # noqa: ANN001, ANN201
    freeze_today()
    store, owner, pickup, gift = ready_store("issuer01")
    delisted = make_product(store, "停售券", listed=False)
    other = make_store()
    make_account(other, username="other01")
    foreign = make_product(other, "別家券")
    db.session.commit()
    login(client, "issuer01")
    return store, pickup, gift, delisted, foreign


def text(response) -> str:  # noqa: ANN001
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def copy_buttons(html: str) -> set[str]:
    return set(re.findall(r'data-copy="(\d+)"', html))


def workbook(data: bytes):  # noqa: ANN201
    return load_workbook(io.BytesIO(data))


def rules_text(data: bytes) -> str:
    ws = workbook(data)[RULES_SHEET]
    return "\n".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v)


# Shown, with a copy button ----------------------------------------------------------------------

def test_the_product_list_shows_each_number_with_a_copy_button(client, shop):
    _, pickup, gift, delisted, foreign = shop
    html = text(client.get("/products/"))
    assert "<th" in html and "商品編號" in html
    assert copy_buttons(html) == {str(pickup.id), str(gift.id), str(delisted.id)}
    assert "js/copy.js" in html


def test_the_product_page_and_its_history_show_the_number(client, shop):
    _, pickup, *_ = shop
    html = text(client.get(f"/products/{pickup.id}/edit"))
    assert 'data-testid="product-number-line"' in html
    assert copy_buttons(html) == {str(pickup.id)}
    history = text(client.get(f"/products/{pickup.id}/history"))
    assert re.search(rf'data-testid="product-id">{pickup.id}<', history)


def test_the_issuance_page_lists_the_listed_products_with_their_numbers(client, shop):
    _, pickup, gift, delisted, foreign = shop
    html = text(client.get("/issuance/"))
    assert "我的商品（上架中）" in html
    assert copy_buttons(html) == {str(pickup.id), str(gift.id)}  # not delisted, not another's
    assert "咖啡券" in html and "甜點券" in html and "停售券" not in html and "別家券" not in html
    assert "/issuance/template/mine" in html and "下載範本（含我的商品）" in html


def test_a_store_with_no_listed_product_is_sent_to_the_product_list(client, ctx):
    freeze_today()
    store = make_store()
    make_account(store, username="empty01")
    db.session.commit()
    login(client, "empty01")
    html = text(client.get("/issuance/"))
    assert 'data-testid="no-products"' in html and copy_buttons(html) == set()


# The rules say where -----------------------------------------------------------------------------

def test_the_rules_sheet_and_page_say_where_the_number_is(client, shop):
    rules = rules_text(template_workbook())
    assert "商品編號在哪裡" in rules
    for where in ("「商品管理」列表的「商品編號」欄", "商品頁面", "「票券發行」頁", "下載範本（含我的商品）"):
        assert where in rules, where
    page = text(client.get("/issuance/rules"))
    assert "商品編號在哪裡" in page and "我的商品（上架中）" in page


# 下載範本（含我的商品） -------------------------------------------------------------------------------

def test_the_prefilled_template_has_a_row_per_listed_product(client, shop):
    _, pickup, gift, *_ = shop
    response = client.get("/issuance/template/mine")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Cache-Control"] == "no-store"
    book = workbook(response.data)
    assert book.sheetnames == [ISSUANCE_SHEET, RULES_SHEET]
    rows = list(book[ISSUANCE_SHEET].iter_rows(values_only=True))
    assert list(rows[0]) == [*ISSUANCE_HEADERS, PRODUCT_NAME_HEADER]
    assert [(r[0], r[-1]) for r in rows[1:]] == [(pickup.id, "咖啡券"), (gift.id, "甜點券")]
    assert all(v is None for r in rows[1:] for v in r[1:-1])  # quantity and buyer left blank
    assert "SAMPLE" not in str(rows)  # no example rows to delete
    assert PRODUCT_NAME_HEADER in rules_text(response.data)


def _filled(data: bytes, fills: dict[int, list[object]]) -> bytes:
    """The pre-filled template with the rows of some product numbers filled in (數量 onwards)."""
    book = workbook(data)
    ws = book[ISSUANCE_SHEET]
    for row in ws.iter_rows(min_row=2):
        if row[0].value in fills:
            for cell, value in zip(row[1:], fills[row[0].value], strict=False):
                cell.value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_untouched_product_rows_are_skipped_and_filled_ones_read(ctx):
    data = prefilled_workbook([(11, "甲"), (12, "乙"), (13, "丙")])
    filled = _filled(data, {12: [2, "A001", "王小明", "0912345678"]})
    rows = read_issuance_rows(filled)
    assert len(rows) == 1
    assert rows[0]["商品編號"] == 12 and rows[0]["數量"] == 2 and rows[0]["_row"] == 3
    assert PRODUCT_NAME_HEADER not in rows[0]
    assert read_issuance_rows(data) == []  # nothing filled: nothing to issue


def test_a_row_with_only_a_number_is_still_reported_in_the_plain_template(ctx):
    rows = read_issuance_rows(template_file([[11, None, None, None, None, None, None]]))
    assert len(rows) == 1  # the plain template keeps it, so the preview says what is missing


def test_the_prefilled_template_filled_in_reaches_a_clean_preview(client, shop):
    _, pickup, gift, *_ = shop
    data = client.get("/issuance/template/mine").data
    filled = _filled(data, {pickup.id: [3, "PRE001", "王小明", "0912345678", "a@example.com"]})
    response = upload(client, filled, import_no="PRE-1")
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    batch = only_batch()
    assert [r["values"]["product_id"] for r in batch.rows] == [pickup.id]
    assert not any(r["errors"] for r in batch.rows) and not batch.error
    html = text(client.get(f"/issuance/batches/{batch.id}"))
    assert "wrong-row" not in html and "確認發行" in html


def test_a_prefilled_template_left_blank_says_there_is_nothing_to_issue(client, shop):
    response = upload(client, client.get("/issuance/template/mine").data, import_no="PRE-2")
    batch = db.session.query(Batch).one_or_none()
    shown = response.get_data(as_text=True) if batch is None else text(
        client.get(f"/issuance/batches/{batch.id}"))
    assert "檔案中沒有發行資料" in shown
