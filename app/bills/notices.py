"""The bill-day notice (帳單通知): when the monthly job writes a store's bill, its finance contacts
(帳務聯絡人, `Store.finance_emails`) get one e-mail with the month, the bill's amount, what the
store owes now (應繳費用: this bill and every unpaid earlier one), the bill's status and, when
something is due, the account to remit to (the `BILLING_REMITTANCE_ACCOUNT` setting, left out
when it is not set).

Once per bill: the job passes the ids of the bills written in this run only (a bill is written
once, claimed by its unique store and month), so a second run queues nothing. The messages are
queued in the bills' transaction and sent by the outbox after its commit; a store without a
finance contact gets a FAILED message in the outbox, visible, never silent. Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict

from flask import current_app
from sqlalchemy import func, select

from app.bills import rules
from app.bills.models import Bill, BillStatus, Payment
from app.db import db, in_chunks
from app.notifications.models import Message
from app.notifications.services import queue_email
from app.stores.models import Store
from app.web import format_money

KIND = "bill_notice"


def subject_for(bill: Bill) -> str:
    return f"【ECTicket】{bill.month:%Y 年 %m 月}帳單通知"


def body_for(store: Store, bill: Bill, due: int, status: BillStatus, account: str) -> str:
    lines = [
        f"{store.name}（商店代號 {store.merchant_code}）帳務聯絡人您好：",
        "",
        f"您 {bill.month:%Y 年 %m 月} 的 ECTicket 作業處理費帳單已於 {bill.bill_day:%Y/%m/%d} 出帳。",
        "",
        f"帳單月份：{bill.month:%Y/%m}",
        f"本期帳單金額：{format_money(bill.amount)}",
        f"應繳費用：{format_money(due)}（本期帳單及先前未繳帳單）",
        f"繳費狀態：{status.label}",
    ]
    if due > 0 and account:
        lines += ["", f"匯款帳號：{account}"]
    lines += ["", "帳單明細請至 ECTicket 發行管理平台「帳單報表」查看。",
              "此信件由系統自動發送，請勿直接回覆。"]
    return "\n".join(lines)


def account_text(account: object) -> str:
    """The remittance account as one line: the setting's bank, branch, name and number (or a
    line of text as it is given)."""
    if isinstance(account, dict):
        parts = [account.get("bank"), account.get("branch"),
                 f"戶名 {account['name']}" if account.get("name") else None,
                 f"帳號 {account['number']}" if account.get("number") else None]
        return " ".join(str(p) for p in parts if p)
    return str(account or "").strip()


def queue_bill_notices(bill_ids: list[int]) -> list[Message]:
    """Queue the notice of each bill in `bill_ids` (the bills just written, in the caller's
    transaction) to its store's finance contacts. The messages, in bill order."""
    if not bill_ids:
        return []
    account = account_text(current_app.config.get("BILLING_REMITTANCE_ACCOUNT"))
    queued: list[Message] = []
    for chunk in in_chunks(sorted(bill_ids), 500):
        bills = list(db.session.scalars(select(Bill).where(Bill.id.in_(chunk)).order_by(Bill.id)
                                        .execution_options(unscoped=True)))
        store_ids = sorted({b.store_id for b in bills})
        stores = {s.id: s for s in db.session.scalars(
            select(Store).where(Store.id.in_(store_ids)).execution_options(unscoped=True))}
        history: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for store_id, bill_id, amount in db.session.execute(
                select(Bill.store_id, Bill.id, Bill.amount).where(Bill.store_id.in_(store_ids))
                .order_by(Bill.store_id, Bill.month).execution_options(unscoped=True)):
            history[store_id].append((bill_id, amount))
        paid = dict(db.session.execute(
            select(Payment.store_id, func.sum(Payment.amount)).where(Payment.store_id.in_(store_ids))
            .group_by(Payment.store_id).execution_options(unscoped=True)).all())
        for bill in bills:
            store = stores[bill.store_id]
            standing = rules.standing(history[store.id], int(paid.get(store.id) or 0))
            status = BillStatus.PAID if standing.paid.get(bill.id) else BillStatus.UNPAID
            queued += queue_email(store.id, store.finance_emails, subject_for(bill),
                                  body_for(store, bill, standing.due, status, account), kind=KIND)
    return queued
