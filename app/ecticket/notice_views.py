"""五 系統開發管理 › 系統介接設定 › ECTicket 通知紀錄: the refund and use-status notices sent to
the store's server (app.ecticket.notices), each with its attempts and 【重新發送】; Excel of
the list. Seeing needs 系統介接設定 at 查詢, re-sending at 修改; another store's notice is 404.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, url_for
from sqlalchemy import select

from app import listing
from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.columns import Column
from app.db import db
from app.ecticket import notices
from app.ecticket.notice_models import TicketNotice
from app.htmx import redirect_to, render
from app.notifications.models import NoticeStatus
from app.pagination import paginate
from app.tenancy import get_owned_or_404
from app.web import committed

bp = Blueprint("ecticket_notices", __name__, url_prefix="/vendor/integration/ecticket-notices")

EXCEL_LIMIT = 10_000


def _what(n: TicketNotice) -> str:
    if n.use_status and n.kind.value == "use_status":
        return f"UseStatus {n.use_status}（{notices.USE_STATUS_LABELS.get(n.use_status, '')}）"
    return f"退款金額 {n.payload.get('RefundAmount', '')}"


COLUMNS = (
    Column("created_at", "建立時間", lambda n: n.created_at, "datetime"),
    Column("kind", "通知類型", lambda n: n.kind.label),
    Column("ticket_no", "票券序號", lambda n: n.ticket_no),
    Column("order_no", "訂單編號", lambda n: n.payload.get("MerchantTradeNo")
           or n.payload.get("FreeTradeNo") or ""),
    Column("what", "內容", _what),
    Column("url", "通知網址", lambda n: n.url, width=40),
    Column("status", "狀態", lambda n: n.status.label),
    Column("attempts", "發送次數", lambda n: n.attempts, "number"),
    Column("succeeded_at", "成功時間", lambda n: n.succeeded_at, "datetime"),
)
COLOURS = {NoticeStatus.PENDING: "secondary", NoticeStatus.SENDING: "info",
           NoticeStatus.SUCCEEDED: "success", NoticeStatus.GAVE_UP: "danger"}


def _query():  # noqa: ANN202
    return select(TicketNotice).where(TicketNotice.store_id == g.store.id) \
        .order_by(TicketNotice.created_at.desc(), TicketNotice.id.desc())


@bp.get("")
@requires(Function.SYSTEM_INTEGRATION)
def index():
    if listing.excel_asked():
        return listing.excel("ECTicket通知紀錄", COLUMNS,
                             db.session.scalars(_query().limit(EXCEL_LIMIT)))
    page = paginate(_query())
    return render("ecticket/notices.html", page=page, columns=COLUMNS, colours=COLOURS,
                  latest=notices.latest_attempts(n.id for n in page.items))


@bp.get("/<int:notice_id>")
@requires(Function.SYSTEM_INTEGRATION)
def notice(notice_id: int):
    row = get_owned_or_404(TicketNotice, notice_id)
    return render("ecticket/notice.html", notice=row, attempts=notices.attempts_of(row),
                  colours=COLOURS, what=_what(row), NoticeStatus=NoticeStatus,
                  can_modify=may(Function.SYSTEM_INTEGRATION, Level.MODIFY))


@bp.post("/<int:notice_id>/resend")
@requires(Function.SYSTEM_INTEGRATION, Level.MODIFY)
def resend(notice_id: int):
    row = get_owned_or_404(TicketNotice, notice_id)
    with committed() as outcome:
        notices.request_resend(acting_account(), g.store, row)
    if outcome.saved:
        flash("已重新發送通知", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for("ecticket_notices.notice", notice_id=row.id))
