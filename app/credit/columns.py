"""The column spec of the 信用卡收單 lists (交易明細查詢, 要關帳, 已關帳, 關帳失敗): page and
Excel. Rows are CardTransaction with their order loaded."""

from __future__ import annotations

from app.checkout.models import CardTransaction
from app.checkout.rules import masked_card
from app.columns import Column


def installments_of(txn: CardTransaction) -> str:
    if txn.installment_periods:
        return f"{txn.installment_periods} 期"
    if txn.consumer_installment_periods:
        return f"自費分期 {txn.consumer_installment_periods} 期"
    return "一次付清"


COLUMNS = (
    Column("trade_no", "綠界交易編號", lambda t: t.order.trade_no, "code"),
    Column("merchant_trade_no", "廠商訂單編號", lambda t: t.order.merchant_trade_no, "code"),
    Column("authorised_at", "授權時間", lambda t: t.authorised_at, "datetime"),
    Column("card", "信用卡卡號", lambda t: masked_card(t.card_first6, t.card_last4), "code"),
    Column("brand", "卡別", lambda t: t.brand),
    Column("amount", "金額", lambda t: t.amount, "money"),
    Column("auth_code", "授權碼", lambda t: t.auth_code, "code"),
    Column("installments", "分期", installments_of, excel_only=True),
    Column("status", "狀態", lambda t: t.status.label),
    Column("close_requested_at", "要關帳時間", lambda t: t.close_requested_at, "datetime",
           excel_only=True),
    Column("closed_at", "關帳時間", lambda t: t.closed_at, "datetime"),
    Column("abandoned_at", "放棄時間", lambda t: t.abandoned_at, "datetime", excel_only=True),
    Column("close_error", "關帳失敗原因", lambda t: t.close_error),
    Column("close_failed_at", "關帳失敗時間", lambda t: t.close_failed_at, "datetime",
           excel_only=True),
    Column("holder_name", "持卡人姓名", lambda t: t.holder_name, excel_only=True),
    Column("item_name", "商品名稱", lambda t: t.order.item_name, excel_only=True),
    Column("note", "備註", lambda t: t.note),
)
