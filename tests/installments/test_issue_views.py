"""上傳發行訂單 (installment orders by upload), through the client: template, upload, preview with
red rows, the error file, confirm, progress, result; hostile files; who may; other stores."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import jobs
from app.auth.permissions import Function, Level
from app.db import db
from app.installments import issue_views, issuing
from app.installments import jobs as installment_jobs
from app.installments.issuing_rules import HEADERS
from app.installments.models import InstallmentBatch, InstallmentOrder, InstallmentPeriod
from app.issuance.models import BatchStatus
from app.issuance.template import ERROR_COLUMN, RULES_SHEET, build_workbook
from app.spreadsheets import UPLOAD_MAX_BYTES
from app.stores.models import RedemptionMode
from tests.factories import login, make_account, make_branch, make_store, make_sub
from tests.installments.test_issuing import installment_store
from tests.issuance.page_helpers import multipart
from tests.issuance.page_helpers import template_file as ticket_template_file
from tests.products.helpers import freeze_today
from tests.spreadsheets.helpers import workbook_bytes

SHEET = "發行資料"


@pytest.fixture
def shop(ctx, client):  # noqa: ANN001, ANN201
    freeze_today()
    store, owner = installment_store("instowner1")
    login(client, "instowner1")
    return store, owner


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def hold_jobs(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)


def order_row(number: str, total: object = 12000, *, name: str = "王小明", mobile: object = "0912345678",
              email: str | None = "buyer@example.com", first: object = None) -> list[object]:
    return [number, total, name, mobile, email, first]


def template_file(rows) -> bytes:  # noqa: ANN001
    """The downloadable template with its sample rows replaced by `rows`, as a user fills it."""
    wb = load_workbook(io.BytesIO(build_workbook(issue_views.TEMPLATE)))
    ws = wb[SHEET]
    ws.delete_rows(2, ws.max_row)
    for values in rows:
        ws.append(list(values))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, data: bytes, import_no: str = "IMP001", filename: str = "分期訂單.xlsx"):  # noqa: ANN001, ANN201
    body, content_type = multipart({"import_no": import_no}, "file", data, filename)
    return client.post("/installments/issue", data=body, content_type=content_type)


def only_batch() -> InstallmentBatch:
    db.session.expire_all()
    return db.session.scalars(select(InstallmentBatch)).one()


def count(model) -> int:  # noqa: ANN001
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# The page and the template ---------------------------------------------------------------------

def test_the_page_shows_the_contract_terms_the_form_and_the_rules(client, shop):
    page = text(client.get("/installments/issue"))
    assert "上傳發行訂單" in page and 'data-testid="upload-form"' in page
    assert "每筆訂單 <strong>12</strong> 期，每期 <strong>30</strong> 天" in page
    assert 'href="/installments/issue/template"' in page
    assert "首期預計核銷日" in page and "每批最多 1000 筆訂單（每列一筆）。" in page
    assert 'href="/installments/reports"' in page  # the report's page, by path until it exists


def test_the_template_has_the_header_row_samples_and_rules(client, shop):
    response = client.get("/installments/issue/template")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == [SHEET, RULES_SHEET]
    found = list(wb[SHEET].iter_rows(values_only=True))
    assert list(found[0]) == HEADERS
    assert [r[0] for r in found[1:]] == ["SAMPLE0001", "SAMPLE0002"]
    assert wb[RULES_SHEET]["A1"].value == "分期核銷訂單發行規則說明"

    upload(client, response.data, import_no="SAMPLES")  # uploaded unchanged: nothing issuable
    batch = only_batch()
    assert {r["errors"]["廠商訂單編號"] for r in batch.rows} == {"範例資料列，請刪除後再上傳"}


# Upload, preview, confirm, progress, result ------------------------------------------------------

def test_bad_rows_then_the_error_file_fixed_then_confirm_then_success(client, shop):
    response = upload(client, template_file([
        order_row("A0001", first="2027/01/15"),
        order_row("A0002", total=5),
        order_row("A0003", mobile="123", email=None),
    ]))
    assert response.status_code == 303
    preview = client.get(response.headers["Location"])
    page = text(preview)
    assert page.count('data-testid="wrong-row"') == 2
    assert "訂單總金額須至少 12 元（共 12 期，每期至少 1 元）" in page
    assert "手機格式錯誤，須為 09 開頭的 10 碼數字" in page
    assert 'data-testid="confirm-form"' not in page and 'data-testid="not-issuable"' in page
    assert 'data-testid="reupload"' in page

    batch = only_batch()
    errors = client.get(f"/installments/issue/batches/{batch.id}/errors.xlsx")
    wb = load_workbook(io.BytesIO(errors.data))
    found = list(wb[SHEET].iter_rows(values_only=True))
    assert list(found[0]) == [*HEADERS, ERROR_COLUMN]
    assert found[2][1] == "5" and found[2][6] == "訂單總金額：訂單總金額須至少 12 元（共 12 期，每期至少 1 元）"
    ws = wb[SHEET]  # fix the file as downloaded and upload it again with the same import number
    ws["B3"] = 24000
    ws["D4"] = "0912000111"
    fixed = io.BytesIO()
    wb.save(fixed)
    response = upload(client, fixed.getvalue())
    assert response.status_code == 303 and count(InstallmentBatch) == 1

    page = text(client.get(response.headers["Location"]))
    assert 'data-testid="wrong-row"' not in page
    assert '<strong class="fs-5" data-testid="total-orders">3</strong>' in page
    assert '<strong class="fs-5" data-testid="total-periods">36</strong>' in page
    assert 'data-testid="confirm-form"' in page and "data-confirm=" in page  # asked twice
    response = client.post(f"/installments/issue/batches/{batch.id}/confirm")
    assert response.status_code == 303  # the job ran inline after the commit
    page = text(client.get(response.headers["Location"]))
    assert "已確認發行" in page and "發行成功：共 3 筆訂單" in page
    assert 'href="/installments/reports?merchant_order_no=A0002"' in page
    assert "hx-trigger" not in page
    assert count(InstallmentOrder) == 3 and count(InstallmentPeriod) == 36
    totals = dict(db.session.execute(select(InstallmentOrder.merchant_order_no,
                                            InstallmentOrder.total_amount)).all())
    assert totals == {"A0001": 12000, "A0002": 24000, "A0003": 12000}


def test_a_queued_batch_polls_its_status_and_reloads_when_done(client, shop, monkeypatch):
    hold_jobs(monkeypatch)
    upload(client, template_file([order_row("Q1"), order_row("Q2")]))
    batch = only_batch()
    client.post(f"/installments/issue/batches/{batch.id}/confirm")
    assert only_batch().status is BatchStatus.QUEUED
    page = text(client.get(f"/installments/issue/batches/{batch.id}"))
    assert 'hx-trigger="every 1s"' in page and "排隊中" in page
    assert f'hx-get="/installments/issue/batches/{batch.id}/progress?was=queued"' in page

    db.session.expire_all()
    found = db.session.get(InstallmentBatch, batch.id)
    found.status, found.issued_count = BatchStatus.ISSUING, 1
    db.session.commit()
    fragment = client.get(f"/installments/issue/batches/{batch.id}/progress?was=queued",
                          headers={"HX-Request": "true"})
    assert "HX-Refresh" not in fragment.headers
    html = text(fragment)
    assert html.lstrip().startswith('<div id="issue-status"')
    assert "發行中" in html and "已發行 1 / 2 筆" in html and "50 %" in html
    assert "?was=issuing" in html
    found = db.session.get(InstallmentBatch, batch.id)
    found.status, found.issued_count = BatchStatus.QUEUED, 0
    db.session.commit()

    installment_jobs.issue_batch(batch.id)  # the held job runs
    fragment = client.get(f"/installments/issue/batches/{batch.id}/progress?was=issuing",
                          headers={"HX-Request": "true"})
    assert fragment.headers["HX-Refresh"] == "true"
    assert "發行成功" in text(fragment) and "hx-trigger" not in text(fragment)
    assert "HX-Refresh" not in client.get(  # a finished batch's page does not poll at all
        f"/installments/issue/batches/{batch.id}/progress").headers


def test_a_failed_batch_shows_its_reason_and_left_nothing(client, shop, monkeypatch):
    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(issuing, "_insert_periods", crash)
    upload(client, template_file([order_row("F1")]))
    batch = only_batch()
    page = text(client.get(client.post(
        f"/installments/issue/batches/{batch.id}/confirm").headers["Location"]))
    assert "發行失敗" in page and "系統錯誤，發行未完成" in page
    assert count(InstallmentOrder) == 0


def test_a_second_confirm_and_a_used_import_number_issue_nothing_more(client, shop):
    upload(client, template_file([order_row("T1")]))
    batch = only_batch()
    client.post(f"/installments/issue/batches/{batch.id}/confirm")
    again = client.post(f"/installments/issue/batches/{batch.id}/confirm")
    assert "已確認發行過，不會重複發行" in text(client.get(again.headers["Location"]))
    response = upload(client, template_file([order_row("T2")]))
    assert response.status_code == 409
    assert "此匯入單號已使用，同一匯入單號不會重複發行" in text(response)
    assert count(InstallmentOrder) == 1


def test_numbers_taken_since_the_preview_are_shown_at_confirm(client, shop, monkeypatch):
    hold_jobs(monkeypatch)
    upload(client, template_file([order_row("N1"), order_row("N2")]), import_no="LATE")
    late = only_batch()
    upload(client, template_file([order_row("N2")]), import_no="EARLY")
    early = db.session.scalars(select(InstallmentBatch).where(
        InstallmentBatch.import_no == "EARLY")).one()
    client.post(f"/installments/issue/batches/{early.id}/confirm")
    response = client.post(f"/installments/issue/batches/{late.id}/confirm")
    page = text(client.get(response.headers["Location"]))
    assert "部分廠商訂單編號已被其他匯入單號使用" in page
    assert "廠商訂單編號已使用於匯入單號 EARLY" in page


def test_an_import_number_is_required_and_checked(client, shop):
    response = upload(client, template_file([order_row("I1")]), import_no="")
    assert response.status_code == 422 and "請填寫匯入單號" in text(response)
    response = upload(client, template_file([order_row("I1")]), import_no="有中文")
    assert response.status_code == 422 and "匯入單號限英數字、- 或 _，最多 30 字" in text(response)
    assert count(InstallmentBatch) == 0


# Hostile and wrong files --------------------------------------------------------------------------

@pytest.mark.parametrize(("build", "message"), [
    (lambda: b"x" * (UPLOAD_MAX_BYTES + 1), "檔案太大（上限 2 MB）"),
    (lambda: "廠商訂單編號,訂單總金額\nA1,12000\n".encode(), "檔案格式錯誤，請上傳 Excel（.xlsx）檔案"),
    (lambda: ticket_template_file([]), "標題列與範例模板不符"),  # the ticket template
    (lambda: workbook_bytes([["A1", "=1+1", "王", "0912345678", None, None]], headers=HEADERS),
     "檔案含有公式（第 2 列 B 欄）"),
    (lambda: workbook_bytes([], headers=HEADERS, title="工作表1"), "找不到工作表「發行資料」"),
    (lambda: workbook_bytes([order_row(f"R{i}") for i in range(1001)], headers=HEADERS),
     "資料列數超過上限（最多 1000 列）"),
])
def test_malformed_files_get_a_message_and_create_nothing(client, shop, build, message):
    response = upload(client, build())
    assert response.status_code == 422
    assert message in text(response)
    assert count(InstallmentBatch) == 0 and count(InstallmentOrder) == 0


# Who may ----------------------------------------------------------------------------------------

def test_a_contract_without_redemption_settings_shows_why_and_no_form(ctx, client):
    freeze_today()
    installment_store("instowner2", count=None)
    login(client, "instowner2")
    page = text(client.get("/installments/issue"))
    assert "合約尚未設定核銷設定（期數、每期天數）" in page and 'data-testid="upload-form"' not in page
    response = upload(client, template_file([order_row("X1")]))
    assert response.status_code == 409 and count(InstallmentBatch) == 0


def test_a_viewer_sees_a_batch_but_may_not_upload_or_confirm(ctx, client):
    freeze_today()
    store, owner = installment_store("instowner3")
    batch = issuing.prepare_batch(owner, store, import_no="V1", rows=[
        {"廠商訂單編號": "V1", "訂單總金額": 12000, "購買人姓名": "王", "手機": "0912345678", "_row": 2}])
    make_sub(store, "viewer0001", grants={Function.INSTALLMENT_REPORTS: Level.VIEW})
    db.session.commit()
    login(client, "viewer0001")
    assert client.get("/installments/issue").status_code == 403
    assert upload(client, template_file([order_row("V2")])).status_code == 403
    page = text(client.get(f"/installments/issue/batches/{batch.id}"))
    assert 'data-testid="confirm-form"' not in page
    assert client.post(f"/installments/issue/batches/{batch.id}/confirm").status_code == 403
    assert client.get("/installments/issue/template").status_code == 200
    assert count(InstallmentOrder) == 0


def test_a_clerk_of_a_disabled_branch_is_told_why(ctx, client):
    freeze_today()
    store, _ = installment_store("instowner4")
    make_sub(store, "clerk00001", branch=make_branch(store, enabled=False),
             grants={Function.INSTALLMENT_REPORTS: Level.MODIFY})
    db.session.commit()
    login(client, "clerk00001")
    response = client.get("/installments/issue")
    assert response.status_code == 403 and "您所屬的分店已停用" in text(response)


def test_a_redeem_after_use_store_has_no_such_page(ctx, client):
    make_account(make_store(mode=RedemptionMode.REDEEM_AFTER_USE), username="ticketshop1")
    db.session.commit()
    login(client, "ticketshop1")
    assert client.get("/installments/issue").status_code == 403
    assert client.get("/installments/issue/template").status_code == 403


def test_another_stores_batch_is_not_found(client, shop):
    other, other_owner = installment_store("instowner5")
    batch = issuing.prepare_batch(other_owner, other, import_no="THEIRS", rows=[
        {"廠商訂單編號": "T1", "訂單總金額": 12000, "購買人姓名": "王", "手機": "0912345678", "_row": 2}])
    db.session.commit()
    for path in ("", "/progress", "/errors.xlsx"):
        assert client.get(f"/installments/issue/batches/{batch.id}{path}").status_code == 404
    assert client.post(f"/installments/issue/batches/{batch.id}/confirm").status_code == 404
    assert db.session.get(InstallmentBatch, batch.id).status is BatchStatus.PREVIEW
    assert "THEIRS" not in text(client.get("/installments/issue"))


def test_the_page_lists_this_stores_recent_uploads(client, shop):
    upload(client, template_file([order_row("L1")]), import_no="MINE")
    page = text(client.get("/installments/issue"))
    recent = page[page.index('data-testid="recent-batches"'):]
    assert "MINE" in recent and "預覽中" in recent
    assert re.search(r'href="/installments/issue/batches/\d+">MINE', recent)
