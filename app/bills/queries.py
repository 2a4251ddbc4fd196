"""What the merchant's billing pages read (六 帳單報表): a store's bills with what was due at each,
a bill's lines and the rows behind each item, the return processing fee lines (6-3) and the
escrow ledger by day (撥款對帳報表).

Every statement names the store it reads explicitly. Store-owned models are read with
`readable=True`, so a parent store reading a child's bills (the view checks that the store is
the acting one or one of its children) sees them; the ledger and bill lines carry no tenancy
filter and are reached through the store id or the bill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, and_, func, select

from app import clock
from app.billing.models import Charge, FeeKind, FeeRate
from app.bills import rules
from app.bills.models import Bill, BillLine, BillStatus, Payment, ReturnFeeLine
from app.db import db
from app.escrow.models import LedgerEntry
from app.escrow.payouts import DAY_FIELDS, PAYOUT_KINDS, PayoutDay, day_sums
from app.installments.models import InstallmentBatch, InstallmentOrder, InstallmentPeriod
from app.issuance.models import Batch
from app.notifications.models import Channel, Message
from app.tickets.models import Order, Ticket

# The items of a bill by the store's redemption mode (their order on the bill).
ITEMS_OF_MODE: dict[str, tuple[FeeKind, ...]] = {
    "redeem_after_use": (FeeKind.RETURN, FeeKind.SMS, FeeKind.PAPER_PRINT, FeeKind.SERIAL),
    "installment": (FeeKind.RETURN, FeeKind.SERIAL),
}
BEHIND_LIMIT = 500  # rows shown behind one item of a bill (the item's own report has them all)


def items_of(mode: str | None) -> tuple[FeeKind, ...]:
    return ITEMS_OF_MODE.get(mode or "", ITEMS_OF_MODE["redeem_after_use"])


def fee_text(fee_e4: int) -> str:
    """An exact fee to the cent at least (4.995 → 4.995, 5 → 5.00), from integers only."""
    whole, part = divmod(fee_e4, rules.E4)
    digits = f"{part:04d}".rstrip("0").ljust(2, "0")
    return f"{whole:,}.{digits}"


def month_text(month: date) -> str:
    return f"{month:%Y-%m}"


def parse_month(text: str | None) -> date | None:
    """2026-11 (or 2026/11) as the month's first day; None when it is not one."""
    value = (text or "").strip().replace("/", "-")
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except (TypeError, ValueError):
        return None


# Bills and what is due ------------------------------------------------------------------------

@dataclass(frozen=True)
class BillRow:
    bill: Bill
    due: int  # 累計應繳費用: every bill so far minus the payments made before its bill day
    status: BillStatus

    @property
    def month(self) -> date:
        return self.bill.month


def bills(store_id: int) -> list[Bill]:
    """The store's bills, oldest first."""
    return list(db.session.scalars(select(Bill).where(Bill.store_id == store_id)
                                   .order_by(Bill.month).execution_options(readable=True)))


def payments(store_id: int) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.store_id == store_id)
                                   .order_by(Payment.paid_on, Payment.id)
                                   .execution_options(readable=True)))


def standing(store_id: int, store_bills: Sequence[Bill] | None = None) -> rules.Standing:
    """What the store owes now (the same rule as `services.standing_of`, read so that a parent
    store may read a child's)."""
    found = bills(store_id) if store_bills is None else store_bills
    paid = sum(p.amount for p in payments(store_id))
    return rules.standing([(b.id, b.amount) for b in found], paid)


def bill_rows(store_id: int, first: date | None = None, last: date | None = None) -> list[BillRow]:
    """Each bill (newest first) with what was due at its bill day and its status now; only the
    months from `first` to `last` when given (none: every month)."""
    found = bills(store_id)
    paid = payments(store_id)
    now = standing(store_id, found)
    rows, running = [], 0
    for bill in found:
        running += bill.amount
        paid_before = sum(p.amount for p in paid if p.paid_on < bill.bill_day)
        if (first is None or bill.month >= first) and (last is None or bill.month <= last):
            rows.append(BillRow(bill, max(running - paid_before, 0),
                                BillStatus.PAID if now.paid.get(bill.id) else BillStatus.UNPAID))
    return rows[::-1]


def bill_of(store_id: int, month: date) -> Bill | None:
    return db.session.scalar(select(Bill).where(Bill.store_id == store_id, Bill.month == month)
                             .execution_options(readable=True))


def lines_of(bill: Bill) -> list[BillLine]:
    return list(db.session.scalars(select(BillLine).where(BillLine.bill_id == bill.id)
                                   .order_by(BillLine.id)))


