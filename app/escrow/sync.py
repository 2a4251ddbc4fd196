"""The nightly bank escrow sync (價金保管同步, docs/tickets.md): 01:00 Taipei, for what happened before
midnight.

One run, for one business day D (cut-off: D 00:00 Taipei):

0. gift vouchers involve no bank: `used` → `redeemed` and `return_pending` → `returned` once
   the action's day is over (`lifecycle.finalise_without_bank`);
1. resume: every PENDING instruction of an earlier run (the bank may or may not have it) is
   sent again with the SAME key and finalised on the answer;
2. deposits: every pickup voucher issued before the cut-off without an acknowledged (or
   pending) DEPOSIT — face value into trust — written, sent, answered;
   (installment periods too: `app.escrow.periods`);
3. redemptions: pickup `used` tickets due (`lifecycle.send_to_bank`: the night after) whose
   deposit the bank holds → `redeeming` + RELEASE (face value);
4. returns: pickup `return_pending` tickets due (a same-day issue and return waits until issue
   day + 2) whose deposit the bank holds → `returning` + REFUND (face value - fee, fee);
   installment periods the daily job moved to `redeeming` get their RELEASE, and returned
   periods due (the same +2-day rule) move `return_pending` → `returning` with their REFUND;
   then the releases and the refunds are sent and answered;
5. 收款通知: stores with the setting on that were paid something on the day get one mail to
   their finance contacts, once per store and day (`app.escrow.payouts`).

A rejected entry is REJECTED with the bank's reason (and a history line on the ticket); its
ticket stays in `redeeming` / `returning` for the operator to see. A rejected deposit is
written again (a new attempt, a new key) by the next run; releases and refunds wait for it.

Crash safety: each phase writes its instructions (PENDING) and moves its tickets in ONE
transaction and commits BEFORE anything goes to the bank; a crash after sending loses nothing,
and the re-send carries the same key, which the bank treats as the same entry. Answers are
recorded chunk by chunk, each in one transaction with what follows from it: the instruction
(PENDING → ACKNOWLEDGED / REJECTED, a compare-and-set), the ticket (`redeeming` → `redeemed`,
`returning` → `returned`, a compare-and-set on the status read), its history and the money
ledger (DEPOSIT, RELEASE, REFUND, HANDLING_FEE). An instruction is finalised only once, by
whoever flips it from PENDING, and only on the bank's acknowledgement.

Keys are `<kind>:<ticket id>:<attempt>` with attempt = 1 + the earlier instructions of that
kind for the ticket (only a rejection makes a second one), so two workers writing the same entry
write the same key and the unique key keeps one.

A night is claimed once: a new run for a day starts only if that day has no run yet (or for the
operator's forced re-run, none still running); the claim is checked and written under a lock
(PostgreSQL advisory lock; SQLite's write lock), so of two workers one runs and the other gets
the winner's run back. A run holds a lease (`app.jobs.LEASE`) renewed at every step; one whose
lease ran out died with its process: a new claim takes the night over, and the sweeper
(`app.escrow.jobs.sweep_sync_runs`, every minute) fails it and runs the night again — safe,
since every step above is idempotent (same keys, compare-and-set moves).

This module changes rows and never commits: the job (`app.escrow.jobs`, also the operator's
re-run) drives the steps and commits after each one, before anything goes to the bank.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, func, insert, select, text, update

from app import clock, history, jobs
from app.db import conflict_insert, db, in_chunks, on_postgresql
from app.errors import InvalidInput
from app.escrow import payouts, periods
from app.escrow.bank import BankAnswer, BankEntry, EscrowBank
from app.escrow.models import (
    BankInstruction,
    BankSyncRun,
    InstructionKind,
    InstructionStatus,
    LedgerEntry,
    LedgerKind,
    SyncRunStatus,
)
from app.installments.models import InstallmentPeriod
from app.installments.status import Event
from app.installments.status import PeriodStatus as PS
from app.products.models import ProductKind
from app.stores.models import Store
from app.tickets import lifecycle, reactions
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S

log = logging.getLogger(__name__)

CHUNK = 500  # entries per request to the bank, and rows per statement
KIND_ORDER = (InstructionKind.DEPOSIT, InstructionKind.RELEASE, InstructionKind.REFUND)
_LOCK_NAMESPACE = 0x45534352  # "ESCR": pg_advisory_xact_lock(namespace, day)


ACK = InstructionStatus.ACKNOWLEDGED
PENDING = InstructionStatus.PENDING
REJECTED = InstructionStatus.REJECTED


TAKEN_OVER = "中斷：執行逾時未完成（程序可能已終止），由後續執行接手"
ABANDONED_RETRY = "執行中斷（系統程序終止），已自動重新執行"
ABANDONED_FINAL = "執行中斷（系統程序終止），已連續中斷 {} 次，請至營運後台重新執行"


class SyncFailed(Exception):
    """A run ended FAILED (the bank unreachable, or a step crashed); the next run resumes."""


@dataclass(frozen=True)
class Outcome:
    run: BankSyncRun
    ran: bool  # False: another run had the night (the run returned is that one)


def empty_counts() -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {
        kind.value: {"sent": 0, "resent": 0, "acknowledged": 0, "rejected": 0} for kind in KIND_ORDER
    }
    counts["gift"] = {"redeemed": 0, "returned": 0}
    return counts


# Claiming the night ---------------------------------------------------------------------------

def _lock_night(day: date) -> None:
    """Serialise claims for a day until this transaction ends."""
    if on_postgresql():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:ns, :day)"),
                           {"ns": _LOCK_NAMESPACE, "day": day.toordinal()})
    else:  # SQLite: the first write of a transaction takes the database's one write lock
        db.session.execute(update(BankSyncRun).where(BankSyncRun.business_day == day)
                           .values(trigger=BankSyncRun.trigger))


def latest_run(day: date) -> BankSyncRun | None:
    return db.session.scalar(select(BankSyncRun).where(BankSyncRun.business_day == day)
                             .order_by(BankSyncRun.id.desc()).limit(1))


def check_day(day: date) -> None:
    if day > clock.business_day():
        raise InvalidInput("不可執行未來日期的價金保管同步", fields={"day": "不可選擇未來的日期"})


def claim_night(day: date, trigger: str, force: bool, attempt: int = 1) -> int | None:
    """A new RUNNING run for the day, under the night's lock (the caller starts a fresh
    transaction first, so the lock comes first, and commits after); None if the night is not
    ours to run. A RUNNING run whose lease ran out died with its process: it is failed here."""
    _lock_night(day)
    now = clock.now()
    existing = latest_run(day)
    if existing is not None:
        if existing.status is SyncRunStatus.RUNNING:
            if (existing.lease_until or jobs.lease_end(existing.started_at)) >= now:
                return None  # someone is running this night
            existing.status, existing.finished_at, existing.lease_until = SyncRunStatus.FAILED, now, None
            existing.error = (existing.error + "\n" if existing.error else "") + TAKEN_OVER
        elif not force:
            return None  # this night has run; the operator may force a re-run
    run = BankSyncRun(business_day=day, trigger=trigger, status=SyncRunStatus.RUNNING,
                      started_at=now, counts=empty_counts(), error="", attempts=attempt,
                      lease_until=jobs.lease_end(now))
    db.session.add(run)
    db.session.flush()
    return run.id


def return_abandoned(run: BankSyncRun) -> bool:
    """A run whose lease ran out (`app.jobs.abandoned`): its process died mid-night. Failed with
    the reason; True when its night is to run again (attempts left), which resumes it."""
    again = run.attempts < jobs.MAX_ATTEMPTS
    reason = ABANDONED_RETRY if again else ABANDONED_FINAL.format(run.attempts)
    error = (run.error + "\n" if run.error else "") + reason
    return jobs.take_back(run, BankSyncRun.status == SyncRunStatus.RUNNING,
                          status=SyncRunStatus.FAILED, finished_at=clock.now(), lease_until=None,
                          error=error) and again


# One run: the steps (each flushes; the job commits after each) --------------------------------

@dataclass(frozen=True)
class Pending:
    """What `record` needs of an instruction sent: which ticket or period it moves, and how."""

    id: int
    key: str
    ticket_id: int | None
    period_id: int | None
    store_id: int
    kind: InstructionKind
    amount: int
    fee: int


@dataclass(frozen=True)
class Chunk:
    """Instructions about to go to the bank: the entries, and what `record` needs of each."""

    entries: list[BankEntry]
    pending: list[Pending]


class Night:
    def __init__(self, run_id: int, day: date, bank: EscrowBank) -> None:
        self.run_id = run_id
        self.day = day
        self.cutoff = clock.day_start(day)  # actions before this instant are eligible
        self.at = self.cutoff  # lifecycle decisions are made as of the night's business day
        self.bank = bank
        self.counts = empty_counts()  # as committed
        self.staged_counts = self.counts  # as written in the open transaction
        self.label = f"價金保管同步 #{run_id}（{day:%Y/%m/%d}）"

    def committed(self) -> None:
        """Tell the night its open transaction was committed."""
        self.counts = self.staged_counts

    def finish(self, status: SyncRunStatus, error: str = "") -> None:
        run = db.session.get(BankSyncRun, self.run_id)
        assert run is not None
        run.status, run.finished_at, run.error = status, clock.now(), error
        run.lease_until = None
        run.counts = {k: dict(v) for k, v in self.counts.items()}
        self.staged_counts = run.counts

    def save_counts(self, delta: dict[str, dict[str, int]]) -> None:
        """Add a step's counts, and renew the run's lease, in the step's transaction."""
        merged = {k: dict(v) for k, v in self.staged_counts.items()}
        for group, values in delta.items():
            for name, n in values.items():
                merged[group][name] = merged[group].get(name, 0) + n
        self.renew(counts=merged)
        self.staged_counts = merged

    def renew(self, **values: Any) -> None:
        """Renew the run's lease (with `values`) in the open transaction; LeaseLost if the run
        was taken as dead meanwhile (failed by the sweeper or taken over by a new claim)."""
        held = db.session.execute(
            update(BankSyncRun).where(BankSyncRun.id == self.run_id,
                                      BankSyncRun.status == SyncRunStatus.RUNNING)
            .values(lease_until=jobs.lease_end(), **values)).rowcount
        if not held:
            raise jobs.LeaseLost(f"bank sync run {self.run_id}")

    # gift vouchers -------------------------------------------------------------------------

    def finalise_gifts(self) -> None:
        """Gift vouchers: no bank, finalised once the action's cancel window has closed."""
        moved = {"redeemed": 0, "returned": 0}
        for seen, at_column in ((S.USED, Ticket.redeemed_at), (S.RETURN_PENDING, Ticket.returned_at)):
            rows = db.session.execute(
                _facts_select().where(Ticket.kind == ProductKind.GIFT, Ticket.status == seen,
                                      at_column < self.cutoff).order_by(Ticket.id)
                .execution_options(unscoped=True)).all()
            due: dict[S, list[Any]] = {}
            for row in rows:
                decision = lifecycle.finalise_without_bank(lifecycle.Facts.of(row), self.at)
                if isinstance(decision, lifecycle.Move):
                    due.setdefault(decision.to, []).append(row)
            for to, due_rows in due.items():
                stores = {r.id: r.store_id for r in due_rows}
                for ids in in_chunks(stores, CHUNK):
                    done = _compare_and_set(ids, seen, to,
                                            lifecycle.Action.FINALISE_WITHOUT_BANK)
                    _history([(i, stores[i]) for i in done], "finalised", seen, to, self.label)
                    moved["redeemed" if to is S.REDEEMED else "returned"] += len(done)
        self.save_counts({"gift": moved})

    # writing instructions ------------------------------------------------------------------

    def write_deposits(self) -> None:
        """Every pickup voucher issued before the cut-off whose deposit the bank neither holds
        nor may hold (no acknowledged or pending DEPOSIT), in one transaction."""
        kind = InstructionKind.DEPOSIT
        held = exists().where(BankInstruction.ticket_id == Ticket.id,
                              BankInstruction.kind == kind,
                              BankInstruction.status.in_((PENDING, ACK)))
        # Counted in the same statement as `held`, so both see the same committed rows: a run
        # for another night committing meanwhile makes the same key (skipped), never a second.
        earlier = (select(func.count()).where(BankInstruction.ticket_id == Ticket.id,
                                              BankInstruction.kind == kind)
                   .correlate(Ticket).scalar_subquery())
        last_id = 0
        while True:
            rows = db.session.execute(
                select(Ticket.id, Ticket.store_id, Ticket.face_value, earlier.label("earlier"))
                .where(Ticket.kind == ProductKind.PICKUP, Ticket.issued_at < self.cutoff,
                       Ticket.id > last_id, ~held)
                .order_by(Ticket.id).limit(CHUNK).execution_options(unscoped=True)).all()
            if not rows:
                break
            last_id = rows[-1].id
            _insert_instructions([
                self._instruction(kind, r.id, r.store_id, r.face_value, 0, r.earlier + 1)
                for r in rows])
        self.renew()

    def write_moves(self, kind: InstructionKind) -> None:
        """Redemptions (`used` → `redeeming`, RELEASE) or returns (`return_pending` →
        `returning`, REFUND) that are due and whose deposit the bank holds: ticket moved
        (compare-and-set), instruction and history written, in one transaction."""
        seen, at_column = ((S.USED, Ticket.redeemed_at) if kind is InstructionKind.RELEASE
                           else (S.RETURN_PENDING, Ticket.returned_at))
        deposited = exists().where(BankInstruction.ticket_id == Ticket.id,
                                   BankInstruction.kind == InstructionKind.DEPOSIT,
                                   BankInstruction.status == ACK)
        rows = db.session.execute(
            _facts_select().where(Ticket.kind == ProductKind.PICKUP, Ticket.status == seen,
                                  at_column < self.cutoff, deposited)
            .order_by(Ticket.id).execution_options(unscoped=True)).all()
        due = [r for r in rows
               if isinstance(lifecycle.send_to_bank(lifecycle.Facts.of(r), self.at), lifecycle.Move)]
        to = S.REDEEMING if kind is InstructionKind.RELEASE else S.RETURNING
        for chunk in in_chunks(due, CHUNK):
            by_id = {r.id: r for r in chunk}
            moved = _compare_and_set(list(by_id), seen, to, lifecycle.Action.SEND_TO_BANK)
            if not moved:
                continue
            attempts = _attempts(kind, moved)
            values = []
            for ticket_id in moved:
                r = by_id[ticket_id]
                fee = (r.return_fee or 0) if kind is InstructionKind.REFUND else 0
                values.append(self._instruction(kind, r.id, r.store_id, r.face_value - fee, fee,
                                                attempts.get(r.id, 0) + 1))
            _insert_instructions(values)
            _history([(i, by_id[i].store_id) for i in moved], "sent_to_bank", seen, to, self.label)
        self.renew()

    def _instruction(self, kind: InstructionKind, ticket_id: int, store_id: int, amount: int,
                     fee: int, attempt: int) -> dict[str, Any]:
        return {"key": f"{kind.value}:{ticket_id}:{attempt}", "run_id": self.run_id,
                "ticket_id": ticket_id, "period_id": None, "store_id": store_id, "kind": kind,
                "amount": amount, "fee": fee, "status": PENDING, "bank_ref": "", "answer": "",
                "created_at": clock.now()}

    # installment periods (app.escrow.periods) ----------------------------------------------

    def _period_instruction(self, kind: InstructionKind, period_id: int, store_id: int,
                            amount: int, fee: int, attempt: int) -> dict[str, Any]:
        return {"key": periods.key(kind, period_id, attempt), "run_id": self.run_id,
                "ticket_id": None, "period_id": period_id, "store_id": store_id, "kind": kind,
                "amount": amount, "fee": fee, "status": PENDING, "bank_ref": "", "answer": "",
                "created_at": clock.now()}

    def write_period_deposits(self) -> None:
        """Every installment period issued before the cut-off whose deposit the bank neither
        holds nor may hold, like the tickets' deposits."""
        last_id = 0
        while rows := periods.deposits_due(self.cutoff, last_id, CHUNK):
            last_id = rows[-1].id
            _insert_instructions([
                self._period_instruction(InstructionKind.DEPOSIT, r.id, r.store_id, r.face_value,
                                         0, r.earlier + 1) for r in rows])
        self.renew()

    def write_period_releases(self) -> None:
        """Periods the daily job redeemed before the cut-off (already 核銷中): their RELEASE."""
        last_id = 0
        while rows := periods.releases_due(self.cutoff, last_id, CHUNK):
            last_id = rows[-1].id
            _insert_instructions([
                self._period_instruction(InstructionKind.RELEASE, r.id, r.store_id, r.face_value,
                                         0, 1) for r in rows])
            periods.record_history(rows, "sent_to_bank", None, None,
                                   f"{self.label} {InstructionKind.RELEASE.label}")
        self.renew()

    def write_period_refunds(self) -> None:
        """Returned periods due tonight: 待退貨 → 退貨中 (compare-and-set) and their REFUND (face
        value less the period's share of the handling fee), with history."""
        for chunk in in_chunks(periods.refunds_due(self.day, self.cutoff), CHUNK):
            by_id = {r.id: r for r in chunk}
            moved = periods.compare_and_set(list(by_id), PS.RETURN_PENDING, Event.BANK_SENT)
            if not moved:
                continue
            attempts = _attempts(InstructionKind.REFUND, [], period_ids=moved)
            values = []
            for period_id in moved:
                r = by_id[period_id]
                fee = r.return_fee or 0
                values.append(self._period_instruction(InstructionKind.REFUND, r.id, r.store_id,
                                                       r.face_value - fee, fee,
                                                       attempts.get(r.id, 0) + 1))
            _insert_instructions(values)
            periods.record_history([by_id[i] for i in moved], "sent_to_bank", PS.RETURN_PENDING,
                                   PS.RETURNING, self.label)
        self.renew()

    # 收款通知 -------------------------------------------------------------------------------

    def queue_payout_notices(self) -> int:
        """The 收款通知 of the day the ledger was written for (the business day now, as in
        `_finalise`), queued in this step's transaction: once per store and day. How many
        messages were queued."""
        queued = payouts.queue_notices(clock.business_day(), self.run_id)
        self.renew()
        return len(queued)

    # sending and answers -------------------------------------------------------------------

    def pending_ids(self, kind: InstructionKind, *, resume: bool = False) -> list[int]:
        """The PENDING instructions of one kind to send: this run's, or (resume) every earlier
        run's, sent again with their own keys."""
        of_run = BankInstruction.run_id != self.run_id if resume else BankInstruction.run_id == self.run_id
        return list(db.session.scalars(
            select(BankInstruction.id).where(BankInstruction.kind == kind,
                                             BankInstruction.status == PENDING, of_run)
            .order_by(BankInstruction.id)))

    def mark_sent(self, ids: Sequence[int]) -> Chunk | None:
        """Note the sending of the still PENDING ones among `ids` (and renew the lease); what
        goes to the bank, or None when none is left."""
        rows = db.session.execute(
            select(BankInstruction, func.coalesce(Ticket.serial, InstallmentPeriod.serial),
                   Store.merchant_code)
            .outerjoin(Ticket, Ticket.id == BankInstruction.ticket_id)
            .outerjoin(InstallmentPeriod, InstallmentPeriod.id == BankInstruction.period_id)
            .join(Store, Store.id == BankInstruction.store_id)
            .where(BankInstruction.id.in_(ids), BankInstruction.status == PENDING)
            .order_by(BankInstruction.id).execution_options(unscoped=True)).all()
        if not rows:
            return None
        db.session.execute(update(BankInstruction)
                           .where(BankInstruction.id.in_([r[0].id for r in rows]),
                                  BankInstruction.status == PENDING)
                           .values(sent_at=clock.now()))
        self.renew()
        entries = [BankEntry(key=inst.key, kind=inst.kind.value, ticket_serial=serial,
                             merchant_code=merchant_code, amount=inst.amount, fee=inst.fee)
                   for inst, serial, merchant_code in rows]
        pending = [Pending(inst.id, inst.key, inst.ticket_id, inst.period_id, inst.store_id,
                           inst.kind, inst.amount, inst.fee) for inst, _, _ in rows]
        return Chunk(entries, pending)

    def record(self, kind: InstructionKind, pending: list[Pending], answers: list[BankAnswer],
               sent: dict[str, int]) -> None:
        """One chunk's answers, in one transaction: each instruction flipped from PENDING
        (compare-and-set), the acknowledged ones finalised, the rejected ones noted."""
        by_key = {a.key: a for a in answers}
        now = clock.now()
        acknowledged, rejected = [], []
        for item in pending:
            inst_id = item.id
            answer = by_key.get(item.key)
            if answer is None:
                continue  # no answer for it: it stays PENDING and the next run re-sends it
            values: dict[str, Any] = {"answered_at": now, "bank_ref": answer.bank_ref[:60]}
            if answer.accepted:
                values |= {"status": ACK, "answer": "已確認"}
            else:
                values |= {"status": REJECTED, "answer": answer.reason or "銀行未說明原因"}
            flipped = db.session.execute(
                update(BankInstruction).where(BankInstruction.id == inst_id,
                                              BankInstruction.status == PENDING).values(**values)
            ).rowcount
            if flipped:
                (acknowledged if answer.accepted else rejected).append((item, answer))
        _finalise(self, kind, [(i, a) for i, a in acknowledged if i.ticket_id is not None])
        if of_periods := [(i, a.bank_ref) for i, a in acknowledged if i.period_id is not None]:
            periods.finalise(kind, of_periods, self.label)
        for item, answer in rejected:
            reason = f"{self.label} {kind.label}：{answer.reason or '銀行未說明原因'}"
            if item.ticket_id is not None:
                _history([(item.ticket_id, item.store_id)], "bank_rejected", None, None, reason)
            else:
                rows = db.session.execute(
                    select(InstallmentPeriod.order_id, InstallmentPeriod.store_id,
                           InstallmentPeriod.number, InstallmentPeriod.serial)
                    .where(InstallmentPeriod.id == item.period_id)
                    .execution_options(unscoped=True)).all()
                periods.record_history(rows, "bank_rejected", None, None, reason)
        self.save_counts({kind.value: {**sent, "acknowledged": len(acknowledged),
                                       "rejected": len(rejected)}})


