"""Print runs: every print of tickets (merchant print, platform print, convenience-store kiosk)
is recorded with who, when and which tickets; test prints are recorded without tickets."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.tenancy import StoreScoped


class PrintKind(enum.Enum):
    MERCHANT = "merchant"  # 廠商列印
    PLATFORM = "platform"  # 綠界列印 (the operator's print run)
    KIOSK = "kiosk"  # 超商 ibon
    TEST = "test"  # 測試列印 (a sample, no tickets)

    @property
    def label(self) -> str:
        return {"merchant": "廠商列印", "platform": "平台列印", "kiosk": "超商列印",
                "test": "測試列印"}[self.value]


class PrintRun(StoreScoped, db.Model):
    __tablename__ = "print_runs"
    __table_args__ = (
        Index("ix_print_runs_store_id_created_at", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[PrintKind] = mapped_column(enum_type(PrintKind, "print_kind"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    actor_label: Mapped[str] = mapped_column(String(60), default="")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))  # platform print
    ticket_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class PrintedTicket(StoreScoped, db.Model):
    """One ticket printed in one run (a ticket printed twice has two rows)."""

    __tablename__ = "printed_tickets"
    __table_args__ = (
        Index("ix_printed_tickets_store_id_printed_at", "store_id", "printed_at"),
        Index("ix_printed_tickets_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("print_runs.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    printed_at: Mapped[datetime] = mapped_column(default=clock.now)
