"""The bank escrow (價金保管) side of tickets: what each nightly sync sent and the bank answered,
and the per-ticket money ledger (docs/tickets.md)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.tickets.models import BigId


class SyncRunStatus(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the bank could not be reached, or a step crashed: the next run resumes

    @property
    def label(self) -> str:
        return {"running": "執行中", "done": "完成", "failed": "失敗"}[self.value]


class BankSyncRun(db.Model):
    """One nightly sync (01:00 Taipei, for what happened before midnight), or a manual re-run."""

    __tablename__ = "bank_sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_day: Mapped[date]  # the night it ran for (actions before its 00:00 are eligible)
    status: Mapped[SyncRunStatus] = mapped_column(
        enum_type(SyncRunStatus, "sync_run_status"), default=SyncRunStatus.RUNNING)
    trigger: Mapped[str] = mapped_column(String(10), default="schedule")
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]
    counts: Mapped[dict] = mapped_column(default=dict)  # {"deposit": {"sent": n, "ok": n, ...}}
    error: Mapped[str] = mapped_column(Text, default="")
    # Which attempt at its night this run is (the sweeper re-runs a night whose run died), and
    # until when its process holds it (renewed at every step): run out, the run died.
    attempts: Mapped[int] = mapped_column(default=1, server_default="1")
    lease_until: Mapped[datetime | None]


class InstructionKind(enum.Enum):
    DEPOSIT = "deposit"  # 價金存入信託 (a new pickup voucher)
    RELEASE = "release"  # 核銷撥付 (a redemption: paid out to the merchant)
    REFUND = "refund"  # 退款 (a return: refunded to the consumer's card, minus the handling fee)

    @property
    def label(self) -> str:
        return {"deposit": "價金存入", "release": "核銷撥付", "refund": "退貨退款"}[self.value]


class InstructionStatus(enum.Enum):
    PENDING = "pending"  # written, not yet answered (sent or about to be)
    ACKNOWLEDGED = "acknowledged"  # the bank confirmed it
    REJECTED = "rejected"  # the bank refused this entry (with its reason)

    @property
    def label(self) -> str:
        return {"pending": "待銀行回覆", "acknowledged": "銀行已確認", "rejected": "銀行拒絕"}[self.value]


class BankInstruction(db.Model):
    """One entry sent to the bank. Its `key` is sent along, and the bank treats a repeated key
    as the same entry, so re-sending after a crash never moves money twice."""

    __tablename__ = "bank_instructions"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_bank_instructions_ticket_id_kind", "ticket_id", "kind"),
        Index("ix_bank_instructions_period_id_kind", "period_id", "kind"),
        Index("ix_bank_instructions_status", "status"),
        CheckConstraint("(ticket_id IS NULL) <> (period_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(60))  # "<kind>:<ticket id>:<attempt>" (period: p<id>)
    run_id: Mapped[int] = mapped_column(ForeignKey("bank_sync_runs.id"), index=True)
    # What the money is for: a ticket, or an installment period (exactly one of them).
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("installment_periods.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[InstructionKind] = mapped_column(enum_type(InstructionKind, "instruction_kind"))
    amount: Mapped[int]  # face value (deposit, release) or the refund (face value - fee)
    fee: Mapped[int] = mapped_column(default=0)  # the merchant's return handling fee
    status: Mapped[InstructionStatus] = mapped_column(
        enum_type(InstructionStatus, "instruction_status"), default=InstructionStatus.PENDING)
    bank_ref: Mapped[str] = mapped_column(String(60), default="")
    answer: Mapped[str] = mapped_column(Text, default="")  # the bank's answer (or its reason)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class LedgerKind(enum.Enum):
    DEPOSIT = "deposit"  # into trust
    RELEASE = "release"  # released to the merchant (redeemed)
    REFUND = "refund"  # refunded to the consumer (returned)
    HANDLING_FEE = "handling_fee"  # the merchant's return handling fee, paid to the merchant
    ESCROW_EXPIRED = "escrow_expired"  # escrow ended unused: released to the merchant
    PAYOUT = "payout"  # paid to the merchant's account after the payout delay

    @property
    def label(self) -> str:
        return {"deposit": "價金存入", "release": "核銷撥付", "refund": "退款", "handling_fee": "退貨手續費",
                "escrow_expired": "價金保管逾期", "payout": "撥款"}[self.value]


class LedgerEntry(db.Model):
    """The money ledger: every movement of a pickup voucher's or an installment period's price."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_ticket_id", "ticket_id"),
        Index("ix_ledger_entries_period_id", "period_id"),
        Index("ix_ledger_entries_store_id_day", "store_id", "day"),
        UniqueConstraint("ticket_id", "kind", "instruction_id"),
        UniqueConstraint("period_id", "kind", "instruction_id"),
        CheckConstraint("(ticket_id IS NULL) <> (period_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("installment_periods.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[LedgerKind] = mapped_column(enum_type(LedgerKind, "ledger_kind"))
    amount: Mapped[int]
    day: Mapped[date]  # the Taipei business day it belongs to
    instruction_id: Mapped[int | None] = mapped_column(ForeignKey("bank_instructions.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class PayoutNotice(db.Model):
    """A 收款通知 queued for one store and one payout day: written with its mails, once (the
    unique store and day), so a re-run of the night queues nothing twice."""

    __tablename__ = "payout_notices"
    __table_args__ = (UniqueConstraint("store_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    day: Mapped[date]  # the Taipei business day of the ledger entries it reports
    to_merchant: Mapped[int]  # 撥付廠商合計 of the day (核銷撥付, 價金保管逾期, 退貨手續費)
    payout: Mapped[int]  # 撥款入帳 of the day (installment periods, after the payout delay)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("bank_sync_runs.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
