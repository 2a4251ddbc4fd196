"""The column specs of the billing pages: each list and its 下載Excel come from the same columns."""

from __future__ import annotations

from app.bills import queries
from app.columns import Column
from app.escrow.models import LedgerKind
from app.escrow.payouts import TO_MERCHANT

# 6-2 帳單報表: rows of queries.BillRow.
BILL_COLUMNS = (
    Column("month", "帳單月份", lambda r: queries.month_text(r.month), "code"),
    Column("bill_day", "出帳日", lambda r: r.bill.bill_day, "date"),
    Column("amount", "帳單金額", lambda r: r.bill.amount, "money"),
    Column("due", "累計應繳費用", lambda r: r.due, "money"),
    Column("status", "繳費狀態", lambda r: r.status.label),
)

# 帳單明細: one row per bill line as (item label, BillLine), or (label, None) for an item with
# no line (0).
def _period(r) -> str:  # noqa: ANN001
    line = r[1]
    if line is None or line.first_day is None or line.last_day is None:
        return ""
    return f"{line.first_day:%Y/%m/%d}–{line.last_day:%Y/%m/%d}"


LINE_COLUMNS = (
    Column("item", "費用項目", lambda r: r[0], width=22),
    Column("period", "計費期間", _period, width=24),
    Column("days", "天數", lambda r: queries.line_days(r[1]) if r[1] is not None else None, "number"),
    Column("quantity", "數量", lambda r: (r[1].quantity if r[1] is not None and r[1].kind is not None
                                        else 0 if r[1] is None else None), "number"),
    Column("rate", "費率", lambda r: queries.line_rate(r[1]) if r[1] is not None else ""),
    Column("amount", "金額", lambda r: r[1].amount if r[1] is not None else 0, "money"),
    Column("note", "說明", lambda r: r[1].label if r[1] is not None and r[1].kind is None else "",
           width=30),
)


def _rate(r) -> str:  # noqa: ANN001
    return queries.rate_text(r.rate_amount, r.percent_bp)


# 6-3 退貨作業費報表 (使用後核銷): one row per returned ticket.
TICKET_FEE_COLUMNS = (
    Column("day", "退貨日期", lambda r: r.day, "date"),
    Column("serial", "票券序號", lambda r: r.serial or "", "code"),
    Column("face_value", "票券面額", lambda r: r.base_amount, "money"),
    Column("rate", "費率", _rate),
    # exact to the 1/10,000 dollar, as text in both (a spreadsheet number would be a float)
    Column("fee", "退貨作業費（未四捨五入）", lambda r: queries.fee_text(r.fee_e4)),
    Column("day_total", "當日退貨作業費（四捨五入）", lambda r: r.day_total, "money", width=26),
)

# 6-3 退貨作業費報表 (分期核銷): one row per returned order.
ORDER_FEE_COLUMNS = (
    Column("day", "退貨日期", lambda r: r.day, "date"),
    Column("merchant_order_no", "廠商訂單編號", lambda r: r.merchant_order_no or "", "code"),
    Column("returned", "訂單已退貨金額", lambda r: r.base_amount, "money"),
    Column("rate", "費率", _rate),
    # exact to the 1/10,000 dollar, as text in both (a spreadsheet number would be a float)
    Column("fee", "退貨作業費（未四捨五入）", lambda r: queries.fee_text(r.fee_e4)),
    Column("day_total", "當日退貨作業費（四捨五入）", lambda r: r.day_total, "money", width=26),
)


def _subject(r) -> str:  # noqa: ANN001
    return "分期序號" if r.period_id is not None else "票券"


def _order(r) -> str:  # noqa: ANN001
    if r.period_id is not None:
        return f"{r.merchant_order_no or ''} 第{r.number}期" if r.number else (r.merchant_order_no or "")
    return r.order_no or ""


def _signed(*kinds):  # noqa: ANN001, ANN202
    return lambda r: r.amount if r.kind in kinds else None


# 撥款對帳報表: one row per ledger entry.
PAYOUT_COLUMNS = (
    Column("day", "日期", lambda r: r.day, "date"),
    Column("subject", "類別", _subject),
    Column("serial", "序號", lambda r: r.serial or "", "code"),
    Column("order", "訂單", _order, width=24),
    Column("kind", "項目", lambda r: r.kind.label),
    Column("to_merchant", "撥付廠商", _signed(*TO_MERCHANT), "money"),
    Column("refund", "退款消費者", _signed(LedgerKind.REFUND), "money"),
    Column("payout", "撥款入帳", _signed(LedgerKind.PAYOUT), "money"),
)

# 撥款對帳報表: the days' totals.
PAYOUT_DAY_COLUMNS = (
    Column("day", "日期", lambda d: d.day, "date"),
    Column("release", "核銷撥付", lambda d: d.release, "money"),
    Column("escrow_expired", "價金保管逾期", lambda d: d.escrow_expired, "money"),
    Column("handling_fee", "退貨手續費", lambda d: d.handling_fee, "money"),
    Column("to_merchant", "撥付廠商合計", lambda d: d.to_merchant, "money"),
    Column("refund", "退款消費者", lambda d: d.refund, "money"),
    Column("payout", "撥款入帳", lambda d: d.payout, "money"),
)
