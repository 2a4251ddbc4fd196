"""7-3 L 簡訊發送紀錄: every SMS the store's notices sent (issuance, change of purchaser,
re-send), at most three months per query, with the content and the result; Excel of the query.

The result follows the SMS to the end: queued, sent (taken by the gateway), delivered or failed
with the reason (the gateway's status callback, app.notifications.receipts). A failed order
notice offers 補發, which is the issued-order page's own re-send (app.orders: its rules and its
right), sending the notice again as new messages.

Paper tickets get no SMS. Message is store-scoped: the query names the acting store too.
"""

from __future__ import annotations

from flask import Blueprint, g, request

from app import listing
from app.auth.access import may, requires
from app.auth.permissions import Function, Level
from app.columns import Column
from app.daterange import too_long_message
from app.db import db
from app.errors import InvalidInput
from app.htmx import render
from app.issuance.notices import ISSUANCE_NOTICE
from app.notifications.models import Message
from app.notifications.rules import may_resend
from app.notifications.services import kind_label
from app.orders.services import PURCHASER_CHANGED, RESEND
from app.pagination import paginate_rows
from app.saved_filters.pages import offers_saved_filters
from app.settings.services import sms_active, sms_available
from app.sms import queries
from app.sms.forms import SmsQueryForm

bp = Blueprint("sms", __name__, url_prefix="/sms-log")

TOO_LONG = "查詢範圍不可超過三個月"
# The log and its Excel: rows of (Message, order_no, purchaser_name).
COLUMNS = (
    Column("sent_at", "發送時間", lambda r: r.Message.sent_at, "datetime"),
    Column("created_at", "建立時間", lambda r: r.Message.created_at, "datetime"),
    Column("order_no", "ECT訂單編號", lambda r: r.order_no or ""),
    Column("purchaser_name", "購買人姓名", lambda r: r.purchaser_name or ""),
    Column("to_address", "電話號碼", lambda r: r.Message.to_address),
    Column("body", "簡訊內容", lambda r: r.Message.shown_body, width=60),
    Column("kind", "類型", lambda r: kind_label(r.Message.kind)),
    Column("status", "結果", lambda r: r.Message.status.label),
    Column("reported_at", "送達／失敗時間",
           lambda r: r.Message.delivered_at or r.Message.failed_at, "datetime"),
    Column("error", "失敗原因", lambda r: r.Message.error),
)
# The notices 補發 (app.orders) sends again: the order's issuance notice to its purchaser.
RESENT_BY_ORDER = frozenset({ISSUANCE_NOTICE, PURCHASER_CHANGED, RESEND})


def offers_resend(message: Message) -> bool:
    """Whether the row offers 補發: a failed notice of an order that 補發 sends again."""
    return (may_resend(message.status) and message.order_id is not None
            and message.kind in RESENT_BY_ORDER)


@bp.get("/")
@requires(Function.SMS_LOG)
@offers_saved_filters(SmsQueryForm)
def index():
    form = SmsQueryForm(formdata=request.args)
    context = {"form": form, "columns": COLUMNS, "page": None, "error": None,
               "offers_resend": offers_resend,
               "may_resend": may(Function.ISSUED_ORDERS, Level.MODIFY),
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
    if listing.excel_asked():
        return listing.excel("簡訊發送紀錄", COLUMNS, db.session.execute(queries.sms_rows(flt)))
    context.update(page=paginate_rows(queries.sms_rows(flt)))
    return render("sms/index.html", **context)
