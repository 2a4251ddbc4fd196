"""Background Excel exports of large report queries: progress while running, a file when done."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.products.models import ProductKind
from app.tenancy import StoreScoped
from app.tickets.models import BigId
from app.tickets.status import TicketStatus


class ExportStatus(enum.Enum):
    QUEUED = "queued"  # 排隊中
    RUNNING = "running"  # 產生中
    DONE = "done"  # 完成
    FAILED = "failed"  # 失敗

    @property
    def label(self) -> str:
        return {"queued": "排隊中", "running": "產生中", "done": "完成", "failed": "失敗"}[self.value]


class ExportJob(StoreScoped, db.Model):
    __tablename__ = "export_jobs"
    __table_args__ = (
        Index("ix_export_jobs_store_id_created_at", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    report: Mapped[str] = mapped_column(String(40))  # which report
    params: Mapped[dict] = mapped_column(default=dict)  # the query, as the page submitted it
    title: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[ExportStatus] = mapped_column(
        enum_type(ExportStatus, "export_status"), default=ExportStatus.QUEUED)
    total_rows: Mapped[int | None]
    rows_written: Mapped[int] = mapped_column(default=0)
    file_name: Mapped[str] = mapped_column(String(200), default="")  # under the export folder
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The export job's claims so far, and until when the current one holds the export (queued or
    # running; renewed with each progress update): run out, the sweeper queues it again or fails it.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    lease_until: Mapped[datetime | None]


# Daily figures (app.reports.figures) ----------------------------------------------------------
# Database triggers on `tickets` and `orders` append every change of what the reports count to
# the *_changes tables; a job folds them each minute into the totals, one row per key. A report
# reads both (UNION ALL) and sums, so it sees every committed change at once.

class FigureKey:
    """The key of a ticket figure: whose tickets, counted at which moment, by which branch."""

    store_id: Mapped[int] = mapped_column(Integer)  # the issuer
    measure: Mapped[str] = mapped_column(String(10))  # issued / redeemed / returned
    day: Mapped[date]  # the Taipei day of issued_at / redeemed_at / returned_at
    # issued: the batch's creating branch; redeemed / returned: the acting branch; 0: none
    branch_id: Mapped[int] = mapped_column(Integer, default=0)
    other_store_id: Mapped[int] = mapped_column(Integer, default=0)  # redeemed: the redeeming store
    kind: Mapped[ProductKind] = mapped_column(enum_type(ProductKind, "ticket_kind"))
    status: Mapped[TicketStatus] = mapped_column(enum_type(TicketStatus, "ticket_status"))
    expires_on: Mapped[date]  # kept so that the reports apply `status_sql`'s as-of-today rule
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


FIGURE_KEY = ("store_id", "measure", "day", "branch_id", "other_store_id", "kind", "status",
              "expires_on")


class TicketFigure(FigureKey, db.Model):
    __tablename__ = "ticket_figures"
    __table_args__ = (
        UniqueConstraint(*FIGURE_KEY, name="uq_ticket_figures_key"),
        Index("ix_ticket_figures_other_store_id_measure_day", "other_store_id", "measure", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)


class TicketFigureChange(FigureKey, db.Model):
    __tablename__ = "ticket_figure_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)


class OrderFigureKey:
    store_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date]  # the Taipei day of created_at
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    tickets: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


class OrderFigure(OrderFigureKey, db.Model):
    __tablename__ = "order_figures"
    __table_args__ = (UniqueConstraint("store_id", "day", name="uq_order_figures_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)


class OrderFigureChange(OrderFigureKey, db.Model):
    __tablename__ = "order_figure_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
