"""重新送出: the operator queues again a release (核銷撥付) or refund (退貨退款) the escrow bank
rejected (docs/operations.md, 價金保管同步).

A rejected release or refund leaves its ticket 核銷中 / 退貨中 (an installment period the same)
and no night writes it again (the nightly steps only pick tickets still `used` /
`return_pending`). Resending it writes a NEW instruction, PENDING, with the same amount and fee
under the next attempt's key (`<kind>:<ticket id>:<attempt>`, periods `p<id>`): the bank treats a
new key as a new entry, and the rejected instruction stays on record as it was, with the bank's
reason. The new one is filed under the run of the one it replaces, so the next run's resume
step (every PENDING instruction of an earlier run: `Night.pending_ids(resume=True)`) sends it
and records the answer like any other: acknowledged → ticket 已核銷 / 已退貨 and the ledger;
rejected again → it can be resent again. It goes out with the next nightly sync, or at once
with the operator's forced re-run of the night.

Allowed only while the rejected instruction is the subject's latest of its kind and the ticket
(or period) is still 核銷中 / 退貨中 (the subject's row is locked while this is checked).
Deposits are not resent by hand: the next night writes a rejected deposit again by itself.

Queued once: two operators clicking at once compute the same key, and the unique key lets one
INSERT through (ON CONFLICT DO NOTHING); the other is told it was already resent. The history
line (who, when, the bank's earlier reason) is written in the same transaction, only by the
winner. Nothing here commits: the view does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app import clock, history
from app.db import conflict_insert, db
from app.errors import InvalidInput
from app.escrow import periods
from app.escrow.models import BankInstruction, InstructionKind, InstructionStatus
from app.installments.models import InstallmentPeriod
from app.installments.status import PeriodStatus as PS
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S

RESENDABLE = (InstructionKind.RELEASE, InstructionKind.REFUND)
TICKET_WAITING = {InstructionKind.RELEASE: S.REDEEMING, InstructionKind.REFUND: S.RETURNING}
PERIOD_WAITING = {InstructionKind.RELEASE: PS.REDEEMING, InstructionKind.REFUND: PS.RETURNING}
BATCH_LIMIT = 500  # rejected entries resent by one batch click


class ResendRefused(InvalidInput):
    """The entry cannot be resent (the message says why); nothing was changed."""


@dataclass(frozen=True)
class Resent:
    rejected_id: int
    instruction_id: int  # the new PENDING instruction
    key: str
    serial: str


def _latest_id(inst: BankInstruction) -> int | None:
    column = BankInstruction.ticket_id if inst.ticket_id is not None else BankInstruction.period_id
    subject_id = inst.ticket_id if inst.ticket_id is not None else inst.period_id
    return db.session.scalar(select(func.max(BankInstruction.id))
                             .where(column == subject_id, BankInstruction.kind == inst.kind))


def _attempts(inst: BankInstruction) -> int:
    column = BankInstruction.ticket_id if inst.ticket_id is not None else BankInstruction.period_id
    subject_id = inst.ticket_id if inst.ticket_id is not None else inst.period_id
    return db.session.scalar(select(func.count()).select_from(BankInstruction)
                             .where(column == subject_id, BankInstruction.kind == inst.kind)) or 0


def _subject(inst: BankInstruction) -> Any:
    """The ticket's or the period's row, locked until the transaction ends."""
    if inst.ticket_id is not None:
        stmt = select(Ticket.id, Ticket.serial, Ticket.status, Ticket.store_id).where(
            Ticket.id == inst.ticket_id)
    else:
        stmt = select(InstallmentPeriod.id, InstallmentPeriod.serial, InstallmentPeriod.status,
                      InstallmentPeriod.store_id, InstallmentPeriod.order_id,
                      InstallmentPeriod.number).where(InstallmentPeriod.id == inst.period_id)
    return db.session.execute(stmt.with_for_update().execution_options(unscoped=True)).one()


def resend(instruction_id: int) -> Resent:
    """Queue the rejected instruction again (a new PENDING one, sent by the next run's resume
    step), with a history line on the ticket (or the period's order). ResendRefused with the
    reason when it cannot be, and then nothing changed."""
    rejected = db.session.get(BankInstruction, instruction_id)
    if rejected is None:
        raise ResendRefused("查無此銀行交易")
    if rejected.kind not in RESENDABLE:
        raise ResendRefused("遭拒的價金存入會由下一次同步自動重新送出，不需手動重新送出")
    subject = _subject(rejected)
    what = f"{rejected.kind.label}（{subject.serial}）"
    if rejected.status is not InstructionStatus.REJECTED:
        raise ResendRefused(f"{what}目前為「{rejected.status.label}」，只有銀行拒絕的交易可以重新送出")
    if _latest_id(rejected) != rejected.id:
        raise ResendRefused(f"{what}已重新送出過，請處理最新的一筆交易")
    waiting = (TICKET_WAITING if rejected.ticket_id is not None else PERIOD_WAITING)[rejected.kind]
    if subject.status is not waiting:
        raise ResendRefused(f"{what}目前為「{subject.status.label}」，已不在{waiting.label}，無法重新送出")
    attempt = _attempts(rejected) + 1
    key = (f"{rejected.kind.value}:{rejected.ticket_id}:{attempt}" if rejected.ticket_id is not None
           else periods.key(rejected.kind, subject.id, attempt))
    new_id = db.session.execute(
        conflict_insert(BankInstruction).values(
            key=key, run_id=rejected.run_id, ticket_id=rejected.ticket_id,
            period_id=rejected.period_id, store_id=rejected.store_id, kind=rejected.kind,
            amount=rejected.amount, fee=rejected.fee, status=InstructionStatus.PENDING,
            bank_ref="", answer="", created_at=clock.now())
        .on_conflict_do_nothing(index_elements=["key"]).returning(BankInstruction.id)
    ).scalar_one_or_none()
    if new_id is None:  # another operator (or a click before) queued this attempt first
        raise ResendRefused(f"{what}已由其他人重新送出")
    reason = (f"重新送出{rejected.kind.label}，隨下一次價金保管同步送交銀行"
              f"（銀行先前拒絕：{rejected.answer or '銀行未說明原因'}；原交易 {rejected.key}）")
    if rejected.ticket_id is not None:
        history.record_many(Ticket.__tablename__, "bank_resend",
                            [{"subject_id": subject.id, "store_id": subject.store_id}],
                            from_status=subject.status.value, to_status=subject.status.value,
                            reason=reason)
    else:
        periods.record_history([subject], "bank_resend", subject.status, subject.status, reason)
    return Resent(rejected.id, new_id, key, subject.serial)


def waiting_ids(candidates: Iterable[int]) -> list[int]:
    """Of these instruction ids, the rejected releases and refunds still waiting (the latest of
    their kind for a ticket or period still 核銷中 / 退貨中), oldest first."""
    ids = list(candidates)
    if not ids:
        return []
    rows = db.session.scalars(select(BankInstruction).where(
        BankInstruction.id.in_(ids), BankInstruction.status == InstructionStatus.REJECTED,
        BankInstruction.kind.in_(RESENDABLE)).order_by(BankInstruction.id)).all()
    ok = resendable(rows)
    return [i.id for i in rows if i.id in ok]


def resendable(instructions: Iterable[BankInstruction]) -> set[int]:
    """Which of these instructions the operator may resend now (what the page shows the button
    on): rejected releases and refunds, the latest of their kind, subject still waiting."""
    rejected = [i for i in instructions
                if i.status is InstructionStatus.REJECTED and i.kind in RESENDABLE]
    if not rejected:
        return set()
    ticket_ids = {i.ticket_id for i in rejected if i.ticket_id is not None}
    period_ids = {i.period_id for i in rejected if i.period_id is not None}
    latest = {}
    for column, ids in ((BankInstruction.ticket_id, ticket_ids),
                        (BankInstruction.period_id, period_ids)):
        if ids:
            for subject_id, kind, top in db.session.execute(
                    select(column, BankInstruction.kind, func.max(BankInstruction.id))
                    .where(column.in_(ids), BankInstruction.kind.in_(RESENDABLE))
                    .group_by(column, BankInstruction.kind)):
                latest[(column.key, subject_id, kind)] = top
    tickets = dict(db.session.execute(select(Ticket.id, Ticket.status).where(
        Ticket.id.in_(ticket_ids)).execution_options(unscoped=True)).all()) if ticket_ids else {}
    periods_ = dict(db.session.execute(select(InstallmentPeriod.id, InstallmentPeriod.status).where(
        InstallmentPeriod.id.in_(period_ids)).execution_options(unscoped=True)).all()) \
        if period_ids else {}
    out = set()
    for i in rejected:
        if i.ticket_id is not None:
            ok = tickets.get(i.ticket_id) is TICKET_WAITING[i.kind] \
                and latest.get(("ticket_id", i.ticket_id, i.kind)) == i.id
        else:
            ok = periods_.get(i.period_id) is PERIOD_WAITING[i.kind] \
                and latest.get(("period_id", i.period_id, i.kind)) == i.id
        if ok:
            out.add(i.id)
    return out
