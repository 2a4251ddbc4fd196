"""The column specs of the installment lists (app.columns): each page's table and its Excel
come from the same columns. Rows are those of app.installments.queries."""

from __future__ import annotations

from typing import Any

from app.checkout.rules import masked_card
from app.columns import Column
from app.installments.queries import refund_state, state_of
from app.installments.status import guarantee_end_text

# 訂單明細: rows of order_rows (InstallmentOrder and its figures) ------------------------------

def _order(r: Any):  # noqa: ANN202
    return r.InstallmentOrder


def order_state(r: Any) -> str:
    return state_of(_order(r).period_count, r.done_periods, r.returned_periods,
                    r.pending_periods).label


def order_refund_state(r: Any) -> str:
    return refund_state(r.returned_periods, r.pending_periods, r.refunded_periods)


ORDER_COLUMNS = (
    Column("order_no", "ECT訂單編號", lambda r: _order(r).order_no, "code"),
    Column("merchant_order_no", "廠商訂單編號", lambda r: _order(r).merchant_order_no),
    Column("created_at", "發行時間", lambda r: _order(r).created_at, "datetime"),
    Column("purchaser_name", "購買人姓名", lambda r: _order(r).purchaser_name),
    Column("purchaser_mobile", "購買人手機", lambda r: _order(r).purchaser_mobile),
    Column("purchaser_email", "購買人 Email", lambda r: _order(r).purchaser_email, excel_only=True),
    Column("guarantee_end", "履約保障到期日",
           lambda r: guarantee_end_text(r.done_periods, _order(r).period_count, r.last_expected)),
    Column("state", "訂單狀態", order_state),
    Column("total_amount", "總金額", lambda r: _order(r).total_amount, "money"),
    Column("period_count", "總期數", lambda r: _order(r).period_count, "number"),
    Column("returned_amount", "退貨金額", lambda r: r.returned_amount, "money"),
    Column("returned_periods", "退貨期數", lambda r: r.returned_periods, "number"),
    Column("redeemed_amount", "核銷金額", lambda r: r.redeemed_amount, "money"),
    Column("redeemed_periods", "核銷期數", lambda r: r.redeemed_periods, "number"),
    Column("unused_amount", "未使用金額", lambda r: r.unused_amount, "money"),
    Column("unused_periods", "未使用期數", lambda r: r.unused_periods, "number"),
    Column("returned_at", "退貨時間", lambda r: _order(r).returned_at, "datetime"),
    Column("return_reason", "退貨原因", lambda r: _order(r).return_reason or ""),
    Column("return_fee", "退貨手續費", lambda r: _order(r).return_fee, "money"),
    Column("refund_state", "退款狀態", order_refund_state),
)


# 各期序號明細: rows of period_rows (InstallmentPeriod and its order's fields) -----------------

def _period(r: Any):  # noqa: ANN202
    return r.InstallmentPeriod


PERIOD_COLUMNS = (
    Column("serial", "序號", lambda r: _period(r).serial, "code"),
    Column("number", "期數", lambda r: f"{_period(r).number}/{r.period_count}"),
    Column("face_value", "面額", lambda r: _period(r).face_value, "money"),
    Column("status_group", "序號狀態", lambda r: _period(r).status.group.label),
    Column("status", "詳細狀態", lambda r: _period(r).status.label, "status",
           shown=lambda r: _period(r).status),
    Column("expected_date", "預計核銷日", lambda r: _period(r).expected_date, "date"),
    Column("redeemed_at", "核銷時間", lambda r: _period(r).redeemed_at, "datetime"),
    Column("order_no", "ECT訂單編號", lambda r: r.order_no, "code"),
    Column("merchant_order_no", "廠商訂單編號", lambda r: r.merchant_order_no),
    Column("order_issued_at", "發行時間", lambda r: r.order_issued_at, "datetime"),
    Column("purchaser_name", "購買人姓名", lambda r: r.purchaser_name),
    Column("purchaser_mobile", "購買人手機", lambda r: r.purchaser_mobile),
    Column("purchaser_email", "購買人 Email", lambda r: r.purchaser_email, excel_only=True),
    Column("returned_at", "退貨時間", lambda r: r.order_returned_at, "datetime"),
    Column("return_reason", "退貨原因", lambda r: (r.return_reason or "") if r.order_returned_at else ""),
    Column("return_fee", "退貨手續費（本期分攤）", lambda r: _period(r).return_fee, "money"),
)


# 未發行訂單: UnissuedOrder rows ----------------------------------------------------------------

UNISSUED_COLUMNS = (
    Column("merchant_order_no", "廠商訂單編號", lambda u: u.merchant_order_no),
    Column("trade_no", "交易編號", lambda u: u.trade_no, "code"),
    Column("total_amount", "訂單金額", lambda u: u.total_amount, "money"),
    Column("paid_at", "付款時間", lambda u: u.paid_at, "datetime"),
    Column("purchaser_name", "購買人姓名", lambda u: u.purchaser_name),
    Column("purchaser_mobile", "購買人手機", lambda u: u.purchaser_mobile),
    Column("purchaser_email", "購買人 Email", lambda u: u.purchaser_email, excel_only=True),
    Column("cardholder_name", "持卡人姓名", lambda u: u.cardholder_name, excel_only=True),
    Column("card", "信用卡卡號", lambda u: masked_card(u.card_first6, u.card_last4), "code",
           excel_only=True),
    Column("auth_code", "授權碼", lambda u: u.auth_code, excel_only=True),
    Column("reason", "未發行原因", lambda u: u.reason),
)
