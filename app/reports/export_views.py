"""Excel download of a report query: at once when small, otherwise a background export with
its progress and a download link (匯出檔案)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, abort, render_template, send_file, url_for
from sqlalchemy import select

from app.auth.access import acting_account, merchant_required
from app.columns import xlsx_response
from app.db import db
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.reports import export
from app.reports import scope as report_scope
from app.reports.models import ExportJob, ExportStatus
from app.tenancy import get_owned_or_404

bp = Blueprint("exports", __name__, url_prefix="/reports/exports")


def excel_download(report: str, params: Mapping[str, object]) -> Response:
    """The response to a report's 下載Excel: the file, or a redirect to the export's progress
    page when the query is too large to write inside the request."""
    scope = report_scope.for_request(params)
    sheet = export.builder_for(report)(scope, params)
    total = sheet.count()
    if total <= export.INLINE_MAX_ROWS:
        return xlsx_response(sheet.filename, sheet.columns, sheet.lines(), sheet_title=sheet.title[:31])
    job = export.start(report, params, scope, sheet, total)
    db.session.commit()
    return redirect_to(url_for("exports.show", export_id=job.id))


def _mine(export_id: int) -> ExportJob:
    job = get_owned_or_404(ExportJob, export_id)
    if job.account_id != acting_account().id:
        abort(404)  # another account's export of the same store is not yours to download
    return job


@bp.get("/")
@merchant_required
def index() -> str:
    stmt = (select(ExportJob).where(ExportJob.account_id == acting_account().id)
            .order_by(ExportJob.created_at.desc(), ExportJob.id.desc()))
    return render("reports/exports/index.html", page=paginate(stmt), Status=ExportStatus)


@bp.get("/<int:export_id>")
@merchant_required
def show(export_id: int) -> str:
    return render("reports/exports/show.html", **_job_context(_mine(export_id)))


@bp.get("/<int:export_id>/progress")
@merchant_required
def progress(export_id: int) -> str:
    # a partial without blocks: rendered whole (htmx.render would look for its content block)
    return render_template("reports/exports/_progress.html", **_job_context(_mine(export_id)))


def _job_context(job: ExportJob) -> dict:
    """An export as its page and its progress fragment show it (live: still polling)."""
    return {"job": job, "Status": ExportStatus,
            "live": job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)}


@bp.get("/<int:export_id>/download")
@merchant_required
def download(export_id: int) -> Response:
    job = _mine(export_id)
    path = export.file_of(job)
    if path is None:
        abort(404)
    response = send_file(path, as_attachment=True, download_name=f"{job.title}_{job.created_at:%Y%m%d}.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Cache-Control"] = "no-store"
    return response
