"""The merchant's side of the money ledger: what was paid out to a store on a day (PayoutDay, the
day rows of 撥款對帳報表), and the 收款通知 mail sent for it.

A store's day is the ledger entries dated that Taipei business day: released to the merchant
(核銷撥付, 價金保管逾期, 退貨手續費 — 撥付廠商合計), refunded to the consumer (退款) and paid
into the merchant's account after the contract's payout delay (撥款入帳, installment periods).

收款通知: the nightly escrow sync records the day's payouts (the bank's acknowledgements write the
ledger); its last step (`app.escrow.sync.Night.queue_payout_notices`) queues, for every store
whose 收款通知 setting is on and that was paid something that day, one mail to each finance
contact (帳務聯絡人) with the day's totals and a link to the report. A PayoutNotice row (unique
store and day) is written with the mails in the same transaction, so a second or forced run of
the night, or a retried job, queues nothing twice; the outbox sends them after the commit.
Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import case, func, literal, select

from app.db import conflict_insert, db, in_chunks
from app.escrow.models import LedgerEntry, LedgerKind, PayoutNotice
from app.notifications.models import Message
from app.notifications.services import queue_email
from app.stores.models import Store
from app.web import format_money

NOTICE_KIND = "payout_notice"

# What the ledger moved on the merchant's side: released to it (核銷撥付, 價金保管逾期, 退貨手續費),
# refunded to the consumer (退款) and paid to its account (撥款).
TO_MERCHANT = (LedgerKind.RELEASE, LedgerKind.ESCROW_EXPIRED, LedgerKind.HANDLING_FEE)
PAYOUT_KINDS = (*TO_MERCHANT, LedgerKind.REFUND, LedgerKind.PAYOUT)
DAY_FIELDS = ("release", "escrow_expired", "handling_fee", "refund", "payout")  # PAYOUT_KINDS' order


@dataclass(frozen=True)
class PayoutDay:
    day: date
    release: int = 0
    escrow_expired: int = 0
    handling_fee: int = 0
    refund: int = 0
    payout: int = 0

    @property
    def to_merchant(self) -> int:
        """撥付廠商合計: released, escrow-expired and handling fees."""
        return self.release + self.escrow_expired + self.handling_fee

    @property
    def paid(self) -> bool:
        """Whether the store was paid anything that day (what a 收款通知 is for)."""
        return self.to_merchant > 0 or self.payout > 0


def sum_of(kind: LedgerKind):  # noqa: ANN201 - a SQL expression
    return func.coalesce(func.sum(case((LedgerEntry.kind == kind, LedgerEntry.amount),
                                       else_=literal(0))), 0)


def day_sums() -> list[Any]:
    """The columns of a PayoutDay's amounts, in DAY_FIELDS order (each a SUM over entries)."""
    return [sum_of(k) for k in PAYOUT_KINDS]


def days_of_stores(day: date, store_ids: list[int]) -> dict[int, PayoutDay]:
    """Each store's PayoutDay for `day` (stores without entries that day are left out)."""
    found: dict[int, PayoutDay] = {}
    for chunk in in_chunks(store_ids, 500):
        rows = db.session.execute(
            select(LedgerEntry.store_id, *day_sums())
            .where(LedgerEntry.store_id.in_(chunk), LedgerEntry.day == day,
                   LedgerEntry.kind.in_(PAYOUT_KINDS))
            .group_by(LedgerEntry.store_id).execution_options(unscoped=True)).all()
        found |= {r[0]: PayoutDay(day, *(int(v) for v in r[1:])) for r in rows}
    return found


# 收款通知 ----------------------------------------------------------------------------------------

def subject_for(paid: PayoutDay) -> str:
    return f"【ECTicket】{paid.day:%Y/%m/%d} 收款通知"


def report_link(day: date) -> str:
    """The 撥款對帳報表 of that day, on the platform's public address."""
    path = current_app.url_map.bind("localhost").build(
        "billing.payouts", {"start": day.isoformat(), "end": day.isoformat()})
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}"


def body_for(store: Store, paid: PayoutDay) -> str:
    whom = f"帳務聯絡人 {store.finance_name} " if store.finance_name else "帳務聯絡人"
    lines = [f"{store.name}（商店代號 {store.merchant_code}）{whom}您好：", "",
             f"ECTicket 價金保管於 {paid.day:%Y/%m/%d} 撥付款項給貴商店，當日合計如下：", ""]
    for label, amount in (("核銷撥付", paid.release), ("價金保管逾期", paid.escrow_expired),
                          ("退貨手續費", paid.handling_fee)):
        if amount:
            lines.append(f"{label}：{format_money(amount)}")
    lines.append(f"撥付廠商合計：{format_money(paid.to_merchant)}")
    if paid.payout:
        lines.append(f"撥款入帳：{format_money(paid.payout)}")
    lines += ["", f"每筆明細請見「撥款對帳報表」：{report_link(paid.day)}", "",
              "您收到此信，是因為貴商店於「廠商基本資料 › 收付款通知設定」開啟了收款通知。",
              "此信件由系統自動發送，請勿直接回覆。"]
    return "\n".join(lines)


def queue_notices(day: date, run_id: int | None = None) -> list[Message]:
    """Queue the 收款通知 of `day` for every store with the setting on, paid something that day
    and not yet notified for it. The messages queued (in store order)."""
    stores = {s.id: s for s in db.session.scalars(
        select(Store).where(Store.payout_notice.is_(True)).order_by(Store.id)
        .execution_options(unscoped=True))}
    paid = {store_id: d for store_id, d in days_of_stores(day, list(stores)).items() if d.paid}
    if not paid:
        return []
    claimed = set(db.session.scalars(
        conflict_insert(PayoutNotice).values([
            {"store_id": store_id, "day": day, "to_merchant": d.to_merchant, "payout": d.payout,
             "run_id": run_id} for store_id, d in sorted(paid.items())])
        .on_conflict_do_nothing(index_elements=["store_id", "day"])
        .returning(PayoutNotice.store_id)))
    queued: list[Message] = []
    for store_id in sorted(claimed):
        store = stores[store_id]
        queued += queue_email(store.id, store.finance_emails, subject_for(paid[store_id]),
                              body_for(store, paid[store_id]), kind=NOTICE_KIND)
    return queued