def _finalise(night: Night, kind: InstructionKind,
              acknowledged: list[tuple[Pending, BankAnswer]]) -> None:
    """What the bank's acknowledgement means: the ledger, and for releases and refunds the
    ticket's last step (`redeeming` → `redeemed`, `returning` → `returned`) with history."""
    if not acknowledged:
        return
    day = clock.business_day()
    ledger: list[dict[str, Any]] = []
    for item, _answer in acknowledged:
        row = {"ticket_id": item.ticket_id, "store_id": item.store_id, "day": day,
               "instruction_id": item.id, "created_at": clock.now()}
        ledger.append(row | {"kind": LedgerKind(kind.value), "amount": item.amount})
        if kind is InstructionKind.REFUND and item.fee > 0:
            ledger.append(row | {"kind": LedgerKind.HANDLING_FEE, "amount": item.fee})
    db.session.execute(insert(LedgerEntry).values(ledger))
    if kind is InstructionKind.DEPOSIT:
        return
    seen, to = (S.REDEEMING, S.REDEEMED) if kind is InstructionKind.RELEASE else (S.RETURNING, S.RETURNED)
    stores = {item.ticket_id: item.store_id for item, _ in acknowledged}
    refs = {item.ticket_id: answer.bank_ref for item, answer in acknowledged}
    done = _compare_and_set(list(stores), seen, to)
    for ticket_id in done:
        ref = f"（銀行編號 {refs[ticket_id]}）" if refs[ticket_id] else ""
        _history([(ticket_id, stores[ticket_id])], "bank_acknowledged", seen, to, night.label + ref)
    if missing := set(stores) - set(done):
        log.warning("bank acknowledged %s for tickets not in %s: %s", kind.value, seen.value, missing)


