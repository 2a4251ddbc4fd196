"""The column spec of 信用卡付款紀錄 (page and Excel). Rows are CheckoutOrder with their card
transaction and ReturnURL notice loaded (app.checkout.queries). The Excel adds what a merchant
reconciles with: the items, the card (masked) and its authorisation, the declines, and whether
the payment notice reached the ReturnURL."""

from __future__ import annotations

from app.checkout.models import CheckoutOrder
from app.checkout.rules import masked_card
from app.columns import Column


def _card(order: CheckoutOrder) -> str:
    txn = order.transaction
    return masked_card(txn.card_first6, txn.card_last4) if txn else ""


COLUMNS = (
    Column("created_at", "建立時間", lambda o: o.created_at, "datetime"),
    Column("merchant_trade_no", "特店訂單編號", lambda o: o.merchant_trade_no, "code"),
    Column("trade_no", "交易編號", lambda o: o.trade_no, "code"),
    Column("amount", "金額", lambda o: o.total_amount, "money"),
    Column("ticket", "票券訂單", lambda o: "是" if o.is_ticket_order else "否"),
    Column("status", "狀態", lambda o: o.status.label),
    Column("paid_at", "付款時間", lambda o: o.paid_at, "datetime"),
    Column("merchant_trade_date", "特店交易時間", lambda o: o.merchant_trade_date, "code",
           excel_only=True),
    Column("item_name", "商品名稱", lambda o: o.item_name, excel_only=True),
    Column("card", "信用卡卡號", _card, "code", excel_only=True),
    Column("brand", "卡別", lambda o: o.transaction.brand if o.transaction else "",
           excel_only=True),
    Column("auth_code", "授權碼", lambda o: o.transaction.auth_code if o.transaction else "",
           "code", excel_only=True),
    Column("transaction_status", "交易狀態",
           lambda o: o.transaction.status.label if o.transaction else "", excel_only=True),
    Column("failed_attempts", "付款失敗次數", lambda o: o.failed_attempts, "number",
           excel_only=True),
    Column("last_decline", "最後一次失敗原因", lambda o: o.last_decline, excel_only=True),
    Column("failed_at", "付款失敗時間", lambda o: o.failed_at, "datetime", excel_only=True),
    Column("notice_status", "付款結果通知", lambda o: o.notice.status.label if o.notice else "",
           excel_only=True),
    Column("notice_attempts", "通知發送次數", lambda o: o.notice.attempts if o.notice else None,
           "number", excel_only=True),
    Column("notice_succeeded_at", "通知成功時間",
           lambda o: o.notice.succeeded_at if o.notice else None, "datetime", excel_only=True),
    Column("return_url", "付款結果通知網址", lambda o: o.return_url, width=40, excel_only=True),
)