@dataclass(frozen=True)
class Item:
    """One item of a bill (退貨作業費, 序號處理費 …): its lines, one per rate period."""

    kind: FeeKind
    lines: list[BillLine]

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def amount(self) -> int:
        return sum(line.amount for line in self.lines)


def items(bill: Bill, mode: str | None) -> tuple[list[Item], list[BillLine]]:
    """The bill's items in the mode's order (an item without a line is 0) and its adjustments."""
    lines = lines_of(bill)
    kinds = list(items_of(mode))
    kinds += [line.kind for line in lines if line.kind is not None and line.kind not in kinds]
    found = [Item(kind, [line for line in lines if line.kind is kind]) for kind in dict.fromkeys(kinds)]
    return found, [line for line in lines if line.kind is None]


def line_days(line: BillLine) -> int | None:
    if line.first_day is None or line.last_day is None:
        return None
    return (line.last_day - line.first_day).days + 1


def line_rate(line: BillLine) -> str:
    """What a line charged per unit: NT$5 / 件, or a percentage (1.5%)."""
    if line.kind is None:
        return ""
    return rate_text(line.unit_amount, line.percent_bp)


# The rows behind a bill's items -----------------------------------------------------------------

def _month_charges(store_id: int, month: date, kind: FeeKind) -> Select:
    first, last = rules.month_days(month)
    return (select(Charge).where(Charge.store_id == store_id, Charge.kind == kind,
                                 Charge.day >= first, Charge.day <= last)
            .order_by(Charge.day, Charge.id).execution_options(readable=True))


def serial_charges(store_id: int, month: date) -> list[dict]:
    """序號處理費: each charge with the issuance batch it came from (batch:N, installment_batch:N)."""
    charges = list(db.session.scalars(_month_charges(store_id, month, FeeKind.SERIAL)
                                      .limit(BEHIND_LIMIT)))
    ids = {"batch": set(), "installment_batch": set()}
    for c in charges:
        prefix, _, ident = c.reference.partition(":")
        if prefix in ids and ident.isdigit():
            ids[prefix].add(int(ident))
    batches = dict(db.session.execute(
        select(Batch.id, Batch.import_no).where(Batch.id.in_(ids["batch"]), Batch.store_id == store_id)
        .execution_options(readable=True)).all()) if ids["batch"] else {}
    inst = dict(db.session.execute(
        select(InstallmentBatch.id, InstallmentBatch.import_no)
        .where(InstallmentBatch.id.in_(ids["installment_batch"]),
               InstallmentBatch.store_id == store_id)
        .execution_options(readable=True)).all()) if ids["installment_batch"] else {}
    rows = []
    for c in charges:
        prefix, _, ident = c.reference.partition(":")
        key = int(ident) if ident.isdigit() else None
        import_no = (batches if prefix == "batch" else inst if prefix == "installment_batch"
                     else {}).get(key)
        rows.append({"charge": c, "kind": prefix, "batch_id": key if import_no else None,
                     "import_no": import_no or ""})
    return rows


def print_charges(store_id: int, month: date) -> list[dict]:
    """票券-紙本票券印製費: each platform print charge with its print run (print_run:N)."""
    rows = []
    for c in db.session.scalars(_month_charges(store_id, month, FeeKind.PAPER_PRINT).limit(BEHIND_LIMIT)):
        prefix, _, ident = c.reference.partition(":")
        rows.append({"charge": c, "run_id": int(ident) if prefix == "print_run" and ident.isdigit()
                     else None})
    return rows


def sms_messages(store_id: int, month: date) -> Select:
    """票券-簡訊服務費: the billable SMS sent in the month (what the daily charges counted)."""
    first, last = rules.month_days(month)
    return (select(Message.id, Message.sent_at, Message.to_address, Message.kind, Order.order_no,
                   Message.order_id)
            .outerjoin(Order, Order.id == Message.order_id)
            .where(Message.store_id == store_id, Message.billable.is_(True),
                   Message.channel == Channel.SMS, Message.sent_at >= clock.day_start(first),
                   Message.sent_at < clock.day_start(last + timedelta(days=1)))
            .order_by(Message.sent_at, Message.id).execution_options(readable=True))


# 6-3 退貨作業費報表 --------------------------------------------------------------------------------