# Statements -----------------------------------------------------------------------------------

def _facts_select():  # noqa: ANN202
    return select(Ticket.id, Ticket.store_id, Ticket.status, Ticket.kind, Ticket.face_value,
                  Ticket.expires_on, Ticket.valid_from, Ticket.issued_at, Ticket.redeemed_at,
                  Ticket.returned_at, Ticket.return_fee)


def _compare_and_set(ids: Sequence[int], seen: S, to: S,
                     action: lifecycle.Action = lifecycle.Action.BANK_ACKNOWLEDGED) -> list[int]:
    """UPDATE tickets SET status = :to WHERE id IN (:ids) AND status = :seen; the ids moved.
    The move is announced to the after-move reactions (app.tickets.reactions) as a bulk move."""
    if not ids:
        return []
    assert (seen, to) in lifecycle.TRANSITIONS
    rows = db.session.execute(
        update(Ticket).where(Ticket.id.in_(ids), Ticket.status == seen)
        .values(status=to, status_changed_at=clock.now())
        .returning(Ticket.id, Ticket.store_id, Ticket.face_value, Ticket.expires_on)
        .execution_options(synchronize_session=False, unscoped=True)).all()
    reactions.bulk_moved(action, seen, to, [reactions.MovedRow(*row) for row in rows])
    return [row[0] for row in rows]


