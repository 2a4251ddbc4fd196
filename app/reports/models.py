"""Background Excel exports of large report queries: progress while running, a file when done."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.tenancy import StoreScoped


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
