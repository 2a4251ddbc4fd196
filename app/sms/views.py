"""7-3 L 簡訊發送紀錄: every SMS the store's notices sent (issuance, change of purchaser,
re-send), at most three months per query, with the content and the result; Excel of the query.

Paper tickets get no SMS. Message is store-scoped: the query names the acting store too.
"""

from __future__ import annotations

from flask import Blueprint, g, request

from app import clock, listing, spreadsheets
from app.auth.access import requires
from app.auth.permissions import Function
from app.daterange import too_long_message
from app.db import db
from app.errors import InvalidInput
from app.htmx import render
from app.notifications.models import MessageStatus
from app.notifications.services import kind_label
from app.pagination import paginate
from app.settings.services import sms_active, sms_available
from app.sms import queries
from app.sms.forms import SmsQueryForm

bp = Blueprint("sms", __name__, url_prefix="/sms-log")

TOO_LONG = "查詢範圍不可超過三個月"
XLSX_HEADERS = ["發送時間", "建立時間", "ECT訂單編號", "電話號碼", "簡訊內容", "類型", "結果", "失敗原因"]
STATUS_COLOURS = {MessageStatus.QUEUED: "secondary", MessageStatus.SENT: "success",
                  MessageStatus.RECORDED: "info", MessageStatus.FAILED: "danger"}


@bp.get("/")
@requires(Function.SMS_LOG)
def index():
    form = SmsQueryForm(formdata=request.args)
    context = {"form": form, "page": None, "orders": {}, "error": None, "kind_label": kind_label,
               "colours": STATUS_COLOURS, "Status": MessageStatus,
               "sms_available": sms_available(g.store), "sms_active": sms_active(g.store)}
    try:
        start, end = listing.checked_period(form)
    except InvalidInput as err:
        # the seed's words for this page (查詢範圍) rather than the shared 查詢區間
        context["error"] = (TOO_LONG if err.message == too_long_message(listing.RANGE_MONTHS)
                            else err.message)
        return render("sms/index.html", **context), 422
    flt = queries.SmsFilter(store_id=g.store.id, start=start, end=end,
                            phone=form.phone.data or "", order_no=form.order_no.data or "",
                            status=form.chosen_status())
    if request.args.get("format") == "xlsx":
        return _xlsx(flt)
    page = paginate(queries.sms_messages(flt))
    context.update(page=page, orders=queries.order_numbers(m.order_id for m in page.items))
    return render("sms/index.html", **context)


def _xlsx(flt: queries.SmsFilter):  # noqa: ANN202
    def rows():  # noqa: ANN202
        for message, order_no in db.session.execute(queries.sms_rows(flt)):
            yield (message.sent_at, message.created_at, order_no or "", message.to_address,
                   message.body, kind_label(message.kind), message.status.label, message.error)

    day = clock.business_day()
    return spreadsheets.xlsx_response(f"簡訊發送紀錄_{g.store.merchant_code}_{day:%Y%m%d}.xlsx",
                                      XLSX_HEADERS, rows(), sheet_title="簡訊發送紀錄")