def _attempts(kind: InstructionKind, ticket_ids: Iterable[int], *,
              period_ids: Iterable[int] = ()) -> dict[int, int]:
    """How many instructions of this kind each ticket (or each period) already has."""
    column = BankInstruction.period_id if period_ids else BankInstruction.ticket_id
    ids = list(period_ids or ticket_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(column, func.count())
        .where(BankInstruction.kind == kind, column.in_(ids))
        .group_by(column)).all())


def _insert_instructions(values: list[dict[str, Any]]) -> None:
    """Insert, skipping any key already written (by a duplicate worker): same key, same entry."""
    if not values:
        return
    db.session.execute(conflict_insert(BankInstruction).values(values)
                       .on_conflict_do_nothing(index_elements=["key"]))


def _history(subjects: Iterable[tuple[int, int]], action: str, seen: S | None, to: S | None,
             reason: str) -> None:
    """History rows for tickets (id, store id) in one statement, in the current transaction."""
    history.record_many(Ticket.__tablename__, action,
                        ({"subject_id": ticket_id, "store_id": store_id}
                         for ticket_id, store_id in subjects),
                        from_status=seen.value if seen else None,
                        to_status=to.value if to else None, reason=reason)


def ledger_for(ticket_id: int) -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.ticket_id == ticket_id)
                                   .order_by(LedgerEntry.id)))


def instructions_for(ticket_id: int) -> list[BankInstruction]:
    return list(db.session.scalars(select(BankInstruction)
                                   .where(BankInstruction.ticket_id == ticket_id)
                                   .order_by(BankInstruction.id)))
