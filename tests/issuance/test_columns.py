"""One column table (app/issuance/columns.py) drives the template, the reader, the row checks,
the preview and the API; one constant caps a batch."""

from __future__ import annotations

import io
import re
import tokenize
from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from app.api.batches import NEW_BATCH
from app.issuance import columns, template
from app.issuance.columns import COLUMNS, HEADERS
from app.issuance.rules import ProductFacts, check_rows
from app.printing.rules import MAX_TICKETS_PER_PRINT
from app.tickets import codes
from app.tickets.codes import MAX_TICKETS_PER_BATCH
from tests.factories import login
from tests.issuance.helpers import ready_store
from tests.issuance.page_helpers import row, template_file, upload
from tests.products.helpers import freeze_today

APP = Path(__file__).resolve().parents[2] / "app"


def test_the_template_is_built_from_the_table():
    wb = load_workbook(io.BytesIO(template.template_workbook()))
    ws = wb[template.ISSUANCE_SHEET]
    assert [c.value for c in ws[1]] == HEADERS == template.ISSUANCE_HEADERS
    for index, column in enumerate(COLUMNS):
        letter = chr(ord("A") + index)
        assert ws.column_dimensions[letter].width == column.width
        assert (ws.cell(row=2, column=index + 1).number_format == "@") is column.as_text
    rules = wb[template.RULES_SHEET]
    explained = {r[0]: (r[1], r[2]) for r in rules.iter_rows(min_row=4, values_only=True) if r[0]}
    assert all(explained[c.header] == (c.required, c.rule) for c in COLUMNS)


def test_the_api_row_schema_is_the_table():
    items = NEW_BATCH["properties"]["rows"]["items"]
    assert list(items["properties"]) == [c.key for c in COLUMNS]
    assert items["required"] == ["product_id", "quantity", "merchant_order_no", "purchaser_name"]
    assert NEW_BATCH["properties"]["rows"]["maxItems"] == MAX_TICKETS_PER_BATCH


def test_checked_rows_keep_every_column_under_its_key_and_header():
    products = {1: ProductFacts(1, "券", "pickup", True, date(2099, 1, 1), 100)}
    raw = {"商品編號": 1, "數量": "x", "廠商訂單編號": "A1", "購買人姓名": "王", "手機": "1",
           "Email": None, "使用起始日": None}
    checked, _ = check_rows([raw], method="electronic:immediate", kind=None, products=products,
                            used_order_nos={}, today=date(2026, 1, 1))
    assert list(checked[0].values) == [c.key for c in COLUMNS]
    assert list(checked[0].typed) == HEADERS
    assert set(checked[0].errors) <= set(HEADERS)


def test_the_preview_shows_the_tables_columns_in_order(ctx, client):
    freeze_today()
    _, _, pickup, _ = ready_store("colowner1")
    login(client, "colowner1")
    response = upload(client, template_file([row(pickup, "COL1", start="2026/12/01")]))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    table = page[page.index('data-testid="preview-rows"'):]
    headers = re.findall(r"<th>([^<]+)</th>", table[:table.index("</thead>")])
    expected = [HEADERS[0], "商品名稱", "面額", *HEADERS[1:]]
    assert headers == ["列", *expected]
    assert 'data-error="使用起始日"' in table  # an immediate batch: the cell is wrong, shown as typed
    assert "2026/12/01" in table


def test_one_constant_caps_a_batch():
    assert MAX_TICKETS_PER_BATCH is codes.MAX_TICKETS_PER_BATCH == 1000
    assert template.MAX_ROWS == MAX_TICKETS_PER_PRINT == MAX_TICKETS_PER_BATCH
    assert columns.column("quantity").schema["maximum"] == MAX_TICKETS_PER_BATCH
    modules = [*(APP / "issuance").glob("*.py"), APP / "api" / "batches.py", APP / "printing" / "rules.py"]
    templates = [*(APP / "templates" / "issuance").glob("*.html"),
                 APP / "templates" / "printing" / "index.html"]
    assert [p.name for p in modules if "1000" in _numbers_and_strings(p)] == []
    assert [p.name for p in templates if re.search(r"\b1000\b", p.read_text(encoding="utf-8"))] == []


def _numbers_and_strings(path: Path) -> set[str]:
    """The numbers and the non-docstring strings of a module (where a copied limit would hide)."""
    with path.open("rb") as source:
        tokens = list(tokenize.tokenize(source.readline))
    found = []
    for before, token in zip([None, *tokens], tokens, strict=False):
        docstring = token.type == tokenize.STRING and (
            before is None or before.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.ENCODING))
        if token.type == tokenize.NUMBER or (token.type == tokenize.STRING and not docstring):
            found.append(token.string)
    return set(re.findall(r"\b\d+\b", " ".join(found)))