def return_fee_rows(store_id: int, start: date, end: date) -> Select:
    """Each charged return (a ticket, or an installment order) in the days, oldest first, with
    its rate and the day's rounded charge."""
    return (select(ReturnFeeLine.id, ReturnFeeLine.day, ReturnFeeLine.ticket_id,
                   ReturnFeeLine.installment_order_id, ReturnFeeLine.base_amount,
                   ReturnFeeLine.fee_e4, Ticket.serial, Ticket.face_value,
                   InstallmentOrder.merchant_order_no, InstallmentOrder.total_amount,
                   FeeRate.amount.label("rate_amount"), FeeRate.percent_bp,
                   Charge.amount.label("day_total"))
            .join(Charge, Charge.id == ReturnFeeLine.charge_id)
            .outerjoin(Ticket, Ticket.id == ReturnFeeLine.ticket_id)
            .outerjoin(InstallmentOrder, InstallmentOrder.id == ReturnFeeLine.installment_order_id)
            .outerjoin(FeeRate, FeeRate.id == ReturnFeeLine.rate_id)
            .where(ReturnFeeLine.store_id == store_id, ReturnFeeLine.day >= start,
                   ReturnFeeLine.day <= end)
            .order_by(ReturnFeeLine.day, ReturnFeeLine.id).execution_options(readable=True))


def return_fee_totals(store_id: int, start: date, end: date) -> tuple[int, int]:
    """(returns, rounded fees) of the days: the lines counted, the daily charges summed."""
    count = db.session.scalar(
        select(func.count()).select_from(ReturnFeeLine)
        .where(ReturnFeeLine.store_id == store_id, ReturnFeeLine.day >= start,
               ReturnFeeLine.day <= end).execution_options(readable=True)) or 0
    total = db.session.scalar(
        select(func.coalesce(func.sum(Charge.amount), 0))
        .where(Charge.store_id == store_id, Charge.kind == FeeKind.RETURN, Charge.day >= start,
               Charge.day <= end).execution_options(readable=True)) or 0
    return int(count), int(total)


def rate_text(rate_amount: int | None, percent_bp: int | None) -> str:
    if percent_bp is not None:
        whole, part = divmod(percent_bp, 100)
        return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"
    if rate_amount is not None:
        return f"NT${rate_amount:,}"
    return "未設定"


# 撥款對帳報表 ------------------------------------------------------------------------------------

# The day rows (PayoutDay) and what counts on the merchant's side are the escrow ledger's
# (app.escrow.payouts: the 收款通知 reports the same day rows).


@dataclass(frozen=True)
class PayoutFilter:
    store_id: int
    start: date
    end: date
    merchant_order_no: str = ""  # one installment order's periods


def _ledger_where(flt: PayoutFilter) -> list:
    where = [LedgerEntry.store_id == flt.store_id, LedgerEntry.day >= flt.start,
             LedgerEntry.day <= flt.end, LedgerEntry.kind.in_(PAYOUT_KINDS)]
    if flt.merchant_order_no:
        where.append(LedgerEntry.period_id.in_(
            select(InstallmentPeriod.id).join(InstallmentOrder,
                                              InstallmentOrder.id == InstallmentPeriod.order_id)
            .where(InstallmentOrder.store_id == flt.store_id,
                   InstallmentOrder.merchant_order_no == flt.merchant_order_no)
            .execution_options(readable=True)))
    return where


def payout_rows(flt: PayoutFilter) -> Select:
    """Each ledger entry of the days (oldest first) with its ticket or period."""
    return (select(LedgerEntry.id, LedgerEntry.day, LedgerEntry.kind, LedgerEntry.amount,
                   LedgerEntry.ticket_id, LedgerEntry.period_id,
                   func.coalesce(Ticket.serial, InstallmentPeriod.serial).label("serial"),
                   Order.order_no, InstallmentOrder.merchant_order_no, InstallmentPeriod.number)
            .outerjoin(Ticket, and_(Ticket.id == LedgerEntry.ticket_id,
                                    Ticket.store_id == LedgerEntry.store_id))
            .outerjoin(Order, Order.id == Ticket.order_id)
            .outerjoin(InstallmentPeriod, and_(InstallmentPeriod.id == LedgerEntry.period_id,
                                               InstallmentPeriod.store_id == LedgerEntry.store_id))
            .outerjoin(InstallmentOrder, InstallmentOrder.id == InstallmentPeriod.order_id)
            .where(*_ledger_where(flt))
            .order_by(LedgerEntry.day, LedgerEntry.id).execution_options(readable=True))


def payout_days(flt: PayoutFilter) -> list[PayoutDay]:
    """Each day's totals by kind (newest first)."""
    rows = db.session.execute(
        select(LedgerEntry.day, *day_sums())
        .where(*_ledger_where(flt)).group_by(LedgerEntry.day).order_by(LedgerEntry.day.desc())
        .execution_options(readable=True)).all()
    return [PayoutDay(r[0], *(int(v) for v in r[1:])) for r in rows]


def payout_total(days: Sequence[PayoutDay]) -> PayoutDay | None:
    if not days:
        return None
    return PayoutDay(days[-1].day, *(sum(getattr(d, f) for d in days) for f in DAY_FIELDS))
