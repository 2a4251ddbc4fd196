"""Installment periods in the nightly bank escrow sync (docs/installments.md): the statements the
sync runs for them, beside the tickets' in `app.escrow.sync`.

A period's money moves like a pickup voucher's: its price is deposited into trust the night
after the order is issued; the daily job (`app.installments.jobs`) moves a period whose expected
date has come to 核銷中, and the next night sends its RELEASE; an order's return sends each
returned period's REFUND (its face value less its share of the handling fee) the night after
the return, never before issue day + 2. The bank's acknowledgement finalises the period
(核銷中 → 已核銷, 退貨中 → 已退貨) and writes the ledger; a released period's payout is written
for the day the contract's payout delay (撥款天期) brings. When the last refund of an order is
acknowledged the order is refunded: `refunded_at` is set (the refund notice goes out from it)
and the platform's return processing fee is charged.

Nothing here commits; `app.escrow.sync.Night` calls these inside its steps' transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, insert, select, update

from app import clock
from app.db import db
from app.escrow.models import BankInstruction, InstructionKind, InstructionStatus, LedgerEntry, LedgerKind
from app.installments import services as installments
from app.installments.models import InstallmentPeriod
from app.installments.status import Event, PeriodStatus, move, return_send_day
from app.stores.models import Contract

P = PeriodStatus
Period = InstallmentPeriod
ACK = InstructionStatus.ACKNOWLEDGED
PENDING = InstructionStatus.PENDING


def key(kind: InstructionKind, period_id: int, attempt: int) -> str:
    return f"{kind.value}:p{period_id}:{attempt}"


def _instructions(kind: InstructionKind, *statuses: InstructionStatus):  # noqa: ANN202
    """EXISTS an instruction of this kind (in one of `statuses`, or any) for the period row."""
    cond = [BankInstruction.period_id == Period.id, BankInstruction.kind == kind]
    if statuses:
        cond.append(BankInstruction.status.in_(statuses))
    return exists().where(*cond)


def deposits_due(cutoff: datetime, after_id: int, limit: int) -> list[Any]:
    """Periods issued before the cut-off whose deposit the bank neither holds nor may hold,
    with how many deposits each had (a rejected one is written again as the next attempt)."""
    earlier = (select(func.count()).where(BankInstruction.period_id == Period.id,
                                          BankInstruction.kind == InstructionKind.DEPOSIT)
               .correlate(Period).scalar_subquery())
    return list(db.session.execute(
        select(Period.id, Period.store_id, Period.face_value, earlier.label("earlier"))
        .where(Period.issued_at < cutoff, Period.id > after_id,
               ~_instructions(InstructionKind.DEPOSIT, PENDING, ACK))
        .order_by(Period.id).limit(limit).execution_options(unscoped=True)).all())


def releases_due(cutoff: datetime, after_id: int, limit: int) -> list[Any]:
    """Periods the daily job moved to 核銷中 before the cut-off, deposited, with no release
    written yet: each is released once (a rejected release stays for the operator to see)."""
    return list(db.session.execute(
        select(Period.id, Period.store_id, Period.order_id, Period.number, Period.serial,
               Period.face_value)
        .where(Period.status == P.REDEEMING, Period.redeemed_at < cutoff, Period.id > after_id,
               _instructions(InstructionKind.DEPOSIT, ACK),
               ~_instructions(InstructionKind.RELEASE))
        .order_by(Period.id).limit(limit).execution_options(unscoped=True)).all())


def refunds_due(day: date, cutoff: datetime) -> list[Any]:
    """Returned periods (待退貨) whose return is due tonight (`status.return_send_day`) and whose
    deposit the bank holds."""
    rows = db.session.execute(
        select(Period.id, Period.store_id, Period.order_id, Period.number, Period.serial,
               Period.face_value, Period.return_fee, Period.issued_at, Period.returned_at)
        .where(Period.status == P.RETURN_PENDING, Period.returned_at < cutoff,
               _instructions(InstructionKind.DEPOSIT, ACK))
        .order_by(Period.id).execution_options(unscoped=True)).all()
    return [r for r in rows if return_send_day(r.issued_at, r.returned_at) <= day]


def compare_and_set(ids: Sequence[int], seen: PeriodStatus, event: Event) -> list[int]:
    """Move the periods still in `seen` by `event`; the ids moved."""
    to = move(seen, event)
    assert to is not None, (seen, event)
    if not ids:
        return []
    return list(db.session.scalars(
        update(Period).where(Period.id.in_(ids), Period.status == seen)
        .values(status=to, status_changed_at=clock.now()).returning(Period.id)
        .execution_options(synchronize_session=False, unscoped=True)))


def record_history(rows: Iterable[Any], action: str, seen: PeriodStatus | None,
                   to: PeriodStatus | None, reason: str) -> None:
    """One history line per period, on its order (the order's history names every period)."""
    installments.record_period_history(rows, action, seen, to, reason)


def serials(period_ids: Iterable[int]) -> dict[int, str]:
    ids = list(period_ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Period.id, Period.serial).where(Period.id.in_(ids))
                                   .execution_options(unscoped=True)).all())


