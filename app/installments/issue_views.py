"""八 分期核銷: 上傳發行訂單 (reached from the orders report's 「上傳發行訂單」 button).

The steps are the ticket issuance's: download the template (範例模板格式, with its rules sheet),
type an import number (匯入單號) and upload the file → 預覽發行明細 (wrong rows in red with the
reason per cell; nothing can be issued while any row is wrong; the rows with their errors as
xlsx; upload again with the same import number to replace the preview) → 【確認發行】 (asked
twice) → the job issues in the background and the batch's page shows its progress, polling
itself, then the result with links to the orders report.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, g, render_template, request, url_for
from sqlalchemy import select

from app import spreadsheets
from app.auth.access import acting_account as _actor
from app.auth.access import may, requires
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError
from app.htmx import redirect_to, render
from app.installments import issuing
from app.installments import issuing_rules as rules
from app.installments.blueprint import bp
from app.installments.models import InstallmentBatch
from app.issuance import uploading
from app.issuance.forms import ImportForm
from app.issuance.models import BatchStatus
from app.issuance.rules import SAMPLE_ORDER_PREFIX
from app.issuance.services import Confirmation
from app.issuance.template import Template, build_workbook, error_rows_response, read_rows
from app.tenancy import get_owned_or_404

ORDER_NOS_TAKEN = "部分廠商訂單編號已被其他匯入單號使用，整批未發行；請修正標示的列後重新上傳。"
ALL_WRONG = "只要有任何一列資料錯誤，整批都無法發行；請修正後以同一匯入單號重新上傳。"
POLLING = (BatchStatus.QUEUED, BatchStatus.ISSUING)
STATUS_STYLES = {BatchStatus.PREVIEW: "secondary", BatchStatus.QUEUED: "secondary",
                 BatchStatus.ISSUING: "primary", BatchStatus.SUCCEEDED: "success",
                 BatchStatus.FAILED: "danger"}
RECENT = 10  # batches listed on the upload page
REPORTS = "installments.reports"  # the orders report (分期核銷訂單報表)

OTHER_RULES = [
    ("匯入單號", [
        "匯入單號不在檔案中，而是在上傳頁面上輸入；每次上傳都必須填寫。",
        "匯入單號在同一商店內不可重複：同一個匯入單號不會發行兩次，重複上傳同一批資料也不會重複發行訂單。",
    ]),
    ("期數與序號", [
        "每筆訂單的期數與每期天數依合約的「核銷設定」，不在檔案中填寫。",
        "訂單總金額依期數平均分配為各期面額（新台幣整數），除不盡的餘數加在第 1 期。",
        "每一期為一個序號：16 碼英文字母與數字（5 碼代碼 + 8 碼發行日期 yyyymmdd + 3 碼流水號），"
        "由平台於發行時產生；到了該期的預計核銷日即自動核銷。",
        "發行時，訂單會記錄當下「操作設定管理」的退款結果主動通知 URL；之後的修改不影響已發行的訂單。",
    ]),
    ("檔案限制", [
        f"檔案大小上限 {spreadsheets.UPLOAD_MAX_BYTES // (1024 * 1024)} MB，"
        "僅接受 Excel（.xlsx）格式（不接受 .xls、.csv），檔案中不可含有公式。",
        "第一個工作表須為「發行資料」，且第 1 列標題列不可修改（欄位名稱與順序須與範例模板相同）。",
        f"每批最多 {rules.MAX_ORDERS_PER_BATCH} 筆訂單（每列一筆）。",
        f"範例資料列（廠商訂單編號以 {SAMPLE_ORDER_PREFIX} 開頭）僅供參考，上傳前請刪除；空白列會被略過。",
        "上傳後會先顯示預覽發行明細：有錯誤的列以紅色標示原因，只要有任何一列錯誤，整批都無法發行；"
        "可下載含錯誤原因的檔案，修正後以同一匯入單號重新上傳。",
    ]),
]

TEMPLATE = Template(columns=rules.COLUMNS, samples=rules.SAMPLE_ROWS, sheet="發行資料",
                    title="分期核銷訂單發行規則說明", other_rules=OTHER_RULES,
                    max_rows=rules.MAX_ORDERS_PER_BATCH, filename="分期核銷訂單發行範例模板.xlsx")


def _refusal() -> str | None:
    """Why this account may not issue installment orders in this store now (shown instead of
    the form)."""
    refusal = issuing.issuing_refusal(_actor(), g.store)
    return refusal.message if refusal else None


def report_url(merchant_order_no: str | None = None) -> str:
    """The orders report, on one order when given (its query filled in)."""
    query = {"merchant_order_no": merchant_order_no} if merchant_order_no else {}
    return url_for(REPORTS, **query)


def _page(form: ImportForm, status: int = 200):  # noqa: ANN202
    batches = db.session.scalars(
        select(InstallmentBatch).where(InstallmentBatch.store_id == g.store.id,
                                       InstallmentBatch.source == "upload")
        .order_by(InstallmentBatch.created_at.desc(), InstallmentBatch.id.desc()).limit(RECENT)
    ).all()
    return render("installments/issue.html", form=form, refusal=_refusal(),
                  terms=issuing.terms_of(g.store), batches=batches, styles=STATUS_STYLES,
                  columns=rules.COLUMNS, other_rules=OTHER_RULES,
                  max_orders=rules.MAX_ORDERS_PER_BATCH, reports_url=report_url()), status


@bp.get("/issue")
@requires(Function.INSTALLMENT_REPORTS, Level.MODIFY)
def issue():
    return _page(ImportForm())


@bp.get("/issue/template")
@requires(Function.INSTALLMENT_REPORTS)
def issue_template():
    response = Response(build_workbook(TEMPLATE), mimetype=spreadsheets.XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = spreadsheets.content_disposition(TEMPLATE.filename)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/issue")
@requires(Function.INSTALLMENT_REPORTS, Level.MODIFY)
def issue_upload():
    form = ImportForm()
    if _refusal() is not None:  # the page shows why, and no form
        return _page(form, 409)
    if not form.validate():
        return _page(form, 422)
    batch, status = uploading.prepared(form, lambda: issuing.prepare_batch(
        _actor(), g.store, import_no=form.import_no.data,
        rows=read_rows(TEMPLATE, form.file.data.stream)))
    if batch is None:
        return _page(form, status)
    db.session.commit()
    return redirect_to(url_for("installments.issue_preview", batch_id=batch.id))


# 預覽發行明細, then the progress and the result ----------------------------------------------------

def progress(batch: InstallmentBatch) -> int | None:
    """Percent issued; None while issuing with no count known yet (an animated bar)."""
    if batch.status is BatchStatus.SUCCEEDED:
        return 100
    if batch.status is BatchStatus.ISSUING:
        if batch.issued_count and batch.order_count:
            return min(99, batch.issued_count * 100 // batch.order_count)
        return None
    return 0


def _totals(batch: InstallmentBatch, period_count: int | None) -> dict[str, int]:
    amount = sum(row["values"].get("total_amount") or 0 for row in batch.rows)
    orders = len(batch.rows)
    return {"orders": orders, "amount": amount, "periods": orders * (period_count or 0)}


def _status_context(batch: InstallmentBatch) -> dict[str, Any]:
    return {"batch": batch, "progress": progress, "polling": POLLING, "styles": STATUS_STYLES,
            "Status": BatchStatus, "reports_url": report_url()}


@bp.get("/issue/batches/<int:batch_id>")
@requires(Function.INSTALLMENT_REPORTS)
def issue_preview(batch_id: int):
    batch = get_owned_or_404(InstallmentBatch, batch_id)
    terms = issuing.terms_of(g.store)
    return render("installments/issue_batch.html", columns=rules.COLUMNS, terms=terms,
                  totals=_totals(batch, terms.period_count if terms else None),
                  batch_errors=[e for e in batch.error.splitlines() if e],
                  wrong=not issuing.batch_is_issuable(batch),
                  is_preview=batch.status is BatchStatus.PREVIEW, all_wrong=ALL_WRONG,
                  refusal=_refusal(), form=ImportForm(formdata=None, data={
                      "import_no": batch.import_no}),
                  may_modify=may(Function.INSTALLMENT_REPORTS, Level.MODIFY),
                  max_orders=rules.MAX_ORDERS_PER_BATCH, report_url=report_url,
                  **_status_context(batch))


@bp.get("/issue/batches/<int:batch_id>/progress")
@requires(Function.INSTALLMENT_REPORTS)
def issue_progress(batch_id: int):
    """The batch's status: what the page polls every second while queued or issuing. When it
    has just finished, the whole page is loaded again (its rows link to the orders)."""
    batch = get_owned_or_404(InstallmentBatch, batch_id)
    response = Response(render_template("installments/_issue_status.html",
                                        **_status_context(batch)))
    if batch.status not in POLLING and request.args.get("was") in {s.value for s in POLLING}:
        response.headers["HX-Refresh"] = "true"
    return response


@bp.get("/issue/batches/<int:batch_id>/errors.xlsx")
@requires(Function.INSTALLMENT_REPORTS)
def issue_errors(batch_id: int):
    """Every row in the template's columns, plus 錯誤原因: fix the file and upload it again."""
    batch = get_owned_or_404(InstallmentBatch, batch_id)
    return error_rows_response(TEMPLATE, f"分期訂單發行錯誤明細_{batch.import_no}.xlsx",
                               batch.rows)


@bp.post("/issue/batches/<int:batch_id>/confirm")
@requires(Function.INSTALLMENT_REPORTS, Level.MODIFY)
def issue_confirm(batch_id: int):
    batch = get_owned_or_404(InstallmentBatch, batch_id)
    try:
        outcome = issuing.confirm_batch(_actor(), g.store, batch)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "danger")
        return redirect_to(url_for("installments.issue_preview", batch_id=batch_id))
    db.session.commit()
    if outcome is Confirmation.ORDER_NOS_TAKEN:
        flash(ORDER_NOS_TAKEN, "danger")
    elif outcome is Confirmation.QUEUED:
        flash(f"匯入單號 {batch.import_no} 已確認發行，系統正在發行訂單，請於此頁查看發行進度", "success")
    else:
        flash(f"匯入單號 {batch.import_no} 已確認發行過，不會重複發行", "info")
    return redirect_to(url_for("installments.issue_preview", batch_id=batch_id))
