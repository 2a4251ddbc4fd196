"""The column spec of 未發行訂單管理 (page and Excel). Rows are TicketOrder."""

from __future__ import annotations

from app import clock
from app.checkout.rules import masked_card
from app.columns import Column
from app.unissued import rules
from app.unissued.models import TicketOrder


def status_of(row: TicketOrder) -> str:
    return rules.status_label(row.state, row.paid_on, clock.business_day())


COLUMNS = (
    Column("merchant_order_no", "訂單編號", lambda r: r.merchant_order_no, "code"),
    Column("trade_no", "交易編號", lambda r: r.trade_no, "code"),
    Column("status", "狀態", status_of),
    Column("amount", "訂單金額", lambda r: r.amount, "money"),
    Column("paid_at", "交易時間", lambda r: r.paid_at, "datetime"),
    Column("issue_deadline", "發行期限", lambda r: rules.issue_deadline(r.paid_on), "date"),
    Column("holder_name", "持卡人姓名", lambda r: r.holder_name),
    Column("holder_mobile", "手機", lambda r: r.holder_mobile, "code"),
    Column("holder_email", "Email", lambda r: r.holder_email, excel_only=True),
    # ItemName separates lines with `#` (AioCheckOut); the page lists them
    Column("item_name", "商品名稱", lambda r: r.item_name,
           shown=lambda r: "、".join(line for line in r.item_name.split("#") if line)),
    Column("card", "信用卡卡號", lambda r: masked_card(r.transaction.card_first6,
                                                        r.transaction.card_last4), "code",
           excel_only=True),
    Column("auth_code", "授權碼", lambda r: r.transaction.auth_code, excel_only=True),
    Column("exported_at", "輸出發行檔時間", lambda r: r.exported_at, "datetime", excel_only=True),
)