def finalise(kind: InstructionKind, acknowledged: list[tuple[Any, str]], label: str) -> None:
    """The bank acknowledged these period instructions (each with its bank reference): ledger,
    the period's last step with history, payouts, and the orders whose refund completed."""
    now, day = clock.now(), clock.business_day()
    delays = _payout_delays({item.store_id for item, _ in acknowledged}, day)
    ledger: list[dict[str, Any]] = []
    for item, _ref in acknowledged:
        row = {"ticket_id": None, "period_id": item.period_id, "store_id": item.store_id,
               "day": day, "instruction_id": item.id, "created_at": now}
        ledger.append(row | {"kind": LedgerKind(kind.value), "amount": item.amount})
        if kind is InstructionKind.REFUND and item.fee > 0:
            ledger.append(row | {"kind": LedgerKind.HANDLING_FEE, "amount": item.fee})
        if kind is InstructionKind.RELEASE:
            payout_day = day + timedelta(days=delays.get(item.store_id, 0))
            ledger.append(row | {"kind": LedgerKind.PAYOUT, "amount": item.amount,
                                 "day": payout_day})
    db.session.execute(insert(LedgerEntry), ledger)
    if kind is InstructionKind.DEPOSIT:
        return
    seen = P.REDEEMING if kind is InstructionKind.RELEASE else P.RETURNING
    refs = {item.period_id: ref for item, ref in acknowledged}
    done = compare_and_set(list(refs), seen, Event.BANK_ACKNOWLEDGED)
    rows = db.session.execute(
        select(Period.id, Period.store_id, Period.order_id, Period.number, Period.serial)
        .where(Period.id.in_(done)).execution_options(unscoped=True)).all()
    by_ref: dict[str, list[Any]] = {}
    for r in rows:
        by_ref.setdefault(refs[r.id], []).append(r)
    for ref, group in by_ref.items():
        suffix = f"（銀行編號 {ref}）" if ref else ""
        record_history(group, "bank_acknowledged", seen, move(seen, Event.BANK_ACKNOWLEDGED),
                       label + suffix)
    if kind is InstructionKind.REFUND:
        installments.mark_refunded({r.order_id for r in rows}, now)


def _payout_delays(store_ids: set[int], day: date) -> dict[int, int]:
    """Each store's payout delay (撥款天期) from its contract in force on `day`."""
    if not store_ids:
        return {}
    rows = db.session.execute(
        select(Contract.store_id, Contract.payout_delay_days)
        .where(Contract.store_id.in_(store_ids), Contract.start_date <= day)
        .order_by(Contract.store_id, Contract.start_date, Contract.id)
        .execution_options(unscoped=True)).all()
    return {store_id: delay for store_id, delay in rows}  # the latest start wins

