"""7-3 B 票券發行 pages: template, upload, preview with red rows, error file, confirm, results."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook, load_workbook

from app import jobs
from app.auth.permissions import Function, Level
from app.db import db
from app.issuance import jobs as issuance_jobs
from app.issuance import services
from app.issuance.models import Batch, BatchStatus
from app.issuance.template import ISSUANCE_HEADERS, ISSUANCE_SHEET, RULES_SHEET
from app.products.rights import BRANCH_DISABLED
from app.settings.services import BASIC_MISSING, ISSUANCE_NOT_ACTIVE
from app.stores.models import DeliveryMethod
from tests.factories import login, make_account, make_branch, make_product, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.issuance.page_helpers import batches, only_batch, row, template_file, tickets, upload
from tests.products.helpers import freeze_today
from tests.spreadsheets.helpers import SHEET_XML, entries, workbook_bytes, zip_of


@pytest.fixture
def shop(ctx, client):  # noqa: ANN001, ANN201
    freeze_today()
    store, owner, pickup, gift = ready_store("issuer01")
    login(client, "issuer01")
    return store, owner, pickup, gift


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def hold_jobs(monkeypatch) -> None:  # noqa: ANN001
    """Keep confirmed batches queued (the issuing job is not run)."""
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)


def _confirm(client, batch_id: int):  # noqa: ANN001, ANN202
    return client.post(f"/issuance/batches/{batch_id}/confirm")


# 範例模板格式 / 規則說明 --------------------------------------------------------------------------

def test_the_template_downloads_with_both_sheets(client, shop):
    response = client.get("/issuance/template")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == [ISSUANCE_SHEET, RULES_SHEET]
    header = next(wb[ISSUANCE_SHEET].iter_rows(max_row=1, values_only=True))
    assert list(header) == ISSUANCE_HEADERS


def test_the_rules_page_explains_columns_and_serial_numbers(client, shop):
    page = text(client.get("/issuance/rules"))
    assert "票券序號規則" in page and "CB2SY20220302153" in page
    assert all(header in page for header in ISSUANCE_HEADERS)
    settings = text(client.get("/issuance/"))
    assert "/issuance/rules" in settings and "/issuance/template" in settings


def test_only_the_contract_methods_are_offered(ctx, client):
    freeze_today()
    ready_store("issuer02", methods=[DeliveryMethod.IBON, DeliveryMethod.IMMEDIATE])
    login(client, "issuer02")
    page = text(client.get("/issuance/"))
    start = page.index('data-testid="upload-form"')
    form = page[start:page.index("</form>", start)]
    assert 'value="cvs"' in form and 'value="electronic"' in form and 'value="paper"' not in form
    assert "ibon 超商票券" in form and "即期票券" in form
    assert "綠界列印" not in form and "廠商列印" not in form and "非即期票券" not in form
    assert "票券類型" in form and "提貨券" in form and "贈品券" in form
    assert 'accept=".xlsx' in form and "確認匯入" in form


def test_a_method_the_contract_lacks_is_refused(ctx, client):
    freeze_today()
    _, _, pickup, _ = ready_store("issuer03", methods=[DeliveryMethod.IMMEDIATE])
    login(client, "issuer03")
    response = upload(client, template_file([row(pickup, "A1")]), method="cvs:ibon")
    assert response.status_code == 422
    assert batches() == 0


def test_a_method_of_another_delivery_type_is_refused(client, shop):
    _, _, pickup, _ = shop
    response = upload(client, template_file([row(pickup, "A1")]), import_no="X1",
                      delivery_type="paper", method="electronic:immediate")
    assert response.status_code == 422
    assert "發行方式與出券類型不符" in text(response)
    assert batches() == 0


def test_an_import_number_is_required(client, shop):
    _, _, pickup, _ = shop
    response = upload(client, template_file([row(pickup, "A1")]), import_no="")
    assert response.status_code == 422 and "請填寫匯入單號" in text(response)
    assert batches() == 0


# The whole journey ------------------------------------------------------------------------------

def test_bad_row_then_fix_then_confirm_then_success(client, shop):
    _, _, pickup, _ = shop
    data = template_file([row(pickup, "A001", quantity=2), row(pickup, "A002", mobile="12345")])
    response = upload(client, data, import_no="JOURNEY1")
    assert response.status_code == 303
    preview_url = response.headers["Location"]
    batch = only_batch()
    assert preview_url.endswith(f"/issuance/batches/{batch.id}")
    assert batch.status is BatchStatus.PREVIEW and batch.error_count == 1

    page = text(client.get(preview_url))
    wrong = re.findall(r'<tr class="table-danger"[^>]*data-row="(\d+)"', page)
    assert wrong == ["3"]  # the second data row, Excel row 3
    assert "手機格式錯誤，須為 09 開頭的 10 碼數字" in page
    assert "只要有任何一列資料錯誤，整批都無法發行" in page
    assert 'data-testid="confirm-form"' not in page
    assert 'data-testid="reupload"' in page  # the upload form again
    assert 'data-testid="total-orders">2<' in page and 'data-testid="total-tickets">3<' in page
    assert "NT$450" in page  # 3 × 150

    download = client.get(f"/issuance/batches/{batch.id}/errors.xlsx")
    assert download.status_code == 200
    wb = load_workbook(io.BytesIO(download.data))
    ws = wb[ISSUANCE_SHEET]
    got = list(ws.iter_rows(values_only=True))
    assert list(got[0]) == [*ISSUANCE_HEADERS, "錯誤原因"]
    assert got[1][:6] == (pickup.id, 2, "A001", "王小明", "0912345678", "buyer@example.com")
    assert not got[1][7]
    assert got[2][2] == "A002" and got[2][7] == "手機：手機格式錯誤，須為 09 開頭的 10 碼數字"

    # fix the wrong cell in the downloaded file and upload it as is, with the same import number
    ws.cell(row=3, column=ISSUANCE_HEADERS.index("手機") + 1).value = "0922333444"
    fixed = io.BytesIO()
    wb.save(fixed)
    response = upload(client, fixed.getvalue(), import_no="JOURNEY1")
    assert response.status_code == 303 and response.headers["Location"] == preview_url
    assert batches() == 1  # the preview was replaced

    page = text(client.get(preview_url))
    assert "table-danger" not in page
    assert 'data-testid="confirm-form"' in page
    assert re.search(r'<button type="submit" class="btn btn-primary" data-confirm="[^"]+">確認發行</button>', page)

    response = _confirm(client, batch.id)
    assert response.status_code == 303 and response.headers["Location"].endswith("/issuance/results")
    assert tickets() == 3  # the job ran (inline) after the commit

    results = text(client.get("/issuance/results"))
    assert "JOURNEY1" in results and "發行成功" in results and "100 %" in results
    assert "hx-trigger" not in results
    preview_after = text(client.get(preview_url))
    assert 'data-testid="already-confirmed"' in preview_after
    assert 'data-testid="confirm-form"' not in preview_after


def test_a_second_confirm_does_not_issue_twice(client, shop):
    _, _, pickup, _ = shop
    upload(client, template_file([row(pickup, "T1", quantity=3)]), import_no="TWICE")
    batch = only_batch()
    _confirm(client, batch.id)
    assert tickets() == 3
    response = _confirm(client, batch.id)
    assert response.status_code == 303 and response.headers["Location"].endswith("/issuance/results")
    assert "不會重複發行" in text(client.get("/issuance/results"))
    assert tickets() == 3


def test_a_used_import_number_is_refused_and_issues_nothing_more(client, shop):
    _, _, pickup, _ = shop
    upload(client, template_file([row(pickup, "U1")]), import_no="USED1")
    _confirm(client, only_batch().id)
    response = upload(client, template_file([row(pickup, "U2")]), import_no="USED1")
    assert response.status_code == 409
    assert "此匯入單號已使用" in text(response)
    assert batches() == 1 and tickets() == 1


def test_a_wrong_batch_cannot_be_confirmed(client, shop):
    _, _, pickup, _ = shop
    upload(client, template_file([row(pickup, "W1", email="not-an-email")]), import_no="WRONG")
    batch = only_batch()
    response = _confirm(client, batch.id)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/batches/{batch.id}")
    assert "發行資料有錯誤" in text(client.get(response.headers["Location"]))
    assert only_batch().status is BatchStatus.PREVIEW and tickets() == 0


def test_batch_level_errors_show_at_the_top(client, shop):
    _, _, pickup, _ = shop
    upload(client, template_file([row(pickup, f"B{i}", quantity=500) for i in range(3)]),
           import_no="BIG")
    page = text(client.get(f"/issuance/batches/{only_batch().id}"))
    assert 'data-testid="batch-errors"' in page and "每次發行上限為 1000 張（此批共 1500 張）" in page
    assert 'data-testid="confirm-form"' not in page and 'data-testid="download-errors"' in page


# 批次發行結果: polling rows ------------------------------------------------------------------------

def test_a_queued_row_polls_itself_and_a_finished_row_does_not(client, shop, monkeypatch):
    _, _, pickup, _ = shop
    hold_jobs(monkeypatch)
    upload(client, template_file([row(pickup, "Q1", quantity=2)]), import_no="QUEUED")
    batch = only_batch()
    _confirm(client, batch.id)
    assert only_batch().status is BatchStatus.QUEUED

    fragment = text(client.get(f"/issuance/batches/{batch.id}/row", headers={"HX-Request": "true"}))
    assert fragment.lstrip().startswith("<tr")  # the row alone
    assert 'hx-trigger="every 1s"' in fragment and 'hx-swap="outerHTML"' in fragment
    assert f'hx-get="/issuance/batches/{batch.id}/row?was=queued"' in fragment
    assert "排隊中" in fragment and "0 %" in fragment
    page = text(client.get("/issuance/results"))
    assert 'hx-trigger="every 1s"' in page
    assert 'data-testid="issuing-banner"' in page and "匯入單號 QUEUED 發行中" in page

    db.session.expire_all()
    db.session.get(Batch, batch.id).status = BatchStatus.ISSUING
    db.session.commit()
    fragment = text(client.get(f"/issuance/batches/{batch.id}/row", headers={"HX-Request": "true"}))
    assert "發行中" in fragment and "progress-bar-animated" in fragment
    assert 'hx-trigger="every 1s"' in fragment
    db.session.expire_all()
    db.session.get(Batch, batch.id).status = BatchStatus.QUEUED
    db.session.commit()

    issuance_jobs.issue_batch(batch.id)  # the held job runs
    response = client.get(f"/issuance/batches/{batch.id}/row?was=queued", headers={"HX-Request": "true"})
    fragment = text(response)
    assert "發行成功" in fragment and "100 %" in fragment
    assert "hx-trigger" not in fragment and "hx-get" not in fragment
    assert response.headers.get("HX-Refresh") == "true"  # the page loads again: the banner goes
    page = text(client.get("/issuance/results"))
    assert 'data-testid="issuing-banner"' not in page and "發行中" not in page.split("<main")[1].split("批次為全有全無")[1]
    assert "HX-Refresh" not in client.get(f"/issuance/batches/{batch.id}/row?was=succeeded",
                                          headers={"HX-Request": "true"}).headers


def test_a_failed_batch_shows_its_reason(client, shop, monkeypatch):
    _, _, pickup, _ = shop

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "insert_tickets", crash)
    upload(client, template_file([row(pickup, "F1")]), import_no="FAILS")
    _confirm(client, only_batch().id)
    results = text(client.get("/issuance/results"))
    assert "發行失敗" in results and "發行未完成" in results
    assert "hx-trigger" not in results and tickets() == 0


def test_results_list_confirmed_batches_newest_first_without_previews(client, shop, monkeypatch):
    _, _, pickup, _ = shop
    hold_jobs(monkeypatch)
    for number in ("FIRST", "SECOND"):
        upload(client, template_file([row(pickup, f"{number}1")]), import_no=number)
        _confirm(client, db.session.scalars(
            db.select(Batch).where(Batch.import_no == number)).one().id)
    upload(client, template_file([row(pickup, "P1")]), import_no="PREVIEWONLY")
    page = text(client.get("/issuance/results"))
    results = page[page.index('data-testid="batch-results"'):]
    assert "PREVIEWONLY" not in results
    assert results.index("SECOND") < results.index("FIRST")
    assert results.count('data-testid="batch-row"') == 2


# Malformed files: a message, and nothing created ---------------------------------------------------

def _with_formula(pickup) -> bytes:  # noqa: ANN001
    return template_file([[pickup.id, "=1+1", "F1", "王", "0912345678", "", None]])


def _missing_header(pickup) -> bytes:  # noqa: ANN001
    return workbook_bytes([[pickup.id, 1, "M1", "王", "0912345678", None]],
                          headers=ISSUANCE_HEADERS[:-2] + ["使用起始日"])


def _too_many_rows(pickup) -> bytes:  # noqa: ANN001
    return template_file([row(pickup, f"R{i}") for i in range(1001)])


def _hundred_thousand_rows(pickup) -> bytes:  # noqa: ANN001
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(ISSUANCE_SHEET)
    ws.append(ISSUANCE_HEADERS[:2])
    for i in range(100_000):
        ws.append([pickup.id, 1 + i % 3])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _zip_bomb(pickup) -> bytes:  # noqa: ANN001
    files = entries(template_file([row(pickup, "Z1")]))
    files[SHEET_XML] = b"\0" * (30 * 1024 * 1024)
    return zip_of(files)


@pytest.mark.parametrize(("build", "message"), [
    (lambda pickup: "商品編號,數量\n1,2\n".encode(), "檔案格式錯誤，請上傳 Excel（.xlsx）檔案"),
    (_with_formula, "檔案含有公式（第 2 列 B 欄）"),
    (_missing_header, "標題列與範例模板不符：缺少「Email」"),
    (_too_many_rows, "資料列數超過上限（最多 1000 列）"),
    (_hundred_thousand_rows, "資料列數超過上限（最多 1000 列）"),
    (_zip_bomb, "檔案內容異常，無法讀取"),
], ids=["csv-renamed", "formula", "missing-header", "1001-rows", "100000-rows", "zip-bomb"])
def test_malformed_files_get_a_message_and_create_nothing(client, shop, build, message):
    _, _, pickup, _ = shop
    response = upload(client, build(pickup), import_no="BAD1", filename="發行資料.xlsx")
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert 'data-testid="upload-form"' in page
    assert batches() == 0


# Refusals ------------------------------------------------------------------------------------------

def test_incomplete_settings_show_the_blocker_and_no_form(ctx, client):
    freeze_today()
    store = make_store()
    make_account(store, username="noset01")
    pickup = make_product(store)
    db.session.commit()
    login(client, "noset01")
    page = text(client.get("/issuance/"))
    assert BASIC_MISSING in page and 'data-testid="issuance-refusal"' in page
    assert 'data-testid="upload-form"' not in page
    response = upload(client, template_file([row(pickup, "N1")]))
    assert response.status_code == 409 and BASIC_MISSING in text(response)
    assert batches() == 0


def test_an_inactive_issuance_service_shows_why(ctx, client):
    freeze_today()
    ready_store("inactive1", issuance_active=False)
    login(client, "inactive1")
    page = text(client.get("/issuance/"))
    assert ISSUANCE_NOT_ACTIVE in page and 'data-testid="upload-form"' not in page


def test_a_clerk_of_a_disabled_branch_sees_why_and_cannot_upload(ctx, client):
    freeze_today()
    store, _, pickup, _ = ready_store("issuer04")
    make_sub(store, "clerk0401", branch=make_branch(store, enabled=False),
             grants={Function.ISSUANCE: Level.MODIFY})
    db.session.commit()
    login(client, "clerk0401")
    page = text(client.get("/issuance/"))
    assert BRANCH_DISABLED.message in page and 'data-testid="upload-form"' not in page
    response = upload(client, template_file([row(pickup, "D1")]))  # the modify right is gone
    assert response.status_code == 403 and BRANCH_DISABLED.message in text(response)
    assert batches() == 0


def test_without_modify_the_form_is_hidden_and_posts_are_forbidden(ctx, client, monkeypatch):
    freeze_today()
    store, owner, pickup, _ = ready_store("issuer05")
    make_sub(store, username="viewer0501", grants={Function.ISSUANCE: Level.VIEW})
    make_sub(store, username="nobody0501", grants={Function.PRODUCTS: Level.VIEW})
    batch = services.prepare_batch(owner, store, import_no="V1", method=DeliveryMethod.IMMEDIATE,
                                   kind=None, rows=[{"商品編號": pickup.id, "數量": 1,
                                                     "廠商訂單編號": "V1", "購買人姓名": "王",
                                                     "手機": "0912345678"}])
    db.session.commit()
    login(client, "viewer0501")
    page = text(client.get("/issuance/"))
    assert "您沒有票券發行的權限" in page and 'data-testid="upload-form"' not in page
    preview = text(client.get(f"/issuance/batches/{batch.id}"))
    assert 'data-testid="confirm-form"' not in preview
    assert upload(client, template_file([row(pickup, "V2")]), import_no="V2").status_code == 403
    assert _confirm(client, batch.id).status_code == 403
    assert only_batch().status is BatchStatus.PREVIEW and batches() == 1

    client.post("/logout")
    login(client, "nobody0501")
    assert client.get("/issuance/").status_code == 403
    assert client.get("/issuance/results").status_code == 403


def test_another_stores_batch_is_not_found(client, shop):
    other, other_owner, other_pickup, _ = ready_store("otherstore1")
    batch = services.prepare_batch(other_owner, other, import_no="OTHER",
                                   method=DeliveryMethod.IMMEDIATE, kind=None,
                                   rows=[{"商品編號": other_pickup.id, "數量": 1,
                                          "廠商訂單編號": "O1", "購買人姓名": "王",
                                          "手機": "0912345678"}])
    db.session.commit()
    for url in (f"/issuance/batches/{batch.id}", f"/issuance/batches/{batch.id}/errors.xlsx",
                f"/issuance/batches/{batch.id}/row"):
        assert client.get(url).status_code == 404, url
    assert _confirm(client, batch.id).status_code == 404
    db.session.expire_all()
    assert db.session.get(Batch, batch.id).status is BatchStatus.PREVIEW
    assert "OTHER" not in text(client.get("/issuance/results"))
