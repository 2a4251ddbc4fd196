"""The column spec of a voucher's 價金保管帳 (rows of `app.escrow.queries.LedgerLine`): the table on
the ticket page and the ticket report's row, and their 下載Excel, from the same columns."""

from __future__ import annotations

from app.columns import Column
from app.escrow.models import LedgerKind
from app.escrow.queries import LedgerLine

SHEET_TITLE = "價金保管帳"
NO_BANK_STEP = "無需銀行作業"  # an escrow expiry: written by the platform, not sent to the bank

# Where the money of an entry went (a deposit stays in trust).
PAID_TO = {LedgerKind.RELEASE: "廠商", LedgerKind.REFUND: "消費者", LedgerKind.HANDLING_FEE: "廠商",
           LedgerKind.ESCROW_EXPIRED: "廠商", LedgerKind.PAYOUT: "廠商帳戶"}


def _bank(line: LedgerLine) -> str:
    return line.bank_status.label if line.bank_status is not None else NO_BANK_STEP


LEDGER_COLUMNS = (
    Column("serial", "票券序號", lambda r: r.serial, "code", excel_only=True),
    Column("product_name", "商品名稱", lambda r: r.product_name, excel_only=True),
    Column("day", "帳務日期", lambda r: r.day, "date"),
    Column("kind", "項目", lambda r: r.kind.label),
    Column("into_trust", "存入信託", lambda r: r.into_trust, "money"),
    Column("out_of_trust", "自信託撥出", lambda r: r.out_of_trust, "money"),
    Column("paid_to", "撥付對象", lambda r: PAID_TO.get(r.kind, "")),
    Column("balance", "保管餘額", lambda r: r.balance, "money"),
    Column("bank", "銀行確認", _bank),
    Column("sent_at", "送出銀行時間", lambda r: r.sent_at, "datetime"),
    Column("answered_at", "銀行確認時間", lambda r: r.answered_at, "datetime"),
    Column("bank_ref", "銀行交易編號", lambda r: r.bank_ref, "code"),
    Column("recorded_at", "記帳時間", lambda r: r.recorded_at, "datetime", excel_only=True),
)


def filename(serial: str, day_text: str) -> str:
    return f"{SHEET_TITLE}_{serial}_{day_text}.xlsx"
